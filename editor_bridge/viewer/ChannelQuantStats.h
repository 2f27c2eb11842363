#pragma once

// Qt-free per-channel quantization statistics for the inspector.
//
// Interim: blocks/array_ops/QuantizationReport.h (issue 3, another branch) will provide the
// project's report. Until it is merged, every number the inspector shows comes from
// computeChannelQuantStats() below, built only on FakeQuantMath.h, so that swapping it for
// QuantizationReport (or checking one against the other) touches one function.

#include <cstdint>
#include <span>
#include <vector>

#include "blocks/array_ops/FakeQuantMath.h"
#include "runtime/Tensor.h"

namespace qs::editor {

struct QuantSetup {
  int numBits = 8;
  bool narrowRange = false;
  // PerChannel multiplies by the inverse scale; Vars and Args divide by the scale (SPEC.md).
  bool divides = false;
};

struct ChannelQuantStats {
  int64_t channel = 0;
  float min = 0;  // the block's min/max input for the channel
  float max = 0;
  fq::Nudged nudged;
  int quantMin = 0;
  int quantMax = 255;
  int64_t count = 0;  // elements of the channel
  int64_t nan = 0;
  int64_t clippedBelow = 0;  // x < nudged min (-inf included)
  int64_t clippedAbove = 0;  // x > nudged max (+inf included)
  int64_t finite = 0;        // elements MSE and SQNR are over
  double mse = 0;            // mean of (q(x) - x)^2 over the finite elements
  double signalPower = 0;    // mean of x^2 over the finite elements
  double sqnrDb = 0;         // 10 log10(signal / noise); +inf when there is no error

  int levels() const { return quantMax - quantMin + 1; }
  // Fractions of the non-NaN elements.
  double fractionBelow() const;
  double fractionAbove() const;
};

// The one fake-quant function the inspector uses for a value (the op's own arithmetic).
inline float quantizeValue(float x, const fq::Nudged& n, bool divides) {
  return divides ? fq::quantizeDiv(x, n) : fq::quantizeMul(x, n);
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

// The same numbers for one channel's samples.
ChannelQuantStats statsForSamples(std::span<const float> samples, float min, float max,
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
// SQNR against num_bits 2..16 for the samples with the channel's min/max.
std::vector<SweepPoint> sweepBits(std::span<const float> samples, float min, float max,
                                  bool narrowRange, bool divides);

}  // namespace qs::editor
