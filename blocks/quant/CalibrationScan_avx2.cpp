// Built with -mavx2 (blocks/CMakeLists.txt); only called when the CPU has it (fq::avx2Active()).
// The AVX2 forms of the calibrators' hot loops (CalibrationScan.h): each does the portable form's
// operations in the same order, several values a vector, so that both give the same bits.
#include "blocks/array_ops/FakeQuantLanes_avx2.h"
#include "blocks/quant/CalibrationScan.h"

#ifdef QS_FQ_HAVE_X86
#include <immintrin.h>

#include <cmath>
#include <limits>

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

// ---- The MSE search, four candidates a vector of doubles ----------------------------------------

// std::round of eight floats (half away from zero): the truncation, one further out where the
// part it drops is at least a half (v - trunc(v) is exact).
inline __m256 roundHalfAway(__m256 v) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 dropped = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
  const __m256 away = _mm256_cmp_ps(dropped, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign));
  return _mm256_add_ps(t, _mm256_and_ps(away, one));
}

// fq::nudge()'s nudged ends and scale for eight ranges.
struct Nudged8 {
  __m256 nudgedMin, nudgedMax, scale;
};

inline Nudged8 nudge8(__m256 min, __m256 max, fq::QuantRange q) {
  const __m256 qmin = _mm256_set1_ps(static_cast<float>(q.quantMin));
  const __m256 qmax = _mm256_set1_ps(static_cast<float>(q.quantMax));
  const __m256 span = _mm256_sub_ps(qmax, qmin);
  const __m256 scale = _mm256_div_ps(_mm256_sub_ps(max, min), span);
  const __m256 zpFromMin = _mm256_sub_ps(qmin, _mm256_div_ps(min, scale));
  // Below qmin: qmin; above qmax: qmax; NaN: 0; else rounded.
  __m256 zp = roundHalfAway(zpFromMin);
  zp = _mm256_blendv_ps(zp, _mm256_setzero_ps(), _mm256_cmp_ps(zpFromMin, zpFromMin, _CMP_UNORD_Q));
  zp = _mm256_blendv_ps(zp, qmax, _mm256_cmp_ps(zpFromMin, qmax, _CMP_GT_OQ));
  zp = _mm256_blendv_ps(zp, qmin, _mm256_cmp_ps(zpFromMin, qmin, _CMP_LT_OQ));
  return {_mm256_mul_ps(_mm256_sub_ps(qmin, zp), scale),
          _mm256_mul_ps(_mm256_sub_ps(qmax, zp), scale), scale};
}

// NoiseModel (CalibrationMath.cpp) for four positions u at a time; its branches become selects,
// in the same order, and every lane computes what the scalar code computes for it.
class NoiseModel4 {
 public:
  explicit NoiseModel4(const MseChannel& ch)
      : ch_(ch),
        bins_(_mm256_set1_pd(kBins)),
        n_(_mm256_set1_pd(ch.n)),
        s0_(_mm256_set1_pd(ch.p0[kBins] - ch.p0[0])),
        s1_(_mm256_set1_pd(ch.p1[kBins] - ch.p1[0])),
        s2_(_mm256_set1_pd(ch.p2[kBins] - ch.p2[0])) {}

