// Conv2D and DepthwiseConv2dNative (NHWC input, HWIO filter), as TensorFlow computes them, with
// their gradients.

#include <climits>
#include <string>

#include "blocks/GradientHelpers.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/TfShape.h"
#include "blocks/nn/ConvKernels.h"
#include "runtime/Error.h"

namespace qs {

namespace {

enum class ConvKind { Conv2D, Depthwise };

// Attributes and filter shapes in TensorFlow's order of checks, with its messages.
void checkConvAttrs(const AttrValues& a, ConvKind kind, nn::ConvGeometry& g, bool& same) {
  const std::string& format = a.getString("data_format");
  if (format != "NHWC" && format != "NCHW") throw Error("Invalid data format");
  if (format == "NCHW")
    throw Error(kind == ConvKind::Conv2D
                    ? "The Conv2D op currently only supports the NHWC tensor format on the CPU. "
                      "The op was given the format: NCHW"
                    : "Depthwise convolution on CPU is only supported for NHWC format");
  const auto& dilations = a.getInts("dilations");
  const auto& strides = a.getInts("strides");
  if (dilations.size() != 4)
    throw Error("Sliding window dilations field must specify 4 dimensions");
  if (strides.size() != 4) throw Error("Sliding window strides field must specify 4 dimensions");
  if (strides[0] != 1 || strides[3] != 1)
    throw Error(
        "Current implementation does not yet support strides in the batch and depth "
        "dimensions.");
  if (strides[1] <= 0 || strides[2] <= 0)
    throw Error("Row and column strides should be larger than 0.");
  if (dilations[0] != 1 || dilations[3] != 1)
    throw Error(
        "Current implementation does not yet support dilations in the batch and depth "
        "dimensions.");
  if (dilations[1] <= 0 || dilations[2] <= 0) throw Error("Dilated rates should be larger than 0.");
  for (const int64_t v : {strides[1], strides[2], dilations[1], dilations[2]})
    if (v > INT_MAX)
      throw Error("strides and dilations must be at most " + std::to_string(INT_MAX));
  const std::string& padding = a.getString("padding");
  if (padding == "EXPLICIT")
    throw Error("padding EXPLICIT (with explicit_paddings) is not supported: use SAME or VALID");
  if (padding != "SAME" && padding != "VALID")
    throw Error("Value for attr 'padding' of \"" + padding +
                "\" is not in the list of allowed values: \"SAME\", \"VALID\"");
  same = padding == "SAME";
  g.strideRows = strides[1];
  g.strideCols = strides[2];
  g.dilationRows = dilations[1];
  g.dilationCols = dilations[2];
}

nn::ConvGeometry convGeometry(const BlockContext& ctx, ConvKind kind) {
  nn::ConvGeometry g;
  bool same = false;
  checkConvAttrs(ctx.attrs(), kind, g, same);
  const Shape& in = ctx.inputShape("input");
  const Shape& f = ctx.inputShape("filter");
  // Before any dimension is read: check() runs ahead of the ports' rank rules.
  if (in.size() != 4) throw Error("input must be 4-dimensional, but is " + tfShape(in));
  if (f.size() != 4) throw Error("filter must be 4-dimensional, but is " + tfShape(f));
  // TensorFlow's bounds, which also keep the window arithmetic far from overflow.
  for (int i = 0; i < 3; ++i)
    if (f[i] > INT_MAX) throw Error("filter too large");
  if (in[3] > INT_MAX) throw Error("Input depth too large");
  if (in[1] > INT_MAX) throw Error("Input rows too large");
  if (in[2] > INT_MAX) throw Error("Input cols too large");
  if (in[0] > INT_MAX) throw Error("batch is too large");
  if (kind == ConvKind::Conv2D) {
    if (f[2] == 0 || in[3] % f[2] != 0)
      throw Error("input depth must be evenly divisible by filter depth: " + std::to_string(in[3]) +
                  " vs " + std::to_string(f[2]));
    if (in[3] != f[2])
      throw Error(
          "The Conv2D op currently does not support grouped convolutions on the CPU. A grouped "
          "convolution was attempted to be run because the input depth of " +
          std::to_string(in[3]) + " does not match the filter input depth of " +
          std::to_string(f[2]));
  } else if (in[3] != f[2]) {
    throw Error("input and filter must have the same depth: " + std::to_string(in[3]) + " vs " +
                std::to_string(f[2]));
  }
  g.batch = in[0];
  g.inRows = in[1];
  g.inCols = in[2];
  g.inDepth = in[3];
  g.filterRows = f[0];
  g.filterCols = f[1];
  g.multiplier = kind == ConvKind::Depthwise ? f[3] : 1;
  g.outDepth = kind == ConvKind::Depthwise ? in[3] * f[3] : f[3];
  nn::windowedOutputSize(g.inRows, g.filterRows, g.dilationRows, g.strideRows, same, g.outRows,
                         g.padTop);
  nn::windowedOutputSize(g.inCols, g.filterCols, g.dilationCols, g.strideCols, same, g.outCols,
                         g.padLeft);
  return g;
}

void convCheck(BlockContext& ctx, ConvKind kind) {
  const nn::ConvGeometry g = convGeometry(ctx, kind);
  ctx.setOutputShape("output", {g.batch, g.outRows, g.outCols, g.outDepth});
}

void convCompute(BlockContext& ctx, ConvKind kind) {
  const nn::ConvGeometry g = convGeometry(ctx, kind);
  Tensor out = Tensor::uninitialized({g.batch, g.outRows, g.outCols, g.outDepth});
  const float* x = ctx.input("input").data();
  const float* w = ctx.input("filter").data();
  if (kind == ConvKind::Conv2D)
    nn::conv2d(ctx, g, x, w, out.mutableData());
  else
    nn::depthwiseConv2d(ctx, g, x, w, out.mutableData());
  ctx.setOutput("output", std::move(out));
}

// TensorFlow's _Conv2DGrad and _DepthwiseConv2dNativeGrad: the backprop-input and backprop-filter
// ops on the gradient of the output, with the forward's attributes.
void convGradient(GradientContext& ctx, ConvKind kind) {
  const nn::ConvGeometry g = convGeometry(ctx, kind);
  const Tensor dy = outputGradOrZeros(ctx, "output");
  const Tensor& x = ctx.input("input");
  const Tensor& w = ctx.input("filter");
  if (ctx.wantsGrad("input")) {
    Tensor dx = Tensor::uninitialized(x.shape());
    if (kind == ConvKind::Conv2D)
      nn::conv2dBackpropInput(ctx, g, w.data(), dy.data(), dx.mutableData());
    else
      nn::depthwiseBackpropInput(ctx, g, w.data(), dy.data(), dx.mutableData());
    ctx.setInputGrad("input", std::move(dx));
  }
  if (ctx.wantsGrad("filter")) {
    Tensor dw = Tensor::uninitialized(w.shape());
    if (kind == ConvKind::Conv2D)
      nn::conv2dBackpropFilter(ctx, g, x.data(), dy.data(), dw.mutableData());
    else
      nn::depthwiseBackpropFilter(ctx, g, x.data(), dy.data(), dw.mutableData());
    ctx.setInputGrad("filter", std::move(dw));
  }
}

std::vector<AttrDescriptor> convAttrs() {
  return {{.name = "strides",
           .type = AttrType::IntList,
           .defaultValue = AttrValue{std::vector<int64_t>{1, 1, 1, 1}},
           .doc = "[1, stride_rows, stride_cols, 1]: the step of the sliding window."},
          {.name = "padding",
           .type = AttrType::String,
           .defaultValue = AttrValue{std::string("VALID")},
           .doc = "SAME (output size ceil(in / stride), zeros around, the odd one after) or "
                  "VALID (no padding)."},
          {.name = "data_format",
           .type = AttrType::String,
           .defaultValue = AttrValue{std::string("NHWC")},
           .doc = "NHWC, the only layout supported (NCHW is refused, as TensorFlow does on "
                  "the CPU)."},
          {.name = "dilations",
           .type = AttrType::IntList,
           .defaultValue = AttrValue{std::vector<int64_t>{1, 1, 1, 1}},
           .doc = "[1, rate_rows, rate_cols, 1]: the filter's taps are this far apart."}};
}

const char* kGeometryDoc =
    " The output has ceil(in / stride) rows and columns with SAME padding (zeros before and "
    "after, the odd one after), and floor((in - (filter - 1) * dilation - 1) / stride) + 1 with "
    "VALID. Checks and messages are TensorFlow's (`Computed output size would be negative: ...`, "
    "`Current implementation does not yet support strides in the batch and depth dimensions.`, "
    "...); `padding` EXPLICIT is not supported.";

void addConv2D(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "Conv2D";
  d.category = "Neural network";
  d.summary = "Computes a 2-D convolution given 4-D `input` and `filter` tensors.";
  d.doc = std::string(
              "`output[b, i, j, k] = sum over di, dj, q of input[b, strides[1] * i + "
              "dilations[1] * di - pad_top, strides[2] * j + dilations[2] * dj - pad_left, q] * "
              "filter[di, dj, q, k]` in float32, padding reading as 0.") +
          kGeometryDoc +
          "\n\nComputed as a product of the input's patches with the filter, in tiles fixed by "
          "the shapes and split between the page's threads: the same bits whatever the thread "
          "count, agreeing with TensorFlow to rounding (the order of the sums differs).";
  d.ports = opPorts(
      {tensorInput("input", RankRule::exactly(4), "[batch, in_height, in_width, in_channels]."),
       tensorInput("filter", RankRule::exactly(4),
                   "[filter_height, filter_width, in_channels, out_channels].")},
      {tensorOutput("output", RankRule::exactly(4),
                    "[batch, out_height, out_width, out_channels].")});
  d.attrs = convAttrs();
  d.check = [](BlockContext& ctx) { convCheck(ctx, ConvKind::Conv2D); };
  d.compute = [](BlockContext& ctx) { convCompute(ctx, ConvKind::Conv2D); };
  d.gradient = [](GradientContext& ctx) { convGradient(ctx, ConvKind::Conv2D); };
  d.gradientDoc =
      "TensorFlow's Conv2DBackpropInput and Conv2DBackpropFilter on the gradient of `output`: "
      "d/dinput gathers, for each input pixel, the output gradients its taps reach, times the "
      "filter; d/dfilter is the patches' transpose times the output gradient, summed over the "
      "pixels in fixed chunks added in order.";
  registry.add(std::move(d));
}

void addDepthwise(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "DepthwiseConv2dNative";
  d.category = "Neural network";
  d.summary = "Computes a 2-D depthwise convolution given 4-D `input` and `filter` tensors.";
  d.doc = std::string(
              "Each input channel is convolved with its own filters: `output[b, i, j, k * "
              "channel_multiplier + q] = sum over di, dj of input[b, strides[1] * i + "
              "dilations[1] * di - pad_top, strides[2] * j + dilations[2] * dj - pad_left, k] * "
              "filter[di, dj, k, q]` in float32, padding reading as 0.") +
          kGeometryDoc +
          " The filter's third dimension must be the input's channels (`input and filter must "
          "have the same depth: 3 vs 2`).";
  d.ports = opPorts(
      {tensorInput("input", RankRule::exactly(4), "[batch, in_height, in_width, in_channels]."),
       tensorInput("filter", RankRule::exactly(4),
                   "[filter_height, filter_width, in_channels, channel_multiplier].")},
      {tensorOutput("output", RankRule::exactly(4),
                    "[batch, out_height, out_width, in_channels * channel_multiplier].")});
  d.attrs = convAttrs();
  d.check = [](BlockContext& ctx) { convCheck(ctx, ConvKind::Depthwise); };
  d.compute = [](BlockContext& ctx) { convCompute(ctx, ConvKind::Depthwise); };
  d.gradient = [](GradientContext& ctx) { convGradient(ctx, ConvKind::Depthwise); };
  d.gradientDoc =
      "TensorFlow's DepthwiseConv2dNativeBackpropInput and ...BackpropFilter on the gradient of "
      "`output`: d/dinput sums, for each input pixel and channel, the output gradients its taps "
      "reach times the filter; d/dfilter sums input times output gradient over the pixels, in "
      "fixed chunks added in order.";
  registry.add(std::move(d));
}

}  // namespace

void registerConvBlocks(BlockRegistry& registry) {
  addConv2D(registry);
  addDepthwise(registry);
}

}  // namespace qs
