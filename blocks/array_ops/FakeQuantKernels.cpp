#include "blocks/array_ops/FakeQuantKernels.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <mutex>
#include <numeric>

#include "blocks/array_ops/FakeQuantLanes.h"
#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

namespace qs::fq {

namespace detail {

// The portable path does exactly what the SIMD paths do, one lane at a time, with the same
// operands in the same order (so a NaN keeps the same payload).
void forwardSpanPortable(const float* x, float* out, int64_t n, const ForwardLanes& k,
                         int64_t phase) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = phase + i;
    const float lo = k.nudgedMin[j];
    const float hi = k.nudgedMax[j];
    const float v = x[i];
    float c = (hi < v) ? hi : v;  // std::min(v, hi): a NaN v stays
    c = (c < lo) ? lo : c;        // std::max(c, lo)
    const float shifted = c - lo;
    const float t = k.divide ? shifted / k.scale[j] : shifted * k.invScale[j];
    const float r = std::floor(t - k.quantZero[j] + 0.5f) * k.scale[j];
    out[i] = std::bit_cast<float>(std::bit_cast<uint32_t>(r) & k.keep[j]);
  }
}

void gradientSpanPortable(const float* g, const float* x, float* dx, int64_t n,
                          const GradientLanes& k, int64_t phase, float* accMin, float* accMax) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = phase + i;
    const float v = x[i];
    const float gi = g[i];
    const bool between = (v >= k.nudgedMin[j] && v <= k.nudgedMax[j]) || k.passAll[j] != 0;
    dx[i] = gi * (between ? 1.0f : 0.0f);
    accMin[j] += gi * (v < k.nudgedMin[j] ? 1.0f : 0.0f);
    accMax[j] += gi * (v > k.nudgedMax[j] ? 1.0f : 0.0f);
  }
}

}  // namespace detail

namespace {

using namespace detail;

std::mutex overrideMutex;
KernelOverride overrideState;
// Read on every kernel call; kept separately so that the common path takes no lock.
std::atomic<int> forcedLevel{-1};
std::atomic<bool> overridden{false};

constexpr int64_t kDefaultMinParallel = int64_t{1} << 16;
constexpr int64_t kDefaultGrain = int64_t{1} << 14;
constexpr int64_t kLaneMultiple = 16;    // the widest vector, so every level shares one layout
constexpr int64_t kTargetPeriod = 1024;  // long spans amortise the per-span overhead
constexpr int64_t kMaxPatternPeriod = 4096;
// Outputs from this size on are written with non-temporal stores (well beyond the L2 of a core and
// a fair share of L3, where the output would be evicted before anyone reads it anyway).
constexpr int64_t kStreamBytes = int64_t{8} << 20;

bool cpuHas(SimdLevel level) {
#if defined(QS_FQ_HAVE_X86) && (defined(__GNUC__) || defined(__clang__))
  switch (level) {
    case SimdLevel::Portable:
      return true;
    case SimdLevel::Avx2:
      return __builtin_cpu_supports("avx2");
    case SimdLevel::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return level == SimdLevel::Portable;
#endif
}

ForwardSpanFn forwardSpanFor(SimdLevel level) {
  switch (level) {
#ifdef QS_FQ_HAVE_X86
    case SimdLevel::Avx512:
      return forwardSpanAvx512;
    case SimdLevel::Avx2:
      return forwardSpanAvx2;
#endif
    default:
      return forwardSpanPortable;
  }
}

GradientSpanFn gradientSpanFor(SimdLevel level) {
  switch (level) {
#ifdef QS_FQ_HAVE_X86
    case SimdLevel::Avx512:
      return gradientSpanAvx512;
    case SimdLevel::Avx2:
      return gradientSpanAvx2;
#endif
    default:
      return gradientSpanPortable;
  }
}

// Length of the constant pattern: a multiple of the channel count; also of 16 when that keeps it
// small, so that vectors never straddle the period; about kTargetPeriod long when the tensor is
// that large, so that the spans are long.
int64_t patternPeriod(int64_t channels, int64_t count) {
  const int64_t l = std::lcm(channels, kLaneMultiple);
  const int64_t base = l <= kMaxPatternPeriod ? l : channels;
  const int64_t want = std::min(count, kTargetPeriod);
  return base * std::max<int64_t>(1, want / base);
}

// How many parts the elements are split into, with boundaries on multiples of 16 elements.
int partsFor(int64_t count, const Exec& exec, int64_t unit) {
  if (!exec.pool || exec.threads <= 1) return 1;
  const KernelOverride o = kernelOverride();
  const int64_t minParallel = o.minParallelElements.value_or(kDefaultMinParallel);
  const int64_t grain = std::max<int64_t>(1, o.grainElements.value_or(kDefaultGrain));
  if (count < minParallel) return 1;
  const int64_t byGrain = std::max<int64_t>(1, count / grain);
  return static_cast<int>(
      std::min<int64_t>({byGrain, exec.threads, exec.pool->size(), (count + unit - 1) / unit}));
}

bool streams(int64_t count) {
  return count * 4 >= kernelOverride().streamBytes.value_or(kStreamBytes);
}

// Part boundaries fall on multiples of `unit` elements (16: whole vectors and cache lines; 1 when a
// test asks for tiny grains, so that small tensors split too).
int64_t unitFor() {
  return std::min<int64_t>(16, std::max<int64_t>(1, kernelOverride().grainElements.value_or(16)));
}

int64_t partBegin(int64_t count, int part, int parts, int64_t unit) {
  if (part == parts) return count;
  const int64_t units = (count + unit - 1) / unit;
  return std::min(count, units * part / parts * unit);
}

template <typename Fn>
void runParts(int parts, const Exec& exec, Fn&& fn) {
  if (parts <= 1) {
    fn(0);
    return;
  }
  exec.pool->parallelFor(parts, 1, parts, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) fn(static_cast<int>(p));
  });
}

}  // namespace

