#include "blocks/RegisterBlocks.h"
#include "blocks/array_ops/FakeQuantKernels.h"
#include "runtime/Error.h"

namespace qs {

namespace {

AttrDescriptor numBitsAttr() {
  return {.name = "num_bits",
          .type = AttrType::Int,
          .defaultValue = AttrValue{int64_t{8}},
          .minValue = 2,
          .maxValue = 16,
          .rangeMessage = "num_bits must be between 2 and 16, inclusive",
          .doc = "Bit width of the quantization: values are rounded to 2^num_bits levels."};
}

AttrDescriptor narrowRangeAttr() {
  return {.name = "narrow_range",
          .type = AttrType::Bool,
          .defaultValue = AttrValue{false},
          .doc = "If true, the lowest level is not used: quantization runs over [1, 2^num_bits - 1] "
                 "instead of [0, 2^num_bits - 1]."};
}

fq::QuantRange rangeOf(const BlockContext& ctx) {
  return fq::quantRange(static_cast<int>(ctx.attrs().getInt("num_bits")),
                        ctx.attrs().getBool("narrow_range"));
}

// TensorFlow's checks for the per-channel ops, in its order and with its messages.
void checkPerChannelMinMax(const BlockContext& ctx, const Shape& inputs) {
  if (inputs.empty()) throw Error("input must be at least rank 1");
  const int64_t d = inputs.back();
  for (const char* name : {"min", "max"}) {
    const Shape& s = ctx.inputShape(name);
    if (s.size() != 1)
      throw Error(std::string("`") + name + "` must be rank 1 but is rank " + std::to_string(s.size()));
    if (s[0] != d)
      throw Error(std::string(name) + " has incorrect size, expected " + std::to_string(d) +
                  " was " + std::to_string(s[0]));
  }
}

void perChannelCheck(BlockContext& ctx) {
  const Shape& inputs = ctx.inputShape("inputs");
  checkPerChannelMinMax(ctx, inputs);
  ctx.setOutputShape("output", inputs);
}

void perChannelCompute(BlockContext& ctx) {
  const Tensor& x = ctx.input("inputs");
  const int64_t d = x.shape().back();
  Tensor out = Tensor::uninitialized(x.shape());
  const int64_t outer = d == 0 ? 0 : x.size() / d;
  fq::perChannelForward(x.data(), outer, d, ctx.input("min").data(), ctx.input("max").data(),
                        rangeOf(ctx), out.mutableData(), ctx.pool(), ctx.threads());
  ctx.setOutput("output", std::move(out));
}

PortDescriptor tensorIn(std::string name, RankRule rank, std::string doc) {
  return {std::move(name), PortDirection::Input, PortKind::Tensor, rank, true, std::move(doc)};
}
PortDescriptor tensorOut(std::string name, std::string doc) {
  return {std::move(name), PortDirection::Output, PortKind::Tensor, RankRule::any(), true,
          std::move(doc)};
}

}  // namespace

void registerFakeQuantBlocks(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "FakeQuantWithMinMaxVarsPerChannel";
  d.category = "Quantization";
  d.summary = "Fake-quantize the 'inputs' tensor of type float, per channel, with per-channel "
              "min and max.";
  d.doc =
      "`inputs` has any shape [..., d] (rank >= 1); the last dimension is the channel axis and "
      "every other dimension is a batch. `min` and `max` have shape [d]. Each channel's range "
      "[min, max] is nudged so that 0.0 is exactly representable, values are clamped to the nudged "
      "range and rounded to one of 2^num_bits levels (or 2^num_bits - 1 with narrow_range), and "
      "returned as floats. Bit-exact to TensorFlow's CPU kernel. The op has a gradient "
      "(FakeQuantWithMinMaxVarsPerChannelGradient) and thus allows for training min and max.";
  d.ports = opPorts(
      {tensorIn("inputs", RankRule::atLeast(1), "Float tensor of shape [..., d]."),
       tensorIn("min", RankRule::exactly(1), "Per-channel minimum, shape [d]."),
       tensorIn("max", RankRule::exactly(1), "Per-channel maximum, shape [d].")},
      {tensorOut("output", "The fake-quantized tensor, same shape as `inputs`.")});
  d.attrs = {numBitsAttr(), narrowRangeAttr()};
  d.check = perChannelCheck;
  d.compute = perChannelCompute;
  registry.add(std::move(d));
}

}  // namespace qs
