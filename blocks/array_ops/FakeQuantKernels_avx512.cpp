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
#include <utility>

namespace qs::fq::detail {

// Software prefetch distance of the loops that interleave several rows (512 bytes ahead).
constexpr int64_t kPrefetchFloats = 128;
// And of the gradient's loads when its working set is in L3 (StoreMode::Mixed): 1 KiB ahead
// (measured on 1x224x224x3: 512 B 0.795x, 1 KiB 0.811x, 2 KiB 0.796x of memcpy, medians of 7).
constexpr int64_t kMixedPrefetchFloats = 256;

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

// One full output vector at p, 64-byte aligned unless M is Cached.
template <StoreMode M>
inline void storeVector(float* p, __m512 v) {
  if constexpr (M == StoreMode::Cached) {
    _mm512_storeu_ps(p, v);
  } else if constexpr (M == StoreMode::Streamed) {
    _mm512_stream_ps(p, v);
  } else {
    if (mixedStreamsLine(p))
      _mm512_stream_ps(p, v);
    else
      _mm512_store_ps(p, v);
  }
}

}  // namespace

namespace {

// n elements from lane `phase` to the end of the pattern at most. M is Cached unless out is
// 64-byte aligned.
template <bool kDivide, StoreMode M>
void forwardSegment(const float* x, float* out, int64_t n, const ForwardLanes& k, int64_t phase) {
  const float* lo = k.nudgedMin + phase;
  const float* hi = k.nudgedMax + phase;
  const float* mul = k.invScale + phase;
  const float* sc = k.scale + phase;
  const float* qz = k.quantZero + phase;
  const uint32_t* keep = k.keep + phase;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 r =
        forward16(_mm512_loadu_ps(x + i), _mm512_loadu_ps(lo + i), _mm512_loadu_ps(hi + i),
                  _mm512_loadu_ps(mul + i), _mm512_loadu_ps(sc + i), _mm512_loadu_ps(qz + i),
                  _mm512_loadu_si512(keep + i), kDivide);
    storeVector<M>(out + i, r);
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 r = forward16(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, lo + i),
                               _mm512_maskz_loadu_ps(m, hi + i), _mm512_maskz_loadu_ps(m, mul + i),
                               _mm512_maskz_loadu_ps(m, sc + i), _mm512_maskz_loadu_ps(m, qz + i),
                               _mm512_maskz_loadu_epi32(m, keep + i), kDivide);
    _mm512_mask_storeu_ps(out + i, m, r);
  }
}

}  // namespace

namespace {

// Whole periods of a short pattern (NV vectors) with every constant held in registers.
template <int NV, bool kDivide, StoreMode M>
void forwardPeriods(const float* x, float* out, int64_t periods, const ForwardLanes& k) {
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
  for (int64_t p = 0; p < periods; ++p) {
    for (int v = 0; v < NV; ++v) {
      const int64_t i = p * 16 * NV + 16 * v;
      storeVector<M>(out + i, forward16(_mm512_loadu_ps(x + i), lo[v], hi[v], mul[v], sc[v], qz[v],
                                        keep[v], kDivide));
    }
  }
}

template <bool kDivide, StoreMode M>
void forwardPeriodsOf(int nv, const float* x, float* out, int64_t periods, const ForwardLanes& k) {
  switch (nv) {
    case 1:
      return forwardPeriods<1, kDivide, M>(x, out, periods, k);
    case 2:
      return forwardPeriods<2, kDivide, M>(x, out, periods, k);
    case 3:
      return forwardPeriods<3, kDivide, M>(x, out, periods, k);
    default:
      return forwardPeriods<4, kDivide, M>(x, out, periods, k);
  }
}

// Measured (CPU time, 1 thread, loaded machine, 3 runs each): 4096x1024 (1024 lanes) 0.81-0.97 ms
// one row at a time, 0.57-0.85 ms four rows (two rows: 0.97-1.09); 32x56x56x128 (256 lanes)
// 2.67-3.81 ms one row, 2.70-2.98 ms four rows.
constexpr int kForwardRows = 4;
constexpr int64_t kForwardRowsMinPeriod = 256;

// kForwardRows consecutive periods of a long pattern, 16 lanes at a time: the six constant vectors
// are loaded once for kForwardRows data vectors instead of once for each.
template <bool kDivide, StoreMode M>
void forwardRowBlock(const float* x, float* out, int64_t period, const ForwardLanes& k) {
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
      storeVector<M>(out + i,
                     forward16(_mm512_loadu_ps(x + i), lo, hi, mul, sc, qz, keep, kDivide));
    }
  }
}

