// Reshape, Transpose, ArgMax and Equal: the blocks of a network that move, pick or compare
// elements, for every dtype TensorFlow takes among Quant Space's.

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "blocks/Chunks.h"
#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/TfShape.h"
#include "blocks/math/Broadcast.h"
#include "runtime/Error.h"

namespace qs {

namespace {

const std::vector<DType> kNumbers{DType::Float32, DType::Int32, DType::Int64};
const std::vector<DType> kComparable{DType::Float32, DType::Int32, DType::Int64, DType::Bool};

// Calls fn with a value of the element type of `dtype` (for the blocks that only move elements,
// an unsigned integer of the same size).
template <typename Fn>
void withElementType(DType dtype, Fn&& fn) {
  switch (dtypeSize(dtype)) {
    case 1:
      return fn(uint8_t{});
    case 2:
      return fn(uint16_t{});
    case 4:
      return fn(uint32_t{});
    default:
      return fn(uint64_t{});
  }
}

template <typename Fn>
void withNumberType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Int32:
      return fn(int32_t{});
    case DType::Int64:
      return fn(int64_t{});
    case DType::Bool:
      return fn(bool{});
    default:
      return fn(float{});
  }
}

// ---- Reshape ------------------------------------------------------------------------------------

// The requested shape with its -1 worked out, checked as TensorFlow's Reshape does.
Shape reshapeTo(const BlockContext& ctx, const Shape& in) {
  const std::vector<int64_t>& want = ctx.attrs().getInts("shape");
  int64_t inCount = 1;
  for (int64_t d : in) inCount *= d;
  Shape out(want.begin(), want.end());
  int64_t unknown = -1, product = 1;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == -1) {
      if (unknown != -1)
        throw Error("Only one input size may be -1, not both " + std::to_string(unknown) + " and " +
                    std::to_string(d));
      unknown = static_cast<int64_t>(d);
    } else if (out[d] < 0) {
      throw Error("Size " + std::to_string(d) + " must be non-negative, not " +
                  std::to_string(out[d]));
    } else {
      if (out[d] != 0 && product > std::numeric_limits<int64_t>::max() / out[d])
        throw Error("the requested shape " + tfShape(out) + " is too large");
      product *= out[d];
    }
  }
  if (unknown != -1) {
    if (product == 0)
      throw Error(
          "Reshape cannot infer the missing input size for an empty tensor unless all specified "
          "input sizes are non-zero");
    if (inCount % product != 0)
      throw Error("Input to reshape is a tensor with " + std::to_string(inCount) +
                  " values, but the requested shape requires a multiple of " +
                  std::to_string(product));
    out[unknown] = inCount / product;
    product = inCount;
  }
  if (product != inCount)
    throw Error("Input to reshape is a tensor with " + std::to_string(inCount) +
                " values, but the requested shape has " + std::to_string(product));
  return out;
}

// The elements of `t` with another shape of the same element count.
Tensor reshapedCopy(const BlockContext& ctx, const Tensor& t, const Shape& shape) {
  Tensor out = Tensor::uninitialized(shape, t.dtype());
  const int64_t width = static_cast<int64_t>(dtypeSize(t.dtype()));
  forEachChunk(ctx, 0, t.size(), kCancelChunkElements, [&](int64_t b, int64_t e) {
    std::memcpy(out.mutableRawData() + b * width, t.rawData() + b * width, (e - b) * width);
  });
  return out;
}

void addReshape(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "Reshape";
  d.category = "Neural network";
  d.summary = "Reshapes a tensor.";
  d.doc =
      "The elements of `tensor` in the same row-major order, with the dimensions of the `shape` "
      "attribute. TensorFlow takes `shape` as a tensor input; a page knows every shape before "
      "it runs, so here it is an attribute (a list of int). One dimension may be -1: it is "
      "worked out from the element count. Mismatches fail with TensorFlow's messages. Any "
      "dtype.";
  d.ports = opPorts({tensorInput("tensor", RankRule::any(), allDTypes(), "The tensor to reshape.")},
                    {tensorOutput("output", RankRule::any(), allDTypes(),
                                  "The same elements with shape `shape`, same dtype.")});
  d.attrs = {{.name = "shape",
              .type = AttrType::IntList,
              .required = true,
              .doc = "The new dimensions; at most one may be -1."}};
  d.check = [](BlockContext& ctx) {
    ctx.setOutputShape("output", reshapeTo(ctx, ctx.inputShape("tensor")),
                       ctx.inputDType("tensor"));
  };
  d.compute = [](BlockContext& ctx) {
    ctx.setOutput("output",
                  reshapedCopy(ctx, ctx.input("tensor"), ctx.outputShapes().at("output")));
  };
  d.gradient = [](GradientContext& ctx) {
    ctx.setInputGrad("tensor",
                     reshapedCopy(ctx, outputGradOrZeros(ctx, "output"), ctx.inputShape("tensor")));
  };
  d.gradientDoc = "The gradient of `output` reshaped back to the shape of `tensor`.";
  registry.add(std::move(d));
}

