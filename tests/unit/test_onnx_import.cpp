// ONNX models read back: initializers as weights, QuantizeLinear + DequantizeLinear pairs as
// FakeQuant blocks (export -> import -> evaluate gives the page's results; Debian's ONNX test
// cases with an axis), and hostile files refused with a message.

#include <onnx/onnx_pb.h>

#include "onnx/OnnxImport.h"
#include "onnx_test_support.h"
#include "runtime/OnnxModel.h"
#include "runtime/WeightFiles.h"

namespace test_onnx_import {

using namespace qs;
using namespace qs::test;
namespace fs = std::filesystem;

namespace {

// The evaluation of an imported page (Placeholders fed), every block without error.
std::unique_ptr<Evaluator> evaluateImported(const Page& page,
                                            const std::map<std::string, Tensor>& feeds = {}) {
  auto ev = std::make_unique<Evaluator>(builtinRegistry());
  for (const auto& [id, t] : feeds) ev->setFeed(BlockId(id), t);
  const EvalReport r = ev->evaluate(page);
  for (const BlockId& id : r.failed) FAIL_CHECK(id.str() << ": " << ev->state(id)->error);
  REQUIRE(r.failed.empty());
  return ev;
}

std::string importedResult(const std::string& name) {
  std::string id = name;
  for (char& c : id)
    if (c == '.') c = '_';
  return id + ".result_output";
}

Tensor readPb(const fs::path& p) {
  onnx::TensorProto t;
  REQUIRE(t.ParseFromString(slurp(p)));
  return tensorFromOnnx(t, p.string());
}

std::string expectImportError(const std::string& bytes) {
  try {
    importOnnxPage(bytes, "hostile.onnx", "hostile.onnx");
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("imported");
  return {};
}

}  // namespace

TEST_CASE("ONNX import: export, import and evaluate gives the page's results, ties counted",
          "[onnx]") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> pages = {
      {"using_method", {"fq.result_output"}},
      {"calibration", {"fq.result_output"}},
      {"vars_and_args", {"fq_vars.result_output", "fq_args.result_output"}},
      {"learn_ranges", {"fq.result_output"}},
  };
  int64_t ties = 0;
  for (const auto& [name, fetch] : pages) {
    INFO(name);
    const Exported x = evaluateAndExport(
        loadPage(fs::path(QS_SOURCE_DIR) / "assets" / "examples" / (name + ".page.json")), fetch);
    TempDir dir;
    const fs::path model = dir.write("m.onnx", x.bytes);
    const Page imported = importOnnxPage(model);
    const auto ev = evaluateImported(imported);
    for (const std::string& result : fetch) {
      INFO(result);
      const auto back = ev->result(importedResult(result));
      REQUIRE(back);
      const Agreement a = compareWithOracle(*x.evaluator->result(result), *back,
                                            fqOracle(x.page.page, *x.evaluator, result));
      INFO(a.firstOther);
      CHECK(a.other == 0);
      ties += a.ties;
    }
  }
  // FakeQuantWithMinMaxArgs multiplies by the inverse scale, the imported Vars op divides: the
  // two may differ only at (near) midpoints, which the oracle counts as ties.
  CHECK(ties >= 0);
}

TEST_CASE("ONNX import: the initializers are weights for Const and Import weights", "[onnx]") {
  const Exported x = evaluateAndExport(
      loadPage(fs::path(QS_SOURCE_DIR) / "assets" / "examples" / "using_method.page.json"),
      {"fq.result_output"});
  TempDir dir;
  const fs::path model = dir.write("m.onnx", x.bytes);
  const auto tensors = readWeightFile(model);
  std::map<std::string, Tensor> byName;
  for (const auto& t : tensors) byName[t.name] = t.tensor;
  REQUIRE(byName.count("x"));
  CHECK(byName.at("x").toVector() == std::vector<float>{-1, 0, 5, 6});
  // [0, 5] at 8 bits: scale 5/255, zero point 0.
  REQUIRE(byName.count("fq/scale"));
  CHECK(byName.at("fq/scale").toVector() == std::vector<float>(4, 5.0f / 255.0f));
  CHECK(byName.at("fq/zero_point").dtype() == DType::UInt8);
}

TEST_CASE("ONNX import: Debian's QuantizeLinear / DequantizeLinear cases with an axis", "[onnx]") {
  const fs::path root = "/usr/share/libonnx-testdata/data/node";
  if (!fs::exists(root / "test_quantizelinear_axis"))
    FAIL(root << " is missing: apt-get install libonnx-testdata (scripts/install-deps.sh)");
  SECTION("test_quantizelinear_axis: x quantized along axis 1, then dequantized") {
    const fs::path dir = root / "test_quantizelinear_axis";
    onnx::ModelProto m;
    readOnnxModel(dir / "model.onnx", m);
    const Tensor x = readPb(dir / "test_data_set_0" / "input_0.pb");
    const Tensor scale = readPb(dir / "test_data_set_0" / "input_1.pb");
    const Tensor zp = readPb(dir / "test_data_set_0" / "input_2.pb");
    const Tensor q = readPb(dir / "test_data_set_0" / "output_0.pb");
    REQUIRE(q.dtype() == DType::UInt8);
    // scale and zero point become initializers; a DequantizeLinear completes the pair.
    auto* g = m.mutable_graph();
    const std::string xName = g->input(0).name();
    tensorToOnnx(scale, g->input(1).name(), *g->add_initializer());
    tensorToOnnx(zp, g->input(2).name(), *g->add_initializer());
    g->mutable_input()->DeleteSubrange(1, 2);
    auto* dq = g->add_node();
    *dq = g->node(0);
    dq->set_op_type("DequantizeLinear");
    dq->set_name("dq");
    dq->set_input(0, g->node(0).output(0));
    dq->set_output(0, "y");
    g->mutable_output(0)->set_name("y");
    g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        onnx::TensorProto::FLOAT);
    std::string bytes;
    m.SerializeToString(&bytes);
    const Page page = importOnnxPage(bytes, "qdq.onnx", "qdq.onnx");
    const auto ev = evaluateImported(page, {{xName, x}});
    const Tensor ours = *ev->result("y.result_y");  // the Transpose back from the channel axis
    // Expected: ONNX's q from the test case, dequantized here as (q - zp) * scale, channel = axis 1
    // of [1, 3, 3, 2].
    int64_t ties = 0;
    REQUIRE(ours.shape() == x.shape());
    for (int64_t i = 0; i < x.size(); ++i) {
      const int64_t c = (i / 6) % 3;
      const float s = scale.data()[c];
      const float want = float(int(q.as<uint8_t>()[i]) - int(zp.as<uint8_t>()[c])) * s;
      if (ours.data()[i] == want) continue;
      const double t = double(x.data()[i]) / s;
      INFO("element " << i << ": x " << x.data()[i] << ", ours " << ours.data()[i] << ", want "
                      << want);
      CHECK(std::abs(t - std::floor(t) - 0.5) < 1e-6);  // half-up against half-even only
      ++ties;
    }
    CHECK(ties < x.size() / 2);
  }
  SECTION("test_dequantizelinear_axis: its dequantized values are levels, and stay as they are") {
    const fs::path dir = root / "test_dequantizelinear_axis";
    const Tensor scale = readPb(dir / "test_data_set_0" / "input_1.pb");
    const Tensor zp = readPb(dir / "test_data_set_0" / "input_2.pb");
    const Tensor y = readPb(dir / "test_data_set_0" / "output_0.pb");
    REQUIRE(y.rank() == 4);
    onnx::ModelProto m;
    m.set_ir_version(7);
    m.add_opset_import()->set_version(13);
    auto* g = m.mutable_graph();
    auto* in = g->add_input();
    in->set_name("v");
    in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : y.shape())
      in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
    tensorToOnnx(scale, "s", *g->add_initializer());
    tensorToOnnx(zp, "z", *g->add_initializer());
    for (const char* op : {"QuantizeLinear", "DequantizeLinear"}) {
      auto* n = g->add_node();
      n->set_op_type(op);
      n->set_name(op);
      n->add_input(std::string(op) == "QuantizeLinear" ? "v" : "q");
      n->add_input("s");
      n->add_input("z");
      n->add_output(std::string(op) == "QuantizeLinear" ? "q" : "out");
      auto* a = n->add_attribute();
      a->set_name("axis");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(1);
    }
    g->add_output()->set_name("out");
    std::string bytes;
    m.SerializeToString(&bytes);
    const Page page = importOnnxPage(bytes, "dq.onnx", "dq.onnx");
    const auto ev = evaluateImported(page, {{"v", y}});
    const Tensor ours = *ev->result("out.result_y");
    REQUIRE(ours.shape() == y.shape());
    for (int64_t i = 0; i < y.size(); ++i) CHECK(ours.data()[i] == y.data()[i]);
  }
}

