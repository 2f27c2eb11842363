// Exported models run in ONNX Runtime (npm onnxruntime-node, CPU) and give Quant Space's results:
// bit for bit, except the FakeQuant outputs at rounding ties (ONNX rounds half to even, TensorFlow
// half up), which are counted; and, after the layers whose sums ONNX Runtime orders its own way
// (MatMul, Conv, pooling, reductions, Softmax), to float rounding.

#include <iostream>
#include <set>

#include "onnx_test_support.h"

namespace test_onnx_runtime {

using namespace qs;
using namespace qs::test;
namespace fs = std::filesystem;

namespace {

struct ExampleExport {
  std::string page;
  std::vector<std::string> fetch;   // results compared bit for bit (ties counted)
  std::vector<std::string> summed;  // results after summing layers: compared to float rounding
};

// The blocks that have no ONNX form, which a default export of an example meets.
const std::set<std::string> kNoForm = {"QuantizationReport",
                                       "FakeQuantWithMinMaxVarsPerChannelGradient",
                                       "FakeQuantWithMinMaxVarsGradient",
                                       "FakeQuantWithMinMaxArgsGradient",
                                       "Gradients",
                                       "ApplyAdam",
                                       "ApplyGradientDescent",
                                       "ApplyMomentum",
                                       "SparseSoftmaxCrossEntropyWithLogits"};

// Elements within `tol` times the largest magnitude of the result.
int64_t closeCount(const Tensor& a, const Tensor& b, double tol) {
  double big = 0;
  for (float v : a.values()) big = std::max(big, std::abs(double(v)));
  int64_t close = 0;
  for (int64_t i = 0; i < a.size(); ++i)
    close += std::abs(double(a.data()[i]) - double(b.data()[i])) <= tol * big;
  return close;
}

}  // namespace

TEST_CASE(
    "ONNX export: every example page that exports runs in ONNX Runtime with Quant Space's results",
    "[onnx][ort]") {
  const std::vector<ExampleExport> examples = {
      {"using_method", {"fq.result_output"}, {}},
      {"calibration", {"fq.result_output", "x.result_z"}, {}},
      {"per_channel_large", {"fq.result_output"}, {}},
      {"gradient", {"fq.result_output"}, {}},
      {"learn_ranges", {"fq.result_output"}, {}},
      {"linear_regression", {"pred.result_z"}, {}},
      {"vars_and_args", {"fq_vars.result_output", "fq_args.result_output"}, {}},
      {"pretrained_depthwise",
       {"fq_tensor_8.result_output", "fq_tensor_4.result_output", "fq_channel_8.result_output",
        "fq_channel_4.result_output"},
       {}},
      {"digits_qat", {"w1_pc.result_output", "w2_pt.result_output"}, {"tpc_logits.result_output"}},
      {"digits_float", {}, {"t_logits.result_output"}},
  };
  const fs::path dir = fs::path(QS_SOURCE_DIR) / "assets" / "examples";
  int64_t ties = 0, elements = 0;
  for (const ExampleExport& ex : examples) {
    INFO(ex.page);
    const fs::path path = dir / (ex.page + ".page.json");
    // A default export (every result of a block that feeds nothing) either works or names a
    // block of a type that has no ONNX form.
    {
      LoadedPage page = loadPage(path);
      Evaluator ev(builtinRegistry());
      EvalOptions options;
      options.pageDir = page.dir;
      const bool ok = ev.evaluate(page.page, options).failed.empty();
      if (ok) {
        try {
          exportOnnx(page.page, ev);
        } catch (const OnnxExportError& e) {
          INFO(e.what());
          CHECK(kNoForm.count(e.type));
        }
      }
    }
    std::vector<std::string> fetch = ex.fetch;
    fetch.insert(fetch.end(), ex.summed.begin(), ex.summed.end());
    const Exported x = evaluateAndExport(loadPage(path), fetch);
    const auto ort = runOnnxRuntime(x.bytes, {}, fetch);
    for (const std::string& name : ex.fetch) {
      INFO(name);
      const Tensor ours = *x.evaluator->result(name);
      const Agreement a =
          compareWithOracle(ours, ort.at(name), fqOracle(x.page.page, *x.evaluator, name));
      INFO(a.firstOther);
      CHECK(a.other == 0);
      ties += a.ties;
      elements += ours.size();
    }
    for (const std::string& name : ex.summed) {
      INFO(name);
      const Tensor ours = *x.evaluator->result(name);
      REQUIRE(ours.shape() == ort.at(name).shape());
      INFO("ours[0] " << ours.data()[0] << ", ONNX Runtime's " << ort.at(name).data()[0]);
      CHECK(closeCount(ours, ort.at(name), 1e-5) == ours.size());
    }
  }
  std::cout << "ONNX Runtime against Quant Space on the examples: " << elements
            << " FakeQuant/elementwise elements, " << ties << " rounding ties\n";
}

TEST_CASE(
    "ONNX export: the layers' forms (NHWC convolutions, pooling, reductions) run in ONNX Runtime",
    "[onnx][ort]") {
  const auto ramp = [](Shape shape, float start, float step) {
    Tensor t = Tensor::zeros(std::move(shape));
    for (int64_t i = 0; i < t.size(); ++i) t.mutableData()[i] = start + step * float((i * 7) % 23);
    return t;
  };
  const std::string page = R"({"format": "quantspace-page", "version": 1, "blocks": [
    {"id": "img", "type": "Placeholder", "attrs": {"shape": [-1, 7, 6, 3]}},
    {"id": "w", "type": "Const", "attrs": {"npy": "w.npy"}},
    {"id": "dw", "type": "Const", "attrs": {"npy": "dw.npy"}},
    {"id": "conv", "type": "Conv2D", "attrs": {"strides": [1, 2, 2, 1], "padding": "SAME"}},
    {"id": "relu", "type": "Relu6"},
    {"id": "dconv", "type": "DepthwiseConv2dNative", "attrs": {"padding": "VALID", "dilations": [1, 1, 2, 1]}},
    {"id": "maxp", "type": "MaxPool", "attrs": {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1], "padding": "SAME"}},
    {"id": "avgp", "type": "AvgPool", "attrs": {"ksize": [1, 3, 3, 1], "strides": [1, 1, 1, 1], "padding": "SAME"}},
    {"id": "flat", "type": "Reshape", "attrs": {"shape": [-1, 32]}},
    {"id": "sm", "type": "Softmax"},
    {"id": "mean", "type": "Mean", "attrs": {"axis": [1, 2], "keep_dims": true}},
    {"id": "sum", "type": "Sum", "attrs": {"axis": [-1]}},
    {"id": "tr", "type": "Transpose", "attrs": {"perm": [0, 3, 1, 2]}},
    {"id": "am", "type": "ArgMax", "attrs": {"dimension": 1, "output_type": "int32"}}
  ], "links": [
    {"from": ["img", "output"], "to": ["conv", "input"]}, {"from": ["w", "output"], "to": ["conv", "filter"]},
    {"from": ["conv", "output"], "to": ["relu", "features"]},
    {"from": ["relu", "activations"], "to": ["dconv", "input"]}, {"from": ["dw", "output"], "to": ["dconv", "filter"]},
    {"from": ["relu", "activations"], "to": ["maxp", "input"]},
    {"from": ["relu", "activations"], "to": ["avgp", "value"]},
    {"from": ["maxp", "output"], "to": ["flat", "tensor"]},
    {"from": ["flat", "output"], "to": ["sm", "logits"]},
    {"from": ["avgp", "output"], "to": ["mean", "input"]},
    {"from": ["dconv", "output"], "to": ["sum", "input"]},
    {"from": ["avgp", "output"], "to": ["tr", "x"]},
    {"from": ["flat", "output"], "to": ["am", "input"]}
  ]})";
  TempDir dir;
  writeNpy(dir / "w.npy", ramp({3, 3, 3, 8}, -0.5f, 0.05f));
  writeNpy(dir / "dw.npy", ramp({2, 2, 8, 2}, -0.3f, 0.04f));
  const auto pagePath = dir.write("layers.page.json", page);
  const Tensor img = ramp({2, 7, 6, 3}, -1.0f, 0.1f);
  const std::vector<std::string> fetch = {"sm.result_softmax", "mean.result_output",
                                          "sum.result_output", "tr.result_y", "am.result_output"};
  const Exported x = evaluateAndExport(loadPage(pagePath), fetch, {{"img", img}});
  const auto ort = runOnnxRuntime(x.bytes, {{"img", img}}, fetch);
  for (const std::string& name : fetch) {
    INFO(name);
    const Tensor ours = *x.evaluator->result(name);
    REQUIRE(ours.shape() == ort.at(name).shape());
    REQUIRE(ours.dtype() == ort.at(name).dtype());
    if (ours.dtype() == DType::Int32) {
      for (int64_t i = 0; i < ours.size(); ++i)
        CHECK(ours.as<int32_t>()[i] == ort.at(name).as<int32_t>()[i]);
    } else {
      CHECK(closeCount(ours, ort.at(name), 1e-5) == ours.size());
    }
  }
}

}  // namespace test_onnx_runtime
