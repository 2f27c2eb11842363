// Min, Max, Mean, Sum over an `axis` list, as TensorFlow's reduction ops.

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <vector>

#include "blocks/Chunks.h"
#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/math/Broadcast.h"
#include "runtime/Error.h"

namespace qs {

namespace {

enum class Reduce { Min, Max, Sum, Mean };

template <typename T>
using RowMajorMap =
    Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

// NaN wins, as in TensorFlow's Min/Max since 2.4 (NumPy's max does the same).
struct NanMin {
  double operator()(double a, double b) const { return (std::isnan(a) || a < b) ? a : b; }
};
struct NanMax {
  double operator()(double a, double b) const { return (std::isnan(a) || a > b) ? a : b; }
};

// The dimensions after collapsing neighbours that are all reduced or all kept.
struct Group {
  int64_t size;
  bool reduced;
};

struct Plan {
  Shape outShape;
  Shape keptShape;  // the input's shape with the reduced dimensions set to 1 (keep_dims' shape)
  std::vector<Group> groups;
  int64_t reducedCount = 1;  // elements per output element
};

Plan plan(const BlockContext& ctx, const Shape& in) {
  const int rank = static_cast<int>(in.size());
  std::vector<char> reduced(in.size(), 0);
  const auto& axes = ctx.attrs().getInts("axis");
  for (int64_t a : axes) {
    if (a < -rank || a >= rank)
      throw Error("Invalid reduction dimension (" + std::to_string(a) + " for input with " +
                  std::to_string(rank) + " dimension(s)");
    reduced[a < 0 ? a + rank : a] = 1;
  }
  // An empty list reduces everything (TensorFlow's Python axis=None).
  if (axes.empty()) std::fill(reduced.begin(), reduced.end(), 1);
  Plan p;
  const bool keep = ctx.attrs().getBool("keep_dims");
  for (int i = 0; i < rank; ++i) {
    if (reduced[i]) p.reducedCount *= in[i];
    p.keptShape.push_back(reduced[i] ? 1 : in[i]);
    if (!reduced[i])
      p.outShape.push_back(in[i]);
    else if (keep)
      p.outShape.push_back(1);
    if (!p.groups.empty() && p.groups.back().reduced == static_cast<bool>(reduced[i]))
      p.groups.back().size *= in[i];
    else
      p.groups.push_back({in[i], static_cast<bool>(reduced[i])});
  }
  return p;
}

void reductionCheck(BlockContext& ctx) {
  ctx.setOutputShape("output", plan(ctx, ctx.inputShape("input")).outShape);
}

double identity(Reduce r) {
  if (r == Reduce::Min) return std::numeric_limits<double>::infinity();
  if (r == Reduce::Max) return -std::numeric_limits<double>::infinity();
  return 0.0;
}

// Combines two partial results of the same elements (a first, in element order).
double combine(Reduce op, double a, double b) {
  if (op == Reduce::Min) return NanMin()(a, b);
  if (op == Reduce::Max) return NanMax()(a, b);
  return a + b;
}

// Reduces the middle axis of a row-major [outer, r, inner] view into [outer, inner]. Sums run in
// double; min and max are exact in double. Works in chunks of about kCancelChunkElements input
// elements, checking for cancellation before each; a row longer than a chunk is reduced piece by
// piece, its pieces' results combined in order.
template <typename T>
void reducePass(const BlockContext& ctx, const T* in, int64_t outer, int64_t r, int64_t inner,
                Reduce op, double* out) {
  if (outer == 0 || inner == 0) return;
  Eigen::Map<Eigen::ArrayXd> all(out, outer * inner);
  if (r == 0) {
    all.setConstant(identity(op));
    return;
  }
  auto reduceRows = [&](const RowMajorMap<T>& m, auto&& dst) {
    if (op == Reduce::Min)
      dst = m.template cast<double>().rowwise().redux(NanMin());
    else if (op == Reduce::Max)
      dst = m.template cast<double>().rowwise().redux(NanMax());
    else
      dst = m.template cast<double>().rowwise().sum();
  };
  if (inner == 1 && r <= kCancelChunkElements) {
    // Reducing the last axis: each row is contiguous; whole rows per chunk.
    forEachChunk(ctx, 0, outer, kCancelChunkElements / r, [&](int64_t b, int64_t e) {
      reduceRows(RowMajorMap<T>(in + b * r, e - b, r), all.segment(b, e - b));
    });
    return;
  }
  if (inner == 1) {
    for (int64_t o = 0; o < outer; ++o) {
      forEachChunk(ctx, 0, r, kCancelChunkElements, [&](int64_t b, int64_t e) {
        Eigen::Array<double, 1, 1> piece;
        reduceRows(RowMajorMap<T>(in + o * r + b, 1, e - b), piece);
        out[o] = b == 0 ? piece(0) : combine(op, out[o], piece(0));
      });
    }
    return;
  }
  // Otherwise accumulate row by row, so that memory is read in order.
  const int64_t rowsPerCheck = std::max<int64_t>(1, kCancelChunkElements / inner);
  for (int64_t o = 0; o < outer; ++o) {
    RowMajorMap<T> m(in + o * r * inner, r, inner);
    Eigen::Map<Eigen::Array<double, 1, Eigen::Dynamic>> acc(out + o * inner, inner);
    throwIfCancelled(ctx);
    acc = m.row(0).template cast<double>();
    for (int64_t k = 1; k < r; ++k) {
      if (k % rowsPerCheck == 0) throwIfCancelled(ctx);
      if (op == Reduce::Min)
        acc = acc.binaryExpr(m.row(k).template cast<double>(), NanMin());
      else if (op == Reduce::Max)
        acc = acc.binaryExpr(m.row(k).template cast<double>(), NanMax());
      else
        acc += m.row(k).template cast<double>();
    }
  }
}

void reductionCompute(BlockContext& ctx, Reduce op) {
  const Tensor& x = ctx.input("input");
  Plan p = plan(ctx, x.shape());
  Tensor out = Tensor::uninitialized(p.outShape);
  // One pass per reduced group, last first; the first pass reads the float input.
  std::vector<Group> groups = p.groups;
  std::vector<double> cur, next;
  bool fromInput = true;
  for (;;) {
    int j = static_cast<int>(groups.size()) - 1;
    while (j >= 0 && !groups[j].reduced) --j;
    if (j < 0) break;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < j; ++i) outer *= groups[i].size;
    for (size_t i = j + 1; i < groups.size(); ++i) inner *= groups[i].size;
    next.assign(static_cast<size_t>(outer * inner), 0.0);
    if (fromInput)
      reducePass<float>(ctx, x.data(), outer, groups[j].size, inner, op, next.data());
    else
      reducePass<double>(ctx, cur.data(), outer, groups[j].size, inner, op, next.data());
    cur.swap(next);
    fromInput = false;
    groups.erase(groups.begin() + j);
  }
  Eigen::Map<Eigen::ArrayXf> y(out.mutableData(), out.size());
  if (fromInput) {
    // Nothing to reduce (a scalar input): the value itself (Mean divides by 1).
    y = Eigen::Map<const Eigen::ArrayXf>(x.data(), x.size());
  } else {
    Eigen::Map<const Eigen::ArrayXd> r(cur.data(), out.size());
    if (op == Reduce::Mean)
      y = (r / static_cast<double>(p.reducedCount)).cast<float>();
    else
      y = r.cast<float>();
  }
  ctx.setOutput("output", std::move(out));
}

// TensorFlow's _SumGrad and _MeanGrad: the output's gradient repeated along the reduced dimensions,
// for Mean first divided (in float32) by the number of elements reduced into each output.
void sumOrMeanGradient(GradientContext& ctx, Reduce op) {
  const Tensor& x = ctx.input("input");
  const Plan p = plan(ctx, x.shape());
  Tensor g = outputGradOrZeros(ctx, "output");
  if (op == Reduce::Mean) {
    Tensor scaled = Tensor::uninitialized(g.shape());
    Eigen::Map<Eigen::ArrayXf>(scaled.mutableData(), g.size()) =
        Eigen::Map<const Eigen::ArrayXf>(g.data(), g.size()) / static_cast<float>(p.reducedCount);
    g = std::move(scaled);
  }
  ctx.setInputGrad("input", broadcastTo(ctx, g.data(), p.keptShape, x.shape()));
}

// TensorFlow's _MinOrMaxGrad: each output's gradient is shared equally among the input elements
// equal to that output, (x == y) / count * grad. A NaN result selects nothing and gives NaN (0/0).
void minMaxGradient(GradientContext& ctx) {
  const Tensor& x = ctx.input("input");
  const Plan p = plan(ctx, x.shape());
  const float* y = ctx.output("output").data();
  const Tensor g = outputGradOrZeros(ctx, "output");
  const float* xs = x.data();
  Tensor selected = Tensor::uninitialized(x.shape());
  float* sel = selected.mutableData();
  forEachBroadcastRow(ctx, x.shape(), p.keptShape,
                      [&](int64_t bo, int64_t so, int64_t step, int64_t len) {
                        for (int64_t k = 0; k < len; ++k)
                          sel[bo + k] = xs[bo + k] == y[so + k * step] ? 1.0f : 0.0f;
                      });
  const Tensor count = sumTo(ctx, selected, p.keptShape);
  const float* c = count.data();
  const float* gr = g.data();
  Tensor dx = Tensor::uninitialized(x.shape());
  float* d = dx.mutableData();
  forEachBroadcastRow(ctx, x.shape(), p.keptShape,
                      [&](int64_t bo, int64_t so, int64_t step, int64_t len) {
                        for (int64_t k = 0; k < len; ++k)
                          d[bo + k] = sel[bo + k] / c[so + k * step] * gr[so + k * step];
                      });
  ctx.setInputGrad("input", std::move(dx));
}

void add(BlockRegistry& registry, const char* type, Reduce op, std::string summary,
         std::string detail) {
  BlockDescriptor d;
  d.type = type;
  d.category = "Math";
  d.summary = std::move(summary);
  d.doc =
      "Reduces `input` along the dimensions in `axis` (negative values count from the end; "
      "a repeated axis counts once). An empty `axis` list (the default) reduces over every "
      "dimension, like TensorFlow's Python `axis=None` (TensorFlow's raw op would instead "
      "return the input unchanged for an empty axis tensor). Without `keep_dims` the reduced "
      "dimensions are removed; with it they are kept with length 1. An axis outside "
      "[-rank, rank) fails with TensorFlow's message. " +
      std::move(detail);
  d.ports = opPorts({tensorInput("input", RankRule::any(), "The tensor to reduce.")},
                    {tensorOutput("output", RankRule::any(), "The reduced tensor.")});
  d.attrs = {
      {.name = "axis",
       .type = AttrType::IntList,
       .defaultValue = AttrValue{std::vector<int64_t>{}},
       .doc = "The dimensions to reduce; [] reduces all."},
      {.name = "keep_dims",
       .type = AttrType::Bool,
       .defaultValue = AttrValue{false},
       .doc = "If true, keep the reduced dimensions with length 1."},
  };
  d.check = reductionCheck;
  d.compute = [op](BlockContext& ctx) { reductionCompute(ctx, op); };
  if (op == Reduce::Min || op == Reduce::Max) {
    d.gradient = minMaxGradient;
    d.gradientDoc =
        "As TensorFlow's: the gradient of each output element is shared equally among the input "
        "elements equal to it (ties split the gradient evenly): grad * (input == output) / "
        "count, where count is the number of such elements. Where the output is NaN, the "
        "gradient is NaN.";
  } else {
    d.gradient = [op](GradientContext& ctx) { sumOrMeanGradient(ctx, op); };
    d.gradientDoc = op == Reduce::Sum
                        ? "The gradient of `output` repeated along the reduced dimensions."
                        : "The gradient of `output` divided (in float32) by the number of "
                          "elements averaged into each output, repeated along the reduced "
                          "dimensions.";
  }
  registry.add(std::move(d));
}

}  // namespace

void registerReductionBlocks(BlockRegistry& registry) {
  add(registry, "Min", Reduce::Min,
      "Computes the minimum of elements across dimensions of a tensor.",
      "A NaN in the reduced values gives NaN. Reducing no elements gives +inf.");
  add(registry, "Max", Reduce::Max,
      "Computes the maximum of elements across dimensions of a tensor.",
      "A NaN in the reduced values gives NaN. Reducing no elements gives -inf.");
  add(registry, "Sum", Reduce::Sum, "Computes the sum of elements across dimensions of a tensor.",
      "The sum is accumulated in double and rounded to float32 once, so it can differ from "
      "TensorFlow's float32 sum in the last bits (it is the more accurate). Reducing no elements "
      "gives 0.");
  add(registry, "Mean", Reduce::Mean,
      "Computes the mean of elements across dimensions of a tensor.",
      "The sum is accumulated in double, divided by the count in double and rounded to float32 "
      "once: like Sum, and unlike TensorFlow, whose Mean sums and divides in float32, so the two "
      "can differ in the last bits. Reducing no elements gives NaN (0 / 0).");
}

}  // namespace qs
