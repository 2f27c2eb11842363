// MaxPool and AvgPool over NHWC tensors, as TensorFlow's CPU kernels, with their gradients.

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "blocks/Chunks.h"
#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/nn/ConvKernels.h"
#include "runtime/Error.h"

namespace qs {

namespace {

// Pooling work (output elements times window size) from which it is split over threads.
constexpr double kSplitWork = 1 << 17;

enum class Pool { Max, Avg };

// The geometry of one pooling: NHWC input, window, strides, output and the padding before.
struct Geometry {
  int64_t n, h, w, c;
  int64_t kh, kw, sh, sw;
  int64_t oh, ow, padTop, padLeft;
  int64_t outRows() const { return n * oh; }
  // In double: a huge window must not overflow the estimate.
  double work() const {
    return double(n) * double(oh) * double(ow) * double(c) * double(kh) * double(kw);
  }
};

// TensorFlow's GetWindowedOutputSizeVerbose for dimension `dim`. A VALID window larger than the
// input is refused, as TensorFlow's CPU MaxPool does (its GPU kernel gives an empty output).
void windowedSize(int dim, int64_t in, int64_t k, int64_t s, bool same, int64_t& out,
                  int64_t& padBefore) {
  if (s <= 0) throw Error("Stride must be > 0, but got " + std::to_string(s));
  if (!same && k > in)
    throw Error("ksize dimension " + std::to_string(dim) + " (" + std::to_string(k) +
                ") is larger than the input tensor dimension (" + std::to_string(in) +
                ") with VALID padding");
  nn::windowedOutputSize(in, k, 1, s, same, out, padBefore);
}

// Checks the attributes as TensorFlow's pooling kernels do, in their order and with their
// messages, and works out the output's size.
Geometry geometry(const BlockContext& ctx, const Shape& in, Pool op) {
  const AttrValues& a = ctx.attrs();
  if (a.getString("data_format") != "NHWC")
    throw Error(std::string("Default ") + (op == Pool::Max ? "MaxPoolingOp" : "AvgPoolingOp") +
                " only supports NHWC on device type CPU (data_format was '" +
                a.getString("data_format") + "')");
  const std::vector<int64_t>& k = a.getInts("ksize");
  const std::vector<int64_t>& s = a.getInts("strides");
  if (k.size() != 4) throw Error("Sliding window ksize field must specify 4 dimensions");
  for (size_t i = 0; i < k.size(); ++i)
    if (k[i] <= 0)
      throw Error("Sliding window ksize for dimension " + std::to_string(i) + " was zero.");
  if (s.size() != 4) throw Error("Sliding window stride field must specify 4 dimensions");
  if (k[0] != 1 || s[0] != 1) throw Error("Pooling is not yet supported on the batch dimension.");
  if (k[3] != 1 || s[3] != 1)
    throw Error("Pooling over the depth dimension (ksize[3] = " + std::to_string(k[3]) +
                ", strides[3] = " + std::to_string(s[3]) +
                ") is not supported: only spatial pooling (ksize[3] = strides[3] = 1)");
  const std::string& padding = a.getString("padding");
  if (padding != "SAME" && padding != "VALID")
    throw Error("Value for attr 'padding' of \"" + padding +
                "\" is not in the list of allowed values: \"SAME\", \"VALID\"");
  if (in.size() != 4) throw Error("tensor_in must be 4-dimensional");
  if (k[1] > std::numeric_limits<int32_t>::max() / k[2] ||
      (in[1] > 0 && in[2] > std::numeric_limits<int32_t>::max() / in[1]))
    throw Error("the window " + std::to_string(k[1]) + "x" + std::to_string(k[2]) +
                " or the image " + std::to_string(in[1]) + "x" + std::to_string(in[2]) +
                " has more than 2^31 - 1 elements");
  Geometry g{in[0], in[1], in[2], in[3], k[1], k[2], s[1], s[2], 0, 0, 0, 0};
  windowedSize(1, g.h, g.kh, g.sh, padding == "SAME", g.oh, g.padTop);
  windowedSize(2, g.w, g.kw, g.sw, padding == "SAME", g.ow, g.padLeft);
  return g;
}

// The window of output (row oy, column ox), clipped to the input: [y0, y1) x [x0, x1).
struct Window {
  int64_t y0, y1, x0, x1;
  int64_t count() const { return (y1 - y0) * (x1 - x0); }
};

Window window(const Geometry& g, int64_t oy, int64_t ox) {
  const int64_t ys = oy * g.sh - g.padTop, xs = ox * g.sw - g.padLeft;
  return {std::max<int64_t>(ys, 0), std::min(ys + g.kh, g.h), std::max<int64_t>(xs, 0),
          std::min(xs + g.kw, g.w)};
}

// One output row (batch b, output row oy): every column and channel.
void poolRow(const Geometry& g, Pool op, const float* in, float* out, int64_t b, int64_t oy) {
  const int64_t c = g.c;
  for (int64_t ox = 0; ox < g.ow; ++ox) {
    const Window wnd = window(g, oy, ox);
    float* o = out + ((b * g.oh + oy) * g.ow + ox) * c;
    // MaxPool starts from the lowest float and keeps (o < v ? v : o), as TensorFlow's CPU kernel:
    // NaN is passed over and a window of -inf gives the lowest float.
    std::fill(o, o + c, op == Pool::Max ? std::numeric_limits<float>::lowest() : 0.0f);
    for (int64_t y = wnd.y0; y < wnd.y1; ++y)
      for (int64_t x = wnd.x0; x < wnd.x1; ++x) {
        const float* v = in + ((b * g.h + y) * g.w + x) * c;
        if (op == Pool::Max)
          for (int64_t k = 0; k < c; ++k) o[k] = o[k] < v[k] ? v[k] : o[k];
        else
          for (int64_t k = 0; k < c; ++k) o[k] += v[k];
      }
    if (op == Pool::Avg) {
      const auto count = static_cast<float>(wnd.count());
      for (int64_t k = 0; k < c; ++k) o[k] /= count;
    }
  }
}

Shape outShape(const Geometry& g) {
  return {g.n, g.oh, g.ow, g.c};
}

const char* inputPort(Pool op) {
  return op == Pool::Max ? "input" : "value";
}

void poolCheck(BlockContext& ctx, Pool op) {
  ctx.setOutputShape("output", outShape(geometry(ctx, ctx.inputShape(inputPort(op)), op)));
}

void poolCompute(BlockContext& ctx, Pool op) {
  const Tensor& x = ctx.input(inputPort(op));
  const Geometry g = geometry(ctx, x.shape(), op);
  Tensor out = Tensor::uninitialized(outShape(g));
  const float* in = x.data();
  float* o = out.mutableData();
  const double perRow = std::max(1.0, g.work() / std::max<double>(1, g.outRows()));
  const auto chunk = static_cast<int64_t>(std::max(1.0, kCancelChunkElements / perRow));
  parallelChunks(ctx, g.outRows(), chunk, chunk, g.work() >= kSplitWork,
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t r = r0; r < r1; ++r) poolRow(g, op, in, o, r / g.oh, r % g.oh);
                 });
  ctx.setOutput("output", std::move(out));
}