// ---- Transpose ----------------------------------------------------------------------------------

// `perm` checked as TensorFlow's Transpose does.
std::vector<int64_t> checkedPerm(const BlockContext& ctx, size_t rank) {
  const std::vector<int64_t>& perm = ctx.attrs().getInts("perm");
  if (perm.size() != rank)
    throw Error("transpose expects a vector of size " + std::to_string(rank) + ". But perm has " +
                std::to_string(perm.size()) + " values");
  std::vector<char> seen(rank, 0);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank))
      throw Error(std::to_string(p) + " is out of range [0 .. " + std::to_string(rank) + ")");
    seen[p] = 1;
  }
  for (size_t i = 0; i < rank; ++i)
    if (!seen[i]) {
      std::string list;
      for (size_t k = 0; k < perm.size(); ++k) list += (k ? "," : "") + std::to_string(perm[k]);
      throw Error(std::to_string(i) + " is missing from {" + list + "}.");
    }
  return perm;
}

Shape permuted(const Shape& in, const std::vector<int64_t>& perm) {
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[perm[i]];
  return out;
}

// out[i0, ..., ik] = in[j] where in's index along perm[m] is i_m. Each output row (the last
// dimension) is independent, so the rows are split over the op's threads for large tensors.
template <typename T>
void transposeInto(const BlockContext& ctx, const T* in, T* out, const Shape& inShape,
                   const std::vector<int64_t>& perm) {
  const size_t rank = inShape.size();
  const Shape outShape = permuted(inShape, perm);
  std::vector<int64_t> inStride(rank, 1), stride(rank);
  for (size_t i = rank; i-- > 1;) inStride[i - 1] = inStride[i] * inShape[i];
  for (size_t i = 0; i < rank; ++i) stride[i] = inStride[perm[i]];
  int64_t n = 1;
  for (int64_t d : outShape) n *= d;
  if (n == 0) return;
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  const int64_t last = outShape[rank - 1], lastStride = stride[rank - 1];
  const int64_t rows = n / last;
  const int64_t chunk = std::max<int64_t>(1, kCancelChunkElements / last);
  parallelChunks(ctx, rows, chunk, chunk, n >= (int64_t{1} << 18), [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> idx(rank, 0);
    int64_t rem = r0, off = 0;
    for (size_t i = rank - 1; i-- > 0;) {
      idx[i] = rem % outShape[i];
      rem /= outShape[i];
      off += idx[i] * stride[i];
    }
    for (int64_t r = r0; r < r1; ++r) {
      T* o = out + r * last;
      for (int64_t k = 0; k < last; ++k) o[k] = in[off + k * lastStride];
      for (size_t i = rank - 1; i-- > 0;) {
        off += stride[i];
        if (++idx[i] < outShape[i]) break;
        off -= stride[i] * outShape[i];
        idx[i] = 0;
      }
    }
  });
}

Tensor transposed(const BlockContext& ctx, const Tensor& x, const std::vector<int64_t>& perm) {
  Tensor out = Tensor::uninitialized(permuted(x.shape(), perm), x.dtype());
  withElementType(x.dtype(), [&](auto t) {
    using T = decltype(t);
    transposeInto(ctx, reinterpret_cast<const T*>(x.rawData()),
                  reinterpret_cast<T*>(out.mutableRawData()), x.shape(), perm);
  });
  return out;
}

