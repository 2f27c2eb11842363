// MatMul and BiasAdd, as TensorFlow computes them, with their gradients.

#include <Eigen/Core>

#include "blocks/Chunks.h"
#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/TfShape.h"
#include "blocks/math/Broadcast.h"
#include "blocks/nn/Gemm.h"
#include "runtime/Error.h"

namespace qs {

namespace {

const std::string kTransposeA = "transpose_a", kTransposeB = "transpose_b";

nn::Operand operand(const Tensor& t, bool transposed) {
  return {t.data(), t.dim(0), t.dim(1), transposed};
}

Tensor product(const BlockContext& ctx, const nn::Operand& a, const nn::Operand& b) {
  Tensor out = Tensor::uninitialized({a.opRows(), b.opCols()});
  nn::matMul(ctx, a, b, out.mutableData());
  return out;
}

void matMulCheck(BlockContext& ctx) {
  const Shape& a = ctx.inputShape("a");
  const Shape& b = ctx.inputShape("b");
  const bool ta = ctx.attrs().getBool(kTransposeA), tb = ctx.attrs().getBool(kTransposeB);
  // Before any dimension is read: check() runs ahead of the ports' rank rules.
  if (a.size() != 2) throw Error("In[0] is not a matrix: " + tfShape(a));
  if (b.size() != 2) throw Error("In[1] is not a matrix: " + tfShape(b));
  if (a[ta ? 0 : 1] != b[tb ? 1 : 0])
    throw Error("Matrix size-incompatible: In[0]: " + tfShape(a) + ", In[1]: " + tfShape(b));
  ctx.setOutputShape("product", {a[ta ? 1 : 0], b[tb ? 0 : 1]});
}

void matMulCompute(BlockContext& ctx) {
  const bool ta = ctx.attrs().getBool(kTransposeA), tb = ctx.attrs().getBool(kTransposeB);
  ctx.setOutput("product", product(ctx, operand(ctx.input("a"), ta), operand(ctx.input("b"), tb)));
}

// TensorFlow's _MatMulGrad: with g the gradient of the product,
//   a b:     da = g b^T,     db = a^T g
//   a b^T:   da = g b,       db = g^T a
//   a^T b:   da = b g^T,     db = a g
//   a^T b^T: da = b^T g^T,   db = g^T a^T
void matMulGradient(GradientContext& ctx) {
  const bool ta = ctx.attrs().getBool(kTransposeA), tb = ctx.attrs().getBool(kTransposeB);
  const Tensor& a = ctx.input("a");
  const Tensor& b = ctx.input("b");
  const Tensor g = outputGradOrZeros(ctx, "product");
  if (ctx.wantsGrad("a"))
    ctx.setInputGrad("a", ta ? product(ctx, operand(b, tb), operand(g, true))
                             : product(ctx, operand(g, false), operand(b, !tb)));
  if (ctx.wantsGrad("b"))
    ctx.setInputGrad("b", tb ? product(ctx, operand(g, true), operand(a, ta))
                             : product(ctx, operand(a, !ta), operand(g, false)));
}

void addMatMul(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "MatMul";
  d.category = "Neural network";
  d.summary = "Multiply the matrix \"a\" by the matrix \"b\".";
  d.doc =
      "`product = op(a) * op(b)` in float32, where op transposes its operand when "
      "`transpose_a` (`transpose_b`) is set. The inner dimensions must agree, otherwise it "
      "fails with TensorFlow's message `Matrix size-incompatible: In[0]: [2,3], In[1]: [4,5]`.\n\n"
      "The product runs in tiles fixed by the shapes (OpenBLAS or Eigen, see "
      "docs/performance.md) and split between the page's threads, so the result has the same "
      "bits whatever the thread count. Each element is a float32 sum over the inner dimension, "
      "in the order the product kernel chooses (not TensorFlow's: results agree with it to "
      "rounding, not bit for bit).";
  d.ports = opPorts(
      {tensorInput("a", RankRule::exactly(2), "A matrix [m, k] ([k, m] with transpose_a)."),
       tensorInput("b", RankRule::exactly(2), "A matrix [k, n] ([n, k] with transpose_b).")},
      {tensorOutput("product", RankRule::exactly(2), "The product [m, n].")});
  d.attrs = {{.name = kTransposeA,
              .type = AttrType::Bool,
              .defaultValue = AttrValue{false},
              .doc = "If true, \"a\" is transposed before multiplication."},
             {.name = kTransposeB,
              .type = AttrType::Bool,
              .defaultValue = AttrValue{false},
              .doc = "If true, \"b\" is transposed before multiplication."}};
  d.check = matMulCheck;
  d.compute = matMulCompute;
  d.gradient = matMulGradient;
  d.gradientDoc =
      "TensorFlow's: with g the gradient of `product`, d/da = g * b^T and d/db = a^T * g, "
      "transposed to match `transpose_a` and `transpose_b` (for example d/da = b * g^T when "
      "only `transpose_a` is set). Each is a product like the forward one.";
  registry.add(std::move(d));
}

void biasAddCheck(BlockContext& ctx) {
  if (ctx.attrs().getString("data_format") != "NHWC")
    throw Error("data_format " + ctx.attrs().getString("data_format") +
                " is not supported: only NHWC (the bias along the last dimension)");
  const Shape& value = ctx.inputShape("value");
  const Shape& bias = ctx.inputShape("bias");
  if (value.size() < 2) throw Error("Input tensor must be at least 2D: " + tfShape(value));
  if (bias.size() != 1) throw Error("Biases must be 1D: " + tfShape(bias));
  if (bias[0] != value.back())
    throw Error("Must provide as many biases as the last dimension of the input tensor: " +
                tfShape(bias) + " vs. " + tfShape(value));
  ctx.setOutputShape("output", value);
}

void biasAddCompute(BlockContext& ctx) {
  const Tensor& value = ctx.input("value");
  const Tensor& bias = ctx.input("bias");
  Tensor out = Tensor::uninitialized(value.shape());
  const int64_t c = bias.size();
  if (c > 0)
    forEachChunk(ctx, 0, value.size() / c, kCancelChunkElements / c, [&](int64_t b, int64_t e) {
      // Row by row: a replicated bias of a few channels is far slower in Eigen.
      const Eigen::Map<const Eigen::ArrayXf> row(bias.data(), c);
      for (int64_t r = b; r < e; ++r)
        Eigen::Map<Eigen::ArrayXf>(out.mutableData() + r * c, c) =
            Eigen::Map<const Eigen::ArrayXf>(value.data() + r * c, c) + row;
    });
  ctx.setOutput("output", std::move(out));
}

// TensorFlow's _BiasAddGrad: the gradient passes to `value` unchanged, and to `bias` summed over
// every dimension but the last.
void biasAddGradient(GradientContext& ctx) {
  const Tensor g = outputGradOrZeros(ctx, "output");
  if (ctx.wantsGrad("value")) ctx.setInputGrad("value", g);
  if (ctx.wantsGrad("bias")) ctx.setInputGrad("bias", sumTo(ctx, g, ctx.input("bias").shape()));
}

void addBiasAdd(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "BiasAdd";
  d.category = "Neural network";
  d.summary = "Adds `bias` to `value`.";
  d.doc =
      "`output[..., c] = value[..., c] + bias[c]` in float32: a 1-D bias along the last "
      "dimension (channels in NHWC). Its length must be the last dimension of `value`, otherwise "
      "it fails with TensorFlow's message `Must provide as many biases as the last dimension of "
      "the input tensor: [3] vs. [2,4]`. Only `data_format` NHWC is supported; NCHW is refused.";
  d.ports = opPorts({tensorInput("value", RankRule::atLeast(2), "Any rank >= 2."),
                     tensorInput("bias", RankRule::exactly(1),
                                 "1-D, of the size of the last dimension of `value`.")},
                    {tensorOutput("output", RankRule::atLeast(2), "Same shape as `value`.")});
  d.attrs = {{.name = "data_format",
              .type = AttrType::String,
              .defaultValue = AttrValue{std::string("NHWC")},
              .doc = "NHWC: the bias is added along the last dimension (the only one supported)."}};
  d.check = biasAddCheck;
  d.compute = biasAddCompute;
  d.gradient = biasAddGradient;
  d.gradientDoc =
      "d/dvalue = the gradient of `output`; d/dbias = that gradient summed over every dimension "
      "but the last (sums in double, rounded once), as TensorFlow's BiasAddGrad.";
  registry.add(std::move(d));
}

}  // namespace

void registerDenseBlocks(BlockRegistry& registry) {
  addMatMul(registry);
  addBiasAdd(registry);
}

}  // namespace qs
