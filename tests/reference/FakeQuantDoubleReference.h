#pragma once

// A second reference for the FakeQuant family, re-derived from docs/spec.md in another form than
// FakeQuantReference.h, so that a misreading of TensorFlow copied into both the kernels and one
// reference still shows up against the other. Test-only; shares no code with blocks/ or with the
// first reference.
//
// The form: every value is held in double, and each operation TensorFlow performs in float32 is
// done in double and then rounded to float32 explicitly (toF32). For +, -, * and / of two float32
// values the double result rounded once to float32 is the float32 result (double has more than
// 2 * 24 + 2 bits, so the double rounding is harmless); this makes each rounding TensorFlow does
// visible as a line here. The zero point's round-half-away-from-zero is spelt out with floor and
// the fraction, and the choice between product and quotient is written per op, not per flag.

#include <cmath>
#include <cstdint>
#include <vector>

namespace qsref2 {

enum class Kind { PerChannel, Vars, Args };

// float32 rounding of a double (round to nearest, ties to even; NaN stays NaN).
inline double toF32(double v) {
  return static_cast<double>(static_cast<float>(v));
}

struct Range {
  bool zeroRange = false;  // min == 0 and max == 0: the channel is left alone
  double scale = 0;        // each a float32 value, held in double
  double invScale = 0;
  double lo = 0;  // nudged_min
  double hi = 0;  // nudged_max
  double quantZero = 0;
};

// The zero point from its float32 estimate z, as TensorFlow's Nudge: clamped to the quantized
// range, otherwise rounded half away from zero (z >= quant_min >= 0 here, so: half up). A NaN z
// (only from a NaN or infinite scale) is what x86 gives for TensorFlow's cast of NaN: 0.
inline double zeroPoint(double z, int quantMin, int quantMax) {
  if (z < quantMin) return quantMin;
  if (z > quantMax) return quantMax;
  if (std::isnan(z)) return 0;
  const double whole = std::floor(z);
  return (z - whole >= 0.5) ? whole + 1 : whole;
}

inline Range nudgeRange(float minF, float maxF, int numBits, bool narrowRange) {
  const int quantMin = narrowRange ? 1 : 0;
  const int quantMax = (1 << numBits) - 1;
  const double mn = minF, mx = maxF;
  Range r;
  r.zeroRange = (mn == 0 && mx == 0);
  const double steps = toF32(double(quantMax) - double(quantMin));  // exact: < 2^16
  const double width = toF32(mx - mn);
  r.scale = toF32(width / steps);
  r.invScale = toF32(steps / width);  // its own division, not 1 / scale
  const double zpFromMin = toF32(double(quantMin) - toF32(mn / r.scale));
  const double zp = zeroPoint(zpFromMin, quantMin, quantMax);
  r.lo = toF32(toF32(quantMin - zp) * r.scale);
  r.hi = toF32(toF32(quantMax - zp) * r.scale);
  r.quantZero = std::floor(toF32(toF32(-r.lo * r.invScale) + 0.5));
  return r;
}

// The forward op for one element.
inline float forward(Kind kind, float xF, const Range& r) {
  if (r.zeroRange) return 0.0f;
  const double x = xF;
  // min(x, hi) then max(., lo), each keeping x when the comparison fails (NaN stays NaN).
  double c = (x > r.hi) ? r.hi : x;
  c = (c < r.lo) ? r.lo : c;
  const double shifted = toF32(c - r.lo);
  // Only Vars divides by the scale; PerChannel and Args multiply by the inverse scale.
  const double level = kind == Kind::Vars ? toF32(shifted / r.scale) : toF32(shifted * r.invScale);
  const double rounded = std::floor(toF32(toF32(level - r.quantZero) + 0.5));  // ties up
  return static_cast<float>(rounded * r.scale);
}

// Gradient terms of one element: g times each 0/1 mask (a multiply: NaN or infinite g times 0 is
// NaN, -g times 0 is -0).
struct Terms {
  float dx, toMin, toMax;
};

inline Terms gradient(float gF, float xF, const Range& r) {
  if (r.zeroRange) return {gF, 0.0f, 0.0f};
  const double g = gF, x = xF;
  const double inside = (x >= r.lo && x <= r.hi) ? 1.0 : 0.0;
  const double below = (x < r.lo) ? 1.0 : 0.0;
  const double above = (x > r.hi) ? 1.0 : 0.0;
  return {static_cast<float>(g * inside), static_cast<float>(g * below),
          static_cast<float>(g * above)};
}

// A whole op over a row-major [count / channels, channels] tensor (channels = 1 for Vars and Args).
// The min/max gradients are summed in double along with the count of terms and the sum of their
// magnitudes, so that a test can allow the rounding of a float sum taken in any order.
struct Result {
  std::vector<float> out;  // output, or dx
  std::vector<double> dmin, dmax, dminAbs, dmaxAbs;
  std::vector<int64_t> terms;
};

inline Result run(Kind kind, bool gradientOp, const std::vector<float>& x,
                  const std::vector<float>& g, int64_t channels, const std::vector<float>& mins,
                  const std::vector<float>& maxs, int numBits, bool narrowRange) {
  Result res;
  const auto n = static_cast<size_t>(channels);
  res.dmin.assign(n, 0.0);
  res.dmax.assign(n, 0.0);
  res.dminAbs.assign(n, 0.0);
  res.dmaxAbs.assign(n, 0.0);
  res.terms.assign(n, 0);
  std::vector<Range> ranges(n);
  for (size_t c = 0; c < n; ++c) ranges[c] = nudgeRange(mins[c], maxs[c], numBits, narrowRange);
  res.out.reserve(x.size());
  size_t c = 0;  // the channel of element i, advanced rather than computed as i % channels
  for (size_t i = 0; i < x.size(); ++i, c = (c + 1 == n) ? 0 : c + 1) {
    if (!gradientOp) {
      res.out.push_back(forward(kind, x[i], ranges[c]));
      continue;
    }
    const Terms t = gradient(g[i], x[i], ranges[c]);
    res.out.push_back(t.dx);
    res.dmin[c] += t.toMin;
    res.dmax[c] += t.toMax;
    res.dminAbs[c] += std::fabs(t.toMin);
    res.dmaxAbs[c] += std::fabs(t.toMax);
    ++res.terms[c];
  }
  return res;
}

}  // namespace qsref2