void addTranspose(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "Transpose";
  d.category = "Neural network";
  d.summary = "Shuffle dimensions of x according to a permutation.";
  d.doc =
      "Dimension i of `y` is dimension `perm[i]` of `x`: y.shape[i] = x.shape[perm[i]]. "
      "TensorFlow takes `perm` as a tensor input; a page knows every shape before it runs, so "
      "here it is an attribute (a list of int, a permutation of 0 .. rank-1, checked with "
      "TensorFlow's messages). Any dtype; exact.";
  d.ports = opPorts({tensorInput("x", RankRule::any(), allDTypes(), "The tensor to transpose.")},
                    {tensorOutput("y", RankRule::any(), allDTypes(),
                                  "The transposed tensor, same dtype as `x`.")});
  d.attrs = {{.name = "perm",
              .type = AttrType::IntList,
              .required = true,
              .doc = "The permutation of the dimensions of `x`."}};
  d.check = [](BlockContext& ctx) {
    const Shape& s = ctx.inputShape("x");
    ctx.setOutputShape("y", permuted(s, checkedPerm(ctx, s.size())), ctx.inputDType("x"));
  };
  d.compute = [](BlockContext& ctx) {
    const Tensor& x = ctx.input("x");
    ctx.setOutput("y", transposed(ctx, x, checkedPerm(ctx, x.shape().size())));
  };
  d.gradient = [](GradientContext& ctx) {
    const std::vector<int64_t> perm = checkedPerm(ctx, ctx.inputShape("x").size());
    std::vector<int64_t> inverse(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
    ctx.setInputGrad("x", transposed(ctx, outputGradOrZeros(ctx, "y"), inverse));
  };
  d.gradientDoc = "The gradient of `y` transposed with the inverse permutation.";
  registry.add(std::move(d));
}

// ---- ArgMax -------------------------------------------------------------------------------------

struct ArgMaxPlan {
  int64_t axis, outer, len, inner;
  Shape out;
};

ArgMaxPlan argMaxPlan(const BlockContext& ctx, const Shape& in) {
  const auto rank = static_cast<int64_t>(in.size());
  const int64_t dim = ctx.attrs().getInt("dimension");
  if (dim < -rank || dim >= rank)
    throw Error("Expected dimension in the range [" + std::to_string(-rank) + ", " +
                std::to_string(rank) + "), but got " + std::to_string(dim));
  ArgMaxPlan p{dim < 0 ? dim + rank : dim, 1, 1, 1, {}};
  if (in[p.axis] == 0)
    throw Error("Reduction axis " + std::to_string(dim) + " is empty in shape " + tfShape(in));
  for (int64_t i = 0; i < rank; ++i) {
    if (i < p.axis) p.outer *= in[i];
    if (i > p.axis) p.inner *= in[i];
    if (i != p.axis) p.out.push_back(in[i]);
  }
  p.len = in[p.axis];
  return p;
}

DType argMaxOutputType(const BlockContext& ctx) {
  const std::string& t = ctx.attrs().getString("output_type");
  if (t != "int32" && t != "int64")
    throw Error("Value for attr 'output_type' of " + t +
                " is not in the list of allowed values: int32, int64");
  return dtypeFromName(t);
}

// The index of the first largest value along the axis: Eigen's ArgMax reducer (start from the
// lowest value and take strictly larger ones), so NaN is passed over.
template <typename T, typename I>
void argMaxInto(const BlockContext& ctx, const T* x, I* out, const ArgMaxPlan& p) {
  // No indices to write: the axis alone could be a billion steps over rows of nothing.
  if (p.outer == 0 || p.inner == 0) return;
  const int64_t chunk =
      std::max<int64_t>(1, kCancelChunkElements / std::max<int64_t>(1, p.len * p.inner));
  forEachChunk(ctx, 0, p.outer, chunk, [&](int64_t o0, int64_t o1) {
    std::vector<T> best(p.inner);
    for (int64_t o = o0; o < o1; ++o) {
      I* idx = out + o * p.inner;
      std::fill(best.begin(), best.end(), std::numeric_limits<T>::lowest());
      std::fill(idx, idx + p.inner, I{0});
      for (int64_t k = 0; k < p.len; ++k) {
        const T* v = x + (o * p.len + k) * p.inner;
        for (int64_t i = 0; i < p.inner; ++i) {
          const bool more = best[i] < v[i];
          best[i] = more ? v[i] : best[i];
          idx[i] = more ? static_cast<I>(k) : idx[i];
        }
      }
    }
  });
}

void addArgMax(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "ArgMax";
  d.category = "Neural network";
  d.summary = "Returns the index with the largest value across a dimension of a tensor.";
  d.doc =
      "The index along `dimension` of the largest value (the first one on ties; NaN is passed "
      "over, as TensorFlow's CPU kernel), with that dimension removed. TensorFlow takes "
      "`dimension` as a tensor input; a page knows every shape before it runs, so here it is "
      "an attribute (negative counts from the end). `output_type` is int32 or int64. Not "
      "differentiable.";
  d.ports = opPorts({tensorInput("input", RankRule::atLeast(1), kNumbers, "The values.")},
                    {tensorOutput("output", RankRule::any(), {DType::Int64, DType::Int32},
                                  "Indices, the shape of `input` without `dimension`.")});
  d.attrs = {
      {.name = "dimension",
       .type = AttrType::Int,
       .defaultValue = AttrValue{int64_t{0}},
       .doc = "The dimension to reduce, in [-rank, rank)."},
      {.name = "output_type",
       .type = AttrType::String,
       .defaultValue = AttrValue{std::string("int64")},
       .doc = "int32 or int64."},
  };
  d.check = [](BlockContext& ctx) {
    const DType t = argMaxOutputType(ctx);
    ctx.setOutputShape("output", argMaxPlan(ctx, ctx.inputShape("input")).out, t);
  };
  d.compute = [](BlockContext& ctx) {
    const Tensor& x = ctx.input("input");
    const ArgMaxPlan p = argMaxPlan(ctx, x.shape());
    Tensor out = Tensor::uninitialized(p.out, argMaxOutputType(ctx));
    withNumberType(x.dtype(), [&](auto t) {
      using T = decltype(t);
      if constexpr (!std::is_same_v<T, bool>) {
        if (out.dtype() == DType::Int32)
          argMaxInto(ctx, x.as<T>(), out.mutableAs<int32_t>(), p);
        else
          argMaxInto(ctx, x.as<T>(), out.mutableAs<int64_t>(), p);
      }
    });
    ctx.setOutput("output", std::move(out));
  };
  registry.add(std::move(d));
}

// ---- Equal --------------------------------------------------------------------------------------

// The broadcast shape, or nullopt when the shapes do not broadcast and incompatible_shape_error
// is false (the result is then a scalar false, as TensorFlow).
std::optional<Shape> equalShape(const BlockContext& ctx) {
  const DType dx = ctx.inputDType("x"), dy = ctx.inputDType("y");
  if (dx != dy)
    throw Error(std::string("x and y must have the same dtype, got ") + dtypeName(dx) + " and " +
                dtypeName(dy));
  try {
    return broadcastShape(ctx.inputShape("x"), ctx.inputShape("y"));
  } catch (const Error&) {
    if (ctx.attrs().getBool("incompatible_shape_error")) throw;
    return std::nullopt;
  }
}

template <typename T>
void equalInto(const BlockContext& ctx, const Tensor& x, const Tensor& y, bool* z,
               const Shape& shape) {
  const T* a = x.as<T>();
  const T* b = y.as<T>();
  if (x.shape() == y.shape()) {
    forEachChunk(ctx, 0, x.size(), kCancelChunkElements, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) z[i] = a[i] == b[i];
    });
    return;
  }
  // Walk the output row by row; each input steps by its own stride (0 where it broadcasts).
  const std::vector<int64_t> sb = broadcastStrides(y.shape(), shape.size());
  forEachBroadcastRow(ctx, shape, x.shape(), [&](int64_t zo, int64_t ao, int64_t as, int64_t len) {
    // The offset in y of output element zo, from its coordinates.
    int64_t bo = 0, rem = zo;
    for (size_t i = shape.size(); i-- > 0;) {
      bo += (rem % shape[i]) * sb[i];
      rem /= shape[i];
    }
    const int64_t bs = sb.empty() ? 0 : sb.back();
    for (int64_t k = 0; k < len; ++k) z[zo + k] = a[ao + k * as] == b[bo + k * bs];
  });
}