// One image's input gradient: each output's gradient goes to the first maximum of its window
// (row-major order, TensorFlow's MaxPoolGrad on CPU) or, for AvgPool, divided by the number of
// input elements in the window, to each of them. Outputs are visited in order, so the sums are
// the same whatever the thread count.
void poolGradImage(const Geometry& g, Pool op, const float* in, const float* grad, float* dx,
                   int64_t b) {
  const int64_t c = g.c;
  std::fill(dx + b * g.h * g.w * c, dx + (b + 1) * g.h * g.w * c, 0.0f);
  // Per channel: the best value so far and its place in the window (row-major), or the share of
  // the gradient each element of the window gets. Same-width lanes and no branches, so that the
  // channel loops vectorise.
  std::vector<float> best(c);
  std::vector<int32_t> at(c);
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const Window wnd = window(g, oy, ox);
      const float* gr = grad + ((b * g.oh + oy) * g.ow + ox) * c;
      float* share = best.data();
      if (op == Pool::Avg) {
        const auto count = static_cast<float>(wnd.count());
        for (int64_t k = 0; k < c; ++k) share[k] = gr[k] / count;
        for (int64_t y = wnd.y0; y < wnd.y1; ++y)
          for (int64_t x = wnd.x0; x < wnd.x1; ++x) {
            float* d = dx + ((b * g.h + y) * g.w + x) * c;
            for (int64_t k = 0; k < c; ++k) d[k] += share[k];
          }
        continue;
      }
      // Places are pixel offsets from the window's first element (within one image, checked to
      // fit 32 bits).
      const int64_t first = (b * g.h + wnd.y0) * g.w + wnd.x0;
      std::fill(best.begin(), best.end(), 0.0f);
      std::fill(at.begin(), at.end(), -1);
      for (int64_t y = wnd.y0; y < wnd.y1; ++y)
        for (int64_t x = wnd.x0; x < wnd.x1; ++x) {
          const auto place = static_cast<int32_t>((y - wnd.y0) * g.w + (x - wnd.x0));
          const float* v = in + (first + place) * c;
          int32_t* a = at.data();
          for (int64_t k = 0; k < c; ++k) {
            const bool take = (a[k] < 0) | (share[k] < v[k]);
            share[k] = take ? v[k] : share[k];
            a[k] = take ? place : a[k];
          }
        }
      for (int64_t k = 0; k < c; ++k) dx[(first + at[k]) * c + k] += gr[k];
    }
}

