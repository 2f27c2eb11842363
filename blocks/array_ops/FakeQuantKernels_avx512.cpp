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

// Software prefetch distance of the loops that interleave several rows (512 bytes ahead).
constexpr int64_t kPrefetchFloats = 128;

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

static inline void forwardSegmentAvx512(const float* x, float* out, int64_t n,
                                        const ForwardLanes& k, int64_t phase) {
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

// g times a 0/1 mask, as TensorFlow computes it (a NaN or infinite g times 0 is NaN, -g times 0 is
// -0), in one instruction: lanes in `k` get g * 1, the others g * 0, which the caller computes once
// per vector and shares between dx and both sums.
// `one` must come from opaqueOne(): with a visible constant 1 the compiler folds g * 1 into g,
// which keeps a signalling NaN signalling where the multiply (and TensorFlow) quiets it.
inline __m512 timesMask(__m512 g, __m512 gTimesZero, __mmask16 k, __m512 one) {
  return _mm512_mask_mul_ps(gTimesZero, k, g, one);
}

inline __m512 opaqueOne() {
  __m512 one = _mm512_set1_ps(1.0f);
  asm("" : "+v"(one));
  return one;
}

template <bool kStream>
inline void gradient16(__mmask16 m, const float* g, const float* x, float* dx, const float* lo,
                       const float* hi, const uint32_t* pass, float* accMin, float* accMax) {
  const __m512 one = opaqueOne();
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
  const __m512 gz = _mm512_mul_ps(gv, _mm512_setzero_ps());
  const __m512 d = timesMask(gv, gz, between, one);
  if constexpr (kStream)
    _mm512_stream_ps(dx, d);
  else
    _mm512_mask_storeu_ps(dx, m, d);
  const __m512 am = _mm512_add_ps(_mm512_maskz_loadu_ps(m, accMin), timesMask(gv, gz, below, one));
  const __m512 ax = _mm512_add_ps(_mm512_maskz_loadu_ps(m, accMax), timesMask(gv, gz, above, one));
  _mm512_mask_storeu_ps(accMin, m, am);
  _mm512_mask_storeu_ps(accMax, m, ax);
}

}  // namespace

static inline void gradientSegmentAvx512(const float* g, const float* x, float* dx, int64_t n,
                                         const GradientLanes& k, int64_t phase, float* accMin,
                                         float* accMax) {
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
  } else {
    for (; i + 16 <= n; i += 16)
      gradient16<false>(0xFFFF, g + i, x + i, dx + i, lo + i, hi + i, pass + i, accMin + i,
                        accMax + i);
  }
  if (i < n)
    gradient16<false>(static_cast<__mmask16>((1u << (n - i)) - 1u), g + i, x + i, dx + i, lo + i,
                      hi + i, pass + i, accMin + i, accMax + i);
}

// The whole span: segments of the pattern, one after the other.
namespace {

// Whole periods of a short pattern (NV vectors) with every constant held in registers.
template <int NV, bool kDivide>
void forwardPeriodsAvx512(const float* x, float* out, int64_t periods, const ForwardLanes& k) {
  __m512 lo[NV], hi[NV], mul[NV], sc[NV], qz[NV];
  __m512i keep[NV];
  for (int v = 0; v < NV; ++v) {
    lo[v] = _mm512_loadu_ps(k.nudgedMin + 16 * v);
    hi[v] = _mm512_loadu_ps(k.nudgedMax + 16 * v);
    mul[v] = _mm512_loadu_ps(k.invScale + 16 * v);
    sc[v] = _mm512_loadu_ps(k.scale + 16 * v);
    qz[v] = _mm512_loadu_ps(k.quantZero + 16 * v);
    keep[v] = _mm512_loadu_si512(k.keep + 16 * v);
  }
  const bool stream = k.stream && (reinterpret_cast<uintptr_t>(out) & 63) == 0;
  for (int64_t p = 0; p < periods; ++p) {
    for (int v = 0; v < NV; ++v) {
      const int64_t i = p * 16 * NV + 16 * v;
      const __m512 r =
          forward16(_mm512_loadu_ps(x + i), lo[v], hi[v], mul[v], sc[v], qz[v], keep[v], kDivide);
      if (stream)
        _mm512_stream_ps(out + i, r);
      else
        _mm512_storeu_ps(out + i, r);
    }
  }
}

template <bool kDivide>
void forwardPeriods(const float* x, float* out, int64_t periods, int nv, const ForwardLanes& k) {
  switch (nv) {
    case 1:
      return forwardPeriodsAvx512<1, kDivide>(x, out, periods, k);
    case 2:
      return forwardPeriodsAvx512<2, kDivide>(x, out, periods, k);
    case 3:
      return forwardPeriodsAvx512<3, kDivide>(x, out, periods, k);
    default:
      return forwardPeriodsAvx512<4, kDivide>(x, out, periods, k);
  }
}

}  // namespace