  __m256d countBelow(__m256d u) const {
    const Bin b = bin(u);
    const __m256d in = _mm256_add_pd(gather(ch_.p0.data(), b.m),
                                     _mm256_mul_pd(gather(ch_.h, b.m), _mm256_sub_pd(u, b.md)));
    __m256d r = _mm256_blendv_pd(in, n_, _mm256_cmp_pd(u, bins_, _CMP_GE_OQ));
    return _mm256_blendv_pd(r, _mm256_setzero_pd(), _mm256_cmp_pd(u, zero(), _CMP_LE_OQ));
  }
  __m256d sqBelow(__m256d u) const {
    const Bin b = bin(u);
    const __m256d f = _mm256_sub_pd(u, b.md);
    const __m256d in = _mm256_add_pd(squaresFromZero(b.m, u), cubeThird(b.m, f));
    __m256d r = _mm256_blendv_pd(in, squaresAll(u), _mm256_cmp_pd(u, bins_, _CMP_GE_OQ));
    return _mm256_blendv_pd(r, _mm256_setzero_pd(), _mm256_cmp_pd(u, zero(), _CMP_LE_OQ));
  }
  __m256d sqAbove(__m256d u) const {
    const Bin b = bin(u);
    const __m256d f = _mm256_sub_pd(_mm256_set1_pd(1.0), _mm256_sub_pd(u, b.md));
    const __m128i next = _mm_add_epi32(b.m, _mm_set1_epi32(1));
    const __m256d in = _mm256_add_pd(squaresToEnd(next, u), cubeThird(b.m, f));
    __m256d r = _mm256_blendv_pd(in, squaresAll(u), _mm256_cmp_pd(u, zero(), _CMP_LE_OQ));
    return _mm256_blendv_pd(r, _mm256_setzero_pd(), _mm256_cmp_pd(u, bins_, _CMP_GE_OQ));
  }

 private:
  struct Bin {
    __m128i m;   // static_cast<int>(u), kept within the bins so that the gathers stay inside
    __m256d md;  // m as a double
  };
  static __m256d zero() { return _mm256_setzero_pd(); }
  static Bin bin(__m256d u) {
    __m128i m = _mm256_cvttpd_epi32(u);
    m = _mm_min_epi32(_mm_max_epi32(m, _mm_setzero_si128()), _mm_set1_epi32(kBins - 1));
    return {m, _mm256_cvtepi32_pd(m)};
  }
  // The masked form with every lane on: the plain one leaves GCC 12 warning of an undefined
  // source vector.
  static __m256d gather(const double* p, __m128i i) {
    const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    return _mm256_mask_i32gather_pd(_mm256_setzero_pd(), p, i, all, 8);
  }
  // s2 - 2 * u * s1 + u * u * s0, grouped as the scalar squares() groups it.
  static __m256d squares(__m256d s0, __m256d s1, __m256d s2, __m256d u) {
    const __m256d twoU = _mm256_mul_pd(_mm256_set1_pd(2.0), u);
    return _mm256_add_pd(_mm256_sub_pd(s2, _mm256_mul_pd(twoU, s1)),
                         _mm256_mul_pd(_mm256_mul_pd(u, u), s0));
  }
  __m256d squaresAll(__m256d u) const { return squares(s0_, s1_, s2_, u); }
  // Bins [0, m), and [a, kBins) below.
  __m256d squaresFromZero(__m128i m, __m256d u) const {
    const __m256d z0 = _mm256_set1_pd(ch_.p0[0]), z1 = _mm256_set1_pd(ch_.p1[0]);
    const __m256d z2 = _mm256_set1_pd(ch_.p2[0]);
    return squares(_mm256_sub_pd(gather(ch_.p0.data(), m), z0),
                   _mm256_sub_pd(gather(ch_.p1.data(), m), z1),
                   _mm256_sub_pd(gather(ch_.p2.data(), m), z2), u);
  }
  __m256d squaresToEnd(__m128i a, __m256d u) const {
    return squares(_mm256_sub_pd(_mm256_set1_pd(ch_.p0[kBins]), gather(ch_.p0.data(), a)),
                   _mm256_sub_pd(_mm256_set1_pd(ch_.p1[kBins]), gather(ch_.p1.data(), a)),
                   _mm256_sub_pd(_mm256_set1_pd(ch_.p2[kBins]), gather(ch_.p2.data(), a)), u);
  }
  // h[m] * f * f * f / 3.0
  __m256d cubeThird(__m128i m, __m256d f) const {
    const __m256d hf = _mm256_mul_pd(gather(ch_.h, m), f);
    return _mm256_div_pd(_mm256_mul_pd(_mm256_mul_pd(hf, f), f), _mm256_set1_pd(3.0));
  }

  const MseChannel& ch_;
  __m256d bins_, n_, s0_, s1_, s2_;
};

