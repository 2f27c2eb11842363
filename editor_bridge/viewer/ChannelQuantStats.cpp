#include "editor_bridge/viewer/ChannelQuantStats.h"

#include <cmath>
#include <limits>
#include <string>

#include "runtime/Error.h"

namespace qs::editor {

namespace {

// Running sums of one channel; doubles so that a 100k-sample channel keeps its precision.
struct Accumulator {
  int64_t count = 0, nan = 0, below = 0, above = 0, finite = 0;
  double noise = 0, signal = 0;
};

inline void accumulate(Accumulator& a, float x, const fq::Nudged& n, bool divides) {
  ++a.count;
  if (std::isnan(x)) {
    ++a.nan;
    return;
  }
  // The gradient's masks: clipped means outside the nudged range, which is inclusive.
  if (x < n.nudgedMin) ++a.below;
  if (x > n.nudgedMax) ++a.above;
  if (std::isinf(x)) return;
  const float q = quantizeValue(x, n, divides);
  const double e = static_cast<double>(q) - static_cast<double>(x);
  ++a.finite;
  a.noise += e * e;
  a.signal += static_cast<double>(x) * static_cast<double>(x);
}

ChannelQuantStats finish(const Accumulator& a, int64_t channel, float min, float max,
                         const fq::Nudged& n, const fq::QuantRange& q) {
  ChannelQuantStats s;
  s.channel = channel;
  s.min = min;
  s.max = max;
  s.nudged = n;
  s.quantMin = q.quantMin;
  s.quantMax = q.quantMax;
  s.count = a.count;
  s.nan = a.nan;
  s.clippedBelow = a.below;
  s.clippedAbove = a.above;
  s.finite = a.finite;
  if (a.finite > 0) {
    s.mse = a.noise / static_cast<double>(a.finite);
    s.signalPower = a.signal / static_cast<double>(a.finite);
  }
  if (a.noise > 0) {
    s.sqnrDb = 10.0 * std::log10(a.signal / a.noise);
  } else {
    s.sqnrDb = a.signal > 0 ? std::numeric_limits<double>::infinity()
                            : std::numeric_limits<double>::quiet_NaN();
  }
  return s;
}

}  // namespace

double ChannelQuantStats::fractionBelow() const {
  const int64_t n = count - nan;
  return n > 0 ? static_cast<double>(clippedBelow) / static_cast<double>(n) : 0.0;
}

double ChannelQuantStats::fractionAbove() const {
  const int64_t n = count - nan;
  return n > 0 ? static_cast<double>(clippedAbove) / static_cast<double>(n) : 0.0;
}

std::vector<ChannelQuantStats> computeChannelQuantStats(const Tensor& inputs,
                                                        std::span<const float> mins,
                                                        std::span<const float> maxs,
                                                        const QuantSetup& setup) {
  const int64_t channels = static_cast<int64_t>(mins.size());
  if (channels == 0 || maxs.size() != mins.size()) {
    throw Error("min and max must have the same, non-zero, number of channels");
  }
  if (channels > 1 && (inputs.rank() < 1 || inputs.dim(-1) != channels)) {
    throw Error("min has incorrect size, expected " +
                std::to_string(inputs.rank() ? inputs.dim(-1) : 0) + " was " +
                std::to_string(channels));
  }
  const fq::QuantRange q = fq::quantRange(setup.numBits, setup.narrowRange);
  std::vector<fq::Nudged> nudged(channels);
  for (int64_t c = 0; c < channels; ++c) nudged[c] = fq::nudge(mins[c], maxs[c], q);
  std::vector<Accumulator> acc(channels);
  // One pass over the tensor in memory order: a [32,56,56,128] input is 51 MB, and walking it
  // channel by channel would read every cache line 128 times.
  const float* x = inputs.data();
  const int64_t size = inputs.size();
  for (int64_t i = 0; i < size; i += channels) {
    for (int64_t c = 0; c < channels; ++c) accumulate(acc[c], x[i + c], nudged[c], setup.divides);
  }
  std::vector<ChannelQuantStats> out;
  out.reserve(channels);
  for (int64_t c = 0; c < channels; ++c) {
    out.push_back(finish(acc[c], c, mins[c], maxs[c], nudged[c], q));
  }
  return out;
}

ChannelQuantStats statsForSamples(std::span<const float> samples, float min, float max,
                                  const QuantSetup& setup) {
  const fq::QuantRange q = fq::quantRange(setup.numBits, setup.narrowRange);
  const fq::Nudged n = fq::nudge(min, max, q);
  Accumulator a;
  for (float x : samples) accumulate(a, x, n, setup.divides);
  return finish(a, 0, min, max, n, q);
}

std::vector<float> channelSamples(const Tensor& inputs, int64_t channel, int64_t channels) {
  std::vector<float> out;
  if (channels <= 0 || channel < 0 || channel >= channels) return out;
  out.reserve(static_cast<size_t>(inputs.size() / channels));
  const float* x = inputs.data();
  for (int64_t i = channel; i < inputs.size(); i += channels) out.push_back(x[i]);
  return out;
}

int64_t Histogram::binOf(double v) const {
  const int64_t n = static_cast<int64_t>(bins.size());
  if (n == 0 || !(hi > lo)) return 0;
  int64_t b = static_cast<int64_t>(std::floor((v - lo) / (hi - lo) * static_cast<double>(n)));
  if (b >= n) b = n - 1;  // hi itself belongs to the last bin
  if (b < 0) b = 0;
  return b;
}

Histogram makeHistogram(std::span<const float> values, double lo, double hi, int bins) {
  Histogram h;
  h.lo = lo;
  h.hi = hi > lo ? hi : lo + 1.0;
  h.bins.assign(static_cast<size_t>(std::max(bins, 1)), 0);
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    if (v < h.lo) {
      ++h.below;
    } else if (v > h.hi) {
      ++h.above;
    } else {
      ++h.bins[static_cast<size_t>(h.binOf(v))];
    }
  }
  return h;
}

std::vector<SweepPoint> sweepBits(std::span<const float> samples, float min, float max,
                                  bool narrowRange, bool divides) {
  std::vector<SweepPoint> out;
  for (int bits = 2; bits <= 16; ++bits) {
    const ChannelQuantStats s = statsForSamples(samples, min, max, {bits, narrowRange, divides});
    out.push_back({bits, s.sqnrDb});
  }
  return out;
}

}  // namespace qs::editor
