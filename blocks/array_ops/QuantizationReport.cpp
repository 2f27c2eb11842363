#include "blocks/array_ops/QuantizationReport.h"

#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "blocks/RegisterBlocks.h"
#include "blocks/array_ops/FakeQuantKernels.h"  // avx2Active()
#include "runtime/Error.h"

namespace qs {

namespace fq {

double sqnrDb(double signalPower, double noisePower) {
  if (std::isnan(signalPower) || std::isnan(noisePower)) return std::nan("");
  if (std::isinf(signalPower) && std::isinf(noisePower)) return std::nan("");
  if (noisePower == 0.0) return std::numeric_limits<double>::infinity();
  if (signalPower == 0.0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signalPower / noisePower);
}

namespace {

// Per-channel accumulators; the statistics are filled in by finish().
struct Acc {
  Nudged n;
  int64_t below = 0, above = 0;
  double signal = 0, noise = 0;

  template <Quantize op>
  void add(float x) {
    below += x < n.nudgedMin;
    above += x > n.nudgedMax;
    const double xd = x;
    const float y = op == Quantize::Mul ? quantizeMul(x, n) : quantizeDiv(x, n);
    const double err = static_cast<double>(y) - xd;
    signal += xd * xd;
    noise += err * err;
  }
};

QuantChannelStats finish(const Acc& a, float min, float max, int64_t count) {
  QuantChannelStats s;
  s.min = min;
  s.max = max;
  s.nudgedMin = a.n.nudgedMin;
  s.nudgedMax = a.n.nudgedMax;
  s.scale = a.n.scale;
  s.zeroPoint = a.n.zeroPoint;
  s.count = count;
  s.below = a.below;
  s.above = a.above;
  const double c = static_cast<double>(count);
  // 0 / 0 gives NaN for an empty channel, which is what we want to show.
  s.clippedBelow = static_cast<double>(a.below) / c;
  s.clippedAbove = static_cast<double>(a.above) / c;
  s.signalPower = a.signal / c;
  s.mse = a.noise / c;
  s.sqnrDb = sqnrDb(s.signalPower, s.mse);
  return s;
}

// Channels [first, channels) of every row.
template <Quantize op>
void accumulateRows(const float* inputs, int64_t outer, int64_t channels, int64_t first,
                    std::vector<Acc>& acc) {
  // Row by row, so that memory is read in order.
  for (int64_t r = 0; r < outer; ++r) {
    const float* row = inputs + r * channels;
    for (int64_t c = first; c < channels; ++c) acc[c].template add<op>(row[c]);
  }
}

// The channels of whole groups of eight on AVX2; returns how many that was (0 on the portable
// path, or with fewer than eight channels).
int64_t accumulateLanes(const float* inputs, int64_t outer, int64_t channels, bool divide,
                        std::vector<Acc>& acc) {
#ifdef QS_FQ_HAVE_X86
  const int64_t lanes = avx2Active() ? channels / 8 * 8 : 0;
  if (lanes == 0) return 0;
  std::vector<float> k(6 * static_cast<size_t>(lanes));
  float* lo = k.data();
  float *hi = lo + lanes, *mul = hi + lanes, *scale = mul + lanes, *qz = scale + lanes;
  float* keep = qz + lanes;
  std::vector<double> signal(lanes, 0.0), noise(lanes, 0.0);
  std::vector<int64_t> below(lanes, 0), above(lanes, 0);
  for (int64_t c = 0; c < lanes; ++c) {
    const Nudged& n = acc[c].n;
    lo[c] = n.nudgedMin;
    hi[c] = n.nudgedMax;
    mul[c] = n.invScale;
    scale[c] = n.scale;
    qz[c] = n.quantZero;
    keep[c] = std::bit_cast<float>(n.zeroRange ? 0u : ~0u);
  }
  detail::ReportSums sums{signal.data(), noise.data(), below.data(), above.data()};
  detail::reportRowsAvx2(inputs, outer, channels, lanes, {lo, hi, mul, scale, qz, keep}, divide,
                         sums);
  for (int64_t c = 0; c < lanes; ++c) {
    acc[c].signal = signal[c];
    acc[c].noise = noise[c];
    acc[c].below = below[c];
    acc[c].above = above[c];
  }
  return lanes;
#else
  (void)inputs, (void)outer, (void)channels, (void)divide, (void)acc;
  return 0;
#endif
}

template <Quantize op>
void accumulateChannel(const float* inputs, int64_t outer, int64_t channels, int64_t c, Acc& a) {
  for (int64_t r = 0; r < outer; ++r) a.template add<op>(inputs[r * channels + c]);
}

}  // namespace

std::vector<QuantChannelStats> computeChannelReport(const float* inputs, int64_t outer,
                                                    int64_t channels, const float* min,
                                                    const float* max, QuantRange q, Quantize op) {
  std::vector<Acc> acc(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) acc[c].n = nudge(min[c], max[c], q);
  const int64_t first = accumulateLanes(inputs, outer, channels, op == Quantize::Div, acc);
  if (op == Quantize::Mul)
    accumulateRows<Quantize::Mul>(inputs, outer, channels, first, acc);
  else
    accumulateRows<Quantize::Div>(inputs, outer, channels, first, acc);
  std::vector<QuantChannelStats> out;
  out.reserve(acc.size());
  for (int64_t c = 0; c < channels; ++c) out.push_back(finish(acc[c], min[c], max[c], outer));
  return out;
}

QuantChannelStats computeOneChannel(const float* inputs, int64_t outer, int64_t channels, int64_t c,
                                    float min, float max, QuantRange q, Quantize op) {
  Acc a;
  a.n = nudge(min, max, q);
  if (op == Quantize::Mul)
    accumulateChannel<Quantize::Mul>(inputs, outer, channels, c, a);
  else
    accumulateChannel<Quantize::Div>(inputs, outer, channels, c, a);
  return finish(a, min, max, outer);
}

std::vector<QuantChannelStats> computeChannelReport(const Tensor& inputs, const Tensor& min,
                                                    const Tensor& max, QuantRange q) {
  checkPerChannelShapes(inputs.shape(), min.shape(), max.shape());
  const int64_t d = inputs.shape().back();
  const int64_t outer = d == 0 ? 0 : inputs.size() / d;
  // d == 0: no channels; a zero batch dimension: every channel is empty (NaN statistics).
  return computeChannelReport(inputs.data(), outer, d, min.data(), max.data(), q);
}

}  // namespace fq

namespace {

const char* const kOutputs[] = {"nudged_min",    "nudged_max",    "scale", "zero_point",
                                "clipped_below", "clipped_above", "mse",   "sqnr_db"};

fq::QuantRange rangeOf(const BlockContext& ctx) {
  return fq::quantRange(static_cast<int>(ctx.attrs().getInt("num_bits")),
                        ctx.attrs().getBool("narrow_range"));
}

void reportCheck(BlockContext& ctx) {
  fq::checkPerChannelShapes(ctx.inputShape("inputs"), ctx.inputShape("min"), ctx.inputShape("max"));
  const int64_t d = ctx.inputShape("inputs").back();
  for (const char* name : kOutputs) ctx.setOutputShape(name, {d});
}

void reportCompute(BlockContext& ctx) {
  const auto stats = fq::computeChannelReport(ctx.input("inputs"), ctx.input("min"),
                                              ctx.input("max"), rangeOf(ctx));
  const int64_t d = static_cast<int64_t>(stats.size());
  std::vector<Tensor> outs;
  for (size_t k = 0; k < std::size(kOutputs); ++k) outs.push_back(Tensor::uninitialized({d}));
  for (int64_t c = 0; c < d; ++c) {
    const fq::QuantChannelStats& s = stats[c];
    const float values[] = {s.nudgedMin,
                            s.nudgedMax,
                            s.scale,
                            static_cast<float>(s.zeroPoint),
                            static_cast<float>(s.clippedBelow),
                            static_cast<float>(s.clippedAbove),
                            static_cast<float>(s.mse),
                            static_cast<float>(s.sqnrDb)};
    for (size_t k = 0; k < std::size(kOutputs); ++k) outs[k].mutableData()[c] = values[k];
  }
  for (size_t k = 0; k < std::size(kOutputs); ++k) ctx.setOutput(kOutputs[k], std::move(outs[k]));
}

}  // namespace

void registerQuantizationReportBlock(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "QuantizationReport";
  d.category = "Quantization";
  d.summary =
      "Per-channel statistics of FakeQuantWithMinMaxVarsPerChannel: nudged range, scale, "
      "zero point, fraction clipped, MSE and SQNR.";
  d.doc =
      "Takes the same inputs and attributes as FakeQuantWithMinMaxVarsPerChannel (`inputs` "
      "[..., d], `min` [d], `max` [d], `num_bits`, `narrow_range`), validates them in the same "
      "order with the same messages, and reports per channel what the op does to it, using the "
      "op's own arithmetic (so it agrees with the op's output to the bit). "
      "`clipped_below` / `clipped_above` are the fractions of the channel's values strictly below "
      "the nudged min / above the nudged max (NaN counts as neither). `mse` is the mean over the "
      "channel of (fake-quantized - input)^2, accumulated in double. `sqnr_db` is "
      "10 log10(mean(x^2) / mse): +inf when mse is 0 (the channel is represented exactly, an "
      "all-zero channel included); -inf when the signal is 0 but the error is not (an all-zero "
      "channel with min > max, which the op maps to the nudged min); NaN when the channel holds "
      "a NaN or an infinity, has min == max != 0 (the op gives NaN), or is empty (then the "
      "clipped fractions and mse are NaN too). "
      "`zero_point` is the integer zero point as a float; for a channel with min == max == 0 "
      "(which the op sets to 0) the nudged range is [0, 0].";
  d.ports = opPorts(
      {tensorInput("inputs", RankRule::atLeast(1), "Float tensor of shape [..., d]."),
       tensorInput("min", RankRule::exactly(1), "Per-channel minimum, shape [d]."),
       tensorInput("max", RankRule::exactly(1), "Per-channel maximum, shape [d].")},
      {tensorOutput("nudged_min", RankRule::exactly(1),
                    "Nudged minimum of each channel. Shape [d]."),
       tensorOutput("nudged_max", RankRule::exactly(1),
                    "Nudged maximum of each channel. Shape [d]."),
       tensorOutput("scale", RankRule::exactly(1),
                    "Quantization step of each channel: (max - min) / (qmax - qmin). Shape [d]."),
       tensorOutput("zero_point", RankRule::exactly(1),
                    "Integer zero point of each channel. Shape [d]."),
       tensorOutput("clipped_below", RankRule::exactly(1),
                    "Fraction of the channel's values below the nudged minimum. Shape [d]."),
       tensorOutput("clipped_above", RankRule::exactly(1),
                    "Fraction of the channel's values above the nudged maximum. Shape [d]."),
       tensorOutput("mse", RankRule::exactly(1),
                    "Mean squared error of the fake-quantized channel. Shape [d]."),
       tensorOutput("sqnr_db", RankRule::exactly(1),
                    "Signal-to-quantization-noise ratio of the channel in dB. Shape [d].")});
  d.attrs = {
      fq::numBitsAttr("Bit width of the quantization, as for the PerChannel op."),
      fq::narrowRangeAttr(
          "If true, quantization runs over [1, 2^num_bits - 1], as for the PerChannel op."),
  };
  d.check = reportCheck;
  d.compute = reportCompute;
  registry.add(std::move(d));
}

}  // namespace qs
