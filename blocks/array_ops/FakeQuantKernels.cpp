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
#include "blocks/Chunks.h"
#include "runtime/BlockDescriptor.h"
#include "runtime/Error.h"
#include "runtime/Tensor.h"
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

// Elements of a buffer holding `count` such arrays of `lanes` elements (placeLaneArrays).
template <typename T>
int64_t laneArraysElements(int64_t count, int64_t lanes) {
  static_assert(kPage % sizeof(T) == 0);
  const int64_t perPage = kPage / static_cast<int64_t>(sizeof(T));
  const int64_t stride = (lanes + perPage - 1) / perPage * perPage;
  return count * stride + perPage;
}

// `buf` holds laneArraysElements<T>(count, lanes) elements.
template <typename T>
LaneArrays<T> placeLaneArrays(T* buf, int64_t lanes, int64_t offset) {
  const int64_t perPage = kPage / static_cast<int64_t>(sizeof(T));
  const int64_t stride = (lanes + perPage - 1) / perPage * perPage;
  const int64_t at = static_cast<int64_t>(reinterpret_cast<uintptr_t>(buf) % kPage);
  const int64_t shift = ((offset - at) % kPage + kPage) % kPage;  // a multiple of sizeof(T)
  return {buf + shift / static_cast<int64_t>(sizeof(T)), stride};
}

// Orders the non-temporal stores of a part before the part is reported done (or left early).
struct FenceStreamingStores {
  bool stream;
  ~FenceStreamingStores() {
#ifdef QS_FQ_HAVE_X86
    if (stream) _mm_sfence();
#endif
  }
};

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

void throwIfCancelled(const Exec& exec) {
  if (exec.ctx && exec.ctx->cancelled()) throw Cancelled();
}

// Calls fn(i, e) over [begin, end) in chunks of about kCancelChunkElements, checking for
// cancellation before each. Chunks are whole patterns where the pattern is a multiple of 16 lanes
// and shorter than a chunk, so that each starts at the same lane and on a vector boundary.
template <typename Fn>
void inChunks(int64_t begin, int64_t end, int64_t period, const Exec& exec, Fn&& fn) {
  const int64_t chunk = period % 16 == 0 && period <= kCancelChunkElements
                            ? kCancelChunkElements / period * period
                            : kCancelChunkElements;
  for (int64_t i = begin; i < end;) {
    throwIfCancelled(exec);
    const int64_t e = std::min(end, i + chunk);
    fn(i, e);
    i = e;
  }
}

// ---- Scratch memory ----------------------------------------------------------------------------

std::atomic<int64_t> scratchHeld{0};
std::atomic<int64_t> scratchPeak{0};

// The scratch buffers of one thread, kept between calls (a page of many small blocks would
// otherwise pay several allocations each) unless a call made them large.
struct ThreadScratch {
  std::vector<float> lanes;     // the forward's five constant arrays, or the gradient's bounds
  std::vector<uint32_t> masks;  // keep (forward) or passAll (gradient)
  std::vector<float> sums;      // the gradient's running sums, two arrays per part
  std::vector<Nudged> nudged;   // the channels' constants, when the kernel nudges min/max itself
};
thread_local ThreadScratch threadScratch;
constexpr size_t kKeepBytes = size_t{1} << 20;

template <typename T>
void releaseIfLarge(std::vector<T>& v) {
  if (v.capacity() * sizeof(T) > kKeepBytes) std::vector<T>().swap(v);
}

// The scratch one thread uses for a call, counted in scratchHeld until the call ends.
class ScratchUse {
 public:
  enum Buffer { Lanes, Masks, Sums, Ranges, kBuffers };
  ScratchUse() = default;
  ScratchUse(const ScratchUse&) = delete;
  ScratchUse& operator=(const ScratchUse&) = delete;
  ~ScratchUse() {
    int64_t total = 0;
    for (int64_t b : counted_) total += b;
    scratchHeld.fetch_sub(total, std::memory_order_relaxed);
    releaseIfLarge(threadScratch.lanes);
    releaseIfLarge(threadScratch.masks);
    releaseIfLarge(threadScratch.sums);
    releaseIfLarge(threadScratch.nudged);
  }

