// Relu, Relu6 and Softmax, as TensorFlow's CPU kernels, with their gradients.

#include <Eigen/Core>
#include <algorithm>

#include "blocks/Chunks.h"
#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/TfShape.h"
#include "blocks/nn/SoftmaxRows.h"
#include "runtime/Error.h"

namespace qs {

namespace {

// Element-wise loops this long are split over the op's threads (shorter ones cost less than
// waking a worker).
constexpr int64_t kSplitElements = int64_t{1} << 18;

enum class Act { Relu, Relu6 };

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// TensorFlow's own Eigen expressions, max(x, 0) and then min(., 6): NaN stays NaN, -0 stays -0
// (Eigen's max is std::max's (x < 0 ? 0 : x), vectorised the same way).
void activate(Act op, const float* x, float* y, int64_t n) {
  if (op == Act::Relu)
    ArrayMap(y, n) = ConstArrayMap(x, n).max(0.0f);
  else
    ArrayMap(y, n) = ConstArrayMap(x, n).max(0.0f).min(6.0f);
}

// TensorFlow's ReluGrad and Relu6Grad: the gradient times the 0/1 mask (so an infinite gradient
// outside the mask gives NaN, as there). Eigen's masks keep the loop free of branches, which
// random signs would mispredict.
void activationGrad(Act op, const float* g, const float* x, float* dx, int64_t n) {
  const ConstArrayMap a(x, n);
  if (op == Act::Relu)
    ArrayMap(dx, n) = ConstArrayMap(g, n) * (a > 0.0f).cast<float>();
  else
    ArrayMap(dx, n) = ConstArrayMap(g, n) * ((a > 0.0f) && (a < 6.0f)).cast<float>();
}

void activationCompute(BlockContext& ctx, Act op) {
  const Tensor& x = ctx.input("features");
  Tensor out = Tensor::uninitialized(x.shape());
  const float* xp = x.data();
  float* yp = out.mutableData();
  parallelChunks(ctx, x.size(), kCancelChunkElements, kCancelChunkElements,
                 x.size() >= kSplitElements,
                 [&](int64_t b, int64_t e) { activate(op, xp + b, yp + b, e - b); });
  ctx.setOutput("activations", std::move(out));
}

void activationGradient(GradientContext& ctx, Act op) {
  const Tensor& x = ctx.input("features");
  const Tensor g = outputGradOrZeros(ctx, "activations");
  Tensor dx = Tensor::uninitialized(x.shape());
  const float* gp = g.data();
  const float* xp = x.data();
  float* dp = dx.mutableData();
  parallelChunks(ctx, x.size(), kCancelChunkElements, kCancelChunkElements,
                 x.size() >= kSplitElements,
                 [&](int64_t b, int64_t e) { activationGrad(op, gp + b, xp + b, dp + b, e - b); });
  ctx.setInputGrad("features", std::move(dx));
}

void addActivation(BlockRegistry& registry, const char* type, Act op, std::string summary,
                   std::string gradientDoc) {
  BlockDescriptor d;
  d.type = type;
  d.category = "Neural network";
  d.summary = std::move(summary);
  d.doc =
      "Element-wise in float32, as TensorFlow's CPU kernel: NaN stays NaN and -0 stays -0. The "
      "output has the shape of `features`; the result is exact (no rounding).";
  d.ports = opPorts({tensorInput("features", RankRule::any(), "The input.")},
                    {tensorOutput("activations", RankRule::any(), "Same shape as `features`.")});
  d.check = [](BlockContext& ctx) {
    ctx.setOutputShape("activations", ctx.inputShape("features"));
  };
  d.compute = [op](BlockContext& ctx) { activationCompute(ctx, op); };
  d.gradient = [op](GradientContext& ctx) { activationGradient(ctx, op); };
  d.gradientDoc = std::move(gradientDoc);
  registry.add(std::move(d));
}

// ---- Softmax ------------------------------------------------------------------------------------

void softmaxCheck(BlockContext& ctx) {
  const Shape& s = ctx.inputShape("logits");
  if (s.empty()) throw Error("logits must have >= 1 dimension, got " + tfShape(s));
  ctx.setOutputShape("softmax", s);
}

// Rows (of the last dimension) per chunk and whether to split them over threads.
struct RowSplit {
  int64_t rows, cols, chunkRows;
  bool split;
};

RowSplit rowSplit(const Shape& s) {
  const int64_t cols = s.back();
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  const int64_t rows = cols == 0 ? 0 : n / cols;
  return {rows, cols, std::max<int64_t>(1, kCancelChunkElements / std::max<int64_t>(cols, 1)),
          n >= kSplitElements / 4};
}

void softmaxCompute(BlockContext& ctx) {
  const Tensor& x = ctx.input("logits");
  Tensor out = Tensor::uninitialized(x.shape());
  const RowSplit r = rowSplit(x.shape());
  const float* xp = x.data();
  float* yp = out.mutableData();
  parallelChunks(ctx, r.rows, r.chunkRows, r.chunkRows, r.split, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) softmaxRow(xp + i * r.cols, yp + i * r.cols, r.cols);
  });
  ctx.setOutput("softmax", std::move(out));
}

