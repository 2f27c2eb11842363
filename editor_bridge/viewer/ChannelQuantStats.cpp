#include "editor_bridge/viewer/ChannelQuantStats.h"

#include <cmath>
#include <string>

#include "runtime/Error.h"

namespace qs::editor {

namespace {

// The report's definitions (QuantizationReport.cpp) with the Vars/Args arithmetic.
struct DivAccumulator {
  fq::Nudged n;
  int64_t below = 0, above = 0;
  double signal = 0, noise = 0;
  void add(float x) {
    below += x < n.nudgedMin;
    above += x > n.nudgedMax;
    const double xd = x;
    const double err = static_cast<double>(fq::quantizeDiv(x, n)) - xd;
    signal += xd * xd;
    noise += err * err;
  }
  fq::QuantChannelStats finish(float min, float max, int64_t count) const {
    fq::QuantChannelStats s;
    s.min = min;
    s.max = max;
    s.nudgedMin = n.nudgedMin;
    s.nudgedMax = n.nudgedMax;
    s.scale = n.scale;
    s.zeroPoint = n.zeroPoint;
    s.count = count;
    s.below = below;
    s.above = above;
    const double c = static_cast<double>(count);
    s.clippedBelow = static_cast<double>(below) / c;
    s.clippedAbove = static_cast<double>(above) / c;
    s.signalPower = signal / c;
    s.mse = noise / c;
    s.sqnrDb = fq::sqnrDb(s.signalPower, s.mse);
    return s;
  }
};

ChannelQuantStats wrap(int64_t channel, const fq::QuantChannelStats& report, fq::QuantRange q) {
  ChannelQuantStats s;
  s.channel = channel;
  s.report = report;
  s.nudged = fq::nudge(report.min, report.max, q);
  s.quantMin = q.quantMin;
  s.quantMax = q.quantMax;
  return s;
}

}  // namespace

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
  const int64_t outer = inputs.size() / channels;
  std::vector<ChannelQuantStats> out;
  out.reserve(static_cast<size_t>(channels));
  if (!setup.divides) {
    const auto report =
        fq::computeChannelReport(inputs.data(), outer, channels, mins.data(), maxs.data(), q);
    for (int64_t c = 0; c < channels; ++c) out.push_back(wrap(c, report[c], q));
    return out;
  }
  std::vector<DivAccumulator> acc(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) acc[c].n = fq::nudge(mins[c], maxs[c], q);
  // Row by row, in memory order.
  const float* x = inputs.data();
  for (int64_t r = 0; r < outer; ++r) {
    for (int64_t c = 0; c < channels; ++c) acc[c].add(x[r * channels + c]);
  }
  for (int64_t c = 0; c < channels; ++c) {
    out.push_back(wrap(c, acc[c].finish(mins[c], maxs[c], outer), q));
  }
  return out;
}

ChannelQuantStats statsForSamples(std::span<const float> samples, float min, float max,
                                  const QuantSetup& setup) {
  const fq::QuantRange q = fq::quantRange(setup.numBits, setup.narrowRange);
  const int64_t n = static_cast<int64_t>(samples.size());
  if (!setup.divides)
    return wrap(0, fq::computeOneChannel(samples.data(), n, 1, 0, min, max, q), q);
  DivAccumulator a;
  a.n = fq::nudge(min, max, q);
  for (float x : samples) a.add(x);
  return wrap(0, a.finish(min, max, n), q);
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
    out.push_back({bits, s.sqnrDb()});
  }
  return out;
}

}  // namespace qs::editor
