#pragma once

// The arithmetic of TensorFlow's fake-quant kernels, one float32 operation at a time, in the
// order docs/spec.md gives. Every FakeQuant path (scalar, SIMD, threaded) takes its per-channel
// constants from nudge() so that they agree to the bit.

#include <cmath>
#include <cstdint>

namespace qs::fq {

struct QuantRange {
  int quantMin = 0;
  int quantMax = 255;
};

inline QuantRange quantRange(int numBits, bool narrowRange) {
  return {narrowRange ? 1 : 0, (1 << numBits) - 1};
}

// Per-channel constants of the forward op and the gradient.
struct Nudged {
  float nudgedMin = 0;
  float nudgedMax = 0;
  float scale = 0;
  float invScale = 0;   // (qmax - qmin) / (max - min), computed again, not 1 / scale
  float quantZero = 0;  // floor(-nudgedMin * invScale + 0.5)
  uint16_t zeroPoint = 0;
  bool zeroRange = false;  // min == 0 and max == 0: the channel short-circuits
};

inline Nudged nudge(float min, float max, QuantRange q) {
  Nudged n;
  n.zeroRange = (min == 0.0f && max == 0.0f);
  const float qmin = static_cast<float>(q.quantMin);
  const float qmax = static_cast<float>(q.quantMax);
  const float span = qmax - qmin;
  n.scale = (max - min) / span;
  n.invScale = span / (max - min);
  const float zpFromMin = qmin - min / n.scale;
  if (zpFromMin < qmin) {
    n.zeroPoint = static_cast<uint16_t>(q.quantMin);
  } else if (zpFromMin > qmax) {
    n.zeroPoint = static_cast<uint16_t>(q.quantMax);
  } else if (std::isnan(zpFromMin)) {
    // TensorFlow converts NaN to uint16 (undefined behaviour; 0 on x86). Its nudged range is NaN
    // whatever the zero point, since a NaN zero point only comes from a NaN or infinite scale.
    n.zeroPoint = 0;
  } else {
    n.zeroPoint = static_cast<uint16_t>(std::round(zpFromMin));
  }
  const float zp = static_cast<float>(n.zeroPoint);
  n.nudgedMin = (qmin - zp) * n.scale;
  n.nudgedMax = (qmax - zp) * n.scale;
  n.quantZero = std::floor(-n.nudgedMin * n.invScale + 0.5f);
  return n;
}

// The clamp keeps its first operand when the comparison is false, so NaN stays NaN.
inline float clampToNudged(float x, const Nudged& n) {
  const float hi = (n.nudgedMax < x) ? n.nudgedMax : x;  // std::min(x, nudgedMax)
  return (hi < n.nudgedMin) ? n.nudgedMin : hi;          // std::max(hi, nudgedMin)
}

// PerChannel and Args forward: multiplies by the inverse scale.
inline float quantizeMul(float x, const Nudged& n) {
  if (n.zeroRange) return 0.0f;
  const float c = clampToNudged(x, n);
  return std::floor((c - n.nudgedMin) * n.invScale - n.quantZero + 0.5f) * n.scale;
}

// Vars forward: divides by the scale.
inline float quantizeDiv(float x, const Nudged& n) {
  if (n.zeroRange) return 0.0f;
  const float c = clampToNudged(x, n);
  return std::floor((c - n.nudgedMin) / n.scale - n.quantZero + 0.5f) * n.scale;
}

}  // namespace qs::fq