void addEqual(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "Equal";
  d.category = "Neural network";
  d.summary = "Returns the truth value of (x == y) element-wise (with broadcasting).";
  d.doc =
      "Element-wise x == y as bool, with NumPy/TensorFlow broadcasting (see Add). `x` and `y` "
      "must have the same dtype. NaN equals nothing (not even NaN); -0 equals +0. With "
      "`incompatible_shape_error` false, shapes that do not broadcast give a scalar false "
      "instead of an error, as TensorFlow. Not differentiable.";
  d.ports = opPorts(
      {tensorInput("x", RankRule::any(), kComparable, "First operand."),
       tensorInput("y", RankRule::any(), kComparable, "Second operand.")},
      {tensorOutput("z", RankRule::any(), {DType::Bool}, "x == y, of the broadcast shape.")});
  d.attrs = {{.name = "incompatible_shape_error",
              .type = AttrType::Bool,
              .defaultValue = AttrValue{true},
              .doc = "If false, shapes that do not broadcast give a scalar false."}};
  d.check = [](BlockContext& ctx) {
    ctx.setOutputShape("z", equalShape(ctx).value_or(Shape{}), DType::Bool);
  };
  d.compute = [](BlockContext& ctx) {
    const std::optional<Shape> shape = equalShape(ctx);
    if (!shape) {
      ctx.setOutput("z", Tensor::zeros({}, DType::Bool));
      return;
    }
    const Tensor& x = ctx.input("x");
    const Tensor& y = ctx.input("y");
    Tensor z = Tensor::uninitialized(*shape, DType::Bool);
    withNumberType(x.dtype(),
                   [&](auto t) { equalInto<decltype(t)>(ctx, x, y, z.mutableAs<bool>(), *shape); });
    ctx.setOutput("z", std::move(z));
  };
  registry.add(std::move(d));
}

}  // namespace

void registerShapeBlocks(BlockRegistry& registry) {
  addReshape(registry);
  addTranspose(registry);
  addArgMax(registry);
  addEqual(registry);
}

}  // namespace qs
