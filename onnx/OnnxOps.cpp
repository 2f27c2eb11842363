// The ONNX forms of the block types (docs/onnx.md has the table).

#include <cmath>

#include "blocks/array_ops/FakeQuantMath.h"
#include "onnx/OnnxEmit.h"
#include "runtime/OnnxModel.h"

namespace qs::onnxexport {

namespace {

OpForm unary(const std::string& op, const std::string& in, const std::string& out) {
  return [=](Emit& e) { e.node(op, {e.in(in)}, {e.out(out)}); };
}

OpForm binary(const std::string& op) {
  return [=](Emit& e) { e.node(op, {e.in("x"), e.in("y")}, {e.out("z")}); };
}

// TensorFlow's NHWC / HWIO against ONNX's NCHW / OIHW.
const std::vector<int64_t> kToNchw = {0, 3, 1, 2};
const std::vector<int64_t> kToNhwc = {0, 2, 3, 1};
const std::vector<int64_t> kHwioToOihw = {3, 2, 0, 1};

std::string transpose(Emit& e, const std::string& x, const std::vector<int64_t>& perm,
                      const std::string& name) {
  setAttr(e.node("Transpose", {x}, {e.tmp(name)}), "perm", perm);
  return e.tmp(name);
}

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;  // ONNX's, over [rows, columns]
};

// The window of a convolution or pooling over NHWC input `inShape`: TensorFlow's SAME pads so
// that out = ceil(in / stride), the odd row or column after; VALID pads nothing.
Window window(const Emit& e, const Shape& inShape, std::vector<int64_t> kernel,
              const std::string& stridesAttr, const std::string& dilationsAttr) {
  if (e.attrs().has("data_format") && e.attrs().getString("data_format") != "NHWC")
    e.fail("only NHWC is exported");
  Window w;
  w.kernel = kernel;
  const auto& s = e.attrs().getInts(stridesAttr);
  if (s.size() != 4) e.fail("'" + stridesAttr + "' must have 4 entries");
  w.strides = {s[1], s[2]};
  w.dilations = {1, 1};
  if (!dilationsAttr.empty()) {
    const auto& d = e.attrs().getInts(dilationsAttr);
    if (d.size() != 4) e.fail("'" + dilationsAttr + "' must have 4 entries");
    w.dilations = {d[1], d[2]};
  }
  const std::string padding = e.attrs().getString("padding");
  std::vector<int64_t> before(2, 0), after(2, 0);
  if (padding == "SAME") {
    for (int i = 0; i < 2; ++i) {
      const int64_t in = inShape[1 + i], st = w.strides[i];
      const int64_t out = (in + st - 1) / st;
      const int64_t span = (w.kernel[i] - 1) * w.dilations[i] + 1;
      const int64_t total = std::max<int64_t>((out - 1) * st + span - in, 0);
      before[i] = total / 2;
      after[i] = total - before[i];
    }
  } else if (padding != "VALID") {
    e.fail("padding '" + padding + "' is not exported (SAME and VALID are)");
  }
  w.pads = {before[0], before[1], after[0], after[1]};
  return w;
}

void setWindow(onnx::NodeProto& n, const Window& w, bool dilations) {
  setAttr(n, "kernel_shape", w.kernel);
  setAttr(n, "strides", w.strides);
  setAttr(n, "pads", w.pads);
  if (dilations) setAttr(n, "dilations", w.dilations);
}

// Conv2D and DepthwiseConv2dNative: NHWC input and HWIO / HWCM filter in, NHWC out.
void conv(Emit& e, bool depthwise) {
  const Shape& f = e.inShape("filter");
  const Window w = window(e, e.inShape("input"), {f[0], f[1]}, "strides", "dilations");
  std::string filter = e.in("filter");
  if (depthwise) {  // [H, W, C, M] -> [H, W, 1, C*M]: output channel c*M + m, as TensorFlow's
    filter = e.node("Reshape", {filter, e.ints("filter_shape", {f[0], f[1], 1, f[2] * f[3]})},
                    {e.tmp("filter_hw1o")})
                 .output(0);
  }
  const std::string weight = transpose(e, filter, kHwioToOihw, "filter_oihw");
  const std::string x = transpose(e, e.in("input"), kToNchw, "input_nchw");
  auto& n = e.node("Conv", {x, weight}, {e.tmp("output_nchw")});
  setWindow(n, w, true);
  if (depthwise) setAttr(n, "group", f[2]);
  setAttr(e.node("Transpose", {e.tmp("output_nchw")}, {e.out("output")}), "perm", kToNhwc);
}

void pool(Emit& e, const std::string& op, const std::string& in) {
  const auto& k = e.attrs().getInts("ksize");
  if (k.size() != 4 || k[0] != 1 || k[3] != 1) e.fail("'ksize' must be [1, rows, columns, 1]");
  const Window w = window(e, e.inShape(in), {k[1], k[2]}, "strides", "");
  const std::string x = transpose(e, e.in(in), kToNchw, "input_nchw");
  setWindow(e.node(op, {x}, {e.tmp("output_nchw")}), w, false);
  setAttr(e.node("Transpose", {e.tmp("output_nchw")}, {e.out("output")}), "perm", kToNhwc);
}

void matMul(Emit& e) {
  std::string a = e.in("a"), b = e.in("b");
  if (e.attrs().getBool("transpose_a")) a = transpose(e, a, {1, 0}, "a_t");
  if (e.attrs().getBool("transpose_b")) b = transpose(e, b, {1, 0}, "b_t");
  e.node("MatMul", {a, b}, {e.out("product")});
}

OpForm reduce(const std::string& op) {
  return [=](Emit& e) {
    const auto& axis = e.attrs().getInts("axis");
    const bool keep = e.attrs().getBool("keep_dims");
    if (op == "ReduceSum") {  // axes is an input from opset 13 on
      std::vector<std::string> ins = {e.in("input")};
      if (!axis.empty()) ins.push_back(e.ints("axes", axis));
      setAttr(e.node(op, ins, {e.out("output")}), "keepdims", int64_t(keep));
      return;
    }
    auto& n = e.node(op, {e.in("input")}, {e.out("output")});
    if (!axis.empty()) setAttr(n, "axes", axis);
    setAttr(n, "keepdims", int64_t(keep));
  };
}

void reshape(Emit& e) {
  const auto& shape = e.attrs().getInts("shape");
  for (int64_t d : shape)
    if (d == 0) e.fail("a 0 in 'shape' means \"copy the dimension\" to opset 13's Reshape");
  e.node("Reshape", {e.in("tensor"), e.ints("shape", shape)}, {e.out("output")});
}

void cast(Emit& e) {
  const DType to = dtypeFromName(e.attrs().getString("DstT"));
  setAttr(e.node("Cast", {e.in("x")}, {e.out("y")}), "to", int64_t(onnxElemType(to)));
}

void argMax(Emit& e) {
  const bool int32 = e.attrs().getString("output_type") == "int32";
  const std::string out = int32 ? e.tmp("index64") : e.out("output");
  auto& n = e.node("ArgMax", {e.in("input")}, {out});
  setAttr(n, "axis", e.attrs().getInt("dimension"));
  setAttr(n, "keepdims", int64_t(0));
  if (int32)
    setAttr(e.node("Cast", {out}, {e.out("output")}), "to", int64_t(onnxElemType(DType::Int32)));
}

void relu6(Emit& e) {
  e.node("Clip", {e.in("features"), e.scalar("zero", 0.0f), e.scalar("six", 6.0f)},
         {e.out("activations")});
}

void softmax(Emit& e) {
  setAttr(e.node("Softmax", {e.in("logits")}, {e.out("softmax")}), "axis", int64_t(-1));
}

}  // namespace