// The noise of four candidates whose nudged ends (as doubles) and scale are given.
__m256d mseNoise4(const MseChannel& ch, const NoiseModel4& model, __m256d nMin, __m256d nMax,
                  __m256d scale) {
  const __m256d step2 = _mm256_div_pd(_mm256_mul_pd(scale, scale), _mm256_set1_pd(12.0));
  const __m256d w = _mm256_set1_pd(ch.w), w2 = _mm256_set1_pd(ch.w * ch.w);
  if (ch.symmetric) {
    auto side = [&](__m256d t) {
      const __m256d u = _mm256_div_pd(t, w);
      return _mm256_add_pd(_mm256_mul_pd(w2, model.sqAbove(u)),
                           _mm256_mul_pd(model.countBelow(u), step2));
    };
    const __m256d negMin = _mm256_xor_pd(nMin, _mm256_set1_pd(-0.0));
    return _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(ch.wPos), side(nMax)),
                         _mm256_mul_pd(_mm256_set1_pd(ch.wNeg), side(negMin)));
  }
  const __m256d lo = _mm256_set1_pd(ch.lo);
  const __m256d uLo = _mm256_div_pd(_mm256_sub_pd(nMin, lo), w);
  const __m256d uHi = _mm256_div_pd(_mm256_sub_pd(nMax, lo), w);
  const __m256d clipped = _mm256_add_pd(model.sqBelow(uLo), model.sqAbove(uHi));
  const __m256d inside = _mm256_sub_pd(model.countBelow(uHi), model.countBelow(uLo));
  return _mm256_add_pd(_mm256_mul_pd(w2, clipped), _mm256_mul_pd(inside, step2));
}

// Float lanes [4h, 4h + 4) of v as doubles.
inline __m256d half(__m256 v, int h) {
  return _mm256_cvtps_pd(h == 0 ? _mm256_castps256_ps128(v) : _mm256_extractf128_ps(v, 1));
}

// Candidates k .. k + 7 as ranges (candidateRange(), eight at a time).
void candidates8(const MseChannel& ch, int k, __m256& min, __m256& max) {
  const __m128i k4 = _mm_add_epi32(_mm_set1_epi32(k), _mm_setr_epi32(0, 1, 2, 3));
  const __m256d ka = _mm256_cvtepi32_pd(k4);
  const __m256d kb = _mm256_cvtepi32_pd(_mm_add_epi32(k4, _mm_set1_epi32(4)));
  auto toFloat = [](__m256d a, __m256d b) {
    return _mm256_set_m128(_mm256_cvtpd_ps(b), _mm256_cvtpd_ps(a));
  };
  if (ch.symmetric) {
    const __m256d w = _mm256_set1_pd(ch.w);
    const __m256 t = toFloat(_mm256_mul_pd(ka, w), _mm256_mul_pd(kb, w));
    min = ch.seenMin < 0 ? _mm256_xor_ps(t, _mm256_set1_ps(-0.0f)) : _mm256_setzero_ps();
    max = ch.seenMax > 0 ? t : _mm256_setzero_ps();
    return;
  }
  const __m256d bins = _mm256_set1_pd(kBins);
  const __m256d sa = _mm256_div_pd(ka, bins), sb = _mm256_div_pd(kb, bins);
  const __m256d lo = _mm256_set1_pd(ch.lo), hi = _mm256_set1_pd(ch.lo + kBins * ch.w);
  min = toFloat(_mm256_mul_pd(sa, lo), _mm256_mul_pd(sb, lo));
  max = toFloat(_mm256_mul_pd(sa, hi), _mm256_mul_pd(sb, hi));
}

// ---- Logarithms, four at a time (logOf() in CalibrationScan.cpp, operation for operation) -------

inline __m256d logReduced4(__m256d k, __m256d f) {
  auto c = [](double v) { return _mm256_set1_pd(v); };
  const __m256d s = _mm256_div_pd(f, _mm256_add_pd(c(2.0), f));
  const __m256d z = _mm256_mul_pd(s, s), w = _mm256_mul_pd(z, z);
  auto mul = _mm256_mul_pd;
  auto add = _mm256_add_pd;
  const __m256d t1 = mul(w, add(c(kLg[1]), mul(w, add(c(kLg[3]), mul(w, c(kLg[5]))))));
  const __m256d t2 =
      mul(z, add(c(kLg[0]), mul(w, add(c(kLg[2]), mul(w, add(c(kLg[4]), mul(w, c(kLg[6]))))))));
  const __m256d r = add(t2, t1);
  const __m256d hfsq = mul(mul(c(0.5), f), f);
  const __m256d inner = _mm256_sub_pd(hfsq, add(mul(s, add(hfsq, r)), mul(k, c(kLn2Lo))));
  return _mm256_sub_pd(mul(k, c(kLn2Hi)), _mm256_sub_pd(inner, f));
}