  // n elements of v (one of threadScratch's buffers). A buffer with fewer elements, or with more
  // than twice as many (left by an earlier call), is allocated again with exactly n: a call holds
  // at most twice the scratch it asks for.
  template <typename T>
  T* take(Buffer which, std::vector<T>& v, int64_t n) {
    const auto want = static_cast<size_t>(n);
    if (v.capacity() < want || v.capacity() > 2 * want) {
      std::vector<T>().swap(v);
      v.reserve(want);
    }
    v.resize(want);
    const auto bytes = static_cast<int64_t>(v.capacity() * sizeof(T));
    const int64_t held = scratchHeld.fetch_add(bytes - counted_[which], std::memory_order_relaxed) +
                         bytes - counted_[which];
    counted_[which] = bytes;
    int64_t peak = scratchPeak.load(std::memory_order_relaxed);
    while (held > peak &&
           !scratchPeak.compare_exchange_weak(peak, held, std::memory_order_relaxed)) {
    }
    return v.data();
  }

 private:
  int64_t counted_[kBuffers] = {};
};

int64_t scratchBudget() {
  return std::max<int64_t>(1, kernelOverride().scratchBytes.value_or(kDefaultScratchBytes));
}

// The bytes a call asks for: lane arrays for a pattern of `period` lanes, `sumArrays` arrays of
// running sums (the gradient) and `nudged` channels nudged by the kernel.
int64_t scratchBytes(bool gradient, int64_t period, int64_t sumArrays, int64_t nudged) {
  const int64_t lanes = laneArraysElements<float>(gradient ? 2 : 5, period) * 4;
  const int64_t masks = laneArraysElements<uint32_t>(1, period) * 4;
  const int64_t sums = gradient ? laneArraysElements<float>(sumArrays, period) * 4 : 0;
  return lanes + masks + sums + nudged * static_cast<int64_t>(sizeof(Nudged));
}

// The channels' constants: the caller's (one per channel), or nudged here from min and max.
struct RangeSource {
  const Nudged* given = nullptr;
  const float* min = nullptr;
  const float* max = nullptr;
  QuantRange q;

  const Nudged* channels(int64_t c0, int64_t n, ScratchUse& use) const {
    if (given) return given + c0;
    Nudged* r = use.take(ScratchUse::Ranges, threadScratch.nudged, n);
    for (int64_t c = 0; c < n; ++c) r[c] = nudge(min[c0 + c], max[c0 + c], q);
    return r;
  }
};

// How a call too wide for the scratch limit walks its channels: blocks of `width` columns, every
// row of a block before the next block, `parts` runs of blocks in parallel.
struct ColumnPlan {
  int parts;
  int64_t width;
};

ColumnPlan planColumns(bool gradient, int64_t channels, const RangeSource& ranges, int parts,
                       int64_t budget) {
  for (int p = parts;; p = 1) {
    // Each part holds its own scratch, and take() may hold twice what it asks for.
    const int64_t share = budget / p / 2;
    auto fits = [&](int64_t w) {
      return scratchBytes(gradient, w, 2, ranges.given ? 0 : w) <= share;
    };
    int64_t lo = 0, hi = channels;  // the widest block that fits
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo + 1) / 2;
      if (fits(mid))
        lo = mid;
      else
        hi = mid - 1;
    }
    if (lo > 0) return {p, lo >= 16 && lo < channels ? lo / 16 * 16 : lo};
    if (p == 1)
      throw Error("the kernel needs more than the scratch memory limit of " +
                  formatBytes(static_cast<uint64_t>(budget)) + " even for one channel at a time");
  }
}

// The forward's constants for a pattern of `period` lanes (lane j: channel j % channels).
ForwardLanes forwardLanes(const Nudged* ranges, int64_t channels, int64_t period, int64_t offset,
                          ScaleOp op, StoreMode store, ScratchUse& use) {
  const LaneArrays<float> l = placeLaneArrays(
      use.take(ScratchUse::Lanes, threadScratch.lanes, laneArraysElements<float>(5, period)),
      period, offset);
  uint32_t* const keep = placeLaneArrays(
      use.take(ScratchUse::Masks, threadScratch.masks, laneArraysElements<uint32_t>(1, period)),
      period, offset)[0];
  for (int64_t j = 0; j < period; ++j) {
    const Nudged& n = ranges[j % channels];
    l[0][j] = n.nudgedMin;
    l[1][j] = n.nudgedMax;
    l[2][j] = n.invScale;
    l[3][j] = n.scale;
    l[4][j] = n.quantZero;
    keep[j] = n.zeroRange ? 0u : 0xFFFFFFFFu;
  }
  return {l[0], l[1], l[2], l[3], l[4], keep, op == ScaleOp::DivScale, store};
}