namespace {

// Measured (CPU time, 1 thread, loaded machine, 3 runs each): 4096x1024 (1024 lanes) 0.81-0.97 ms
// one row at a time, 0.57-0.85 ms four rows (two rows: 0.97-1.09); 32x56x56x128 (256 lanes)
// 2.67-3.81 ms one row, 2.70-2.98 ms four rows.
constexpr int kForwardRows = 4;
constexpr int64_t kForwardRowsMinPeriod = 256;

// kForwardRows consecutive periods of a long pattern, 16 lanes at a time: the six constant vectors
// are loaded once for kForwardRows data vectors instead of once for each.
template <bool kDivide, bool kStream>
void forwardRowBlockAvx512(const float* x, float* out, int64_t period, const ForwardLanes& k) {
  for (int64_t j = 0; j < period; j += 16) {
    const __m512 lo = _mm512_loadu_ps(k.nudgedMin + j);
    const __m512 hi = _mm512_loadu_ps(k.nudgedMax + j);
    const __m512 mul = _mm512_loadu_ps(k.invScale + j);
    const __m512 sc = _mm512_loadu_ps(k.scale + j);
    const __m512 qz = _mm512_loadu_ps(k.quantZero + j);
    const __m512i keep = _mm512_loadu_si512(k.keep + j);
    for (int r = 0; r < kForwardRows; ++r) {
      const int64_t i = r * period + j;
      _mm_prefetch(reinterpret_cast<const char*>(x + i + kPrefetchFloats), _MM_HINT_T0);
      const __m512 v = forward16(_mm512_loadu_ps(x + i), lo, hi, mul, sc, qz, keep, kDivide);
      if constexpr (kStream)
        _mm512_stream_ps(out + i, v);
      else
        _mm512_storeu_ps(out + i, v);
    }
  }
}

}  // namespace

void forwardSpanAvx512(const float* x, float* out, int64_t n, const ForwardLanes& k, int64_t phase,
                       int64_t period) {
  if (period % 16 == 0 && period <= 64 && n >= 2 * period) {
    // Finish the period we start in, then whole periods from registers, then the rest.
    if (phase != 0) {
      const int64_t m = period - phase;
      forwardSegmentAvx512(x, out, m, k, phase);
      x += m;
      out += m;
      n -= m;
      phase = 0;
    }
    const int64_t periods = n / period;
    if (k.divide)
      forwardPeriods<true>(x, out, periods, static_cast<int>(period / 16), k);
    else
      forwardPeriods<false>(x, out, periods, static_cast<int>(period / 16), k);
    x += periods * period;
    out += periods * period;
    n -= periods * period;
  }
  while (n > 0) {
    if (period >= kForwardRowsMinPeriod && phase == 0 && period % 16 == 0 &&
        n >= kForwardRows * period) {
      const bool stream = k.stream && (reinterpret_cast<uintptr_t>(out) & 63) == 0;
      if (k.divide)
        stream ? forwardRowBlockAvx512<true, true>(x, out, period, k)
               : forwardRowBlockAvx512<true, false>(x, out, period, k);
      else
        stream ? forwardRowBlockAvx512<false, true>(x, out, period, k)
               : forwardRowBlockAvx512<false, false>(x, out, period, k);
      x += kForwardRows * period;
      out += kForwardRows * period;
      n -= kForwardRows * period;
      continue;
    }
    const int64_t m = period - phase < n ? period - phase : n;
    forwardSegmentAvx512(x, out, m, k, phase);
    x += m;
    out += m;
    n -= m;
    phase = 0;
  }
}

// The gradient keeps the running sums of patterns up to this long in registers (8 vectors: 16
// accumulators); lo/hi of the longer ones partly spill to the stack, still cheaper than loading and
// storing the sums for every vector.
constexpr int64_t kMaxRegisterLanes = 128;

