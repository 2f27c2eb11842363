// The calibrators: blocks that choose a quantization range from the data, per channel (the last
// axis, as FakeQuantWithMinMaxVarsPerChannel) or per tensor, ready to wire into the FakeQuant ops'
// min and max. Those that accumulate hold their state across steps as the optimizers hold their
// slots: unwired, the block holds it (nothing at the first step and after a reset); wired from a
// Variable, that Variable holds it. docs/calibration.md defines each one.

#include <algorithm>
#include <cmath>
#include <string>

#include "blocks/RegisterBlocks.h"
#include "blocks/array_ops/FakeQuantChecks.h"
#include "blocks/quant/CalibrationMath.h"
#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/ThreadPool.h"

namespace qs {

namespace {

using calib::Histograms;
using calib::kBins;
using calib::Method;
using calib::Range;

// Columns of the histogram_bounds slot.
constexpr int64_t kBoundsColumns = 4;

// ---- Shared attributes, ports and checks ------------------------------------------------------

bool perChannel(const BlockContext& ctx) {
  return ctx.attrs().getBool("per_channel");
}

// Channels of the input: its last dimension, or 1 per tensor.
int64_t channelsOf(const BlockContext& ctx) {
  return perChannel(ctx) ? ctx.inputShape("inputs").back() : 1;
}

// The shape of min and max: [d], or a scalar per tensor.
Shape rangeShape(const BlockContext& ctx) {
  return perChannel(ctx) ? Shape{channelsOf(ctx)} : Shape{};
}

fq::Exec execOf(const BlockContext& ctx) {
  return {ctx.pool(), ctx.threads(), &ctx};
}

AttrDescriptor perChannelAttr() {
  return {.name = "per_channel",
          .type = AttrType::Bool,
          .defaultValue = AttrValue{true},
          .doc =
              "One range per channel (the last axis of `inputs`; `min` and `max` have shape "
              "[d], for FakeQuantWithMinMaxVarsPerChannel), or false: one range for the whole "
              "tensor (scalars, for FakeQuantWithMinMaxVars)."};
}

AttrDescriptor symmetricAttr(const std::string& doc) {
  return {.name = "symmetric", .type = AttrType::Bool, .defaultValue = AttrValue{true}, .doc = doc};
}

AttrDescriptor narrowRangeAttr() {
  return fq::narrowRangeAttr(
      "The FakeQuant op's narrow_range: candidate ranges are judged on [1, 2^num_bits - 1] "
      "instead of [0, 2^num_bits - 1].");
}

PortDescriptor inputsPort() {
  return tensorInput("inputs", RankRule::any(),
                     "The float tensor to calibrate on, [..., d] per channel (any shape per "
                     "tensor).");
}

PortDescriptor optionalInput(std::string name, RankRule rank, std::string doc) {
  PortDescriptor p = tensorInput(std::move(name), rank, std::move(doc));
  p.required = false;
  return p;
}

void requireChannelAxis(const BlockContext& ctx) {
  if (perChannel(ctx) && ctx.inputShape("inputs").empty())
    throw Error(
        "inputs is a scalar, but per_channel needs a channel axis (rank >= 1); set "
        "per_channel to false for one range over the tensor");
}

// A slot's shape at the start of the step: wired, held, or none yet.
const Shape* slotShape(const BlockContext& ctx, const std::string& slot) {
  if (ctx.hasInput(slot)) return &ctx.inputShape(slot);
  if (const Tensor* held = ctx.held(slot)) return &held->shape();
  return nullptr;
}

void requireSlotShape(const BlockContext& ctx, const std::string& slot, const Shape& want) {
  const Shape* s = slotShape(ctx, slot);
  if (!s || *s == want) return;
  if (!ctx.hasInput(slot))
    throw Error("holds " + slot + " of shape " + shapeToString(*s) + " but the inputs now need " +
                shapeToString(want) + "; reset the page's state to start calibrating again");
  throw Error(slot + " has shape " + shapeToString(*s) + " but the inputs need " +
              shapeToString(want));
}

const Tensor* slotValue(const BlockContext& ctx, const std::string& slot) {
  if (ctx.hasInput(slot)) return &ctx.input(slot);
  return ctx.held(slot);
}

Tensor rangeTensor(const Shape& shape, const std::vector<float>& v) {
  Tensor t = Tensor::uninitialized(shape);
  std::copy(v.begin(), v.end(), t.mutableData());
  return t;
}

void setRangeOutputs(BlockContext& ctx, const std::vector<Range>& r) {
  std::vector<float> lo, hi;
  for (const Range& x : r) {
    lo.push_back(x.min);
    hi.push_back(x.max);
  }
  ctx.setOutput("min", rangeTensor(rangeShape(ctx), lo));
  ctx.setOutput("max", rangeTensor(rangeShape(ctx), hi));
}

// A float attribute that must lie strictly inside (lo, hi], or (lo, hi) when !closed.
double openAttr(const BlockContext& ctx, const std::string& name, double lo, double hi,
                bool closed) {
  const double v = ctx.attrs().getFloat(name);
  const bool ok = v > lo && (closed ? v <= hi : v < hi);
  if (!ok)
    throw Error(name + " must be in (" + formatFloat(static_cast<float>(lo)) + ", " +
                formatFloat(static_cast<float>(hi)) + (closed ? "]" : ")") + ", not " +
                formatFloat(static_cast<float>(v)));
  return v;
}

// ---- MinMaxCalibrator -------------------------------------------------------------------------

enum class MinMaxMode { Last, Running, MovingAverage };

MinMaxMode minMaxMode(const BlockContext& ctx) {
  const std::string& m = ctx.attrs().getString("mode");
  if (m == "last") return MinMaxMode::Last;
  if (m == "running") return MinMaxMode::Running;
  if (m == "moving_average") return MinMaxMode::MovingAverage;
  throw Error("mode must be \"last\", \"running\" or \"moving_average\", not \"" + m + "\"");
}

void minMaxCheck(BlockContext& ctx) {
  requireChannelAxis(ctx);
  minMaxMode(ctx);
  openAttr(ctx, "decay", 0, 1, false);
  const Shape shape = rangeShape(ctx);
  for (const char* slot : {"min", "max"}) requireSlotShape(ctx, slot, shape);
  ctx.setOutputShape("min", shape);
  ctx.setOutputShape("max", shape);
}

void minMaxCompute(BlockContext& ctx) {
  const Tensor& x = ctx.input("inputs");
  const int64_t d = channelsOf(ctx);
  const int64_t outer = d == 0 ? 0 : x.size() / d;
  const calib::Extremes e =
      calib::channelExtremes(x.data(), outer, d, !perChannel(ctx), execOf(ctx));
  const MinMaxMode mode = minMaxMode(ctx);
  // TensorFlow's moving average, in float32: v - (v - batch) * (1 - decay).
  const float keep = 1.0f - static_cast<float>(ctx.attrs().getFloat("decay"));
  const Tensor* prevMin = mode == MinMaxMode::Last ? nullptr : slotValue(ctx, "min");
  const Tensor* prevMax = mode == MinMaxMode::Last ? nullptr : slotValue(ctx, "max");
  std::vector<Range> r(static_cast<size_t>(d));
  for (int64_t c = 0; c < d; ++c) {
    float lo = std::min(e.min[c], 0.0f), hi = std::max(e.max[c], 0.0f);
    if (prevMin && prevMax) {
      const float pLo = prevMin->data()[c], pHi = prevMax->data()[c];
      if (mode == MinMaxMode::Running) {
        lo = std::min(pLo, lo);
        hi = std::max(pHi, hi);
      } else {
        lo = pLo - (pLo - lo) * keep;
        hi = pHi - (pHi - hi) * keep;
      }
    }
    r[c] = {lo, hi};
  }
  setRangeOutputs(ctx, r);
}

void registerMinMax(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = calib::blockType(Method::MinMax);
  d.category = "Quantization";
  d.summary =
      "A range from the data's minimum and maximum: of this batch, of every step, or "
      "their moving average.";
  d.doc =
      "Each channel's range is [min(x, 0), max(x, 0)] over the batch (0 is always inside, as "
      "TensorFlow's quantization-aware training keeps it). `mode` says how steps combine: "
      "`last` uses this batch only; `running` (the default) the smallest minimum and largest "
      "maximum of every step since the last reset; `moving_average` starts from the first batch "
      "and then moves each end toward the batch's, `v - (v - batch) * (1 - decay)` in float32, "
      "as `tf.contrib.quantize` does with decay 0.999 for activations (PyTorch's averaging "
      "constant 0.01 is decay 0.99). The running range is the block's own (nothing at the first "
      "step and after a reset; saved with the page's state as `<block id>.min` and "
      "`<block id>.max`) unless `min` and `max` are wired from Variables, which then hold it "
      "from their initial values. Inputs must be finite. See docs/calibration.md.";
  d.ports = opPorts(
      {inputsPort(),
       optionalInput("min", RankRule::any(),
                     "The running minimum at the start of the step, from a Variable that holds "
                     "it; unwired, the block holds it."),
       optionalInput("max", RankRule::any(),
                     "The running maximum at the start of the step, from a Variable that holds "
                     "it; unwired, the block holds it.")},
      {tensorOutput("min", RankRule::any(), "The range's lower end: [d], or a scalar per tensor."),
       tensorOutput("max", RankRule::any(),
                    "The range's upper end: [d], or a scalar per tensor.")});
  d.attrs = {{.name = "mode",
              .type = AttrType::String,
              .defaultValue = AttrValue{std::string("running")},
              .doc = "last, running or moving_average."},
             {.name = "decay",
              .type = AttrType::Float,
              .defaultValue = AttrValue{0.999},
              .doc = "Decay of the moving average, in (0, 1)."},
             perChannelAttr()};
  d.check = minMaxCheck;
  d.compute = minMaxCompute;
  d.stateSlots = {{.input = "min", .output = "min"}, {.input = "max", .output = "max"}};
  registry.add(std::move(d));
}

// ---- The histogram calibrators ----------------------------------------------------------------

// Entropy is defined on |x| only; the others take the `symmetric` attribute.
bool symmetricOf(const BlockContext& ctx, Method s) {
  return s == Method::Entropy || ctx.attrs().getBool("symmetric");
}

void histogramCheck(BlockContext& ctx, Method s) {
  requireChannelAxis(ctx);
  if (s == Method::Percentile) openAttr(ctx, "percentile", 0, 100, true);
  if (s == Method::Sqnr) {
    const double w = ctx.attrs().getFloat("clipping_weight");
    if (!(w > 0) || !std::isfinite(w))
      throw Error("clipping_weight must be a positive number, not " +
                  formatFloat(static_cast<float>(w)));
  }
  const int64_t c = channelsOf(ctx);
  calib::checkHistogramSize(c, ctx.threads());
  requireSlotShape(ctx, "histogram", {c, kBins});
  requireSlotShape(ctx, "histogram_bounds", {c, kBoundsColumns});
  const Shape shape = rangeShape(ctx);
  ctx.setOutputShape("min", shape);
  ctx.setOutputShape("max", shape);
  ctx.setOutputShape("histogram", {c, kBins});
  ctx.setOutputShape("histogram_bounds", {c, kBoundsColumns});
}

// The histograms at the start of the step: the held (or wired) ones, or empty ones.
Histograms startingHistograms(const BlockContext& ctx, int64_t channels, bool symmetric) {
  Histograms h(channels, symmetric);
  const Tensor* counts = slotValue(ctx, "histogram");
  const Tensor* bounds = slotValue(ctx, "histogram_bounds");
  if (!counts || !bounds) return h;
  for (int64_t c = 0; c < channels; ++c) {
    const float* b = bounds->data() + c * kBoundsColumns;
    const float* k = counts->data() + c * kBins;
    bool countsOk = true;
    for (int i = 0; i < kBins; ++i) countsOk &= k[i] >= 0 && std::isfinite(k[i]);
    const bool boundsOk = std::isfinite(b[0]) && std::isfinite(b[1]) && b[0] <= 0 && b[0] <= b[1] &&
                          (!symmetric || b[0] == 0);
    if (!countsOk || !boundsOk)
      throw Error("histogram_bounds and histogram of channel " + std::to_string(c) + " are not a " +
                  (symmetric ? "symmetric" : "two-tailed") +
                  " histogram this block can continue (counts must be >= 0, bounds [lo, hi, "
                  "min, max] with lo <= 0 <= hi" +
                  (symmetric ? ", lo = 0" : "") + "); reset the page's state");
    std::copy(k, k + kBins, h.counts.begin() + c * kBins);
    h.lo[c] = b[0];
    h.hi[c] = b[1];
    h.min[c] = b[2];
    h.max[c] = b[3];
  }
  return h;
}

void histogramCompute(BlockContext& ctx, Method s) {
  const Tensor& x = ctx.input("inputs");
  const int64_t d = channelsOf(ctx);
  const int64_t outer = d == 0 ? 0 : x.size() / d;
  Histograms h = startingHistograms(ctx, d, symmetricOf(ctx, s));
  calib::accumulate(h, x.data(), outer, !perChannel(ctx), execOf(ctx));
  const AttrValues& a = ctx.attrs();
  // Each block has the attributes its method reads (defaults filled in), and only those.
  calib::SearchSettings settings;
  if (a.has("num_bits")) settings.numBits = static_cast<int>(a.getInt("num_bits"));
  if (a.has("narrow_range")) settings.narrowRange = a.getBool("narrow_range");
  if (a.has("percentile")) settings.percentile = a.getFloat("percentile");
  if (a.has("clipping_weight")) settings.clippingWeight = a.getFloat("clipping_weight");
  setRangeOutputs(ctx, calib::searchChannels(s, h, settings, execOf(ctx)));
  ctx.setOutput("histogram", rangeTensor({d, kBins}, h.counts));
  std::vector<float> bounds;
  for (int64_t c = 0; c < d; ++c)
    for (float v : {h.lo[c], h.hi[c], h.min[c], h.max[c]}) bounds.push_back(v);
  ctx.setOutput("histogram_bounds", rangeTensor({d, kBoundsColumns}, bounds));
}

const char* kHistogramStateDoc =
    " The histograms accumulate over the steps: they are the block's own (empty at the first "
    "step and after a reset; saved with the page's state as `<block id>.histogram` and "
    "`<block id>.histogram_bounds`) unless those inputs are wired from Variables, which then "
    "hold them. Each channel has 2048 equal bins over [0, max |x|] (symmetric) or over "
    "[min(x, 0), max(x, 0)]; when a later batch goes beyond them, the bins widen by a power of "
    "two, merging old bins exactly. Inputs must be finite. docs/calibration.md gives the exact "
    "definition.";

void registerHistogramCalibrator(BlockRegistry& registry, Method s, const std::string& summary,
                                 const std::string& doc, std::vector<AttrDescriptor> attrs) {
  BlockDescriptor d;
  d.type = calib::blockType(s);
  d.category = "Quantization";
  d.summary = summary;
  d.doc = doc + kHistogramStateDoc;
  d.ports = opPorts(
      {inputsPort(),
       optionalInput("histogram", RankRule::exactly(2),
                     "Counts at the start of the step, [channels, 2048], from a Variable that "
                     "holds them; unwired, the block holds them."),
       optionalInput("histogram_bounds", RankRule::exactly(2),
                     "[channels, 4]: each histogram's lower and upper edge and the smallest and "
                     "largest value seen, from a Variable; unwired, the block holds them.")},
      {tensorOutput("min", RankRule::any(), "The range's lower end: [d], or a scalar per tensor."),
       tensorOutput("max", RankRule::any(), "The range's upper end: [d], or a scalar per tensor."),
       tensorOutput("histogram", RankRule::exactly(2), "The counts after this step."),
       tensorOutput("histogram_bounds", RankRule::exactly(2),
                    "The bounds after this step: lo, hi, min, max per channel.")});
  attrs.push_back(perChannelAttr());
  d.attrs = std::move(attrs);
  d.check = [s](BlockContext& ctx) { histogramCheck(ctx, s); };
  d.compute = [s](BlockContext& ctx) { histogramCompute(ctx, s); };
  d.stateSlots = {{.input = "histogram", .output = "histogram"},
                  {.input = "histogram_bounds", .output = "histogram_bounds"}};
  registry.add(std::move(d));
}

const char* kSignRule =
    " A symmetric threshold t becomes the range [-t, t], or [0, t] for a channel with no value "
    "below 0, [-t, 0] for one with none above.";

}  // namespace

void registerCalibratorBlocks(BlockRegistry& registry) {
  registerMinMax(registry);
  registerHistogramCalibrator(
      registry, Method::Percentile,
      "A range that leaves out the given share of the values: the percentile of |x|, or of "
      "each tail.",
      std::string("Symmetric: the threshold is the right edge of the first bin of the |x| "
                  "histogram at which the count from 0 reaches percentile / 100 of the values "
                  "(never beyond the largest |x| seen). Two-tailed: the upper end is found so "
                  "from the left, the lower end likewise from the right, and 0 is kept inside.") +
          kSignRule,
      {{.name = "percentile",
        .type = AttrType::Float,
        .defaultValue = AttrValue{99.99},
        .doc = "The share of the values (percent, in (0, 100]) the range keeps: per tail when "
               "not symmetric. 100 gives the extremes."},
       symmetricAttr("Percentile of |x| (true), or of each tail of x (false).")});
  registerHistogramCalibrator(
      registry, Method::Mse,
      "The range with the least expected quantization error, searched on the histogram.",
      std::string("Scores each of 2048 candidate ranges (threshold = each bin edge when "
                  "symmetric; [k/2048 min, k/2048 max] otherwise) by the expected squared "
                  "error of the FakeQuant op with that range, nudged as the op nudges it: values "
                  "taken as spread evenly within their bin, those outside the nudged range "
                  "costing their distance to it squared, those inside scale^2 / 12. A symmetric "
                  "histogram counts each bin half positive, half negative when the channel has "
                  "both signs. The smallest error wins (the first candidate on a tie).") +
          kSignRule,
      {fq::numBitsAttr("Bit width the candidate ranges are judged at, as the FakeQuant op's."),
       narrowRangeAttr(),
       symmetricAttr("Thresholds on |x| (true), or the data's range scaled down (false).")});
  registerHistogramCalibrator(
      registry, Method::Entropy,
      "TensorRT's entropy calibration: the |x| threshold whose quantized histogram diverges "
      "least (KL) from the data's.",
      std::string("On the |x| histogram of 2048 bins, for each number i of bins kept from "
                  "2^(num_bits-1) to 2048: P is bins 0..i-1 with every count beyond added to "
                  "bin i-1; Q merges bins 0..i-1 (without the outliers) into 2^(num_bits-1) "
                  "groups of floor(i / 2^(num_bits-1)) bins, the last group taking the rest, "
                  "and spreads each group's count evenly over its bins where P is not zero. "
                  "The threshold is the right edge of bin i-1 for the i with the smallest "
                  "KL(P || Q), each normalised to sum 1 (the first on a tie).") +
          kSignRule,
      {fq::numBitsAttr("Sets the 2^(num_bits-1) quantized bins (128 at 8 bits); from 12 bits on "
                       "there is one candidate, the whole histogram.")});
  registerHistogramCalibrator(
      registry, Method::Sqnr,
      "The range with the best signal-to-quantization-noise ratio of the fake-quantized "
      "histogram, clipping noise weighted.",
      std::string("Scores candidates of the MseCalibrator's kind, every 128th of the 2048 and "
                  "then every 16th within 128 of the best, by fake-quantizing each non-empty "
                  "bin's centre with the FakeQuant op's own arithmetic: SQNR = sum(count * "
                  "centre^2) / sum(count * weight * (fq(centre) - centre)^2), where weight is "
                  "clipping_weight for centres outside the nudged range and 1 inside. A "
                  "symmetric histogram counts each centre half as positive, half as negative "
                  "when the channel has both signs. The highest SQNR wins (the smallest "
                  "candidate on a tie).") +
          kSignRule,
      {fq::numBitsAttr("Bit width the candidate ranges are judged at, as the FakeQuant op's."),
       narrowRangeAttr(),
       {.name = "clipping_weight",
        .type = AttrType::Float,
        .defaultValue = AttrValue{1.0},
        .doc = "How much a clipped value's error counts against a rounded one's (> 0): 1 "
               "maximises the SQNR itself; larger values keep outliers inside the range."},
       symmetricAttr("Thresholds on |x| (true), or the data's range scaled down (false).")});
}

}  // namespace qs