// Segments, whole periods from registers or blocks of rows, one after the other. Non-temporal
// stores need out 64-byte aligned; a segment that is not (a period that is not a multiple of 16
// lanes) is written with ordinary stores.
template <bool kDivide, StoreMode M>
void forwardSpan(const float* x, float* out, int64_t n, const ForwardLanes& k, int64_t phase,
                 int64_t period) {
  auto segment = [&](int64_t m) {
    withStoreMode(M, out, 64, [&](auto mode) {
      forwardSegment<kDivide, decltype(mode)::value>(x, out, m, k, phase);
    });
  };
  auto advance = [&](int64_t m) {
    x += m;
    out += m;
    n -= m;
  };
  if (period % 16 == 0 && period <= 64 && n >= 2 * period) {
    // Finish the period we start in, then whole periods from registers, then the rest.
    if (phase != 0) {
      segment(period - phase);
      advance(period - phase);
      phase = 0;
    }
    const int64_t periods = n / period;
    forwardPeriodsOf<kDivide, M>(static_cast<int>(period / 16), x, out, periods, k);
    advance(periods * period);
  }
  while (n > 0) {
    if (period >= kForwardRowsMinPeriod && phase == 0 && period % 16 == 0 &&
        n >= kForwardRows * period) {
      forwardRowBlock<kDivide, M>(x, out, period, k);
      advance(kForwardRows * period);
      continue;
    }
    const int64_t m = period - phase < n ? period - phase : n;
    segment(m);
    advance(m);
    phase = 0;
  }
}

}  // namespace

