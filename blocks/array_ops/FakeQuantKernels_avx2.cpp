// Built with -mavx2 (blocks/CMakeLists.txt); only called when the CPU has it. No FMA: the build
// keeps every multiply and add separately rounded, as TensorFlow's kernel does.
#include "blocks/array_ops/FakeQuantLanes.h"
#include "blocks/array_ops/FakeQuantLanes_avx2.h"

#ifdef QS_FQ_HAVE_X86
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

namespace qs::fq::detail {

namespace {

// Lanes [0, n) of a tail, as a maskload/maskstore mask.
inline __m256i tailMask(int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

// One full output vector at p, 32-byte aligned unless M is Cached.
template <StoreMode M>
inline void storeVector(float* p, __m256 v) {
  if constexpr (M == StoreMode::Cached) {
    _mm256_storeu_ps(p, v);
  } else if constexpr (M == StoreMode::Streamed) {
    _mm256_stream_ps(p, v);
  } else {
    if (mixedStreamsLine(p))
      _mm256_stream_ps(p, v);
    else
      _mm256_store_ps(p, v);
  }
}

}  // namespace

static inline void forwardSegmentAvx2(const float* x, float* out, int64_t n, const ForwardLanes& k,
                                      int64_t phase) {
  const float* lo = k.nudgedMin + phase;
  const float* hi = k.nudgedMax + phase;
  const float* mul = k.invScale + phase;
  const float* sc = k.scale + phase;
  const float* qz = k.quantZero + phase;
  const float* keep = reinterpret_cast<const float*>(k.keep + phase);
  int64_t i = 0;
  auto loop = [&](auto divide, auto mode) {
    for (; i + 8 <= n; i += 8) {
      const __m256 r =
          forward8(_mm256_loadu_ps(x + i), _mm256_loadu_ps(lo + i), _mm256_loadu_ps(hi + i),
                   _mm256_loadu_ps(mul + i), _mm256_loadu_ps(sc + i), _mm256_loadu_ps(qz + i),
                   _mm256_loadu_ps(keep + i), divide);
      storeVector<decltype(mode)::value>(out + i, r);
    }
  };
  // Instantiations so that neither choice is a branch inside the loop.
  withStoreMode(k.store, out, 32, [&](auto mode) {
    if (k.divide)
      loop(std::true_type{}, mode);
    else
      loop(std::false_type{}, mode);
  });
  if (i < n) {
    const __m256i m = tailMask(n - i);
    const __m256 r = forward8(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(lo + i, m),
                              _mm256_maskload_ps(hi + i, m), _mm256_maskload_ps(mul + i, m),
                              _mm256_maskload_ps(sc + i, m), _mm256_maskload_ps(qz + i, m),
                              _mm256_maskload_ps(keep + i, m), k.divide);
    _mm256_maskstore_ps(out + i, m, r);
  }
}

namespace {

template <bool kTail, StoreMode M>
inline void gradient8(__m256i m, const float* g, const float* x, float* dx, const float* lo,
                      const float* hi, const float* pass, float* accMin, float* accMax,
                      bool shortRoute) {
  auto load = [&](const float* p) { return kTail ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p); };
  auto store = [&](float* p, __m256 v) {
    if (kTail)
      _mm256_maskstore_ps(p, m, v);
    else
      _mm256_storeu_ps(p, v);
  };
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 xv = load(x);
  const __m256 gv = load(g);
  const __m256 lov = load(lo);
  const __m256 hiv = load(hi);
  if constexpr (!kTail) {
    // The short route of the AVX-512 file (gradientFast there): the same bits as the multiplies
    // below when no x is NaN, no g is infinite or NaN and no bound is NaN.
    const __m256 gz = _mm256_mul_ps(gv, _mm256_setzero_ps());
    if (__builtin_expect(shortRoute && _mm256_movemask_ps(_mm256_cmp_ps(xv, gz, _CMP_UNORD_Q)) == 0,
                         1)) {
      const __m256 below = _mm256_cmp_ps(xv, lov, _CMP_LT_OQ);
      const __m256 above = _mm256_cmp_ps(xv, hiv, _CMP_GT_OQ);
      storeVector<M>(dx, _mm256_blendv_ps(gv, gz, _mm256_or_ps(below, above)));
      _mm256_storeu_ps(accMin, _mm256_add_ps(_mm256_loadu_ps(accMin), _mm256_and_ps(below, gv)));
      _mm256_storeu_ps(accMax, _mm256_add_ps(_mm256_loadu_ps(accMax), _mm256_and_ps(above, gv)));
      return;
    }
  }
  const __m256 between = _mm256_or_ps(
      _mm256_and_ps(_mm256_cmp_ps(xv, lov, _CMP_GE_OQ), _mm256_cmp_ps(xv, hiv, _CMP_LE_OQ)),
      load(pass));
  const __m256 below = _mm256_cmp_ps(xv, lov, _CMP_LT_OQ);
  const __m256 above = _mm256_cmp_ps(xv, hiv, _CMP_GT_OQ);
  // Multiplies, not selects: NaN or infinite g times 0 is NaN, -g times 0 is -0 (TensorFlow).
  const __m256 d = _mm256_mul_ps(gv, _mm256_and_ps(between, one));
  if constexpr (kTail)
    store(dx, d);
  else
    storeVector<M>(dx, d);
  store(accMin, _mm256_add_ps(load(accMin), _mm256_mul_ps(gv, _mm256_and_ps(below, one))));
  store(accMax, _mm256_add_ps(load(accMax), _mm256_mul_ps(gv, _mm256_and_ps(above, one))));
}

}  // namespace

static inline void gradientSegmentAvx2(const float* g, const float* x, float* dx, int64_t n,
                                       const GradientLanes& k, int64_t phase, float* accMin,
                                       float* accMax) {
  const float* lo = k.nudgedMin + phase;
  const float* hi = k.nudgedMax + phase;
  const float* pass = reinterpret_cast<const float*>(k.passAll + phase);
  accMin += phase;
  accMax += phase;
  int64_t i = 0;
  const __m256i all = _mm256_set1_epi32(-1);
  withStoreMode(k.store, dx, 32, [&](auto mode) {
    for (; i + 8 <= n; i += 8)
      gradient8<false, decltype(mode)::value>(all, g + i, x + i, dx + i, lo + i, hi + i, pass + i,
                                              accMin + i, accMax + i, k.numericBounds);
  });
  if (i < n)
    gradient8<true, StoreMode::Cached>(tailMask(n - i), g + i, x + i, dx + i, lo + i, hi + i,
                                       pass + i, accMin + i, accMax + i, false);
}

// The whole span: segments of the pattern, one after the other.
void forwardSpanAvx2(const float* x, float* out, int64_t n, const ForwardLanes& k, int64_t phase,
                     int64_t period) {
  forEachSegment(n, phase, period, [&](int64_t i, int64_t m, int64_t ph) {
    forwardSegmentAvx2(x + i, out + i, m, k, ph);
  });
}

void gradientSpanAvx2(const float* g, const float* x, float* dx, int64_t n, const GradientLanes& k,
                      int64_t phase, int64_t period, float* accMin, float* accMax) {
  forEachSegment(n, phase, period, [&](int64_t i, int64_t m, int64_t ph) {
    gradientSegmentAvx2(g + i, x + i, dx + i, m, k, ph, accMin, accMax);
  });
}

}  // namespace qs::fq::detail

#endif
