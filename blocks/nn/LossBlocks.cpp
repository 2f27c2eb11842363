// SparseSoftmaxCrossEntropyWithLogits, as TensorFlow's CPU kernel, with its gradient.

#include <algorithm>
#include <string>
#include <vector>

#include "blocks/Chunks.h"
#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/TfShape.h"
#include "blocks/nn/SoftmaxRows.h"
#include "runtime/Error.h"

namespace qs {

namespace {

// Batches of at least this many logits are split over the op's threads.
constexpr int64_t kSplitElements = int64_t{1} << 16;

void xentCheck(BlockContext& ctx) {
  const Shape& f = ctx.inputShape("features");
  const Shape& l = ctx.inputShape("labels");
  if (f.size() != 2) throw Error("logits must be 2-D, but got shape " + tfShape(f));
  if (l.size() != 1) throw Error("labels must be 1-D, but got shape " + tfShape(l));
  if (f[0] != l[0])
    throw Error("logits and labels must have the same first dimension, got logits shape " +
                tfShape(f) + " and labels shape " + tfShape(l));
  if (f[1] <= 0) throw Error("Must have at least one class, but got logits shape " + tfShape(f));
  ctx.setOutputShape("loss", {f[0]});
  ctx.setOutputShape("backprop", f);
}

// The labels as int64, each checked to lie in [0, classes); the message names the row.
std::vector<int64_t> checkedLabels(const Tensor& labels, int64_t classes) {
  std::vector<int64_t> r(static_cast<size_t>(labels.size()));
  for (int64_t i = 0; i < labels.size(); ++i) {
    r[i] = labels.dtype() == DType::Int32 ? labels.as<int32_t>()[i] : labels.as<int64_t>()[i];
    if (r[i] < 0 || r[i] >= classes)
      throw Error("Received a label value of " + std::to_string(r[i]) + " at row " +
                  std::to_string(i) + ", which is outside the valid range of [0, " +
                  std::to_string(classes) + ")");
  }
  return r;
}

void xentCompute(BlockContext& ctx) {
  const Tensor& f = ctx.input("features");
  const int64_t rows = f.dim(0), classes = f.dim(1);
  const std::vector<int64_t> labels = checkedLabels(ctx.input("labels"), classes);
  Tensor loss = Tensor::uninitialized({rows});
  Tensor backprop = Tensor::uninitialized(f.shape());
  const float* x = f.data();
  float* lp = loss.mutableData();
  float* bp = backprop.mutableData();
  const int64_t chunk = std::max<int64_t>(1, kCancelChunkElements / classes);
  parallelChunks(ctx, rows, chunk, chunk, f.size() >= kSplitElements, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      lp[i] = xentRow(x + i * classes, labels[i], bp + i * classes, classes);
  });
  ctx.setOutput("loss", std::move(loss));
  ctx.setOutput("backprop", std::move(backprop));
}

// TensorFlow's _SparseSoftmaxCrossEntropyWithLogitsGrad: the gradient of `loss` (one per row)
// times `backprop`; a gradient flowing into `backprop` (softmax minus the one-hot labels) adds
// softmax's own gradient, (gg - sum(gg * softmax)) * softmax.
void xentGradient(GradientContext& ctx) {
  if (ctx.wantsGrad("labels"))
    throw Error("labels are class indices (integers) and have no gradient");
  const Tensor& f = ctx.input("features");
  const int64_t rows = f.dim(0), classes = f.dim(1);
  const Tensor gl = outputGradOrZeros(ctx, "loss");
  const Tensor* gg = ctx.outputGrad("backprop");
  const float* bp = ctx.output("backprop").data();
  const float* x = f.data();
  const float* g = gl.data();
  Tensor dx = Tensor::uninitialized(f.shape());
  float* d = dx.mutableData();
  const int64_t chunk = std::max<int64_t>(1, kCancelChunkElements / classes);
  parallelChunks(ctx, rows, chunk, chunk, f.size() >= kSplitElements, [&](int64_t b, int64_t e) {
    std::vector<float> softmax(gg ? classes : 0), extra(gg ? classes : 0);
    for (int64_t i = b; i < e; ++i) {
      float* out = d + i * classes;
      for (int64_t j = 0; j < classes; ++j) out[j] = g[i] * bp[i * classes + j];
      if (!gg) continue;
      softmaxRow(x + i * classes, softmax.data(), classes);
      softmaxRowGrad(softmax.data(), gg->data() + i * classes, extra.data(), classes);
      for (int64_t j = 0; j < classes; ++j) out[j] += extra[j];
    }
  });
  ctx.setInputGrad("features", std::move(dx));
}

}  // namespace

void registerLossBlocks(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "SparseSoftmaxCrossEntropyWithLogits";
  d.category = "Neural network";
  d.summary =
      "Computes softmax cross entropy cost and gradients to backpropagate, with class-index "
      "labels.";
  d.doc =
      "For each row i of `features` ([batch, classes] logits) and its class `labels[i]`: "
      "`loss[i]` = log(sum(exp(features[i]))) - features[i][labels[i]], computed as TensorFlow "
      "does with the row's maximum subtracted first, and `backprop[i]` = softmax(features[i]) "
      "minus the one-hot label, the gradient of `loss[i]` with respect to `features[i]`. The "
      "exponentials are float32, their sum is accumulated in double and each result rounded "
      "once: `loss` and `backprop` are within 2^-24 (2r + 8) of the exact values, r the range of "
      "the row's logits. A label outside [0, "
      "classes) is an error naming the row and the value (TensorFlow's CPU kernel refuses "
      "them too). The shape checks give TensorFlow's messages, which call `features` logits. "
      "Rows are independent, so any thread count gives the same bits.";
  d.ports = opPorts({tensorInput("features", RankRule::exactly(2), "Logits, [batch, classes]."),
                     tensorInput("labels", RankRule::exactly(1), {DType::Int32, DType::Int64},
                                 "The class of each row, [batch], in [0, classes).")},
                    {tensorOutput("loss", RankRule::exactly(1), "Per-row cross entropy, [batch]."),
                     tensorOutput("backprop", RankRule::exactly(2),
                                  "softmax(features) - onehot(labels), [batch, classes].")});
  d.check = xentCheck;
  d.compute = xentCompute;
  d.gradient = xentGradient;
  d.gradientDoc =
      "With respect to `features`: the gradient of `loss` (row by row) times `backprop`, as "
      "TensorFlow's; a gradient flowing into `backprop` adds (g - sum(g * softmax)) * softmax "
      "per row. `labels` are integers and get no gradient (a path from xs through them is "
      "refused).";
  registry.add(std::move(d));
}

}  // namespace qs