namespace {

// Whole periods of a short pattern (NV vectors): the constants and the running sums stay in
// registers instead of being loaded and stored for every vector. Each lane still adds its terms in
// element order, so the sums are the same bits as the generic loop's.
template <int NV, bool kStream>
void gradientPeriodsAvx512(const float* g, const float* x, float* dx, int64_t periods,
                           const GradientLanes& k, float* accMin, float* accMax) {
  const __m512 one = opaqueOne();
  __m512 lo[NV], hi[NV], am[NV], ax[NV];
  __mmask16 pass[NV];
  for (int v = 0; v < NV; ++v) {
    lo[v] = _mm512_loadu_ps(k.nudgedMin + 16 * v);
    hi[v] = _mm512_loadu_ps(k.nudgedMax + 16 * v);
    pass[v] = _mm512_test_epi32_mask(_mm512_loadu_si512(k.passAll + 16 * v), _mm512_set1_epi32(-1));
    am[v] = _mm512_loadu_ps(accMin + 16 * v);
    ax[v] = _mm512_loadu_ps(accMax + 16 * v);
  }
  for (int64_t p = 0; p < periods; ++p) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const int64_t i = p * 16 * NV + 16 * v;
      const __m512 xv = _mm512_loadu_ps(x + i);
      const __m512 gv = _mm512_loadu_ps(g + i);
      const __mmask16 between =
          (_mm512_cmp_ps_mask(xv, lo[v], _CMP_GE_OQ) & _mm512_cmp_ps_mask(xv, hi[v], _CMP_LE_OQ)) |
          pass[v];
      const __m512 gz = _mm512_mul_ps(gv, _mm512_setzero_ps());
      const __m512 d = timesMask(gv, gz, between, one);
      if constexpr (kStream)
        _mm512_stream_ps(dx + i, d);
      else
        _mm512_storeu_ps(dx + i, d);
      am[v] =
          _mm512_add_ps(am[v], timesMask(gv, gz, _mm512_cmp_ps_mask(xv, lo[v], _CMP_LT_OQ), one));
      ax[v] =
          _mm512_add_ps(ax[v], timesMask(gv, gz, _mm512_cmp_ps_mask(xv, hi[v], _CMP_GT_OQ), one));
    }
  }
  for (int v = 0; v < NV; ++v) {
    _mm512_storeu_ps(accMin + 16 * v, am[v]);
    _mm512_storeu_ps(accMax + 16 * v, ax[v]);
  }
}

template <bool kStream>
void gradientPeriods(const float* g, const float* x, float* dx, int64_t periods, int nv,
                     const GradientLanes& k, float* accMin, float* accMax) {
  switch (nv) {
    case 1:
      return gradientPeriodsAvx512<1, kStream>(g, x, dx, periods, k, accMin, accMax);
    case 2:
      return gradientPeriodsAvx512<2, kStream>(g, x, dx, periods, k, accMin, accMax);
    case 3:
      return gradientPeriodsAvx512<3, kStream>(g, x, dx, periods, k, accMin, accMax);
    case 4:
      return gradientPeriodsAvx512<4, kStream>(g, x, dx, periods, k, accMin, accMax);
    case 5:
      return gradientPeriodsAvx512<5, kStream>(g, x, dx, periods, k, accMin, accMax);
    case 6:
      return gradientPeriodsAvx512<6, kStream>(g, x, dx, periods, k, accMin, accMax);
    case 7:
      return gradientPeriodsAvx512<7, kStream>(g, x, dx, periods, k, accMin, accMax);
    default:
      return gradientPeriodsAvx512<8, kStream>(g, x, dx, periods, k, accMin, accMax);
  }
}

// kRowBlock consecutive periods of a long pattern, lane by lane: each lane's constants and running
// sums are loaded and stored once per block of rows instead of once per row. A lane still adds its
// terms in element order, so the sums keep the bits of the generic loop. Measured on 4096x1024
// (quiet machine, CPU time): 1 row 1.62-1.88 ms, 2 rows 1.70-1.85, 4 rows 1.41-1.48, 8 rows
// 1.06-1.18, 16 rows 2.3-2.4.
constexpr int kRowBlock = 8;

