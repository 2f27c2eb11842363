#include "blocks/quant/CalibrationScan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "runtime/BlockDescriptor.h"
#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

namespace qs::calib {

namespace {

// Tensors from this many elements on are split across the op's threads.
constexpr int64_t kMinParallelElements = int64_t{1} << 18;
// Elements between two looks at the cancel flag.
constexpr int64_t kChunkElements = int64_t{1} << 16;
// A per-tensor reduction reads the tensor as rows of this many lanes, so that it vectorizes.
constexpr int64_t kFoldLanes = 64;

int partsFor(int64_t rows, int64_t rowElements, const fq::Exec& exec) {
  if (!exec.pool || exec.threads <= 1 || rows * rowElements < kMinParallelElements) return 1;
  return static_cast<int>(std::min<int64_t>(exec.threads, rows));
}

// Runs fn(part, begin, end) over contiguous shares of the rows [0, rows), one share per part, in
// chunks between which a cancelled evaluation stops.
template <typename Fn>
void forParts(int parts, int64_t rows, int64_t rowElements, const fq::Exec& exec, Fn&& fn) {
  const int64_t chunk = std::max<int64_t>(1, kChunkElements / std::max<int64_t>(rowElements, 1));
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
// and 0 for every finite v) of each lane over rows [r0, r1) of width `width`.
void scanExtremes(const float* __restrict x, int64_t r0, int64_t r1, int64_t width,
                  float* __restrict mn, float* __restrict mx, float* __restrict bad) {
  for (int64_t r = r0; r < r1; ++r) {
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
  const size_t lanes = static_cast<size_t>(width) * parts;
  std::vector<float> mn(lanes, std::numeric_limits<float>::infinity());
  std::vector<float> mx(lanes, -std::numeric_limits<float>::infinity());
  std::vector<float> bad(lanes, 0.0f);
  forParts(parts, rows, width, exec, [&](int p, int64_t b, int64_t e) {
    const size_t o = static_cast<size_t>(p) * width;
    scanExtremes(x, b, e, width, mn.data() + o, mx.data() + o, bad.data() + o);
  });
  // The elements a folded view leaves over go to its first lane.
  if (fold)
    scanExtremes(x + rows * width, 0, n - rows * width, 1, mn.data(), mx.data(), bad.data());
  Extremes r{std::vector<float>(channels), std::vector<float>(channels)};
  for (int64_t c = 0; c < channels; ++c) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo, b = 0;
    for (size_t l = c; l < lanes; l += channels) {
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

void binValues(Histograms& h, const float* x, int64_t outer, fq::Exec exec) {
  const int64_t channels = h.channels;
  std::vector<float> lo(channels), inv(channels);
  for (int64_t c = 0; c < channels; ++c) {
    lo[c] = h.lo[c];
    const float width = h.hi[c] - h.lo[c];
    inv[c] = width > 0 ? static_cast<float>(kBins) / width : 0.0f;
  }
  const int parts = partsFor(outer, channels, exec);
  const size_t size = static_cast<size_t>(channels) * kBins;
  std::vector<uint32_t> counts(size * parts, 0);
  const bool sym = h.symmetric;
  constexpr float kLast = static_cast<float>(kBins - 1);
  forParts(parts, outer, channels, exec, [&](int p, int64_t b, int64_t e) {
    uint32_t* cnt = counts.data() + size * p;
    for (int64_t r = b; r < e; ++r) {
      const float* row = x + r * channels;
      for (int64_t c = 0; c < channels; ++c) {
        const float v = sym ? std::fabs(row[c]) : row[c];
        float f = (v - lo[c]) * inv[c];
        f = f > 0.0f ? f : 0.0f;
        f = f < kLast ? f : kLast;
        ++cnt[c * kBins + static_cast<int>(f)];
      }
    }
  });
  for (size_t i = 0; i < size; ++i) {
    uint32_t sum = 0;
    for (int p = 0; p < parts; ++p) sum += counts[size * p + i];
    if (sum) h.counts[i] += static_cast<float>(sum);
  }
}

// Built for AVX2 as well where the compiler can (the loop then runs 8 bins at a time, floor
// included); the same operations in the same order, so both builds give the same bits.
#if defined(__x86_64__) && defined(__GNUC__)
[[gnu::target_clones("avx2", "default")]]
#endif
double sqnrNoise(const std::vector<float>& centre, const std::vector<float>& count,
                 const fq::Nudged& nd, bool symmetric, float wPos, float wNeg,
                 float clippingWeight) {
  // Lanes of partial sums, so that the loop runs across them in vector registers.
  constexpr size_t kLanes = 8;
  float acc[kLanes] = {};
  auto term = [&](float v) {
    const float e = fq::quantizeMul(v, nd) - v;
    const float weight = (v < nd.nudgedMin || v > nd.nudgedMax) ? clippingWeight : 1.0f;
    return e * e * weight;
  };
  const size_t n = centre.size();
  const float* c = centre.data();
  const float* k = count.data();
  const bool both = symmetric && wNeg > 0;
  const float wp = symmetric ? wPos : 1.0f;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t l = 0; l < kLanes; ++l) {
      const float v = c[i + l];
      const float t = both ? wp * term(v) + wNeg * term(-v) : wp * term(v);
      acc[l] += t * k[i + l];
    }
  for (; i < n; ++i) {
    const float v = c[i];
    const float t = both ? wp * term(v) + wNeg * term(-v) : wp * term(v);
    acc[0] += t * k[i];
  }
  double sum = 0;
  for (float a : acc) sum += a;
  return sum;
}

}  // namespace qs::calib
