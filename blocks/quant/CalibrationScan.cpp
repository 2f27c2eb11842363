#include "blocks/quant/CalibrationScan.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "runtime/BlockDescriptor.h"
#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

namespace qs::calib {

// ---- Logarithms ---------------------------------------------------------------------------------

namespace detail {

namespace {

constexpr uint64_t kMantissaBits = (uint64_t{1} << 52) - 1;
constexpr uint64_t kOneBits = uint64_t{1023} << 52;

// log(2^k (1 + f)) for f in [sqrt(1/2) - 1, sqrt(2) - 1).
double logReduced(double k, double f) {
  const double s = f / (2.0 + f);
  const double z = s * s, w = z * z;
  const double t1 = w * (kLg[1] + w * (kLg[3] + w * kLg[5]));
  const double t2 = z * (kLg[0] + w * (kLg[2] + w * (kLg[4] + w * kLg[6])));
  const double r = t2 + t1;
  const double hfsq = 0.5 * f * f;
  return k * kLn2Hi - ((hfsq - (s * (hfsq + r) + k * kLn2Lo)) - f);
}

}  // namespace

double logOf(double x) {
  if (!(x >= std::numeric_limits<double>::min() && x <= std::numeric_limits<double>::max()))
    return std::log(x);
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  const double e = static_cast<double>(bits >> 52);  // the biased exponent (x > 0)
  double m = std::bit_cast<double>((bits & kMantissaBits) | kOneBits);  // in [1, 2)
  const bool high = m >= kSqrt2;
  m = high ? m * 0.5 : m;
  return logReduced((e - 1023.0) + (high ? 1.0 : 0.0), m - 1.0);
}

void logsPortable(const double* x, double* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = logOf(x[i]);
}

void logs(const double* x, double* out, size_t n) {
#ifdef QS_FQ_HAVE_X86
  if (fq::avx2Active()) return logsAvx2(x, out, n);
#endif
  logsPortable(x, out, n);
}

int tableLogsPortable(const double* h, int n, const double* table, int size, double* lg,
                      int* rest) {
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const double v = h[i];
    const bool inRange = v >= 0 && v < size;
    const int k = inRange ? static_cast<int>(v) : 0;
    if (inRange && k == v)
      lg[i] = table[k];
    else
      rest[m++] = i;
  }
  return m;
}

int tableLogs(const double* h, int n, const double* table, int size, double* lg, int* rest) {
#ifdef QS_FQ_HAVE_X86
  if (fq::avx2Active()) return tableLogsAvx2(h, n, table, size, lg, rest);
#endif
  return tableLogsPortable(h, n, table, size, lg, rest);
}

}  // namespace detail

namespace {

// Tensors from this many elements on are split across the op's threads.
constexpr int64_t kMinParallelElements = int64_t{1} << 18;
// Elements between two looks at the cancel flag.
constexpr int64_t kChunkElements = int64_t{1} << 16;
// A per-tensor reduction reads the tensor as rows of this many lanes, so that it vectorizes.
constexpr int64_t kFoldLanes = 64;
// How far ahead of its reads the extremes pass asks for the tensor: 8 KB measured best of 1 to 16
// KB (4 KB within 10%). A prefetch past the end of the tensor is harmless.
constexpr int64_t kPrefetchAhead = 8192;

int partsFor(int64_t rows, int64_t rowElements, const fq::Exec& exec) {
  if (!exec.pool || exec.threads <= 1 || rows * rowElements < kMinParallelElements) return 1;
  return static_cast<int>(std::min<int64_t>(exec.threads, rows));
}

// Runs fn(part, begin, end) over contiguous shares of the rows [0, rows), one share per part, in
// chunks of about chunkElements between which a cancelled evaluation stops.
template <typename Fn>
void forParts(int parts, int64_t rows, int64_t rowElements, const fq::Exec& exec,
              int64_t chunkElements, Fn&& fn) {
  const int64_t chunk = std::max<int64_t>(1, chunkElements / std::max<int64_t>(rowElements, 1));
  auto share = [&](int64_t p) {
    const int64_t b = rows * p / parts, e = rows * (p + 1) / parts;
    for (int64_t r = b; r < e; r += chunk) {
      if (exec.ctx && exec.ctx->cancelled()) throw Cancelled();
      fn(static_cast<int>(p), r, std::min(e, r + chunk));
    }
  };
  if (parts == 1) return share(0);
  exec.pool->parallelFor(parts, 1, parts, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) share(p);
  });
}

