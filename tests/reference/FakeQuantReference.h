#pragma once

// A slow, independent reference for the FakeQuant family, written from docs/spec.md: scalar,
// one element at a time, sharing no code with blocks/ (it must not include FakeQuantMath.h), so
// that the property tests compare two implementations rather than one with itself. Test-only.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace qsref {

enum class Op {
  PerChannel,
  PerChannelGradient,
  Vars,
  VarsGradient,
  Args,
  ArgsGradient,
};

inline bool isGradient(Op op) {
  return op == Op::PerChannelGradient || op == Op::VarsGradient || op == Op::ArgsGradient;
}
inline bool isPerChannel(Op op) {
  return op == Op::PerChannel || op == Op::PerChannelGradient;
}
inline bool isArgs(Op op) {
  return op == Op::Args || op == Op::ArgsGradient;
}

// docs/spec.md, "The nudge": each line one float32 operation in the order given there.
struct RefRange {
  bool bothZero;
  float scale;
  float invScale;
  float nudgedMin;
  float nudgedMax;
};

inline RefRange refNudge(float min, float max, int numBits, bool narrowRange) {
  const int quantMin = narrowRange ? 1 : 0;
  const int quantMax = (1 << numBits) - 1;
  const float qmin = static_cast<float>(quantMin);
  const float qmax = static_cast<float>(quantMax);
  RefRange r;
  r.bothZero = (min == 0.0f && max == 0.0f);
  r.scale = (max - min) / (qmax - qmin);
  r.invScale = (qmax - qmin) / (max - min);
  const float zpFromMin = qmin - min / r.scale;
  uint16_t zp;
  if (zpFromMin < qmin) {
    zp = static_cast<uint16_t>(quantMin);
  } else if (zpFromMin > qmax) {
    zp = static_cast<uint16_t>(quantMax);
  } else if (zpFromMin != zpFromMin) {
    zp = 0;  // NaN: only from NaN or infinite min/max, which the property tests do not generate
  } else {
    zp = static_cast<uint16_t>(std::round(zpFromMin));
  }
  r.nudgedMin = (qmin - static_cast<float>(zp)) * r.scale;
  r.nudgedMax = (qmax - static_cast<float>(zp)) * r.scale;
  return r;
}

// docs/spec.md, "The forward ops". divide: the Vars op divides by scale instead of multiplying by
// inv_scale (PerChannel and Args multiply).
inline float refForward(float x, const RefRange& r, bool divide) {
  if (r.bothZero) return 0.0f;
  const float quantZero = std::floor(-r.nudgedMin * r.invScale + 0.5f);
  const float clamped = std::max(std::min(x, r.nudgedMax), r.nudgedMin);
  const float level =
      divide ? (clamped - r.nudgedMin) / r.scale : (clamped - r.nudgedMin) * r.invScale;
  return std::floor(level - quantZero + 0.5f) * r.scale;
}

// docs/spec.md, "The gradient ops", for one element: dx and the two terms of the min/max sums.
struct RefGrad {
  float dx;
  float toMin;
  float toMax;
};

inline RefGrad refGradient(float g, float x, const RefRange& r) {
  if (r.bothZero) return {g, 0.0f, 0.0f};
  const float between = (r.nudgedMin <= x && x <= r.nudgedMax) ? 1.0f : 0.0f;
  const float below = (x < r.nudgedMin) ? 1.0f : 0.0f;
  const float above = (x > r.nudgedMax) ? 1.0f : 0.0f;
  return {g * between, g * below, g * above};
}

// A whole op. `channels` is the last dimension for PerChannel and 1 otherwise; mins/maxs hold one
// value per channel. dmin/dmax are summed in double, with the count of terms and the sum of their
// magnitudes, so that a test can allow the rounding of a float sum in any order.
struct RefResult {
  std::vector<float> out;  // output, or dx
  std::vector<double> dmin, dmax;
  std::vector<double> dminAbs, dmaxAbs;
  std::vector<int64_t> terms;
};

inline RefResult refRun(Op op, const std::vector<float>& x, const std::vector<float>& g,
                        int64_t channels, const std::vector<float>& mins,
                        const std::vector<float>& maxs, int numBits, bool narrowRange) {
  RefResult res;
  res.out.resize(x.size());
  res.dmin.assign(channels, 0.0);
  res.dmax.assign(channels, 0.0);
  res.dminAbs.assign(channels, 0.0);
  res.dmaxAbs.assign(channels, 0.0);
  res.terms.assign(channels, 0);
  std::vector<RefRange> ranges;
  for (int64_t c = 0; c < channels; ++c)
    ranges.push_back(refNudge(mins[c], maxs[c], numBits, narrowRange));
  const bool divide = op == Op::Vars;
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t c = static_cast<int64_t>(i) % channels;
    if (!isGradient(op)) {
      res.out[i] = refForward(x[i], ranges[c], divide);
      continue;
    }
    const RefGrad r = refGradient(g[i], x[i], ranges[c]);
    res.out[i] = r.dx;
    res.dmin[c] += r.toMin;
    res.dmax[c] += r.toMax;
    res.dminAbs[c] += std::abs(static_cast<double>(r.toMin));
    res.dmaxAbs[c] += std::abs(static_cast<double>(r.toMax));
    ++res.terms[c];
  }
  return res;
}

}  // namespace qsref
