#include "blocks/array_ops/FakeQuantKernels.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <mutex>
#include <numeric>

#include "blocks/array_ops/FakeQuantLanes.h"
#ifdef QS_FQ_HAVE_X86
#include <immintrin.h>
#endif
#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

namespace qs::fq {

namespace detail {

// The portable path does exactly what the SIMD paths do, one lane at a time, with the same
// operands in the same order (so a NaN keeps the same payload).
static inline void forwardSegmentPortable(const float* x, float* out, int64_t n,
                                          const ForwardLanes& k, int64_t phase) {
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

static inline void gradientSegmentPortable(const float* g, const float* x, float* dx, int64_t n,
                                           const GradientLanes& k, int64_t phase, float* accMin,
                                           float* accMax) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = phase + i;
    const float v = x[i];
    const float gi = g[i];
    // Bitwise & and |, not && and ||: no branches on data that is random to the predictor.
    const bool between = ((v >= k.nudgedMin[j]) & (v <= k.nudgedMax[j])) | (k.passAll[j] != 0);
    dx[i] = gi * static_cast<float>(between);
    accMin[j] += gi * static_cast<float>(v < k.nudgedMin[j]);
    accMax[j] += gi * static_cast<float>(v > k.nudgedMax[j]);
  }
}

// The whole span: segments of the pattern, one after the other.
void forwardSpanPortable(const float* x, float* out, int64_t n, const ForwardLanes& k,
                         int64_t phase, int64_t period) {
  forEachSegment(n, phase, period, [&](int64_t i, int64_t m, int64_t ph) {
    forwardSegmentPortable(x + i, out + i, m, k, ph);
  });
}

void gradientSpanPortable(const float* g, const float* x, float* dx, int64_t n,
                          const GradientLanes& k, int64_t phase, int64_t period, float* accMin,
                          float* accMax) {
  forEachSegment(n, phase, period, [&](int64_t i, int64_t m, int64_t ph) {
    gradientSegmentPortable(g + i, x + i, dx + i, m, k, ph, accMin, accMax);
  });
}

}  // namespace detail