// Running minimum, maximum and "bad" (NaN once a NaN or infinity went by: v * 0 is NaN for them
// and 0 for every finite v) of each lane over rows [r0, r1) of width `width`. Four rows are
// combined before each lane's running values are loaded and stored, which is what bounded the loop.
#if defined(__x86_64__) && defined(__GNUC__)
[[gnu::target_clones("avx2", "default")]]
#endif
void scanExtremes(const float* __restrict x, int64_t r0, int64_t r1, int64_t width,
                  float* __restrict mn, float* __restrict mx, float* __restrict bad) {
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const float* a = x + r * width;
    // The four rows kPrefetchAhead bytes on: the hardware prefetcher alone kept one core at
    // about half the read rate that this gives (MinMax 2.6 -> 1.0 ms on the benchmark tensor).
    const char* ahead = reinterpret_cast<const char*>(a) + kPrefetchAhead;
    for (int64_t byte = 0; byte < 4 * width * static_cast<int64_t>(sizeof(float)); byte += 64)
      __builtin_prefetch(ahead + byte, 0, 3);
    const float* b = a + width;
    const float* c2 = b + width;
    const float* d = c2 + width;
    for (int64_t c = 0; c < width; ++c) {
      const float va = a[c], vb = b[c], vc = c2[c], vd = d[c];
      // On a tie the earlier row wins, as in the one-row loop (it tells -0 from +0).
      const float lab = vb < va ? vb : va, lcd = vd < vc ? vd : vc;
      const float hab = vb > va ? vb : va, hcd = vd > vc ? vd : vc;
      const float l = lcd < lab ? lcd : lab, hi = hcd > hab ? hcd : hab;
      mn[c] = l < mn[c] ? l : mn[c];
      mx[c] = hi > mx[c] ? hi : mx[c];
      bad[c] += (va * 0.0f + vb * 0.0f) + (vc * 0.0f + vd * 0.0f);
    }
  }
  for (; r < r1; ++r) {
    const float* row = x + r * width;
    for (int64_t c = 0; c < width; ++c) {
      const float v = row[c];
      mn[c] = v < mn[c] ? v : mn[c];
      mx[c] = v > mx[c] ? v : mx[c];
      bad[c] += v * 0.0f;
    }
  }
}

}  // namespace

Extremes channelExtremes(const float* x, int64_t outer, int64_t channels, bool perTensor,
                         fq::Exec exec) {
  const int64_t n = outer * channels;
  const bool fold = channels == 1 && n >= kFoldLanes;
  const int64_t width = fold ? kFoldLanes : channels;
  const int64_t rows = fold ? n / kFoldLanes : outer;
  const int parts = partsFor(rows, width, exec);
  // Each part's running values start a cache line or more after the previous part's end: parts
  // that shared a line would pass it between their cores at every row (2 threads took 3 times as
  // long as one).
  const size_t stride = (static_cast<size_t>(width) + 15) / 16 * 16 + 16;
  const size_t lanes = stride * parts;
  std::vector<float> mn(lanes, std::numeric_limits<float>::infinity());
  std::vector<float> mx(lanes, -std::numeric_limits<float>::infinity());
  std::vector<float> bad(lanes, 0.0f);
  forParts(parts, rows, width, exec, kChunkElements, [&](int p, int64_t b, int64_t e) {
    const size_t o = static_cast<size_t>(p) * stride;
    scanExtremes(x, b, e, width, mn.data() + o, mx.data() + o, bad.data() + o);
  });
  // The elements a folded view leaves over go to its first lane.
  if (fold)
    scanExtremes(x + rows * width, 0, n - rows * width, 1, mn.data(), mx.data(), bad.data());
  Extremes r{std::vector<float>(channels), std::vector<float>(channels)};
  for (int64_t c = 0; c < channels; ++c) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo, b = 0;
    // Part by part, each part's lanes of channel c in order (a folded view's 64 lanes are all
    // channel 0).
    for (int p = 0; p < parts; ++p)
      for (int64_t j = c; j < width; j += channels) {
        const size_t l = static_cast<size_t>(p) * stride + static_cast<size_t>(j);
        lo = std::min(lo, mn[l]);
        hi = std::max(hi, mx[l]);
        b += bad[l];
      }
    if (std::isnan(b))
      throw Error(std::string("inputs hold a NaN or an infinity") +
                  (perTensor ? "" : " in channel " + std::to_string(c)) +
                  "; a range can only be calibrated from finite values");
    r.min[c] = n == 0 ? 0.0f : lo;
    r.max[c] = n == 0 ? 0.0f : hi;
  }
  return r;
}

