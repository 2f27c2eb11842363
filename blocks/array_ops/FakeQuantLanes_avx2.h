#pragma once

// Internal to the code built with -mavx2 (*_avx2.cpp): the FakeQuant forward of eight lanes, as
// the FakeQuant kernels and the SQNR calibrator's scoring both compute it.

#include "blocks/array_ops/FakeQuantLanes.h"

#ifdef QS_FQ_HAVE_X86
#include <immintrin.h>

namespace qs::fq::detail {

// See the AVX-512 file: vminps/vmaxps return the second operand when unordered, which keeps a
// NaN input exactly as std::min(x, hi) / std::max(c, lo) do.
inline __m256 forward8(__m256 x, __m256 lo, __m256 hi, __m256 mul, __m256 scale, __m256 qz,
                       __m256 keep, bool divide) {
  __m256 c = _mm256_min_ps(hi, x);
  c = _mm256_max_ps(lo, c);
  const __m256 shifted = _mm256_sub_ps(c, lo);
  __m256 t = divide ? _mm256_div_ps(shifted, scale) : _mm256_mul_ps(shifted, mul);
  t = _mm256_add_ps(_mm256_sub_ps(t, qz), _mm256_set1_ps(0.5f));
  const __m256 r =
      _mm256_mul_ps(_mm256_round_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), scale);
  return _mm256_and_ps(r, keep);
}

}  // namespace qs::fq::detail

#endif