void forwardSpanAvx512(const float* x, float* out, int64_t n, const ForwardLanes& k, int64_t phase,
                       int64_t period) {
  // Non-temporal stores only from a 64-byte aligned start: every vector after it is aligned too.
  withStoreMode(k.store, out, 64, [&](auto mode) {
    if (k.divide)
      forwardSpan<true, decltype(mode)::value>(x, out, n, k, phase, period);
    else
      forwardSpan<false, decltype(mode)::value>(x, out, n, k, phase, period);
  });
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

// The gradient of one full vector: dx stored, g * below and g * above added to the running sums.
// TensorFlow multiplies g by 0/1 masks (gradientExact). Where no x is NaN, no g is infinite or NaN
// and no bound is NaN (GradientLanes::numericBounds), a shorter route gives the same bits
// (gradientFast): g * 1 is g, g * 0 is gz, "between" is "neither below nor above" (the bounds of a
// min == max == 0 channel are -inf and +inf, so nothing is outside them), and adding g * 0 (a
// signed zero) leaves a sum as it is, because the sums start at +0 and a float sum that starts at
// +0 is never -0.

// The bounds of 16 lanes.
struct Bounds {
  __m512 lo, hi;
};

inline Bounds boundsAt(const GradientLanes& k, int64_t j) {
  return {_mm512_loadu_ps(k.nudgedMin + j), _mm512_loadu_ps(k.nudgedMax + j)};
}

// Lanes of a min == max == 0 channel: dx = g whatever x is.
inline __mmask16 passAt(const GradientLanes& k, int64_t j) {
  return _mm512_test_epi32_mask(_mm512_loadu_si512(k.passAll + j), _mm512_set1_epi32(-1));
}

// The running sums of 16 lanes.
struct Sums {
  __m512 min, max;
};

// Lanes where the shorter route does not hold for these x and g (x NaN, or g * 0 NaN); all of them
// when a bound is NaN.
inline __mmask16 specialLanes(const float* g, const float* x, __mmask16 always) {
  const __m512 gz = _mm512_mul_ps(_mm512_loadu_ps(g), _mm512_setzero_ps());
  return _mm512_cmp_ps_mask(_mm512_loadu_ps(x), gz, _CMP_UNORD_Q) | always;
}

inline __mmask16 alwaysSpecial(const GradientLanes& k) {
  return k.numericBounds ? 0 : 0xFFFF;
}

template <StoreMode M>
inline Sums gradientFast(const float* g, const float* x, float* dx, Bounds c, Sums s) {
  if constexpr (M == StoreMode::Mixed) {
    // A Mixed working set is beyond L2 but within L3: prefetching x and g 1 KiB ahead hides
    // L3's latency (1x224x224x3, 1 thread: 0.72x of memcpy without, 0.77x-0.81x with). Tensors
    // that stream from memory measured slower with it (4096x1024: 0.97x without, 0.71x with).
    _mm_prefetch(reinterpret_cast<const char*>(x + kMixedPrefetchFloats), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(g + kMixedPrefetchFloats), _MM_HINT_T0);
  }
  const __m512 xv = _mm512_loadu_ps(x);
  const __m512 gv = _mm512_loadu_ps(g);
  const __m512 gz = _mm512_mul_ps(gv, _mm512_setzero_ps());
  const __mmask16 below = _mm512_cmp_ps_mask(xv, c.lo, _CMP_LT_OQ);
  const __mmask16 above = _mm512_cmp_ps_mask(xv, c.hi, _CMP_GT_OQ);
  storeVector<M>(dx, _mm512_mask_mov_ps(gv, _kor_mask16(below, above), gz));
  return {_mm512_mask_add_ps(s.min, below, s.min, gv), _mm512_mask_add_ps(s.max, above, s.max, gv)};
}

template <StoreMode M>
inline Sums gradientExact(const float* g, const float* x, float* dx, Bounds c, __mmask16 pass,
                          Sums s, __m512 one) {
  const __m512 xv = _mm512_loadu_ps(x);
  const __m512 gv = _mm512_loadu_ps(g);
  const __m512 gz = _mm512_mul_ps(gv, _mm512_setzero_ps());
  const __mmask16 between =
      (_mm512_cmp_ps_mask(xv, c.lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(xv, c.hi, _CMP_LE_OQ)) | pass;
  storeVector<M>(dx, timesMask(gv, gz, between, one));
  return {_mm512_add_ps(s.min, timesMask(gv, gz, _mm512_cmp_ps_mask(xv, c.lo, _CMP_LT_OQ), one)),
          _mm512_add_ps(s.max, timesMask(gv, gz, _mm512_cmp_ps_mask(xv, c.hi, _CMP_GT_OQ), one))};
}

// The last n < 16 elements of a segment, always with TensorFlow's multiplies.
inline void gradientTail(int64_t n, const float* g, const float* x, float* dx, const float* lo,
                         const float* hi, const uint32_t* pass, float* accMin, float* accMax) {
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
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
  const __m512 gz = _mm512_mul_ps(gv, _mm512_setzero_ps());
  _mm512_mask_storeu_ps(dx, m, timesMask(gv, gz, between, one));
  const __m512 am = _mm512_add_ps(_mm512_maskz_loadu_ps(m, accMin), timesMask(gv, gz, below, one));
  const __m512 ax = _mm512_add_ps(_mm512_maskz_loadu_ps(m, accMax), timesMask(gv, gz, above, one));
  _mm512_mask_storeu_ps(accMin, m, am);
  _mm512_mask_storeu_ps(accMax, m, ax);
}

// n elements from lane `phase` to the end of the pattern at most, one vector at a time, with the
// sums in memory (the driver places them, and the bounds, away from the tensors' offsets within a
// page: FakeQuantKernels.cpp, placeLanes()).
template <StoreMode M>
void gradientSegment(const float* g, const float* x, float* dx, int64_t n, const GradientLanes& k,
                     int64_t phase, float* accMin, float* accMax) {
  const __m512 one = opaqueOne();
  const __mmask16 always = alwaysSpecial(k);
  accMin += phase;
  accMax += phase;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const Bounds c = boundsAt(k, phase + i);
    const Sums s0{_mm512_loadu_ps(accMin + i), _mm512_loadu_ps(accMax + i)};
    const Sums s = __builtin_expect(specialLanes(g + i, x + i, always) == 0, 1)
                       ? gradientFast<M>(g + i, x + i, dx + i, c, s0)
                       : gradientExact<M>(g + i, x + i, dx + i, c, passAt(k, phase + i), s0, one);
    _mm512_storeu_ps(accMin + i, s.min);
    _mm512_storeu_ps(accMax + i, s.max);
  }
  if (i < n)
    gradientTail(n - i, g + i, x + i, dx + i, k.nudgedMin + phase + i, k.nudgedMax + phase + i,
                 k.passAll + phase + i, accMin + i, accMax + i);
}

// Whole periods of a short pattern (sizeof...(V) vectors): the bounds and the running sums stay
// in registers instead of being loaded and stored for every vector. Each lane still adds its terms
// in element order, so the sums are the same bits as the generic loop's.
// The vectors of a period are spelled out with a pack (V...) rather than a loop over an array: GCC
// keeps an array that a loop indexes in memory, storing the sums to the stack for every vector.
template <StoreMode M, size_t... V>
void gradientPeriods(const float* g, const float* x, float* dx, int64_t periods,
                     const GradientLanes& k, float* accMin, float* accMax,
                     std::index_sequence<V...>) {
  constexpr int64_t kPeriod = 16 * static_cast<int64_t>(sizeof...(V));
  const __m512 one = opaqueOne();
  const __mmask16 always = alwaysSpecial(k);
  const Bounds c[] = {boundsAt(k, 16 * V)...};
  const __mmask16 pass[] = {passAt(k, 16 * V)...};
  Sums s[] = {Sums{_mm512_loadu_ps(accMin + 16 * V), _mm512_loadu_ps(accMax + 16 * V)}...};
  for (int64_t p = 0; p < periods; ++p) {
    const int64_t i = p * kPeriod;
    // One test for the whole period, then one route for all of its vectors.
    if (__builtin_expect((specialLanes(g + i + 16 * V, x + i + 16 * V, always) | ...) == 0, 1)) {
      ((s[V] = gradientFast<M>(g + i + 16 * V, x + i + 16 * V, dx + i + 16 * V, c[V], s[V])), ...);
    } else {
      ((s[V] = gradientExact<M>(g + i + 16 * V, x + i + 16 * V, dx + i + 16 * V, c[V], pass[V],
                                s[V], one)),
       ...);
    }
  }
  ((_mm512_storeu_ps(accMin + 16 * V, s[V].min), _mm512_storeu_ps(accMax + 16 * V, s[V].max)), ...);
}

template <StoreMode M>
void gradientPeriodsOf(int nv, const float* g, const float* x, float* dx, int64_t periods,
                       const GradientLanes& k, float* accMin, float* accMax) {
  auto run = [&](auto vectors) {
    gradientPeriods<M>(g, x, dx, periods, k, accMin, accMax, vectors);
  };
  switch (nv) {
    case 1:
      return run(std::make_index_sequence<1>());
    case 2:
      return run(std::make_index_sequence<2>());
    case 3:
      return run(std::make_index_sequence<3>());
    case 4:
      return run(std::make_index_sequence<4>());
    case 5:
      return run(std::make_index_sequence<5>());
    case 6:
      return run(std::make_index_sequence<6>());
    case 7:
      return run(std::make_index_sequence<7>());
    default:
      return run(std::make_index_sequence<8>());
  }
}

// The gradient keeps the running sums of patterns up to this long in registers (8 vectors: 16
// accumulators and 16 bounds).
constexpr int64_t kMaxRegisterLanes = 128;

// Segments, and whole periods from registers, one after the other. Non-temporal stores need dx
// 64-byte aligned; a segment that is not (a period that is not a multiple of 16 lanes) is written
// with ordinary stores.
template <StoreMode M>
void gradientSpan(const float* g, const float* x, float* dx, int64_t n, const GradientLanes& k,
                  int64_t phase, int64_t period, float* accMin, float* accMax) {
  auto segment = [&](int64_t i, int64_t m, int64_t ph) {
    withStoreMode(M, dx + i, 64, [&](auto mode) {
      gradientSegment<decltype(mode)::value>(g + i, x + i, dx + i, m, k, ph, accMin, accMax);
    });
  };
  int64_t done = 0;
  if (period % 16 == 0 && period <= kMaxRegisterLanes && n >= 2 * period) {
    // Finish the period we start in, then whole periods in registers, then the rest.
    if (phase != 0) {
      segment(0, period - phase, phase);
      done = period - phase;
      phase = 0;
    }
    const int64_t periods = (n - done) / period;
    gradientPeriodsOf<M>(static_cast<int>(period / 16), g + done, x + done, dx + done, periods, k,
                         accMin, accMax);
    done += periods * period;
  }
  forEachSegment(n - done, phase, period,
                 [&](int64_t i, int64_t m, int64_t ph) { segment(done + i, m, ph); });
}

}  // namespace

void gradientSpanAvx512(const float* g, const float* x, float* dx, int64_t n,
                        const GradientLanes& k, int64_t phase, int64_t period, float* accMin,
                        float* accMax) {
  // Non-temporal stores only from a 64-byte aligned start: every vector after it is aligned too.
  withStoreMode(k.store, dx, 64, [&](auto mode) {
    gradientSpan<decltype(mode)::value>(g, x, dx, n, k, phase, period, accMin, accMax);
  });
}

}  // namespace qs::fq::detail

#endif