namespace {

// Values the binning pass bins at a time (vectorized, in memory order) before it counts them. Their
// 128 KB of indices, the next tile's 256 KB of values (fetched while this one is counted) and 512
// KB of counts at 128 channels fit in a 1 MB L2; tiles twice as large measured 3% slower.
constexpr int64_t kTileElements = int64_t{1} << 16;
// Channels counted together (detail::kGroupChannels): their uint16 counts (16 KB) stay in L1
// while a tile is counted.
using detail::kGroupChannels;
constexpr int64_t kGroupBytes = kGroupChannels * kBins * sizeof(uint16_t);
// Rows whose counts a uint16 bin can take without overflowing.
constexpr int64_t kMaxRowsPerFlush = 65535;

// The bin of each value of `rows` rows (binOf()), portable: AVX2 processors run
// detail::binIndicesAvx2() instead.
template <bool kSym>
void binIndicesPortable(const float* __restrict x, int64_t rows, int64_t channels,
                        const float* __restrict lo, const float* __restrict inv,
                        uint16_t* __restrict idx) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * channels;
    for (int64_t c = 0; c < channels; ++c)
      *detail::groupedIndex(idx, rows, r, c) =
          detail::binOf(kSym ? std::fabs(row[c]) : row[c], lo[c], inv[c]);
  }
}

// The bins of a tile of rows, on the path fq::avx2Active() names.
void binIndices(const float* x, int64_t rows, int64_t channels, const float* lo, const float* inv,
                bool symmetric, uint16_t* idx) {
#ifdef QS_FQ_HAVE_X86
  if (fq::avx2Active()) return detail::binIndicesAvx2(x, rows, channels, lo, inv, symmetric, idx);
#endif
  if (symmetric)
    binIndicesPortable<true>(x, rows, channels, lo, inv, idx);
  else
    binIndicesPortable<false>(x, rows, channels, lo, inv, idx);
}

// Counts a tile of bin indices ([rows, channels], grouped: detail::groupedIndex()) into cnt
// ([channels, kBins]), a group of channels at a time so that their counts stay in L1 (a whole
// row's counts are 512 KB at 128 channels). `ahead` is the next tile's values: fetched from memory
// while the counting keeps the core busy, so that the next binning finds them in L2.
void countTile(const uint16_t* __restrict idx, int64_t rows, int64_t channels,
               uint16_t* __restrict cnt, const char* ahead, int64_t aheadBytes) {
  const int64_t groups = (channels + kGroupChannels - 1) / kGroupChannels;
  for (int64_t j = 0; j < groups; ++j) {
    const int64_t n = std::min(kGroupChannels, channels - j * kGroupChannels);
    uint16_t* b0 = cnt + j * kGroupChannels * kBins;
    const uint16_t* q = idx + j * detail::groupStride(rows);
    // Rows [r0, r1) of the group's first n channels, one index at a time.
    auto countRows = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < n; ++c) ++b0[c * kBins + q[r * kGroupChannels + c]];
    };
    if (n < kGroupChannels) {
      countRows(0, rows);
      continue;
    }
    static_assert(kGroupChannels == 4);
    uint16_t *b1 = b0 + kBins, *b2 = b1 + kBins, *b3 = b2 + kBins;
    // With each block of four rows, two lines of the next group's counts (last touched a tile ago,
    // out of L1) and one of this group's share of the next tile's values.
    const char* next = reinterpret_cast<const char*>(b0 + kGroupChannels * kBins);
    const int64_t nextBytes = (j + 2) * kGroupChannels <= channels ? kGroupBytes : 0;
    const char* far = ahead + aheadBytes * j / groups;
    const int64_t farBytes = aheadBytes * (j + 1) / groups - aheadBytes * j / groups;
    const int64_t fours = rows - rows % 4;
    for (int64_t r = 0, line = 0; r < fours; r += 4, line += 64) {
      const uint16_t* p = q + r * kGroupChannels;
      if (2 * line < nextBytes) {
        __builtin_prefetch(next + 2 * line, 1, 3);
        __builtin_prefetch(next + 2 * line + 64, 1, 3);
      }
      if (line < farBytes) __builtin_prefetch(far + line, 0, 3);
      for (int i = 0; i < 16; i += 4) {
        ++b0[p[i]];
        ++b1[p[i + 1]];
        ++b2[p[i + 2]];
        ++b3[p[i + 3]];
      }
    }
    countRows(fours, rows);
  }
}