inline __m256d log4(__m256d x) {
  const __m256i bits = _mm256_castpd_si256(x);
  // The biased exponent as a double: its bits under 2^52's, less 2^52.
  const __m256i magic = _mm256_set1_epi64x(0x4330000000000000);
  const __m256d e =
      _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), magic)),
                    _mm256_set1_pd(4503599627370496.0));
  __m256d m = _mm256_castsi256_pd(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x((int64_t{1} << 52) - 1)),
                      _mm256_set1_epi64x(int64_t{1023} << 52)));
  const __m256d high = _mm256_cmp_pd(m, _mm256_set1_pd(kSqrt2), _CMP_GE_OQ);
  m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), high);
  const __m256d k = _mm256_add_pd(_mm256_sub_pd(e, _mm256_set1_pd(1023.0)),
                                  _mm256_and_pd(high, _mm256_set1_pd(1.0)));
  return logReduced4(k, _mm256_sub_pd(m, _mm256_set1_pd(1.0)));
}

// binOf() of eight values.
template <bool kSym>
inline __m256i bin8(const float* x, const float* lo, const float* inv) {
  __m256 v = _mm256_loadu_ps(x);
  if (kSym) v = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
  __m256 f = _mm256_mul_ps(_mm256_sub_ps(v, _mm256_loadu_ps(lo)), _mm256_loadu_ps(inv));
  // binOf()'s selects: max and min return their second operand for NaN, as the selects do.
  f = _mm256_max_ps(f, _mm256_setzero_ps());
  f = _mm256_min_ps(f, _mm256_set1_ps(static_cast<float>(kBins - 1)));
  return _mm256_cvttps_epi32(f);
}

// The bins of sixteen channels of one row, as packus leaves them: four indices of channels
// c .. c + 3 in 64-bit lane 0, of c + 8 .. c + 11 in lane 1, c + 4 .. c + 7 in 2, c + 12 .. c + 15
// in 3.
template <bool kSym>
inline __m256i bin16(const float* row, const float* lo, const float* inv) {
  return _mm256_packus_epi32(bin8<kSym>(row, lo, inv), bin8<kSym>(row + 8, lo + 8, inv + 8));
}

// Rows [r, r + 4) of channels [c, c + 16): each group's four rows are 32 bytes in a row of the
// grouped tile, so the rows' bins are transposed as 64-bit lanes and stored a group at a time.
template <bool kSym>
inline void binFourRows(const float* row, int64_t channels, const float* lo, const float* inv,
                        uint16_t* out, int64_t step) {
  const __m256i p0 = bin16<kSym>(row, lo, inv), p1 = bin16<kSym>(row + channels, lo, inv);
  const __m256i p2 = bin16<kSym>(row + 2 * channels, lo, inv);
  const __m256i p3 = bin16<kSym>(row + 3 * channels, lo, inv);
  const __m256i t0 = _mm256_unpacklo_epi64(p0, p1), t1 = _mm256_unpackhi_epi64(p0, p1);
  const __m256i t2 = _mm256_unpacklo_epi64(p2, p3), t3 = _mm256_unpackhi_epi64(p2, p3);
  auto store = [&](int group, __m256i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + group * step), v);
  };
  store(0, _mm256_permute2x128_si256(t0, t2, 0x20));
  store(2, _mm256_permute2x128_si256(t1, t3, 0x20));
  store(1, _mm256_permute2x128_si256(t0, t2, 0x31));
  store(3, _mm256_permute2x128_si256(t1, t3, 0x31));
}