void fakeQuant(Emit& e, const std::vector<float>& mins, const std::vector<float>& maxs,
               bool perChannel);

const std::map<std::string, OpForm>& opForms() {
  static const std::map<std::string, OpForm> forms = {
      {"Identity", unary("Identity", "input", "output")},
      {"Abs", unary("Abs", "x", "y")},
      {"Relu", unary("Relu", "features", "activations")},
      {"Relu6", relu6},
      {"Softmax", softmax},
      {"Square",
       [](Emit& e) {
         e.node("Mul", {e.in("x"), e.in("x")}, {e.out("y")});
       }},
      {"Add", binary("Add")},
      {"Sub", binary("Sub")},
      {"Mul", binary("Mul")},
      {"Equal", binary("Equal")},
      {"BiasAdd",
       [](Emit& e) {
         e.node("Add", {e.in("value"), e.in("bias")}, {e.out("output")});
       }},
      {"MatMul", matMul},
      {"Conv2D", [](Emit& e) { conv(e, false); }},
      {"DepthwiseConv2dNative", [](Emit& e) { conv(e, true); }},
      {"MaxPool", [](Emit& e) { pool(e, "MaxPool", "input"); }},
      {"AvgPool", [](Emit& e) { pool(e, "AveragePool", "value"); }},
      {"Reshape", reshape},
      {"Transpose",
       [](Emit& e) {
         setAttr(e.node("Transpose", {e.in("x")}, {e.out("y")}), "perm", e.attrs().getInts("perm"));
       }},
      {"Cast", cast},
      {"ArgMax", argMax},
      {"Mean", reduce("ReduceMean")},
      {"Sum", reduce("ReduceSum")},
      {"Min", reduce("ReduceMin")},
      {"Max", reduce("ReduceMax")},
      {"FakeQuantWithMinMaxVarsPerChannel",
       [](Emit& e) { fakeQuant(e, e.value("min").toVector(), e.value("max").toVector(), true); }},
      {"FakeQuantWithMinMaxVars",
       [](Emit& e) { fakeQuant(e, e.value("min").toVector(), e.value("max").toVector(), false); }},
      {"FakeQuantWithMinMaxArgs",
       [](Emit& e) {
         fakeQuant(e, {float(e.attrs().getFloat("min"))}, {float(e.attrs().getFloat("max"))},
                   false);
       }},
  };
  return forms;
}

bool takenAsValue(const std::string& type, const std::string& port) {
  return (type == "FakeQuantWithMinMaxVarsPerChannel" || type == "FakeQuantWithMinMaxVars") &&
         (port == "min" || port == "max");
}

}  // namespace qs::onnxexport