// The gradient's bounds for a pattern of `period` lanes (lane j: channel j % channels).
GradientLanes gradientLanes(const Nudged* ranges, int64_t channels, int64_t period, int64_t offset,
                            StoreMode store, ScratchUse& use) {
  const LaneArrays<float> b = placeLaneArrays(
      use.take(ScratchUse::Lanes, threadScratch.lanes, laneArraysElements<float>(2, period)),
      period, offset);
  uint32_t* const pass = placeLaneArrays(
      use.take(ScratchUse::Masks, threadScratch.masks, laneArraysElements<uint32_t>(1, period)),
      period, offset)[0];
  bool numericBounds = true;
  for (int64_t j = 0; j < period; ++j) {
    const Nudged& n = ranges[j % channels];
    // A min == max == 0 channel passes every gradient to dx and reports zero sums (set by the
    // callers), whatever its bounds: infinite ones put every x between them, which the SIMD
    // paths' short route relies on.
    b[0][j] = n.zeroRange ? -std::numeric_limits<float>::infinity() : n.nudgedMin;
    b[1][j] = n.zeroRange ? std::numeric_limits<float>::infinity() : n.nudgedMax;
    pass[j] = n.zeroRange ? 0xFFFFFFFFu : 0u;
    numericBounds = numericBounds && !std::isnan(b[0][j]) && !std::isnan(b[1][j]);
  }
  return {b[0], b[1], pass, numericBounds, store};
}

