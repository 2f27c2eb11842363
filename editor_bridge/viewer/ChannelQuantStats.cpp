#include "editor_bridge/viewer/ChannelQuantStats.h"

#include <cmath>

#include "runtime/Error.h"

namespace qs::editor {

namespace {

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
  if (setup.perChannel) {
    fq::checkPerChannelShapes(inputs.shape(), {channels}, {static_cast<int64_t>(maxs.size())});
  } else if (channels != 1 || maxs.size() != 1) {
    throw Error("min and max must be scalars");
  }
  const fq::QuantRange q = fq::quantRange(setup.numBits, setup.narrowRange);
  const int64_t outer = channels == 0 ? 0 : inputs.size() / channels;
  const auto report = fq::computeChannelReport(inputs.data(), outer, channels, mins.data(),
                                               maxs.data(), q, setup.op);
  std::vector<ChannelQuantStats> out;
  out.reserve(report.size());
  for (int64_t c = 0; c < channels; ++c) out.push_back(wrap(c, report[c], q));
  return out;
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
                                  bool narrowRange, fq::Quantize op) {
  const int64_t n = static_cast<int64_t>(samples.size());
  std::vector<SweepPoint> out;
  for (int bits = 2; bits <= 16; ++bits) {
    const fq::QuantChannelStats s = fq::computeOneChannel(samples.data(), n, 1, 0, min, max,
                                                          fq::quantRange(bits, narrowRange), op);
    out.push_back({bits, s.sqnrDb});
  }
  return out;
}

}  // namespace qs::editor