// Per part of the binning pass: 16-bit counts, moved into 32-bit ones before they can overflow.
struct PartCounts {
  std::vector<uint32_t> total;  // valid once `flushed`
  std::vector<uint16_t> recent;
  std::vector<uint16_t> idx;
  int64_t recentRows = 0;  // no count in `recent` exceeds it
  bool flushed = false;

  // Makes room for `rows` more rows in `recent`. Rows alone would call for a flush every 65535
  // rows; the largest count is usually far below that (a few dozen when values spread over the
  // bins), and reading it costs less than moving every count to `total` and zeroing it.
  void makeRoom(int64_t rows) {
    if (recentRows + rows <= kMaxRowsPerFlush) return;
    uint16_t largest = 0;
    for (const uint16_t c : recent) largest = std::max(largest, c);  // vectorizes
    recentRows = largest;
    if (recentRows + rows > kMaxRowsPerFlush) flush();
  }

  // Zeroed counts for `size` bins and room for a tile of `tile` indices. assign() keeps the
  // capacity an earlier call left, so a kept buffer costs a memset, not fresh pages; the 32-bit
  // counts are written whole by the first flush instead.
  void reset(size_t size, size_t tile) {
    total.resize(size);
    recent.assign(size, 0);
    idx.resize(tile);
    recentRows = 0;
    flushed = false;
  }
  size_t bytes() const {
    return total.capacity() * sizeof(uint32_t) +
           (recent.capacity() + idx.capacity()) * sizeof(uint16_t);
  }
  void flush() {
    if (flushed)
      for (size_t i = 0; i < recent.size(); ++i) total[i] += recent[i];
    else
      std::copy(recent.begin(), recent.end(), total.begin());
    flushed = true;
    std::fill(recent.begin(), recent.end(), uint16_t{0});
    recentRows = 0;
  }
};

// out[i] += the parts' count of bin i, for every bin some part counted (out[i] = the count, with
// `replace`). A block of bins at a time, each step a loop without branches that vectorizes: bin by
// bin, with a test of each part's flush and of the sum, it took about 0.3 ms at 128 channels.
void mergeCounts(const std::vector<PartCounts>& parts, int n, float* __restrict out, bool replace) {
  constexpr size_t kBlock = 1024;
  const size_t size = parts[0].recent.size();
  uint32_t sum[kBlock];
  for (size_t b = 0; b < size; b += kBlock) {
    const size_t len = std::min(kBlock, size - b);
    std::fill_n(sum, len, 0u);
    for (int p = 0; p < n; ++p) {
      const uint16_t* __restrict recent = parts[p].recent.data() + b;
      for (size_t i = 0; i < len; ++i) sum[i] += recent[i];
      if (!parts[p].flushed) continue;
      const uint32_t* __restrict total = parts[p].total.data() + b;
      for (size_t i = 0; i < len; ++i) sum[i] += total[i];
    }
    float* __restrict o = out + b;
    if (replace)
      for (size_t i = 0; i < len; ++i) o[i] = static_cast<float>(sum[i]);
    else
      for (size_t i = 0; i < len; ++i)
        o[i] = sum[i] != 0 ? o[i] + static_cast<float>(sum[i]) : o[i];
  }
}

// The binning pass's buffers, kept by the calling thread between calls: at 128 channels a part
// holds 1.75 MB, which the allocator would otherwise map and the kernel fault in on every call
// (a third of the pass's time on a virtual machine).
thread_local std::vector<PartCounts> binScratch;

}  // namespace