// `arrays` arrays of running sums for a pattern of `period` lanes, zeroed.
LaneArrays<float> zeroedSums(int64_t arrays, int64_t period, int64_t offset, ScratchUse& use) {
  const LaneArrays<float> sums = placeLaneArrays(
      use.take(ScratchUse::Sums, threadScratch.sums, laneArraysElements<float>(arrays, period)),
      period, offset);
  for (int64_t a = 0; a < arrays; ++a) std::fill(sums[a], sums[a] + period, 0.0f);
  return sums;
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
  overridden.store(o.level || o.minParallelElements || o.grainElements || o.streamBytes ||
                       o.mixedBytes || o.scratchBytes,
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

bool avx2Active() {
#ifdef QS_FQ_HAVE_X86
  return activeSimdLevel() != SimdLevel::Portable;
#else
  return false;
#endif
}

namespace {

// The whole tensor in one pattern of lanes, its elements split in `parts`.
void forwardWhole(const float* x, int64_t count, int64_t channels, const RangeSource& ranges,
                  ScaleOp op, float* out, const Exec& exec, int parts, int64_t unit,
                  int64_t period) {
  ScratchUse use;
  const ForwardLanes k =
      forwardLanes(ranges.channels(0, channels, use), channels, period, laneArraysOffset({x, out}),
                   op, storeModeFor(count, parts, false), use);
  const ForwardSpanFn span = forwardSpanFor(activeSimdLevel());
  runParts(parts, exec, [&](int part) {
    FenceStreamingStores fence{k.store != StoreMode::Cached};
    inChunks(partBegin(count, part, parts, unit), partBegin(count, part + 1, parts, unit), period,
             exec,
             [&](int64_t i, int64_t e) { span(x + i, out + i, e - i, k, i % period, period); });
  });
}

// Calls fn(c0, width) for the column blocks of `part` and fn's row loop checks for cancellation.
template <typename Fn>
void forEachColumnBlock(int64_t channels, const ColumnPlan& plan, int part, Fn&& fn) {
  const int64_t blocks = (channels + plan.width - 1) / plan.width;
  for (int64_t b = blocks * part / plan.parts; b < blocks * (part + 1) / plan.parts; ++b)
    fn(b * plan.width, std::min(plan.width, channels - b * plan.width));
}

// Calls row(o) for o in [0, outer), checking for cancellation every chunk's worth of elements.
template <typename Fn>
void forEachRow(int64_t outer, int64_t width, const Exec& exec, Fn&& row) {
  const int64_t rowsPerCheck = std::max<int64_t>(1, kCancelChunkElements / width);
  for (int64_t o = 0; o < outer; ++o) {
    if (o % rowsPerCheck == 0) throwIfCancelled(exec);
    row(o);
  }
}

void forwardColumns(const float* x, int64_t outer, int64_t channels, const RangeSource& ranges,
                    ScaleOp op, float* out, const Exec& exec, ColumnPlan plan) {
  plan.parts =
      static_cast<int>(std::min<int64_t>(plan.parts, (channels + plan.width - 1) / plan.width));
  const StoreMode store = storeModeFor(outer * channels, plan.parts, false);
  const ForwardSpanFn span = forwardSpanFor(activeSimdLevel());
  runParts(plan.parts, exec, [&](int part) {
    ScratchUse use;
    FenceStreamingStores fence{store != StoreMode::Cached};
    forEachColumnBlock(channels, plan, part, [&](int64_t c0, int64_t w) {
      const ForwardLanes k = forwardLanes(ranges.channels(c0, w, use), w, w,
                                          laneArraysOffset({x + c0, out + c0}), op, store, use);
      forEachRow(outer, w, exec, [&](int64_t o) {
        span(x + o * channels + c0, out + o * channels + c0, w, k, 0, w);
      });
    });
  });
}

void forwardImpl(const float* x, int64_t count, int64_t channels, const RangeSource& ranges,
                 ScaleOp op, float* out, const Exec& exec) {
  if (count <= 0 || channels <= 0) return;
  const int64_t period = patternPeriod(channels, count);
  const int64_t unit = unitFor();
  const int parts = partsFor(count, exec, unit);
  const int64_t budget = scratchBudget();
  if (2 * scratchBytes(false, period, 0, ranges.given ? 0 : channels) <= budget)
    forwardWhole(x, count, channels, ranges, op, out, exec, parts, unit, period);
  else
    forwardColumns(x, count / channels, channels, ranges, op, out, exec,
                   planColumns(false, channels, ranges, parts, budget));
}

// The sums of channels [c0, c0 + n). min == max == 0 short-circuits to zero even when a gradient
// is NaN or infinite.
void storeSums(const Nudged* ranges, int64_t c0, int64_t n, const float* accMin,
               const float* accMax, float* dmin, float* dmax) {
  for (int64_t c = 0; c < n; ++c) {
    if (dmin) dmin[c0 + c] = ranges[c].zeroRange ? 0.0f : accMin[c];
    if (dmax) dmax[c0 + c] = ranges[c].zeroRange ? 0.0f : accMax[c];
  }
}

void gradientWhole(const float* g, const float* x, int64_t count, int64_t channels,
                   const RangeSource& src, float* dx, float* dmin, float* dmax, const Exec& exec,
                   int parts, int64_t unit, int64_t period) {
  ScratchUse use;
  const Nudged* ranges = src.channels(0, channels, use);
  const int64_t offset = laneArraysOffset({g, x, dx});
  const GradientLanes k =
      gradientLanes(ranges, channels, period, offset, storeModeFor(count, parts, true), use);
  const GradientSpanFn span = gradientSpanFor(activeSimdLevel());
  // Per part and lane partial sums (min, max), combined afterwards in a fixed order.
  const LaneArrays<float> sums = zeroedSums(2 * parts, period, offset, use);
  runParts(parts, exec, [&](int part) {
    FenceStreamingStores fence{k.store != StoreMode::Cached};
    inChunks(partBegin(count, part, parts, unit), partBegin(count, part + 1, parts, unit), period,
             exec, [&](int64_t i, int64_t e) {
               span(g + i, x + i, dx + i, e - i, k, i % period, period, sums[2 * part],
                    sums[2 * part + 1]);
             });
  });
  if (dmin) std::fill(dmin, dmin + channels, 0.0f);
  if (dmax) std::fill(dmax, dmax + channels, 0.0f);
  for (int part = 0; part < parts; ++part) {
    const float* accMin = sums[2 * part];
    const float* accMax = sums[2 * part + 1];
    for (int64_t j = 0; j < period; ++j) {
      if (dmin) dmin[j % channels] += accMin[j];
      if (dmax) dmax[j % channels] += accMax[j];
    }
  }
  for (int64_t c = 0; c < channels; ++c) {
    if (!ranges[c].zeroRange) continue;
    if (dmin) dmin[c] = 0.0f;
    if (dmax) dmax[c] = 0.0f;
  }
}

// Each channel's sums run over the rows in order, in one lane: no per-part arrays to combine.
void gradientColumns(const float* g, const float* x, int64_t outer, int64_t channels,
                     const RangeSource& src, float* dx, float* dmin, float* dmax, const Exec& exec,
                     ColumnPlan plan) {
  plan.parts =
      static_cast<int>(std::min<int64_t>(plan.parts, (channels + plan.width - 1) / plan.width));
  const StoreMode store = storeModeFor(outer * channels, plan.parts, true);
  const GradientSpanFn span = gradientSpanFor(activeSimdLevel());
  runParts(plan.parts, exec, [&](int part) {
    ScratchUse use;
    FenceStreamingStores fence{store != StoreMode::Cached};
    forEachColumnBlock(channels, plan, part, [&](int64_t c0, int64_t w) {
      const Nudged* ranges = src.channels(c0, w, use);
      const int64_t offset = laneArraysOffset({g + c0, x + c0, dx + c0});
      const GradientLanes k = gradientLanes(ranges, w, w, offset, store, use);
      const LaneArrays<float> sums = zeroedSums(2, w, offset, use);
      forEachRow(outer, w, exec, [&](int64_t o) {
        const int64_t at = o * channels + c0;
        span(g + at, x + at, dx + at, w, k, 0, w, sums[0], sums[1]);
      });
      storeSums(ranges, c0, w, sums[0], sums[1], dmin, dmax);
    });
  });
}

void gradientImpl(const float* g, const float* x, int64_t count, int64_t channels,
                  const RangeSource& ranges, float* dx, float* dmin, float* dmax,
                  const Exec& exec) {
  if (count <= 0 || channels <= 0) {
    if (dmin) std::fill(dmin, dmin + std::max<int64_t>(channels, 0), 0.0f);
    if (dmax) std::fill(dmax, dmax + std::max<int64_t>(channels, 0), 0.0f);
    return;
  }
  const int64_t period = patternPeriod(channels, count, true);
  const int64_t unit = unitFor();
  const int parts = partsFor(count, exec, unit);
  const int64_t budget = scratchBudget();
  if (2 * scratchBytes(true, period, 2 * parts, ranges.given ? 0 : channels) <= budget)
    gradientWhole(g, x, count, channels, ranges, dx, dmin, dmax, exec, parts, unit, period);
  else
    gradientColumns(g, x, count / channels, channels, ranges, dx, dmin, dmax, exec,
                    planColumns(true, channels, ranges, parts, budget));
}

}  // namespace

int64_t scratchHighWater() {
  return scratchPeak.load(std::memory_order_relaxed);
}

void resetScratchHighWater() {
  scratchPeak.store(scratchHeld.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void forward(const float* x, int64_t count, int64_t channels, const Nudged* ranges, ScaleOp op,
             float* out, Exec exec) {
  forwardImpl(x, count, channels, RangeSource{ranges}, op, out, exec);
}

void gradient(const float* g, const float* x, int64_t count, int64_t channels, const Nudged* ranges,
              float* dx, float* dmin, float* dmax, Exec exec) {
  gradientImpl(g, x, count, channels, RangeSource{ranges}, dx, dmin, dmax, exec);
}

void perChannelForward(const float* x, int64_t outer, int64_t channels, const float* min,
                       const float* max, QuantRange q, float* out, Exec exec) {
  forwardImpl(x, outer * channels, channels, RangeSource{nullptr, min, max, q},
              ScaleOp::MulInvScale, out, exec);
}

void perChannelGradient(const float* g, const float* x, int64_t outer, int64_t channels,
                        const float* min, const float* max, QuantRange q, float* dx, float* dmin,
                        float* dmax, Exec exec) {
  gradientImpl(g, x, outer * channels, channels, RangeSource{nullptr, min, max, q}, dx, dmin, dmax,
               exec);
}

}  // namespace qs::fq
