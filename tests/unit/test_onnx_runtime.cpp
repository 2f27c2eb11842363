// Exported models run in ONNX Runtime (npm onnxruntime-node, CPU) and give Quant Space's results:
// bit for bit, except the FakeQuant outputs at rounding ties (ONNX rounds half to even, TensorFlow
// half up), which are counted; and, after the layers whose sums ONNX Runtime orders its own way
// (MatMul, Conv, pooling, reductions, Softmax), to float rounding.

#include <iostream>
#include <set>

#include "onnx_test_support.h"

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