template <bool kSym>
void binRows(const float* x, int64_t rows, int64_t channels, const float* lo, const float* inv,
             uint16_t* idx) {
  static_assert(kGroupChannels == 4, "a quarter of sixteen indices is one group's row");
  const int64_t sixteens = channels - channels % 16;
  // Consecutive groups' rows lie `step` indices apart.
  const int64_t step = groupStride(rows);
  const int64_t fours = rows - rows % 4;
  for (int64_t r = 0; r < fours; r += 4)
    for (int64_t c = 0; c < sixteens; c += 16)
      binFourRows<kSym>(x + r * channels + c, channels, lo + c, inv + c,
                        groupedIndex(idx, rows, r, c), step);
  // The last rows % 4 rows whole, and the channels past the sixteens of the others, one by one.
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = r < fours ? sixteens : 0; c < channels; ++c) {
      const float v = x[r * channels + c];
      *groupedIndex(idx, rows, r, c) = binOf(kSym ? std::fabs(v) : v, lo[c], inv[c]);
    }
}

}  // namespace

void binIndicesAvx2(const float* x, int64_t rows, int64_t channels, const float* lo,
                    const float* inv, bool symmetric, uint16_t* idx) {
  if (symmetric)
    binRows<true>(x, rows, channels, lo, inv, idx);
  else
    binRows<false>(x, rows, channels, lo, inv, idx);
}

void logsAvx2(const double* x, double* out, size_t n) {
  const __m256d lowest = _mm256_set1_pd(std::numeric_limits<double>::min());
  const __m256d highest = _mm256_set1_pd(std::numeric_limits<double>::max());
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d v = _mm256_loadu_pd(x + i);
    _mm256_storeu_pd(out + i, log4(v));
    // Lanes outside the positive normal numbers (NaN included) take logOf()'s way out.
    const __m256d ok =
        _mm256_and_pd(_mm256_cmp_pd(v, lowest, _CMP_GE_OQ), _mm256_cmp_pd(v, highest, _CMP_LE_OQ));
    if (_mm256_movemask_pd(ok) != 0xF)
      for (size_t j = i; j < i + 4; ++j) out[j] = logOf(x[j]);
  }
  for (; i < n; ++i) out[i] = logOf(x[i]);
}

int tableLogsAvx2(const double* h, int n, const double* table, int size, double* lg, int* rest) {
  const __m256d zero = _mm256_setzero_pd(), limit = _mm256_set1_pd(size);
  int m = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d v = _mm256_loadu_pd(h + i);
    const __m256d inRange =
        _mm256_and_pd(_mm256_cmp_pd(v, zero, _CMP_GE_OQ), _mm256_cmp_pd(v, limit, _CMP_LT_OQ));
    // Lanes out of range (NaN included) convert 0 instead, and fail the test below.
    const __m128i k = _mm256_cvttpd_epi32(_mm256_and_pd(v, inRange));
    const __m256d whole =
        _mm256_and_pd(inRange, _mm256_cmp_pd(_mm256_cvtepi32_pd(k), v, _CMP_EQ_OQ));
    _mm256_storeu_pd(lg + i, _mm256_mask_i32gather_pd(zero, table, k, whole, 8));
    const int mask = _mm256_movemask_pd(whole);
    if (mask != 0xF)
      for (int l = 0; l < 4; ++l)
        if (!(mask >> l & 1)) rest[m++] = i + l;
  }
  const int tail = tableLogsPortable(h + i, n - i, table, size, lg + i, rest + m);
  for (int j = m; j < m + tail; ++j) rest[j] += i;
  return m + tail;
}

void mseNoisesAvx2(const MseChannel& ch, int first, int count, double* noise) {
  const NoiseModel4 model(ch);
  for (int k = first; k < first + count; k += 8) {
    __m256 min, max;
    candidates8(ch, k, min, max);
    const Nudged8 nd = nudge8(min, max, ch.q);
    for (int h = 0; h < 2; ++h)
      _mm256_storeu_pd(
          noise + (k - first) + 4 * h,
          mseNoise4(ch, model, half(nd.nudgedMin, h), half(nd.nudgedMax, h), half(nd.scale, h)));
  }
}

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
