// Built with -mavx2 (blocks/CMakeLists.txt); only called when the CPU has it (fq::avx2Active()).

#include "blocks/array_ops/QuantizationReport.h"

#ifdef QS_FQ_HAVE_X86

#include <immintrin.h>

#include <algorithm>

#include "blocks/array_ops/FakeQuantLanes_avx2.h"

namespace qs::fq::detail {

namespace {

// x's lanes [4h, 4h + 4) as doubles.
inline __m256d half(__m256 x, int h) {
  return _mm256_cvtps_pd(h == 0 ? _mm256_castps256_ps128(x) : _mm256_extractf128_ps(x, 1));
}

// Channel lanes [c, c + 8) over rows [r0, r1): their sums stay in registers meanwhile, each
// lane's added in row order.
void reportBlock(const float* inputs, int64_t outer, int64_t r0, int64_t r1, int64_t ahead,
                 int64_t channels, int64_t c, const ReportLanes& p, bool divide, ReportSums& s) {
  const __m256 lo = _mm256_loadu_ps(p.lo + c), hi = _mm256_loadu_ps(p.hi + c);
  const __m256 mul = _mm256_loadu_ps(p.mul + c), scale = _mm256_loadu_ps(p.scale + c);
  const __m256 qz = _mm256_loadu_ps(p.qz + c), keep = _mm256_loadu_ps(p.keep + c);
  __m256d signal[2] = {_mm256_loadu_pd(s.signal + c), _mm256_loadu_pd(s.signal + c + 4)};
  __m256d noise[2] = {_mm256_loadu_pd(s.noise + c), _mm256_loadu_pd(s.noise + c + 4)};
  // Counts of this block of rows, fewer than 2^31 (the caller's tiles are short).
  __m256i below = _mm256_setzero_si256(), above = _mm256_setzero_si256();
  // The same columns a tile further on, for the next tile's pass: a block reads a tile a column
  // at a time, whose misses of their own waited on memory one row apart each (a fifth of the time).
  const bool fetch = c % 16 == 0;
  for (int64_t r = r0; r < r1; ++r) {
    if (fetch && r + ahead < outer)
      _mm_prefetch(reinterpret_cast<const char*>(inputs + (r + ahead) * channels + c), _MM_HINT_T0);
    const __m256 x = _mm256_loadu_ps(inputs + r * channels + c);
    const __m256 y = forward8(x, lo, hi, mul, scale, qz, keep, divide);
    // A true comparison is all ones: -1 as an integer.
    below = _mm256_sub_epi32(below, _mm256_castps_si256(_mm256_cmp_ps(x, lo, _CMP_LT_OQ)));
    above = _mm256_sub_epi32(above, _mm256_castps_si256(_mm256_cmp_ps(x, hi, _CMP_GT_OQ)));
    for (int h = 0; h < 2; ++h) {
      const __m256d xd = half(x, h);
      const __m256d err = _mm256_sub_pd(half(y, h), xd);
      signal[h] = _mm256_add_pd(signal[h], _mm256_mul_pd(xd, xd));
      noise[h] = _mm256_add_pd(noise[h], _mm256_mul_pd(err, err));
    }
  }
  for (int h = 0; h < 2; ++h) {
    _mm256_storeu_pd(s.signal + c + 4 * h, signal[h]);
    _mm256_storeu_pd(s.noise + c + 4 * h, noise[h]);
  }
  alignas(32) int32_t b[8], a[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(b), below);
  _mm256_store_si256(reinterpret_cast<__m256i*>(a), above);
  for (int l = 0; l < 8; ++l) {
    s.below[c + l] += b[l];
    s.above[c + l] += a[l];
  }
}

}  // namespace

void reportRowsAvx2(const float* inputs, int64_t outer, int64_t channels, int64_t lanes,
                    const ReportLanes& p, bool divide, ReportSums& s) {
  // Tiles of rows, every block of lanes through each tile: the tile (64 rows of up to a few
  // hundred channels) stays in L1 and L2 while its blocks read it.
  constexpr int64_t kTileRows = 64;
  for (int64_t r0 = 0; r0 < outer; r0 += kTileRows) {
    const int64_t r1 = std::min(outer, r0 + kTileRows);
    for (int64_t c = 0; c < lanes; c += 8)
      reportBlock(inputs, outer, r0, r1, kTileRows, channels, c, p, divide, s);
  }
}

}  // namespace qs::fq::detail

#endif