void poolGradient(GradientContext& ctx, Pool op) {
  const Tensor& x = ctx.input(inputPort(op));
  const Geometry g = geometry(ctx, x.shape(), op);
  const Tensor grad = outputGradOrZeros(ctx, "output");
  Tensor dx = Tensor::uninitialized(x.shape());
  const float* in = x.data();
  const float* gr = grad.data();
  float* d = dx.mutableData();
  // A window is never empty (SAME pads at most k - 1 in total), but an empty output leaves
  // nothing to scatter.
  if (g.oh == 0 || g.ow == 0) std::fill(d, d + dx.size(), 0.0f);
  if (g.oh == 0 || g.ow == 0 || g.c == 0) {
    ctx.setInputGrad(inputPort(op), std::move(dx));
    return;
  }
  parallelChunks(ctx, g.n, 1, 1, g.work() >= kSplitWork, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) poolGradImage(g, op, in, gr, d, b);
  });
  ctx.setInputGrad(inputPort(op), std::move(dx));
}

void addPool(BlockRegistry& registry, const char* type, Pool op, std::string summary,
             std::string detail, std::string gradientDoc) {
  BlockDescriptor d;
  d.type = type;
  d.category = "Neural network";
  d.summary = std::move(summary);
  d.doc =
      "Slides a `ksize` window with `strides` over the rows and columns of an NHWC tensor "
      "([batch, height, width, channels]), each channel on its own. With `padding` VALID only "
      "whole windows inside the input count: out = floor((in - k) / s) + 1. With SAME, out = "
      "ceil(in / s) and the window is padded, the smaller half of the padding before (top, "
      "left), as TensorFlow. `ksize` and `strides` are [1, rows, columns, 1]; other values, "
      "another `data_format` than NHWC and a non-4-D input are refused with TensorFlow's "
      "messages (pooling over the depth dimension is not supported). " +
      std::move(detail) +
      " Output rows are independent and split over the op's threads for large tensors: any "
      "thread count gives the same bits.";
  d.ports = opPorts(
      {tensorInput(inputPort(op), RankRule::exactly(4),
                   "NHWC input, [batch, height, width, channels].")},
      {tensorOutput("output", RankRule::exactly(4), "[batch, out_height, out_width, channels].")});
  d.attrs = {
      {.name = "ksize",
       .type = AttrType::IntList,
       .required = true,
       .doc = "The window, [1, rows, columns, 1]."},
      {.name = "strides",
       .type = AttrType::IntList,
       .required = true,
       .doc = "The window's steps, [1, rows, columns, 1]."},
      {.name = "padding", .type = AttrType::String, .required = true, .doc = "SAME or VALID."},
      {.name = "data_format",
       .type = AttrType::String,
       .defaultValue = AttrValue{std::string("NHWC")},
       .doc = "Only NHWC (TensorFlow's CPU kernels take no other)."},
  };
  d.check = [op](BlockContext& ctx) { poolCheck(ctx, op); };
  d.compute = [op](BlockContext& ctx) { poolCompute(ctx, op); };
  d.gradient = [op](GradientContext& ctx) { poolGradient(ctx, op); };
  d.gradientDoc = std::move(gradientDoc);
  registry.add(std::move(d));
}

}  // namespace

void registerPoolBlocks(BlockRegistry& registry) {
  addPool(registry, "MaxPool", Pool::Max, "Performs max pooling on the input.",
          "Each output is the largest value of its window, as TensorFlow's CPU kernel: NaN is "
          "passed over, and a window holding only -inf gives the lowest float32. Exact.",
          "Each output's gradient goes to the first maximum of its window in row-major order "
          "(TensorFlow's CPU MaxPoolGrad; on ties only that element gets it); gradients of "
          "overlapping windows that pick the same element add up.");
  addPool(registry, "AvgPool", Pool::Avg, "Performs average pooling on the input.",
          "Each output is the mean of the input elements inside its window; with SAME the "
          "padding is not counted (a corner window averages fewer elements), as TensorFlow. "
          "The sum is float32 in row-major window order, then divided by the count, as "
          "TensorFlow's CPU kernel.",
          "Each output's gradient divided by the number of input elements in its window (padding "
          "not counted) and added to each of them.");
}

}  // namespace qs
