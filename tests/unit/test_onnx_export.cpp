// Pages exported to ONNX: the model's structure and constants against values worked out by hand,
// the errors, and every example page that exports run in ONNX Runtime against Quant Space.

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "onnx/OnnxImport.h"
#include "onnx_test_support.h"

namespace test_onnx_export {

using namespace qs;
using namespace qs::test;
namespace fs = std::filesystem;

namespace {

onnx::ModelProto parsed(const std::string& bytes) {
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(bytes));
  REQUIRE_NOTHROW(onnx::checker::check_model(m));
  return m;
}

const onnx::TensorProto& initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return t;
  FAIL("no initializer " << name);
  return m.graph().initializer(0);
}

std::vector<float> floats(const onnx::TensorProto& t) {
  std::vector<float> v(t.raw_data().size() / 4);
  std::memcpy(v.data(), t.raw_data().data(), v.size() * 4);
  return v;
}

std::vector<std::string> opTypes(const onnx::ModelProto& m) {
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) ops.push_back(n.op_type());
  return ops;
}

LoadedPage pageOf(const std::string& blocks, const std::string& links) {
  return parsePage(R"({"format": "quantspace-page", "version": 1, "blocks": [)" + blocks +
                       R"(], "links": [)" + links + "]}",
                   "test page");
}

std::string wire(const std::string& from, const std::string& to) {
  const auto split = [](const std::string& s) {
    const size_t dot = s.find('.');
    return "[\"" + s.substr(0, dot) + "\", \"" + s.substr(dot + 1) + "\"]";
  };
  return R"({"from": )" + split(from) + R"(, "to": )" + split(to) + "}";
}

Tensor ramp(Shape shape, float start, float step) {
  Tensor t = Tensor::zeros(std::move(shape));
  for (int64_t i = 0; i < t.size(); ++i) t.mutableData()[i] = start + step * float(i % 97);
  return t;
}

}  // namespace

TEST_CASE(
    "ONNX export: a per-channel FakeQuant is a QDQ pair with TensorFlow's nudged scale and zero "
    "point",
    "[onnx]") {
  LoadedPage page = pageOf(
      R"({"id": "x", "type": "Placeholder", "attrs": {"shape": [-1, 2]}},
         {"id": "lo", "type": "Const", "attrs": {"shape": [2], "values": [-1, 0]}},
         {"id": "hi", "type": "Const", "attrs": {"shape": [2], "values": [1, 5]}},
         {"id": "fq", "type": "FakeQuantWithMinMaxVarsPerChannel"},
         {"id": "r", "type": "Relu"})",
      wire("x.output", "fq.inputs") + "," + wire("lo.output", "fq.min") + "," +
          wire("hi.output", "fq.max") + "," + wire("fq.output", "r.features"));
  const Exported x = evaluateAndExport(std::move(page), {}, {{"x", ramp({3, 2}, -1.2f, 0.4f)}});
  const onnx::ModelProto m = parsed(x.bytes);
  CHECK(m.opset_import(0).version() == 13);
  CHECK(opTypes(m) == std::vector<std::string>{"QuantizeLinear", "DequantizeLinear", "Relu"});
  REQUIRE(m.graph().input_size() == 1);
  const auto& in = m.graph().input(0);
  CHECK(in.name() == "x");
  CHECK(in.type().tensor_type().shape().dim(0).has_dim_param());  // -1: any batch
  CHECK(in.type().tensor_type().shape().dim(1).dim_value() == 2);
  REQUIRE(m.graph().output_size() == 1);
  CHECK(m.graph().output(0).name() == "r.result_activations");
  const auto& q = m.graph().node(0);
  REQUIRE(q.attribute_size() == 1);
  CHECK(q.attribute(0).name() == "axis");
  CHECK(q.attribute(0).i() == 1);
  // [-1, 1] at 8 bits: scale 2/255, and the zero point 127 (zp_from_min is 127.49999 in float32);
  // [0, 5]: scale 5/255, zero point 0.
  CHECK(floats(initializer(m, "fq/scale")) == std::vector<float>{2.0f / 255.0f, 5.0f / 255.0f});
  const auto& zp = initializer(m, "fq/zero_point");
  CHECK(zp.data_type() == onnx::TensorProto::UINT8);
  CHECK(zp.raw_data() == std::string("\x7f\x00", 2));
  // The ranges are constants of the model: the Const blocks lo and hi are not in it.
  for (const auto& t : m.graph().initializer()) CHECK(t.name().rfind("fq/", 0) == 0);
  bool version = false;
  for (const auto& p : m.metadata_props()) version |= p.key() == "quantspace.version";
  CHECK(version);
}