TEST_CASE("ONNX import: hostile files are refused with a message", "[onnx]") {
  const Exported x = evaluateAndExport(
      loadPage(fs::path(QS_SOURCE_DIR) / "assets" / "examples" / "using_method.page.json"),
      {"fq.result_output"});
  onnx::ModelProto good;
  REQUIRE(good.ParseFromString(x.bytes));
  const auto serialized = [](const onnx::ModelProto& m) {
    std::string b;
    m.SerializeToString(&b);
    return b;
  };
  SECTION("truncated") {
    CHECK_THAT(expectImportError(x.bytes.substr(0, x.bytes.size() / 2)),
               Catch::Contains("not an ONNX model"));
    CHECK_THAT(expectImportError("not protobuf at all \xff\xff\xff"),
               Catch::Contains("hostile.onnx"));
  }
  SECTION("huge dimensions") {
    onnx::ModelProto m = good;
    auto* t = m.mutable_graph()->mutable_initializer(0);
    t->clear_dims();
    t->add_dims(int64_t(1) << 40);
    t->add_dims(int64_t(1) << 40);
    const std::string b = serialized(m);
    CHECK_THROWS_WITH(parseOnnxInitializers(b, "huge.onnx"), Catch::Contains("huge.onnx"));
    t->clear_dims();
    t->add_dims(-3);
    CHECK_THROWS_WITH(parseOnnxInitializers(serialized(m), "neg.onnx"),
                      Catch::Contains("negative dimension"));
  }
  SECTION("a cyclic graph") {
    onnx::ModelProto m = good;
    auto* g = m.mutable_graph();
    // The first node reads the last node's output: a loop, or at best an unsorted graph.
    g->mutable_node(0)->set_input(0, g->node(g->node_size() - 1).output(0));
    CHECK_THAT(expectImportError(serialized(m)), Catch::Contains("before it is defined"));
  }
  SECTION("wrong types") {
    onnx::ModelProto m = good;
    m.mutable_graph()->mutable_initializer(0)->set_data_type(onnx::TensorProto::STRING);
    CHECK_THROWS_WITH(parseOnnxInitializers(serialized(m), "str.onnx"),
                      Catch::Contains("element type STRING"));
    m = good;
    for (auto& t : *m.mutable_graph()->mutable_initializer())
      if (t.name() == "fq/scale") t.set_data_type(onnx::TensorProto::INT32);
    CHECK_THAT(expectImportError(serialized(m)), Catch::Contains("fq"));
  }
  SECTION("an op with no block") {
    onnx::ModelProto m = good;
    m.mutable_graph()->mutable_node(0)->set_op_type("LSTM");
    CHECK_THAT(expectImportError(serialized(m)), Catch::Contains("(LSTM): has no block"));
  }
}

TEST_CASE("ONNX import: an exported model carries its page; one without imports its graph",
          "[onnx]") {
  const fs::path pagePath =
      fs::path(QS_SOURCE_DIR) / "assets" / "examples" / "using_method.page.json";
  LoadedPage original = loadPage(pagePath);
  Evaluator ev(builtinRegistry());
  EvalOptions options;
  options.pageDir = original.dir;
  REQUIRE(ev.evaluate(original.page, options).failed.empty());
  TempDir dir;
  const auto withPage = dir.write(
      "with.onnx", exportOnnx(original.page, ev, {.pageJson = pageToText(original.page)}));
  const auto without = dir.write("without.onnx", exportOnnx(original.page, ev));
  const LoadedPage back = pageFromOnnx(withPage);
  CHECK(pageToText(back.page) == pageToText(original.page));
  const LoadedPage imported = pageFromOnnx(without);
  CHECK(imported.page.find(BlockId("lo")) == nullptr);
  CHECK(imported.page.find(BlockId("fq_result_output")) != nullptr);
}

}  // namespace test_onnx_import