const char* simdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::Portable:
      return "portable";
    case SimdLevel::Avx2:
      return "avx2";
    case SimdLevel::Avx512:
      return "avx512";
  }
  return "?";
}

bool simdLevelSupported(SimdLevel level) {
  static const bool has[3] = {true, cpuHas(SimdLevel::Avx2), cpuHas(SimdLevel::Avx512)};
  return has[static_cast<int>(level)];
}

SimdLevel bestSimdLevel() {
  if (simdLevelSupported(SimdLevel::Avx512)) return SimdLevel::Avx512;
  if (simdLevelSupported(SimdLevel::Avx2)) return SimdLevel::Avx2;
  return SimdLevel::Portable;
}

std::vector<SimdLevel> supportedSimdLevels() {
  std::vector<SimdLevel> r;
  for (SimdLevel l : {SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512})
    if (simdLevelSupported(l)) r.push_back(l);
  return r;
}

void setKernelOverride(const KernelOverride& o) {
  if (o.level && !simdLevelSupported(*o.level))
    throw Error(std::string("the ") + simdLevelName(*o.level) + " path is not supported here");
  std::lock_guard lock(overrideMutex);
  overrideState = o;
  forcedLevel.store(o.level ? static_cast<int>(*o.level) : -1);
  overridden.store(o.level || o.minParallelElements || o.grainElements || o.streamBytes,
                   std::memory_order_release);
}

KernelOverride kernelOverride() {
  // Every kernel call asks; without an override (the normal case) that takes no lock.
  if (!overridden.load(std::memory_order_acquire)) return {};
  std::lock_guard lock(overrideMutex);
  return overrideState;
}

SimdLevel activeSimdLevel() {
  const int forced = forcedLevel.load(std::memory_order_relaxed);
  return forced >= 0 ? static_cast<SimdLevel>(forced) : bestSimdLevel();
}