void binValues(Histograms& h, const float* x, int64_t outer, fq::Exec exec, bool replace) {
  const int64_t channels = h.channels;
  std::vector<float> lo(channels), inv(channels);
  for (int64_t c = 0; c < channels; ++c) {
    lo[c] = h.lo[c];
    const float width = h.hi[c] - h.lo[c];
    inv[c] = width > 0 ? static_cast<float>(kBins) / width : 0.0f;
  }
  const int parts = partsFor(outer, channels, exec);
  const size_t size = static_cast<size_t>(channels) * kBins;
  const int64_t tileRows =
      std::clamp<int64_t>(kTileElements / std::max<int64_t>(channels, 1), 1, kMaxRowsPerFlush);
  std::vector<PartCounts>& counts = binScratch;
  if (counts.size() < static_cast<size_t>(parts)) counts.resize(parts);
  // Room for whole groups (detail::groupedIndex()).
  const int64_t tileIndices =
      (channels + kGroupChannels - 1) / kGroupChannels * detail::groupStride(tileRows);
  for (int p = 0; p < parts; ++p) counts[p].reset(size, static_cast<size_t>(tileIndices));
  forParts(parts, outer, channels, exec, tileRows * channels, [&](int p, int64_t b, int64_t e) {
    PartCounts& pc = counts[p];
    pc.makeRoom(e - b);
    // Tiles back to front: the extremes pass has just read the tensor front to back, so the
    // tensor's end is still in L3 (the counts do not depend on the order).
    const float* rows = x + (outer - e) * channels;
    binIndices(rows, e - b, channels, lo.data(), inv.data(), h.symmetric, pc.idx.data());
    // The next tile lies just before this one in memory.
    const int64_t nextRows = std::min(e - b, outer - e);
    countTile(pc.idx.data(), e - b, channels, pc.recent.data(),
              reinterpret_cast<const char*>(rows - nextRows * channels),
              nextRows * channels * static_cast<int64_t>(sizeof(float)));
    pc.recentRows += e - b;
  });
  mergeCounts(counts, parts, h.counts.data(), replace);
  size_t held = 0;
  for (const PartCounts& pc : counts) held += pc.bytes();
  if (held > detail::kKeepScratchBytes) std::vector<PartCounts>().swap(counts);
}

namespace {

// The terms of sqnrNoise(), in kLanes running sums: bin i's term goes to sum i % kLanes, except
// for the last n % kLanes bins, which go to sum 0. kNonZero: the range is not [0, 0]. The terms
// are computed a block at a time by a loop with no sum in it, then summed in the same order as one
// bin at a time. GCC 12 does not vectorize the term loop ("control flow in loop"): on AVX2 the
// hand-written loop of CalibrationScan_avx2.cpp runs instead.
template <bool kNonZero>
double noiseSum(const float* __restrict c, const float* __restrict k, size_t n,
                const fq::Nudged& range, bool both, float wp, float wNeg, float clippingWeight) {
  constexpr size_t kLanes = 8, kBlock = 256;
  float acc[kLanes] = {};
  // A local copy whose zeroRange the compiler knows: quantizeMul's branch folds away.
  fq::Nudged nd = range;
  if (kNonZero) nd.zeroRange = false;
  auto term = [&](float v) {
    const float e = fq::quantizeMul(v, nd) - v;
    // Both comparisons always made (no short circuit), so the select vectorizes.
    const float weight = ((v < nd.nudgedMin) | (v > nd.nudgedMax)) ? clippingWeight : 1.0f;
    return e * e * weight;
  };
  float t[kBlock];
  const size_t full = n - n % kLanes;  // bins summed lane by lane
  for (size_t i = 0; i < n; i += kBlock) {
    const size_t len = std::min(kBlock, n - i);
    const float* cb = c + i;
    if (both)
      for (size_t j = 0; j < len; ++j) t[j] = wp * term(cb[j]) + wNeg * term(-cb[j]);
    else
      for (size_t j = 0; j < len; ++j) t[j] = wp * term(cb[j]);
    const size_t lanes = std::min(len, full > i ? full - i : 0);
    for (size_t j = 0; j < lanes; j += kLanes)
      for (size_t l = 0; l < kLanes; ++l) acc[l] += t[j + l] * k[i + j + l];
    for (size_t j = lanes; j < len; ++j) acc[0] += t[j] * k[i + j];
  }
  double sum = 0;
  for (float a : acc) sum += a;
  return sum;
}

}  // namespace

namespace detail {
double sqnrNoiseSumPortable(const float* centre, const float* count, size_t n, const fq::Nudged& nd,
                            bool both, float wp, float wNeg, float clippingWeight) {
  return nd.zeroRange ? noiseSum<false>(centre, count, n, nd, both, wp, wNeg, clippingWeight)
                      : noiseSum<true>(centre, count, n, nd, both, wp, wNeg, clippingWeight);
}
}  // namespace detail

double sqnrNoise(const std::vector<float>& centre, const std::vector<float>& count,
                 const fq::Nudged& nd, bool symmetric, float wPos, float wNeg,
                 float clippingWeight) {
  const bool both = symmetric && wNeg > 0;
  const float wp = symmetric ? wPos : 1.0f;
#ifdef QS_FQ_HAVE_X86
  if (fq::avx2Active())
    return detail::sqnrNoiseSumAvx2(centre.data(), count.data(), centre.size(), nd, both, wp, wNeg,
                                    clippingWeight);
#endif
  return detail::sqnrNoiseSumPortable(centre.data(), count.data(), centre.size(), nd, both, wp,
                                      wNeg, clippingWeight);
}

}  // namespace qs::calib
