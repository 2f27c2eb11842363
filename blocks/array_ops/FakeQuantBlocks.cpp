#include <string>

#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/array_ops/FakeQuantChecks.h"
#include "blocks/array_ops/FakeQuantKernels.h"
#include "runtime/Error.h"
#include "runtime/Json.h"

namespace qs {

namespace {

AttrDescriptor numBitsAttr() {
  return fq::numBitsAttr("Bit width of the quantization: values are rounded to 2^num_bits levels.");
}

AttrDescriptor narrowRangeAttr() {
  return fq::narrowRangeAttr(
      "If true, the lowest level is not used: quantization runs over [1, 2^num_bits - 1] instead "
      "of [0, 2^num_bits - 1].");
}

AttrDescriptor argsBoundAttr(const char* name, double value, const char* doc) {
  return {.name = name, .type = AttrType::Float, .defaultValue = AttrValue{value}, .doc = doc};
}

// TensorFlow's Args constructor refuses min >= max; the page says so, as the block does.
const char* kArgsMinDoc =
    "Minimum of the quantization range; must be < max: min == max and min > max are errors "
    "(\"min has to be smaller than max, was: <min> >= <max>\").";
const char* kArgsMaxDoc = "Maximum of the quantization range; must be > min.";

// Attribute names built once: a chain of small blocks looks them up on every evaluation.
const std::string kNumBits = "num_bits", kNarrowRange = "narrow_range", kMin = "min", kMax = "max";

fq::QuantRange rangeOf(const BlockContext& ctx) {
  return fq::quantRange(static_cast<int>(ctx.attrs().getInt(kNumBits)),
                        ctx.attrs().getBool(kNarrowRange));
}

fq::Exec execOf(const BlockContext& ctx) {
  return {ctx.pool(), ctx.threads(), &ctx};
}

// ---- Checks: TensorFlow's, in its order, with its messages -------------------------------------

void checkSameSize(const BlockContext& ctx) {
  if (ctx.inputShape("gradients") != ctx.inputShape("inputs"))
    throw Error("gradient and input must be the same size");
}

void checkPerChannelMinMax(const BlockContext& ctx, const Shape& inputs) {
  fq::checkPerChannelShapes(inputs, ctx.inputShape("min"), ctx.inputShape("max"));
}

void checkScalarMinMax(const BlockContext& ctx) {
  for (const char* name : {"min", "max"}) {
    const Shape& s = ctx.inputShape(name);
    if (!s.empty())
      throw Error(std::string("`") + name + "` must be rank 0 but is rank " +
                  std::to_string(s.size()));
  }
}

// The Args ops' range, checked as TensorFlow's constructor does.
fq::Nudged argsRange(const BlockContext& ctx) {
  const float min = static_cast<float>(ctx.attrs().getFloat(kMin));
  const float max = static_cast<float>(ctx.attrs().getFloat(kMax));
  if (!(min < max))
    throw Error("min has to be smaller than max, was: " + formatFloat(min) +
                " >= " + formatFloat(max));
  return fq::nudge(min, max, rangeOf(ctx));
}

int64_t channelsOf(const Shape& inputs) {
  return inputs.back();
}

// ---- PerChannel ------------------------------------------------------------------------------

void perChannelCheck(BlockContext& ctx) {
  const Shape& inputs = ctx.inputShape("inputs");
  checkPerChannelMinMax(ctx, inputs);
  ctx.setOutputShape("output", inputs);
}

void perChannelCompute(BlockContext& ctx) {
  const Tensor& x = ctx.input("inputs");
  const int64_t d = channelsOf(x.shape());
  Tensor out = Tensor::uninitialized(x.shape());
  const int64_t outer = d == 0 ? 0 : x.size() / d;
  fq::perChannelForward(x.data(), outer, d, ctx.input("min").data(), ctx.input("max").data(),
                        rangeOf(ctx), out.mutableData(), execOf(ctx));
  ctx.setOutput("output", std::move(out));
}

void perChannelGradientCheck(BlockContext& ctx) {
  checkSameSize(ctx);
  const Shape& inputs = ctx.inputShape("inputs");
  checkPerChannelMinMax(ctx, inputs);
  ctx.setOutputShape("backprops_wrt_input", inputs);
  ctx.setOutputShape("backprop_wrt_min", {channelsOf(inputs)});
  ctx.setOutputShape("backprop_wrt_max", {channelsOf(inputs)});
}

// What the gradient kernels give: dx, and dmin/dmax for the Vars ops.
struct FqGrads {
  Tensor dx, dmin, dmax;
};

// The Gradient block's computation, shared with the forward op's registered gradient: `g` is the
// gradient above the op, the rest are its inputs (the range's from ctx's input "min" and "max").
FqGrads perChannelGradientOf(const BlockContext& ctx, const Tensor& g, const Tensor& x) {
  const int64_t d = channelsOf(x.shape());
  FqGrads r{Tensor::uninitialized(x.shape()), Tensor::uninitialized({d}),
            Tensor::uninitialized({d})};
  const int64_t outer = d == 0 ? 0 : x.size() / d;
  fq::perChannelGradient(g.data(), x.data(), outer, d, ctx.input("min").data(),
                         ctx.input("max").data(), rangeOf(ctx), r.dx.mutableData(),
                         r.dmin.mutableData(), r.dmax.mutableData(), execOf(ctx));
  return r;
}

void setRangeGradientOutputs(BlockContext& ctx, FqGrads r) {
  ctx.setOutput("backprops_wrt_input", std::move(r.dx));
  ctx.setOutput("backprop_wrt_min", std::move(r.dmin));
  ctx.setOutput("backprop_wrt_max", std::move(r.dmax));
}

// The forward op's gradient: its *Gradient op's results, for the wanted inputs.
void setRangeInputGrads(GradientContext& ctx, FqGrads r) {
  if (ctx.wantsGrad("inputs")) ctx.setInputGrad("inputs", std::move(r.dx));
  if (ctx.wantsGrad("min")) ctx.setInputGrad("min", std::move(r.dmin));
  if (ctx.wantsGrad("max")) ctx.setInputGrad("max", std::move(r.dmax));
}

void perChannelGradientCompute(BlockContext& ctx) {
  setRangeGradientOutputs(ctx,
                          perChannelGradientOf(ctx, ctx.input("gradients"), ctx.input("inputs")));
}

void perChannelRegisteredGradient(GradientContext& ctx) {
  setRangeInputGrads(
      ctx, perChannelGradientOf(ctx, outputGradOrZeros(ctx, "output"), ctx.input("inputs")));
}

// ---- Vars --------------------------------------------------------------------------------------

fq::Nudged varsRange(const BlockContext& ctx) {
  return fq::nudge(ctx.input("min").data()[0], ctx.input("max").data()[0], rangeOf(ctx));
}

void varsCheck(BlockContext& ctx) {
  checkScalarMinMax(ctx);
  ctx.setOutputShape("output", ctx.inputShape("inputs"));
}

void varsCompute(BlockContext& ctx) {
  const Tensor& x = ctx.input("inputs");
  Tensor out = Tensor::uninitialized(x.shape());
  const fq::Nudged n = varsRange(ctx);
  fq::forward(x.data(), x.size(), 1, &n, fq::ScaleOp::DivScale, out.mutableData(), execOf(ctx));
  ctx.setOutput("output", std::move(out));
}

void varsGradientCheck(BlockContext& ctx) {
  checkSameSize(ctx);
  checkScalarMinMax(ctx);
  ctx.setOutputShape("backprops_wrt_input", ctx.inputShape("inputs"));
  ctx.setOutputShape("backprop_wrt_min", {});
  ctx.setOutputShape("backprop_wrt_max", {});
}

FqGrads varsGradientOf(const BlockContext& ctx, const Tensor& g, const Tensor& x) {
  FqGrads r{Tensor::uninitialized(x.shape()), Tensor::uninitialized({}), Tensor::uninitialized({})};
  const fq::Nudged n = varsRange(ctx);
  fq::gradient(g.data(), x.data(), x.size(), 1, &n, r.dx.mutableData(), r.dmin.mutableData(),
               r.dmax.mutableData(), execOf(ctx));
  return r;
}

void varsGradientCompute(BlockContext& ctx) {
  setRangeGradientOutputs(ctx, varsGradientOf(ctx, ctx.input("gradients"), ctx.input("inputs")));
}

void varsRegisteredGradient(GradientContext& ctx) {
  setRangeInputGrads(ctx,
                     varsGradientOf(ctx, outputGradOrZeros(ctx, "output"), ctx.input("inputs")));
}

// ---- Args --------------------------------------------------------------------------------------

void argsCheck(BlockContext& ctx) {
  argsRange(ctx);
  ctx.setOutputShape("output", ctx.inputShape("inputs"));
}

void argsCompute(BlockContext& ctx) {
  const Tensor& x = ctx.input("inputs");
  Tensor out = Tensor::uninitialized(x.shape());
  const fq::Nudged n = argsRange(ctx);
  // Like PerChannel and unlike Vars, TensorFlow's Args functor multiplies by the inverse scale.
  fq::forward(x.data(), x.size(), 1, &n, fq::ScaleOp::MulInvScale, out.mutableData(), execOf(ctx));
  ctx.setOutput("output", std::move(out));
}

void argsGradientCheck(BlockContext& ctx) {
  argsRange(ctx);
  checkSameSize(ctx);
  ctx.setOutputShape("backprops", ctx.inputShape("inputs"));
}

Tensor argsGradientOf(const BlockContext& ctx, const Tensor& g, const Tensor& x) {
  Tensor dx = Tensor::uninitialized(x.shape());
  const fq::Nudged n = argsRange(ctx);
  fq::gradient(g.data(), x.data(), x.size(), 1, &n, dx.mutableData(), nullptr, nullptr,
               execOf(ctx));
  return dx;
}

void argsGradientCompute(BlockContext& ctx) {
  ctx.setOutput("backprops", argsGradientOf(ctx, ctx.input("gradients"), ctx.input("inputs")));
}

void argsRegisteredGradient(GradientContext& ctx) {
  ctx.setInputGrad("inputs",
                   argsGradientOf(ctx, outputGradOrZeros(ctx, "output"), ctx.input("inputs")));
}

// ---- Shared docs -------------------------------------------------------------------------------

const char* kNudgeDoc =
    "The range [min, max] is first nudged so that 0.0 is exactly representable: scale = (max - "
    "min) / (quant_max - quant_min), the zero point is rounded (half away from zero) and clamped "
    "to [quant_min, quant_max], and the nudged range is [(quant_min - zp) * scale, (quant_max - "
    "zp) * scale], where quant_min is 0 (1 with narrow_range) and quant_max is 2^num_bits - 1. "
    "Every step is float32 arithmetic, in TensorFlow's order, so results are bit-exact to "
    "TensorFlow's CPU kernel.";

const char* kForwardDoc =
    " Values are clamped to the nudged range and rounded to the nearest level (ties towards "
    "+infinity); every output is an integer multiple of the scale, so 0 stays exactly 0. NaN "
    "inputs give NaN; +/-inf clamp to the ends of the range.";

// The Vars ops take their range from tensors, which TensorFlow does not validate.
const char* kVarsRangeDoc =
    " min == max == 0 gives 0 everywhere; min == max != 0 gives NaN; min > max gives the nudged "
    "minimum everywhere. None of these is an error, as in TensorFlow.";

// The forward ops' output keeps enuSpace's name.
const char* kOutputDoc =
    "The fake-quantized tensor, same shape as `inputs`. TensorFlow's op names this output "
    "`outputs`; here it is `output` (enuSpace's name), shown as the result `result_output`.";

const char* kGradientDoc =
    " The gradient is the straight-through estimator: `gradients` pass to the input where the "
    "input lies inside the nudged range (inclusive) and are 0 elsewhere (a multiply, so a NaN or "
    "infinite gradient gives NaN and -g gives -0); gradients where the input is below the range "
    "sum into the gradient of min, above the range into that of max. With min == max == 0 the "
    "gradients pass unchanged and the min/max gradients are 0. dx, dmin and dmax are computed in "
    "one pass; dx is bit-exact, the sums match TensorFlow to float rounding (the order of the "
    "additions differs).";

BlockDescriptor perChannelDescriptor() {
  const std::string nudge = kNudgeDoc;
  BlockDescriptor d;
  d.type = "FakeQuantWithMinMaxVarsPerChannel";
  d.category = "Quantization";
  d.summary =
      "Fake-quantize the 'inputs' tensor of type float, per channel, with per-channel min and "
      "max.";
  d.doc =
      "`inputs` has any shape [..., d] (rank >= 1); the last dimension is the channel axis and "
      "every other dimension is a batch. `min` and `max` have shape [d]. Each channel's range "
      "is nudged and its values quantized to 2^num_bits levels (2^num_bits - 1 with "
      "narrow_range) and returned as floats. " +
      nudge +
      " This op multiplies by the inverse scale, (quant_max - quant_min) / (max - min), "
      "computed separately rather than as 1 / scale." +
      kForwardDoc + kVarsRangeDoc +
      " The op has a gradient (FakeQuantWithMinMaxVarsPerChannelGradient) and thus allows for "
      "training min and max.";
  d.ports = opPorts({tensorInput("inputs", RankRule::atLeast(1), "Float tensor of shape [..., d]."),
                     tensorInput("min", RankRule::exactly(1), "Per-channel minimum, shape [d]."),
                     tensorInput("max", RankRule::exactly(1), "Per-channel maximum, shape [d].")},
                    {tensorOutput("output", RankRule::any(), kOutputDoc)});
  d.attrs = {numBitsAttr(), narrowRangeAttr()};
  d.check = perChannelCheck;
  d.compute = perChannelCompute;
  d.gradient = perChannelRegisteredGradient;
  d.gradientDoc =
      "The results of FakeQuantWithMinMaxVarsPerChannelGradient (the same kernel) fed with the "
      "gradient of `output`: to `inputs` where they lie inside their channel's nudged range, "
      "the rest summed per channel into `min` (below) and `max` (above).";
  return d;
}

BlockDescriptor perChannelGradientDescriptor() {
  const std::string nudge = kNudgeDoc;
  BlockDescriptor d;
  d.type = "FakeQuantWithMinMaxVarsPerChannelGradient";
  d.category = "Quantization";
  d.summary = "Compute gradients for a FakeQuantWithMinMaxVarsPerChannel operation.";
  d.doc =
      "`gradients` is the backpropagated gradient above the FakeQuantWithMinMaxVarsPerChannel "
      "op, with the shape [..., d] of `inputs`, the values that were quantized; `min` and `max` "
      "have shape [d]. Each channel's range is nudged as in the forward op. " +
      nudge + kGradientDoc +
      " The min/max gradients are summed over every batch dimension, per channel.";
  d.ports = opPorts(
      {tensorInput("gradients", RankRule::atLeast(1),
                   "Backpropagated gradients above the forward op, shape [..., d]."),
       tensorInput("inputs", RankRule::atLeast(1),
                   "Values passed as inputs to the forward op, shape [..., d]."),
       tensorInput("min", RankRule::exactly(1), "Per-channel minimum, shape [d]."),
       tensorInput("max", RankRule::exactly(1), "Per-channel maximum, shape [d].")},
      {tensorOutput("backprops_wrt_input", RankRule::any(),
                    "Gradients with respect to `inputs`: gradients * (nudged_min <= inputs <= "
                    "nudged_max), same shape as `inputs`."),
       tensorOutput("backprop_wrt_min", RankRule::any(),
                    "Gradient with respect to `min`, shape [d]: per channel, the sum of gradients "
                    "where inputs < nudged_min."),
       tensorOutput("backprop_wrt_max", RankRule::any(),
                    "Gradient with respect to `max`, shape [d]: per channel, the sum of gradients "
                    "where inputs > nudged_max.")});
  d.attrs = {numBitsAttr(), narrowRangeAttr()};
  d.check = perChannelGradientCheck;
  d.compute = perChannelGradientCompute;
  return d;
}

BlockDescriptor varsDescriptor() {
  const std::string nudge = kNudgeDoc;
  BlockDescriptor d;
  d.type = "FakeQuantWithMinMaxVars";
  d.category = "Quantization";
  d.summary =
      "Fake-quantize the 'inputs' tensor of type float via global float scalars `min` and "
      "`max`.";
  d.doc =
      "`inputs` has any shape; `min` and `max` are scalars (rank 0) giving one range for the "
      "whole tensor, e.g. trained variables. " +
      nudge +
      " Unlike the per-channel and Args ops, this op divides by the scale: (clamped - "
      "nudged_min) / scale, where they multiply by the inverse scale; near a midpoint between "
      "two levels the two can round to neighbouring levels." +
      kForwardDoc +
      " The op has a gradient (FakeQuantWithMinMaxVarsGradient) and thus allows for training "
      "min and max." +
      kVarsRangeDoc;
  d.ports = opPorts({tensorInput("inputs", RankRule::any(), "Float tensor of any shape."),
                     tensorInput("min", RankRule::exactly(0), "Minimum of the range, a scalar."),
                     tensorInput("max", RankRule::exactly(0), "Maximum of the range, a scalar.")},
                    {tensorOutput("output", RankRule::any(), kOutputDoc)});
  d.attrs = {numBitsAttr(), narrowRangeAttr()};
  d.check = varsCheck;
  d.compute = varsCompute;
  d.gradient = varsRegisteredGradient;
  d.gradientDoc =
      "The results of FakeQuantWithMinMaxVarsGradient (the same kernel) fed with the gradient "
      "of `output`: to `inputs` where they lie inside the nudged range, the rest summed into "
      "`min` (below) and `max` (above).";
  return d;
}

BlockDescriptor varsGradientDescriptor() {
  const std::string nudge = kNudgeDoc;
  BlockDescriptor d;
  d.type = "FakeQuantWithMinMaxVarsGradient";
  d.category = "Quantization";
  d.summary = "Compute gradients for a FakeQuantWithMinMaxVars operation.";
  d.doc =
      "`gradients` is the backpropagated gradient above the FakeQuantWithMinMaxVars op, with "
      "the shape of `inputs`, the values that were quantized; `min` and `max` are scalars. " +
      nudge + kGradientDoc + " The min/max gradients are summed over the whole tensor.";
  d.ports = opPorts(
      {tensorInput("gradients", RankRule::any(), "Backpropagated gradients above the forward op."),
       tensorInput("inputs", RankRule::any(), "Values passed as inputs to the forward op."),
       tensorInput("min", RankRule::exactly(0), "Minimum of the range, a scalar."),
       tensorInput("max", RankRule::exactly(0), "Maximum of the range, a scalar.")},
      {tensorOutput("backprops_wrt_input", RankRule::any(),
                    "Gradients with respect to `inputs`: gradients * (nudged_min <= inputs <= "
                    "nudged_max), same shape as `inputs`."),
       tensorOutput("backprop_wrt_min", RankRule::any(),
                    "Gradient with respect to `min`, a scalar: the sum of gradients where inputs < "
                    "nudged_min."),
       tensorOutput("backprop_wrt_max", RankRule::any(),
                    "Gradient with respect to `max`, a scalar: the sum of gradients where inputs > "
                    "nudged_max.")});
  d.attrs = {numBitsAttr(), narrowRangeAttr()};
  d.check = varsGradientCheck;
  d.compute = varsGradientCompute;
  return d;
}

BlockDescriptor argsDescriptor() {
  const std::string nudge = kNudgeDoc;
  BlockDescriptor d;
  d.type = "FakeQuantWithMinMaxArgs";
  d.category = "Quantization";
  d.summary =
      "Fake-quantize the 'inputs' tensor, type float to 'output' tensor of same type, with a "
      "fixed range given by the attributes `min` and `max`.";
  d.doc =
      "`inputs` has any shape; the range [min, max] is a pair of attributes (default [-6, 6]) "
      "and must satisfy min < max. " +
      nudge +
      " Like the per-channel op (and unlike FakeQuantWithMinMaxVars), this op multiplies by "
      "the inverse scale: (clamped - nudged_min) * inv_scale, with inv_scale = (quant_max - "
      "quant_min) / (max - min) computed again rather than 1 / scale." +
      kForwardDoc + " Its gradient is FakeQuantWithMinMaxArgsGradient.";
  d.ports = opPorts({tensorInput("inputs", RankRule::any(), "Float tensor of any shape.")},
                    {tensorOutput("output", RankRule::any(), kOutputDoc)});
  d.attrs = {argsBoundAttr("min", -6.0, kArgsMinDoc), argsBoundAttr("max", 6.0, kArgsMaxDoc),
             numBitsAttr(), narrowRangeAttr()};
  d.check = argsCheck;
  d.compute = argsCompute;
  d.gradient = argsRegisteredGradient;
  d.gradientDoc =
      "The result of FakeQuantWithMinMaxArgsGradient (the same kernel) fed with the gradient of "
      "`output`: it passes where `inputs` lie inside the nudged range, 0 elsewhere. The range "
      "is a pair of attributes, so it gets no gradient.";
  return d;
}

BlockDescriptor argsGradientDescriptor() {
  const std::string nudge = kNudgeDoc;
  BlockDescriptor d;
  d.type = "FakeQuantWithMinMaxArgsGradient";
  d.category = "Quantization";
  d.summary = "Compute gradients for a FakeQuantWithMinMaxArgs operation.";
  d.doc =
      "`gradients` is the backpropagated gradient above the FakeQuantWithMinMaxArgs op, with "
      "the shape of `inputs`, the values that were quantized; the range comes from the "
      "attributes `min` and `max` (default [-6, 6], min < max; min == max and min > max are "
      "errors, as in the forward op). " +
      nudge +
      " The result is gradients * (nudged_min <= inputs <= nudged_max): a multiply, so a NaN or "
      "infinite gradient gives NaN and -g gives -0. The range is fixed, so there are no min/max "
      "gradients.";
  d.ports = opPorts(
      {tensorInput("gradients", RankRule::any(), "Backpropagated gradients above the forward op."),
       tensorInput("inputs", RankRule::any(), "Values passed as inputs to the forward op.")},
      {tensorOutput("backprops", RankRule::any(),
                    "Gradients with respect to `inputs`: gradients * (nudged_min <= inputs <= "
                    "nudged_max), same shape as `inputs`.")});
  d.attrs = {argsBoundAttr("min", -6.0, kArgsMinDoc), argsBoundAttr("max", 6.0, kArgsMaxDoc),
             numBitsAttr(), narrowRangeAttr()};
  d.check = argsGradientCheck;
  d.compute = argsGradientCompute;
  return d;
}

}  // namespace

void registerFakeQuantBlocks(BlockRegistry& registry) {
  registry.add(perChannelDescriptor());
  registry.add(perChannelGradientDescriptor());
  registry.add(varsDescriptor());
  registry.add(varsGradientDescriptor());
  registry.add(argsDescriptor());
  registry.add(argsGradientDescriptor());
}

}  // namespace qs
