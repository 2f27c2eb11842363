#include <iterator>

#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "runtime/Error.h"

namespace qs {

namespace {

DType dstType(const BlockContext& ctx) {
  try {
    return dtypeFromName(ctx.attrs().getString("DstT"));
  } catch (const Error& e) {
    throw Error(std::string("attribute 'DstT': ") + e.what());
  }
}

void castGradient(GradientContext& ctx) {
  const DType from = ctx.input("x").dtype();
  const DType to = ctx.output("y").dtype();
  if (from != DType::Float32 || to != DType::Float32)
    throw Error(std::string("a Cast from ") + dtypeName(from) + " to " + dtypeName(to) +
                " is not differentiable: only float32 to float32 passes a gradient");
  ctx.setInputGrad("x", outputGradOrZeros(ctx, "y"));
}

}  // namespace

void registerCastBlock(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "Cast";
  d.category = "Math";
  d.summary = "Cast x of type SrcT to y of DstT.";
  d.doc =
      "Element by element, as TensorFlow's Cast: a float to an integer truncates toward zero "
      "(NaN gives 0 and values beyond the range saturate, where TensorFlow leaves them "
      "undefined), an integer to a narrower integer wraps, anything to bool is \"not zero\", "
      "bool to a number is 0 or 1, and to float16 rounds to nearest, ties to even. SrcT is the "
      "dtype of `x`. `Truncate` is accepted for TensorFlow's sake and changes nothing. A Cast to "
      "the input's own dtype gives the input itself.";
  d.ports = opPorts({tensorInput("x", RankRule::any(), allDTypes(), "The tensor to convert.")},
                    {tensorOutput("y", RankRule::any(), allDTypes(),
                                  "`x` converted to DstT, of the same shape.")});
  d.attrs = {
      {.name = "DstT",
       .type = AttrType::String,
       .defaultValue = AttrValue{std::string("float32")},
       .doc = "The dtype of `y`: float32, int32, int64, bool, float16 or uint8."},
      {.name = "Truncate",
       .type = AttrType::Bool,
       .defaultValue = AttrValue{false},
       .doc = "TensorFlow's flag; accepted, without effect."},
  };
  d.check = [](BlockContext& ctx) { ctx.setOutputShape("y", ctx.inputShape("x"), dstType(ctx)); };
  d.compute = [](BlockContext& ctx) {
    ctx.setOutput("y", castTensor(ctx.input("x"), ctx.outputDType("y")));
  };
  d.gradient = castGradient;
  d.gradientDoc =
      "float32 to float32: the gradient of `y` passes through unchanged. Any other Cast is not "
      "differentiable (integers and bool have no gradient, and gradients are float32), and a "
      "gradient asked through it is an error naming both dtypes.";
  registry.add(std::move(d));
}

}  // namespace qs