void forward(const float* x, int64_t count, int64_t channels, const Nudged* ranges, ScaleOp op,
             float* out, Exec exec) {
  if (count <= 0 || channels <= 0) return;
  const int64_t period = patternPeriod(channels, count);
  const size_t p = static_cast<size_t>(period);
  std::vector<float> lanes(5 * p);
  std::vector<uint32_t> keep(p);
  for (int64_t j = 0; j < period; ++j) {
    const Nudged& n = ranges[j % channels];
    lanes[0 * p + j] = n.nudgedMin;
    lanes[1 * p + j] = n.nudgedMax;
    lanes[2 * p + j] = n.invScale;
    lanes[3 * p + j] = n.scale;
    lanes[4 * p + j] = n.quantZero;
    keep[j] = n.zeroRange ? 0u : 0xFFFFFFFFu;
  }
  const ForwardLanes k{
      lanes.data(),         lanes.data() + p, lanes.data() + 2 * p,    lanes.data() + 3 * p,
      lanes.data() + 4 * p, keep.data(),      op == ScaleOp::DivScale, streams(count)};
  const ForwardSpanFn span = forwardSpanFor(activeSimdLevel());
  const int64_t unit = unitFor();
  const int parts = partsFor(count, exec, unit);
  runParts(parts, exec, [&](int part) {
    int64_t i = partBegin(count, part, parts, unit);
    const int64_t end = partBegin(count, part + 1, parts, unit);
    int64_t phase = i % period;
    while (i < end) {
      const int64_t n = std::min(period - phase, end - i);
      span(x + i, out + i, n, k, phase);
      i += n;
      phase = 0;
    }
  });
}

void gradient(const float* g, const float* x, int64_t count, int64_t channels, const Nudged* ranges,
              float* dx, float* dmin, float* dmax, Exec exec) {
  if (dmin) std::fill(dmin, dmin + channels, 0.0f);
  if (dmax) std::fill(dmax, dmax + channels, 0.0f);
  if (count <= 0 || channels <= 0) return;
  const int64_t period = patternPeriod(channels, count);
  const size_t p = static_cast<size_t>(period);
  std::vector<float> bounds(2 * p);
  std::vector<uint32_t> passAll(p);
  for (int64_t j = 0; j < period; ++j) {
    const Nudged& n = ranges[j % channels];
    bounds[j] = n.nudgedMin;
    bounds[p + j] = n.nudgedMax;
    passAll[j] = n.zeroRange ? 0xFFFFFFFFu : 0u;
  }
  const GradientLanes k{bounds.data(), bounds.data() + p, passAll.data(), streams(count)};
  const GradientSpanFn span = gradientSpanFor(activeSimdLevel());
  const int64_t unit = unitFor();
  const int parts = partsFor(count, exec, unit);
  // Per part and lane partial sums, combined afterwards in a fixed order.
  std::vector<float> acc(static_cast<size_t>(parts) * 2 * p, 0.0f);
  runParts(parts, exec, [&](int part) {
    float* accMin = acc.data() + static_cast<size_t>(part) * 2 * p;
    float* accMax = accMin + p;
    int64_t i = partBegin(count, part, parts, unit);
    const int64_t end = partBegin(count, part + 1, parts, unit);
    int64_t phase = i % period;
    while (i < end) {
      const int64_t n = std::min(period - phase, end - i);
      span(g + i, x + i, dx + i, n, k, phase, accMin, accMax);
      i += n;
      phase = 0;
    }
  });
  for (int part = 0; part < parts; ++part) {
    const float* accMin = acc.data() + static_cast<size_t>(part) * 2 * p;
    const float* accMax = accMin + p;
    for (int64_t j = 0; j < period; ++j) {
      if (dmin) dmin[j % channels] += accMin[j];
      if (dmax) dmax[j % channels] += accMax[j];
    }
  }
  // min == max == 0 short-circuits to zero even when a gradient is NaN or infinite.
  for (int64_t c = 0; c < channels; ++c) {
    if (!ranges[c].zeroRange) continue;
    if (dmin) dmin[c] = 0.0f;
    if (dmax) dmax[c] = 0.0f;
  }
}

void perChannelForward(const float* x, int64_t outer, int64_t channels, const float* min,
                       const float* max, QuantRange q, float* out, ThreadPool* pool, int threads) {
  std::vector<Nudged> n(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) n[c] = nudge(min[c], max[c], q);
  forward(x, outer * channels, channels, n.data(), ScaleOp::MulInvScale, out, {pool, threads});
}

void perChannelGradient(const float* g, const float* x, int64_t outer, int64_t channels,
                        const float* min, const float* max, QuantRange q, float* dx, float* dmin,
                        float* dmax, ThreadPool* pool, int threads) {
  std::vector<Nudged> n(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) n[c] = nudge(min[c], max[c], q);
  gradient(g, x, outer * channels, channels, n.data(), dx, dmin, dmax, {pool, threads});
}

}  // namespace qs::fq
