// Built with -mavx2 (blocks/CMakeLists.txt); only called when the CPU has it. The same operations
// in the same order as the portable noise sum (CalibrationScan.cpp), eight bins a vector, so both
// give the same bits.
#include "blocks/array_ops/FakeQuantLanes_avx2.h"
#include "blocks/quant/CalibrationScan.h"

#ifdef QS_FQ_HAVE_X86
#include <immintrin.h>

namespace qs::calib::detail {

namespace {

struct TermConstants {
  __m256 lo, hi, mul, scale, qz, keep, clipWeight;
};

// (quantizeMul(v) - v)^2, times the clipping weight where the range clips v.
inline __m256 term8(__m256 v, const TermConstants& k) {
  const __m256 e =
      _mm256_sub_ps(fq::detail::forward8(v, k.lo, k.hi, k.mul, k.scale, k.qz, k.keep, false), v);
  const __m256 clipped =
      _mm256_or_ps(_mm256_cmp_ps(v, k.lo, _CMP_LT_OQ), _mm256_cmp_ps(v, k.hi, _CMP_GT_OQ));
  const __m256 weight = _mm256_blendv_ps(_mm256_set1_ps(1.0f), k.clipWeight, clipped);
  return _mm256_mul_ps(_mm256_mul_ps(e, e), weight);
}

}  // namespace

double sqnrNoiseSumAvx2(const float* c, const float* count, size_t n, const fq::Nudged& nd,
                        bool both, float wp, float wNeg, float clippingWeight) {
  const TermConstants k{
      _mm256_set1_ps(nd.nudgedMin),  _mm256_set1_ps(nd.nudgedMax),
      _mm256_set1_ps(nd.invScale),   _mm256_set1_ps(nd.scale),
      _mm256_set1_ps(nd.quantZero),  _mm256_castsi256_ps(_mm256_set1_epi32(nd.zeroRange ? 0 : -1)),
      _mm256_set1_ps(clippingWeight)};
  const __m256 vp = _mm256_set1_ps(wp), vn = _mm256_set1_ps(wNeg);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  auto bins = [&](__m256 v) {
    __m256 t = _mm256_mul_ps(vp, term8(v, k));
    if (both) t = _mm256_add_ps(t, _mm256_mul_ps(vn, term8(_mm256_xor_ps(v, sign), k)));
    return t;
  };
  __m256 acc = _mm256_setzero_ps();
  const size_t full = n - n % 8;
  for (size_t i = 0; i < full; i += 8)
    acc =
        _mm256_add_ps(acc, _mm256_mul_ps(bins(_mm256_loadu_ps(c + i)), _mm256_loadu_ps(count + i)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  // The last n % 8 bins go to the first running sum, one at a time.
  if (full < n) {
    alignas(32) float v[8] = {}, t[8];
    for (size_t i = full; i < n; ++i) v[i - full] = c[i];
    _mm256_store_ps(t, bins(_mm256_load_ps(v)));
    for (size_t i = full; i < n; ++i) lanes[0] += t[i - full] * count[i];
  }
  double sum = 0;
  for (float a : lanes) sum += a;
  return sum;
}

}  // namespace qs::calib::detail

#endif
