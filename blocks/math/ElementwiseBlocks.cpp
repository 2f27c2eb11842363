// Add, Sub, Mul (with NumPy/TensorFlow broadcasting), Square and Abs.

#include <Eigen/Core>
#include <algorithm>
#include <iterator>
#include <vector>

#include "blocks/Chunks.h"
#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/math/Broadcast.h"
#include "runtime/Error.h"

namespace qs {

namespace {

enum class Binary { Add, Sub, Mul };

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;
using RowsMap = Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
using ConstRowsMap =
    Eigen::Map<const Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
using ConstRowMap = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;

template <typename Z, typename A, typename B>
void apply(Binary op, Z&& z, const A& a, const B& b) {
  switch (op) {
    case Binary::Add:
      z = a + b;
      break;
    case Binary::Sub:
      z = a - b;
      break;
    case Binary::Mul:
      z = a * b;
      break;
  }
}

float apply1(Binary op, float a, float b) {
  switch (op) {
    case Binary::Add:
      return a + b;
    case Binary::Sub:
      return a - b;
    case Binary::Mul:
      return a * b;
  }
  return 0;
}

void binaryCheck(BlockContext& ctx) {
  ctx.setOutputShape("z", broadcastShape(ctx.inputShape("x"), ctx.inputShape("y")));
}

// x op y with broadcasting, as a new tensor.
Tensor binaryOp(const BlockContext& ctx, Binary op, const Tensor& x, const Tensor& y) {
  const Shape shape = broadcastShape(x.shape(), y.shape());
  Tensor out = Tensor::uninitialized(shape);
  const int64_t n = out.size();
  ArrayMap z(out.mutableData(), n);
  if (n == 0) {
    // nothing to compute
  } else if (x.shape() == y.shape()) {
    forEachChunk(ctx, 0, n, kCancelChunkElements, [&](int64_t b, int64_t e) {
      apply(op, z.segment(b, e - b), ConstArrayMap(x.data() + b, e - b),
            ConstArrayMap(y.data() + b, e - b));
    });
  } else if (y.size() == 1 && x.size() == n) {
    forEachChunk(ctx, 0, n, kCancelChunkElements, [&](int64_t b, int64_t e) {
      apply(op, z.segment(b, e - b), ConstArrayMap(x.data() + b, e - b),
            Eigen::ArrayXf::Constant(e - b, y.data()[0]));
    });
  } else if (x.size() == 1 && y.size() == n) {
    forEachChunk(ctx, 0, n, kCancelChunkElements, [&](int64_t b, int64_t e) {
      apply(op, z.segment(b, e - b), Eigen::ArrayXf::Constant(e - b, x.data()[0]),
            ConstArrayMap(y.data() + b, e - b));
    });
  } else if (int64_t d = suffixLength(x.shape(), y.shape()); d > 0 && x.size() == n) {
    // The per-channel case: each row of x (viewed as [n/d, d]) with the vector y.
    forEachChunk(ctx, 0, n / d, kCancelChunkElements / d, [&](int64_t b, int64_t e) {
      RowsMap zr(out.mutableData() + b * d, e - b, d);
      apply(op, zr, ConstRowsMap(x.data() + b * d, e - b, d),
            ConstRowMap(y.data(), d).replicate(e - b, 1));
    });
  } else if (int64_t e = suffixLength(y.shape(), x.shape()); e > 0 && y.size() == n) {
    forEachChunk(ctx, 0, n / e, kCancelChunkElements / e, [&](int64_t b, int64_t end) {
      RowsMap zr(out.mutableData() + b * e, end - b, e);
      apply(op, zr, ConstRowMap(x.data(), e).replicate(end - b, 1),
            ConstRowsMap(y.data() + b * e, end - b, e));
    });
  } else {
    // General broadcasting: walk the output index, stepping each input by its own strides
    // (0 along a dimension it broadcasts).
    const size_t rank = shape.size();
    const std::vector<int64_t> sx = broadcastStrides(x.shape(), rank);
    const std::vector<int64_t> sy = broadcastStrides(y.shape(), rank);
    std::vector<int64_t> idx(rank, 0);
    const int64_t last = shape[rank - 1];
    float* zp = out.mutableData();
    const int64_t rowsPerCheck = std::max<int64_t>(1, kCancelChunkElements / last);
    for (int64_t base = 0, row = 0; base < n; base += last, ++row) {
      if (row % rowsPerCheck == 0) throwIfCancelled(ctx);
      int64_t ox = 0, oy = 0;
      for (size_t i = 0; i + 1 < rank; ++i) {
        ox += idx[i] * sx[i];
        oy += idx[i] * sy[i];
      }
      for (int64_t k = 0; k < last; ++k)
        zp[base + k] = apply1(op, x.data()[ox + k * sx[rank - 1]], y.data()[oy + k * sy[rank - 1]]);
      for (size_t i = rank - 1; i-- > 0;) {
        if (++idx[i] < shape[i]) break;
        idx[i] = 0;
      }
    }
  }
  return out;
}

void binaryCompute(BlockContext& ctx, Binary op) {
  ctx.setOutput("z", binaryOp(ctx, op, ctx.input("x"), ctx.input("y")));
}

// -t as a new tensor (-0 for +0, as TensorFlow's Neg).
Tensor negated(const BlockContext& ctx, const Tensor& t) {
  Tensor out = Tensor::uninitialized(t.shape());
  forEachChunk(ctx, 0, t.size(), kCancelChunkElements, [&](int64_t b, int64_t e) {
    ArrayMap(out.mutableData() + b, e - b) = -ConstArrayMap(t.data() + b, e - b);
  });
  return out;
}

// TensorFlow's _AddGrad, _SubGrad, _MulGrad: the gradient of z (times the other operand for Mul,
// negated for Sub's y) summed over the dimensions along which each operand was broadcast.
void binaryGradient(GradientContext& ctx, Binary op) {
  const Tensor& x = ctx.input("x");
  const Tensor& y = ctx.input("y");
  const Tensor g = outputGradOrZeros(ctx, "z");
  if (ctx.wantsGrad("x"))
    ctx.setInputGrad("x", sumTo(ctx, op == Binary::Mul ? binaryOp(ctx, op, g, y) : g, x.shape()));
  if (ctx.wantsGrad("y")) {
    Tensor gy = sumTo(ctx, op == Binary::Mul ? binaryOp(ctx, op, x, g) : g, y.shape());
    ctx.setInputGrad("y", op == Binary::Sub ? negated(ctx, gy) : std::move(gy));
  }
}

enum class Unary { Square, Abs };

void unaryCheck(BlockContext& ctx) {
  ctx.setOutputShape("y", ctx.inputShape("x"));
}

void unaryCompute(BlockContext& ctx, Unary op) {
  const Tensor& x = ctx.input("x");
  Tensor out = Tensor::uninitialized(x.shape());
  forEachChunk(ctx, 0, x.size(), kCancelChunkElements, [&](int64_t b, int64_t e) {
    ConstArrayMap a(x.data() + b, e - b);
    ArrayMap y(out.mutableData() + b, e - b);
    if (op == Unary::Square)
      y = a.square();
    else
      y = a.abs();
  });
  ctx.setOutput("y", std::move(out));
}

// TensorFlow's _SquareGrad, grad * (2 * x), and _AbsGrad, grad * sign(x) with sign(0) = 0.
void unaryGradient(GradientContext& ctx, Unary op) {
  const Tensor& x = ctx.input("x");
  const Tensor g = outputGradOrZeros(ctx, "y");
  Tensor dx = Tensor::uninitialized(x.shape());
  forEachChunk(ctx, 0, x.size(), kCancelChunkElements, [&](int64_t b, int64_t e) {
    ConstArrayMap a(x.data() + b, e - b);
    ConstArrayMap gr(g.data() + b, e - b);
    ArrayMap out(dx.mutableData() + b, e - b);
    if (op == Unary::Square)
      out = gr * (2.0f * a);
    else
      out = gr * ((a > 0.0f).cast<float>() - (a < 0.0f).cast<float>());
  });
  ctx.setInputGrad("x", std::move(dx));
}

void addBinary(BlockRegistry& registry, const char* type, Binary op, std::string summary,
               std::string gradientDoc) {
  BlockDescriptor d;
  d.type = type;
  d.category = "Math";
  d.summary = std::move(summary);
  d.doc =
      "Element-wise in float32, with NumPy/TensorFlow broadcasting: the shapes are aligned on "
      "the right and each pair of dimensions must be equal or one of them 1 (a scalar, or a "
      "per-channel vector [d] against [..., d], broadcasts). Otherwise it fails with "
      "TensorFlow's message `Incompatible shapes: [a,b] vs. [c]`.";
  d.ports = opPorts({tensorInput("x", RankRule::any(), "First operand."),
                     tensorInput("y", RankRule::any(), "Second operand.")},
                    {tensorOutput("z", RankRule::any(), "The result, of the broadcast shape.")});
  d.check = binaryCheck;
  d.compute = [op](BlockContext& ctx) { binaryCompute(ctx, op); };
  d.gradient = [op](GradientContext& ctx) { binaryGradient(ctx, op); };
  d.gradientDoc = std::move(gradientDoc) +
                  " Each operand's gradient is summed over the dimensions along which it was "
                  "broadcast, so it has the operand's shape (sums in double, rounded once).";
  registry.add(std::move(d));
}

void addUnary(BlockRegistry& registry, const char* type, Unary op, std::string summary,
              std::string gradientDoc) {
  BlockDescriptor d;
  d.type = type;
  d.category = "Math";
  d.summary = std::move(summary);
  d.doc = "Element-wise in float32; the output has the shape of `x`.";
  d.ports = opPorts({tensorInput("x", RankRule::any(), "The input.")},
                    {tensorOutput("y", RankRule::any(), "The result, same shape as `x`.")});
  d.check = unaryCheck;
  d.compute = [op](BlockContext& ctx) { unaryCompute(ctx, op); };
  d.gradient = [op](GradientContext& ctx) { unaryGradient(ctx, op); };
  d.gradientDoc = std::move(gradientDoc);
  registry.add(std::move(d));
}

void addIdentity(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "Identity";
  d.category = "Math";
  d.summary = "Return a tensor with the same shape and contents as input.";
  d.doc = "The output is the input itself (no copy is made), of any dtype.";
  const std::vector<DType>& all = allDTypes();
  d.ports = opPorts({tensorInput("input", RankRule::any(), all, "The input.")},
                    {tensorOutput("output", RankRule::any(), all, "The input, unchanged.")});
  d.check = [](BlockContext& ctx) {
    ctx.setOutputShape("output", ctx.inputShape("input"), ctx.inputDType("input"));
  };
  d.compute = [](BlockContext& ctx) { ctx.setOutput("output", ctx.input("input")); };
  d.gradient = [](GradientContext& ctx) {
    ctx.setInputGrad("input", outputGradOrZeros(ctx, "output"));
  };
  d.gradientDoc = "The gradient of `output` passes through unchanged.";
  registry.add(std::move(d));
}

}  // namespace

void registerElementwiseBlocks(BlockRegistry& registry) {
  addBinary(registry, "Add", Binary::Add, "Returns x + y element-wise (with broadcasting).",
            "d/dx = d/dy = the gradient of `z`.");
  addBinary(registry, "Sub", Binary::Sub, "Returns x - y element-wise (with broadcasting).",
            "d/dx = the gradient of `z`, d/dy = its negation.");
  addBinary(registry, "Mul", Binary::Mul, "Returns x * y element-wise (with broadcasting).",
            "d/dx = grad * y, d/dy = x * grad (grad: the gradient of `z`).");
  addUnary(registry, "Square", Unary::Square, "Computes the square of x element-wise: x * x.",
           "grad * (2 * x) (grad: the gradient of `y`), as TensorFlow's.");
  addUnary(registry, "Abs", Unary::Abs,
           "Computes the absolute value of x element-wise (|-0| = +0, NaN stays NaN).",
           "grad * sign(x) (grad: the gradient of `y`), where sign is -1, 0 or 1 (0 at x = 0, and "
           "for NaN).");
  addIdentity(registry);
}

}  // namespace qs
