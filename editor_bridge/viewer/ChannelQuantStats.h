#pragma once

// Qt-free per-channel quantization statistics as the inspector shows them.
//
// Every per-channel number (table and bit-width sweep, for every FakeQuant op) comes from
// blocks/array_ops/QuantizationReport.h, the QuantizationReport block's own function, so the
// inspector and the block always agree; this file only adds what the plots need on top.

#include <cstdint>
#include <span>
#include <vector>

#include "blocks/array_ops/FakeQuantMath.h"
#include "blocks/array_ops/QuantizationReport.h"
#include "runtime/Tensor.h"

namespace qs::editor {

struct QuantSetup {
  int numBits = 8;
  bool narrowRange = false;
  // PerChannel multiplies by the inverse scale; Vars and Args divide by the scale (SPEC.md).
  fq::Quantize op = fq::Quantize::Mul;
};

struct ChannelQuantStats {
  int64_t channel = 0;
  fq::QuantChannelStats report;  // min, max, nudged range, scale, zero point, clipped, MSE, SQNR
  fq::Nudged nudged;             // the op's constants (nudge()), for levels and the curve
  int quantMin = 0;
  int quantMax = 255;

  int levels() const { return quantMax - quantMin + 1; }
  float min() const { return report.min; }
  float max() const { return report.max; }
  // Fractions of all the channel's values (NaN is neither below nor above); NaN when empty.
  double fractionBelow() const { return report.clippedBelow; }
  double fractionAbove() const { return report.clippedAbove; }
  int64_t below() const { return report.below; }
  int64_t above() const { return report.above; }
  int64_t count() const { return report.count; }
  double mse() const { return report.mse; }
  double sqnrDb() const { return report.sqnrDb; }
};

// The one fake-quant function the inspector uses for a value (the op's own arithmetic).
inline float quantizeValue(float x, const fq::Nudged& n, fq::Quantize op) {
  return op == fq::Quantize::Div ? fq::quantizeDiv(x, n) : fq::quantizeMul(x, n);
}

// The value of level k (0 .. levels-1): an integer multiple of the scale, as the op produces it.
inline float levelValue(const ChannelQuantStats& s, int k) {
  return static_cast<float>(s.quantMin - static_cast<int>(s.nudged.zeroPoint) + k) * s.nudged.scale;
}

// Statistics of every channel of `inputs` (channel = last axis; channels == mins.size()). For
// the Vars and Args ops pass one min and one max: the whole tensor is one channel.
// Throws qs::Error if the sizes do not fit.
std::vector<ChannelQuantStats> computeChannelQuantStats(const Tensor& inputs,
                                                        std::span<const float> mins,
                                                        std::span<const float> maxs,
                                                        const QuantSetup& setup);

// The elements of one channel (every `channels`-th value starting at `channel`).
std::vector<float> channelSamples(const Tensor& inputs, int64_t channel, int64_t channels);

struct Histogram {
  double lo = 0;
  double hi = 1;
  std::vector<int64_t> bins;
  int64_t below = 0;  // finite values outside [lo, hi] (none when lo/hi cover the data)
  int64_t above = 0;
  int64_t binOf(double v) const;
};

// Histogram of the finite values in [lo, hi] (hi inclusive).
Histogram makeHistogram(std::span<const float> values, double lo, double hi, int bins);

// One point of the bit-width sweep.
struct SweepPoint {
  int numBits = 0;
  double sqnrDb = 0;
};
// SQNR against num_bits 2..16 for one channel's samples (channelSamples()) with its min/max.
std::vector<SweepPoint> sweepBits(std::span<const float> samples, float min, float max,
                                  bool narrowRange, fq::Quantize op);

}  // namespace qs::editor