TEST_CASE(
    "ONNX export: below 8 bits and with narrow_range the input is clamped to the nudged range "
    "first",
    "[onnx]") {
  const std::string bits = GENERATE(std::string("4"), std::string("8"));
  const std::string narrow = bits == "8" ? "true" : "false";
  LoadedPage page = pageOf(
      R"({"id": "x", "type": "Const", "attrs": {"shape": [5], "values": [-3, 0.1, 0.75, 1.5, 9]}},
         {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "attrs": {"min": 0, "max": 1.5,
          "num_bits": )" +
          bits + R"(, "narrow_range": )" + narrow + "}}",
      wire("x.output", "fq.inputs"));
  const Exported x = evaluateAndExport(std::move(page), {"fq.result_output"});
  const onnx::ModelProto m = parsed(x.bytes);
  CHECK(opTypes(m) == std::vector<std::string>{"Min", "Max", "QuantizeLinear", "DequantizeLinear"});
  // [0, 1.5]: zero point qmin, so nudged_min = 0 and nudged_max = (qmax - qmin) * scale.
  const float span = bits == "4" ? 15.0f : 254.0f;
  const float scale = 1.5f / span;
  CHECK(floats(initializer(m, "fq/nudged_max")) == std::vector<float>{span * scale});
  CHECK(floats(initializer(m, "fq/nudged_min")) == std::vector<float>{0.0f});
  CHECK(floats(initializer(m, "fq/scale")) == std::vector<float>{scale});
}

TEST_CASE("ONNX export: what has no ONNX form is refused naming the block", "[onnx]") {
  SECTION("a FakeQuant wider than 8 bits") {
    LoadedPage page = pageOf(
        R"({"id": "x", "type": "Const", "attrs": {"shape": [2], "values": [1, 2]}},
           {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "attrs": {"num_bits": 12}})",
        wire("x.output", "fq.inputs"));
    try {
      evaluateAndExport(std::move(page), {});
      FAIL("exported");
    } catch (const OnnxExportError& e) {
      CHECK(e.block.str() == "fq");
      CHECK_THAT(e.what(), Catch::Contains("block 'fq' (FakeQuantWithMinMaxArgs)") &&
                               Catch::Contains("num_bits 12"));
    }
  }
  SECTION(
      "the runner: exit 1 naming the first block with no ONNX form, 2 for a path it cannot write") {
    TempDir dir;
    const fs::path examples = fs::path(QS_SOURCE_DIR) / "assets" / "examples";
    RunResult r = runRunner({(examples / "calibration.page.json").string(), "--export-onnx",
                             (dir / "c.onnx").string()});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("block 'report' (QuantizationReport): has no ONNX form"));
    CHECK_FALSE(fs::exists(dir / "c.onnx"));
    r = runRunner({(examples / "using_method.page.json").string(), "--export-onnx",
                   (dir / "no_such_folder" / "u.onnx").string()});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("u.onnx"));
    r = runRunner({(examples / "calibration.page.json").string(), "--fetch", "fq.result_output",
                   "--export-onnx", (dir / "c.onnx").string()});
    CHECK(r.status == 0);
    REQUIRE(fs::exists(dir / "c.onnx"));
    // Provenance: the whole page travels in the model, blocks left out of the graph included.
    CHECK(pageFromOnnx(dir / "c.onnx").page.find(BlockId("report")) != nullptr);
  }
}

}  // namespace test_onnx_export