// TensorFlow's _SoftmaxGrad: (grad - sum(grad * softmax, last axis)) * softmax, the sum in double.
void softmaxGradient(GradientContext& ctx) {
  const Tensor& y = ctx.output("softmax");
  const Tensor g = outputGradOrZeros(ctx, "softmax");
  Tensor dx = Tensor::uninitialized(y.shape());
  const RowSplit r = rowSplit(y.shape());
  const float* yp = y.data();
  const float* gp = g.data();
  float* dp = dx.mutableData();
  parallelChunks(ctx, r.rows, r.chunkRows, r.chunkRows, r.split, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      softmaxRowGrad(yp + i * r.cols, gp + i * r.cols, dp + i * r.cols, r.cols);
  });
  ctx.setInputGrad("logits", std::move(dx));
}

void addSoftmax(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "Softmax";
  d.category = "Neural network";
  d.summary = "Computes softmax activations: exp(logits) / sum(exp(logits)) along the last axis.";
  d.doc =
      "Along the last dimension of `logits` (rank >= 1, otherwise TensorFlow's message), as "
      "TensorFlow computes it: the row's maximum is subtracted first, so large logits do not "
      "overflow. The shift and the exponentials are float32 (Eigen's vectorised exp), their sum "
      "is accumulated in double and each quotient rounded once: every element is within a "
      "relative 2^-24 (2r + 8) of the exact softmax, r the range of its row's logits (the "
      "rounding of x - max grows with it, as in TensorFlow). A row with a "
      "NaN or +inf gives NaN. Rows are independent, so any thread count gives the same bits.";
  d.ports = opPorts({tensorInput("logits", RankRule::atLeast(1),
                                 "The logits; softmax runs along the last axis.")},
                    {tensorOutput("softmax", RankRule::atLeast(1), "Same shape as `logits`.")});
  d.check = softmaxCheck;
  d.compute = softmaxCompute;
  d.gradient = softmaxGradient;
  d.gradientDoc =
      "TensorFlow's: (grad - sum(grad * softmax, last axis)) * softmax, where grad is the "
      "gradient of `softmax` (the sum in double).";
  registry.add(std::move(d));
}

}  // namespace

void registerActivationBlocks(BlockRegistry& registry) {
  addActivation(registry, "Relu", Act::Relu, "Computes rectified linear: max(features, 0).",
                "The gradient of `activations` where features > 0, zero elsewhere (also at 0), "
                "as TensorFlow's ReluGrad: gradient * (features > 0).");
  addActivation(registry, "Relu6", Act::Relu6,
                "Computes rectified linear 6: min(max(features, 0), 6).",
                "The gradient of `activations` where 0 < features < 6, zero elsewhere (also at "
                "0 and 6), as TensorFlow's Relu6Grad.");
  addSoftmax(registry);
}

}  // namespace qs
