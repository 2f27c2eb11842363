// Built with -mavx512f/bw/dq/vl (blocks/CMakeLists.txt); only called when the CPU has them.
#include "blocks/array_ops/FakeQuantLanes.h"

#ifdef QS_FQ_HAVE_X86
// GCC 12's unmasked AVX-512 min/max/roundscale intrinsics start from _mm512_undefined_ps(), which
// it then reports as "maybe uninitialized" once inlined here: a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

namespace qs::fq::detail {

namespace {

// One vector of the forward op. The operand order of min/max is what keeps a NaN input: vminps
// returns its second operand when the comparison is false (unordered), as std::min(x, hi) returns
// x. The floor is an exact round towards -inf, so NaN stays NaN and -0 stays -0.
inline __m512 forward16(__m512 x, __m512 lo, __m512 hi, __m512 mul, __m512 scale, __m512 qz,
                        __m512i keep, bool divide) {
  __m512 c = _mm512_min_ps(hi, x);
  c = _mm512_max_ps(lo, c);
  const __m512 shifted = _mm512_sub_ps(c, lo);
  __m512 t = divide ? _mm512_div_ps(shifted, scale) : _mm512_mul_ps(shifted, mul);
  t = _mm512_add_ps(_mm512_sub_ps(t, qz), _mm512_set1_ps(0.5f));
  const __m512 r =
      _mm512_mul_ps(_mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), scale);
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(r), keep));
}

}  // namespace

void forwardSpanAvx512(const float* x, float* out, int64_t n, const ForwardLanes& k,
                       int64_t phase) {
  const float* lo = k.nudgedMin + phase;
  const float* hi = k.nudgedMax + phase;
  const float* mul = k.invScale + phase;
  const float* sc = k.scale + phase;
  const float* qz = k.quantZero + phase;
  const uint32_t* keep = k.keep + phase;
  int64_t i = 0;
  const bool stream = k.stream && (reinterpret_cast<uintptr_t>(out) & 63) == 0;
  auto loop = [&](auto divide, auto streaming) {
    for (; i + 16 <= n; i += 16) {
      const __m512 r =
          forward16(_mm512_loadu_ps(x + i), _mm512_loadu_ps(lo + i), _mm512_loadu_ps(hi + i),
                    _mm512_loadu_ps(mul + i), _mm512_loadu_ps(sc + i), _mm512_loadu_ps(qz + i),
                    _mm512_loadu_si512(keep + i), divide);
      if constexpr (streaming)
        _mm512_stream_ps(out + i, r);
      else
        _mm512_storeu_ps(out + i, r);
    }
  };
  // Four instantiations so that neither choice is a branch inside the loop.
  if (k.divide) {
    stream ? loop(std::true_type{}, std::true_type{}) : loop(std::true_type{}, std::false_type{});
  } else {
    stream ? loop(std::false_type{}, std::true_type{}) : loop(std::false_type{}, std::false_type{});
  }
  if (stream) _mm_sfence();
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 r = forward16(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, lo + i),
                               _mm512_maskz_loadu_ps(m, hi + i), _mm512_maskz_loadu_ps(m, mul + i),
                               _mm512_maskz_loadu_ps(m, sc + i), _mm512_maskz_loadu_ps(m, qz + i),
                               _mm512_maskz_loadu_epi32(m, keep + i), k.divide);
    _mm512_mask_storeu_ps(out + i, m, r);
  }
}

namespace {

template <bool kStream>
inline void gradient16(__mmask16 m, const float* g, const float* x, float* dx, const float* lo,
                       const float* hi, const uint32_t* pass, float* accMin, float* accMax) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 xv = _mm512_maskz_loadu_ps(m, x);
  const __m512 gv = _mm512_maskz_loadu_ps(m, g);
  const __m512 lov = _mm512_maskz_loadu_ps(m, lo);
  const __m512 hiv = _mm512_maskz_loadu_ps(m, hi);
  const __mmask16 passAll =
      _mm512_test_epi32_mask(_mm512_maskz_loadu_epi32(m, pass), _mm512_set1_epi32(-1));
  const __mmask16 between =
      (_mm512_cmp_ps_mask(xv, lov, _CMP_GE_OQ) & _mm512_cmp_ps_mask(xv, hiv, _CMP_LE_OQ)) | passAll;
  const __mmask16 below = _mm512_cmp_ps_mask(xv, lov, _CMP_LT_OQ);
  const __mmask16 above = _mm512_cmp_ps_mask(xv, hiv, _CMP_GT_OQ);
  // Multiplies, not selects: a NaN or infinite g times 0 is NaN, and -g times 0 is -0, as in
  // TensorFlow.
  const __m512 d = _mm512_mul_ps(gv, _mm512_maskz_mov_ps(between, one));
  if constexpr (kStream)
    _mm512_stream_ps(dx, d);
  else
    _mm512_mask_storeu_ps(dx, m, d);
  const __m512 am = _mm512_add_ps(_mm512_maskz_loadu_ps(m, accMin),
                                  _mm512_mul_ps(gv, _mm512_maskz_mov_ps(below, one)));
  const __m512 ax = _mm512_add_ps(_mm512_maskz_loadu_ps(m, accMax),
                                  _mm512_mul_ps(gv, _mm512_maskz_mov_ps(above, one)));
  _mm512_mask_storeu_ps(accMin, m, am);
  _mm512_mask_storeu_ps(accMax, m, ax);
}

}  // namespace

void gradientSpanAvx512(const float* g, const float* x, float* dx, int64_t n,
                        const GradientLanes& k, int64_t phase, float* accMin, float* accMax) {
  const float* lo = k.nudgedMin + phase;
  const float* hi = k.nudgedMax + phase;
  const uint32_t* pass = k.passAll + phase;
  accMin += phase;
  accMax += phase;
  int64_t i = 0;
  if (k.stream && (reinterpret_cast<uintptr_t>(dx) & 63) == 0) {
    for (; i + 16 <= n; i += 16)
      gradient16<true>(0xFFFF, g + i, x + i, dx + i, lo + i, hi + i, pass + i, accMin + i,
                       accMax + i);
    _mm_sfence();
  } else {
    for (; i + 16 <= n; i += 16)
      gradient16<false>(0xFFFF, g + i, x + i, dx + i, lo + i, hi + i, pass + i, accMin + i,
                        accMax + i);
  }
  if (i < n)
    gradient16<false>(static_cast<__mmask16>((1u << (n - i)) - 1u), g + i, x + i, dx + i, lo + i,
                      hi + i, pass + i, accMin + i, accMax + i);
}

}  // namespace qs::fq::detail

#endif