template <bool kStream>
void gradientRowBlockAvx512(const float* g, const float* x, float* dx, int64_t period,
                            const GradientLanes& k, float* accMin, float* accMax) {
  const __m512 one = opaqueOne();
  for (int64_t j = 0; j < period; j += 16) {
    const __m512 lo = _mm512_loadu_ps(k.nudgedMin + j);
    const __m512 hi = _mm512_loadu_ps(k.nudgedMax + j);
    const __mmask16 pass =
        _mm512_test_epi32_mask(_mm512_loadu_si512(k.passAll + j), _mm512_set1_epi32(-1));
    __m512 am = _mm512_loadu_ps(accMin + j);
    __m512 ax = _mm512_loadu_ps(accMax + j);
    for (int r = 0; r < kRowBlock; ++r) {
      const int64_t i = r * period + j;
      // Sixteen interleaved read streams are more than the hardware prefetchers follow well: on
      // 4096x1024 (CPU time, loaded machine, 3 x 3 runs) 1.40-1.81 ms without these, 1.19-1.40 ms
      // with them 512 bytes ahead (256 B, 768 B: the same; 2 KiB: 1.53-1.75).
      _mm_prefetch(reinterpret_cast<const char*>(x + i + kPrefetchFloats), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(g + i + kPrefetchFloats), _MM_HINT_T0);
      const __m512 xv = _mm512_loadu_ps(x + i);
      const __m512 gv = _mm512_loadu_ps(g + i);
      const __mmask16 between =
          (_mm512_cmp_ps_mask(xv, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(xv, hi, _CMP_LE_OQ)) | pass;
      const __m512 gz = _mm512_mul_ps(gv, _mm512_setzero_ps());
      const __m512 d = timesMask(gv, gz, between, one);
      if constexpr (kStream)
        _mm512_stream_ps(dx + i, d);
      else
        _mm512_storeu_ps(dx + i, d);
      am = _mm512_add_ps(am, timesMask(gv, gz, _mm512_cmp_ps_mask(xv, lo, _CMP_LT_OQ), one));
      ax = _mm512_add_ps(ax, timesMask(gv, gz, _mm512_cmp_ps_mask(xv, hi, _CMP_GT_OQ), one));
    }
    _mm512_storeu_ps(accMin + j, am);
    _mm512_storeu_ps(accMax + j, ax);
  }
}

}  // namespace

void gradientSpanAvx512(const float* g, const float* x, float* dx, int64_t n,
                        const GradientLanes& k, int64_t phase, int64_t period, float* accMin,
                        float* accMax) {
  if (period % 16 == 0 && period <= kMaxRegisterLanes && n >= 2 * period) {
    // Finish the period we start in, then whole periods in registers, then the rest.
    if (phase != 0) {
      const int64_t m = period - phase;
      gradientSegmentAvx512(g, x, dx, m, k, phase, accMin, accMax);
      g += m;
      x += m;
      dx += m;
      n -= m;
      phase = 0;
    }
    const int64_t periods = n / period;
    const bool stream = k.stream && (reinterpret_cast<uintptr_t>(dx) & 63) == 0;
    if (stream)
      gradientPeriods<true>(g, x, dx, periods, static_cast<int>(period / 16), k, accMin, accMax);
    else
      gradientPeriods<false>(g, x, dx, periods, static_cast<int>(period / 16), k, accMin, accMax);
    g += periods * period;
    x += periods * period;
    dx += periods * period;
    n -= periods * period;
  }
  while (n > 0) {
    // Only long rows: blocks of 1 KiB rows (256 lanes) measured slower than row by row.
    if (period >= 512 && phase == 0 && period % 16 == 0 && n >= kRowBlock * period) {
      const bool stream = k.stream && (reinterpret_cast<uintptr_t>(dx) & 63) == 0;
      const int64_t m = kRowBlock * period;
      if (stream)
        gradientRowBlockAvx512<true>(g, x, dx, period, k, accMin, accMax);
      else
        gradientRowBlockAvx512<false>(g, x, dx, period, k, accMin, accMax);
      g += m;
      x += m;
      dx += m;
      n -= m;
      continue;
    }
    const int64_t m = period - phase < n ? period - phase : n;
    gradientSegmentAvx512(g, x, dx, m, k, phase, accMin, accMax);
    g += m;
    x += m;
    dx += m;
    n -= m;
    phase = 0;
  }
}

}  // namespace qs::fq::detail

#endif