namespace {

using namespace detail;

// The per-thread scratch buffers are kept between calls, unless a huge channel count made them big.
template <typename T>
void releaseIfLarge(std::vector<T>& v) {
  if (v.capacity() > (size_t{1} << 18)) std::vector<T>().swap(v);
}

// Per-lane arrays (constants, running sums) that the kernels read or write for every vector beside
// the tensors. Each array starts at the same offset within a 4 KiB page, as far as possible from
// the tensors' own offsets: a load whose address has the same low 12 bits as a store still in
// flight is held back as if it depended on it (4K aliasing), and with page-aligned tensors whose
// rows are a multiple of 4 KiB, every lane's constants and sums would share their low bits with
// the elements of the row being written. docs/performance.md has the measurements.
constexpr int64_t kPage = 4096;

// The offset in a page (a multiple of 256 bytes) farthest from the tensors' offsets.
int64_t laneArraysOffset(std::initializer_list<const void*> tensors) {
  int64_t best = 0;
  int64_t bestDistance = -1;
  for (int64_t c = 0; c < kPage; c += 256) {
    int64_t distance = kPage;
    for (const void* t : tensors) {
      const int64_t diff =
          std::abs(c - static_cast<int64_t>(reinterpret_cast<uintptr_t>(t) % kPage));
      distance = std::min({distance, diff, kPage - diff});
    }
    if (distance > bestDistance) {
      bestDistance = distance;
      best = c;
    }
  }
  return best;
}

// `count` arrays of `lanes` elements inside `buf`, each starting `offset` bytes into a page:
// array i begins at the returned pointer + i * stride.
template <typename T>
struct LaneArrays {
  T* first;
  int64_t stride;
  T* operator[](int64_t i) const { return first + i * stride; }
};

template <typename T>
LaneArrays<T> placeLaneArrays(std::vector<T>& buf, int64_t count, int64_t lanes, int64_t offset) {
  static_assert(kPage % sizeof(T) == 0);
  const int64_t perPage = kPage / static_cast<int64_t>(sizeof(T));
  const int64_t stride = (lanes + perPage - 1) / perPage * perPage;
  buf.resize(static_cast<size_t>(count * stride + perPage));
  const int64_t at = static_cast<int64_t>(reinterpret_cast<uintptr_t>(buf.data()) % kPage);
  const int64_t shift = ((offset - at) % kPage + kPage) % kPage;  // a multiple of sizeof(T)
  return {buf.data() + shift / static_cast<int64_t>(sizeof(T)), stride};
}

// Orders the non-temporal stores of a part before the part is reported done.
void fenceStreamingStores(bool stream) {
#ifdef QS_FQ_HAVE_X86
  if (stream) _mm_sfence();
#else
  (void)stream;
#endif
}

std::mutex overrideMutex;
KernelOverride overrideState;
// Read on every kernel call; kept separately so that the common path takes no lock.
std::atomic<int> forcedLevel{-1};
std::atomic<bool> overridden{false};

// Below ~1 MiB the whole op takes ~15 us on one core, about what waking a worker costs (more on a
// loaded machine: 1x224x224x3 measured 19 us on 1 thread, 30 us split in 2), so it stays on the
// calling thread.
constexpr int64_t kDefaultMinParallel = int64_t{1} << 18;
constexpr int64_t kDefaultGrain = int64_t{1} << 14;
constexpr int64_t kLaneMultiple = 16;  // the widest vector, so every level shares one layout
// Pattern length: measured on the bench shapes, 256 lanes (6 KiB of constants) beat 128, 1024 and
// 4096 both for 32x56x56x128 and 1x224x224x3.
constexpr int64_t kTargetPeriod = 256;
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
// Patterns of up to 64 lanes (the gradient: 128) stay unexpanded: the AVX-512 path then holds their
// constants (the gradient: its running sums) in registers. Measured on 32x56x56x128: the gradient
// with 128-lane register sums takes 2.8 ms of CPU against 3.6 ms with a 256-lane pattern in memory.
int64_t patternPeriod(int64_t channels, int64_t count, bool gradient = false) {
  const int64_t l = std::lcm(channels, kLaneMultiple);
  if (l <= (gradient ? 128 : 64)) return l;
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

// A core's L2 cache in bytes (1 MiB where the system does not say).
int64_t l2Bytes() {
  static const int64_t bytes = [] {
#ifdef _SC_LEVEL2_CACHE_SIZE
    const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (v > 0) return static_cast<int64_t>(v);
#endif
    return int64_t{1} << 20;
  }();
  return bytes;
}

// How a call writes its output: `count` elements split in `parts`. Each element touches two float
// buffers in the forward (x, out) and three in the gradient (x, g, dx). By default only the
// gradient mixes its stores: on 1x224x224x3 (1 thread, medians of 5 runs) mixed stores took the
// gradient from 0.60x to 0.71x of memcpy, and the forward from 0.68x down to 0.57x.
StoreMode storeModeFor(int64_t count, int parts, bool gradient) {
  const KernelOverride o = kernelOverride();
  const int64_t outBytes = count * 4;
  if (outBytes >= o.streamBytes.value_or(kStreamBytes)) return StoreMode::Streamed;
  // What each core streams through its own L2.
  const int64_t workingSet = outBytes * (gradient ? 3 : 2) / std::max(parts, 1);
  const int64_t mixFrom =
      o.mixedBytes.value_or(gradient ? l2Bytes() : std::numeric_limits<int64_t>::max());
  if (workingSet > mixFrom) return StoreMode::Mixed;
  return StoreMode::Cached;
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
  overridden.store(
      o.level || o.minParallelElements || o.grainElements || o.streamBytes || o.mixedBytes,
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
  // Reused between calls: a page of many small blocks would otherwise pay two allocations each.
  thread_local std::vector<float> lanes;
  thread_local std::vector<uint32_t> keep;
  const int64_t offset = laneArraysOffset({x, out});
  const LaneArrays<float> l = placeLaneArrays(lanes, 5, period, offset);
  uint32_t* const keepLanes = placeLaneArrays(keep, 1, period, offset)[0];
  for (int64_t j = 0; j < period; ++j) {
    const Nudged& n = ranges[j % channels];
    l[0][j] = n.nudgedMin;
    l[1][j] = n.nudgedMax;
    l[2][j] = n.invScale;
    l[3][j] = n.scale;
    l[4][j] = n.quantZero;
    keepLanes[j] = n.zeroRange ? 0u : 0xFFFFFFFFu;
  }
  const int64_t unit = unitFor();
  const int parts = partsFor(count, exec, unit);
  const ForwardLanes k{l[0],
                       l[1],
                       l[2],
                       l[3],
                       l[4],
                       keepLanes,
                       op == ScaleOp::DivScale,
                       storeModeFor(count, parts, false)};
  const ForwardSpanFn span = forwardSpanFor(activeSimdLevel());
  runParts(parts, exec, [&](int part) {
    const int64_t i = partBegin(count, part, parts, unit);
    const int64_t end = partBegin(count, part + 1, parts, unit);
    if (i < end) span(x + i, out + i, end - i, k, i % period, period);
    fenceStreamingStores(k.store != StoreMode::Cached);
  });
  releaseIfLarge(lanes);
  releaseIfLarge(keep);
}

void gradient(const float* g, const float* x, int64_t count, int64_t channels, const Nudged* ranges,
              float* dx, float* dmin, float* dmax, Exec exec) {
  if (dmin) std::fill(dmin, dmin + channels, 0.0f);
  if (dmax) std::fill(dmax, dmax + channels, 0.0f);
  if (count <= 0 || channels <= 0) return;
  const int64_t period = patternPeriod(channels, count, true);
  const int64_t unit = unitFor();
  const int parts = partsFor(count, exec, unit);
  const int64_t offset = laneArraysOffset({g, x, dx});
  thread_local std::vector<float> bounds;
  thread_local std::vector<uint32_t> passAll;
  const LaneArrays<float> b = placeLaneArrays(bounds, 2, period, offset);
  uint32_t* const pass = placeLaneArrays(passAll, 1, period, offset)[0];
  bool numericBounds = true;
  for (int64_t j = 0; j < period; ++j) {
    const Nudged& n = ranges[j % channels];
    // A min == max == 0 channel passes every gradient to dx and reports zero sums (set below),
    // whatever its bounds: infinite ones put every x between them, which the SIMD paths' short
    // route relies on.
    b[0][j] = n.zeroRange ? -std::numeric_limits<float>::infinity() : n.nudgedMin;
    b[1][j] = n.zeroRange ? std::numeric_limits<float>::infinity() : n.nudgedMax;
    pass[j] = n.zeroRange ? 0xFFFFFFFFu : 0u;
    numericBounds = numericBounds && !std::isnan(b[0][j]) && !std::isnan(b[1][j]);
  }
  const GradientLanes k{b[0], b[1], pass, numericBounds, storeModeFor(count, parts, true)};
  const GradientSpanFn span = gradientSpanFor(activeSimdLevel());
  // Per part and lane partial sums (min, max), combined afterwards in a fixed order.
  thread_local std::vector<float> acc;
  const LaneArrays<float> sums = placeLaneArrays(acc, 2 * parts, period, offset);
  for (int64_t a = 0; a < 2 * parts; ++a) std::fill(sums[a], sums[a] + period, 0.0f);
  runParts(parts, exec, [&](int part) {
    const int64_t i = partBegin(count, part, parts, unit);
    const int64_t end = partBegin(count, part + 1, parts, unit);
    if (i < end)
      span(g + i, x + i, dx + i, end - i, k, i % period, period, sums[2 * part],
           sums[2 * part + 1]);
    fenceStreamingStores(k.store != StoreMode::Cached);
  });
  for (int part = 0; part < parts; ++part) {
    const float* accMin = sums[2 * part];
    const float* accMax = sums[2 * part + 1];
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
  releaseIfLarge(bounds);
  releaseIfLarge(passAll);
  releaseIfLarge(acc);
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
