// Typed tensors at the block level: Const's `dtype` and its element rules, the Cast block on
// hand-worked values, and the evaluator refusing a wire whose dtype the port does not take.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "blocks/RegisterBlocks.h"
#include "runtime/AttrJson.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Gradient.h"
#include "runtime/Npy.h"
#include "runtime/PageJson.h"
#include "test_math_helpers.h"
#include "test_runner_support.h"

namespace test_dtype_blocks {

using namespace qs;
using qs::testing::runBlock;

namespace {

Block makeBlock(const std::string& id, const std::string& type, Json attrs = Json::object()) {
  Block b;
  b.id = BlockId(id);
  b.type = type;
  b.attrs = std::move(attrs);
  return b;
}

// A page of one Const with `attrs`: its result, or its error.
struct ConstRun {
  std::optional<Tensor> out;
  std::string error;
  Evaluator ev{builtinRegistry()};
};

void runConst(ConstRun& r, const Json& attrs, const std::filesystem::path& dir = {}) {
  Page page;
  page.addBlock(makeBlock("c", "Const", attrs));
  EvalOptions options;
  options.pageDir = dir;
  r.ev.evaluate(page, options);
  const BlockState* st = r.ev.state(BlockId("c"));
  r.error = st->status == BlockStatus::Ok ? "" : st->error;
  r.out = r.ev.result("c.result_output");
}

std::string constError(const Json& attrs) {
  ConstRun r;
  runConst(r, attrs);
  return r.error;
}

template <typename T>
std::vector<T> typed(const Tensor& t) {
  const auto v = t.valuesAs<T>();
  return {v.begin(), v.end()};
}

Tensor ints(std::vector<int32_t> v) {
  Tensor t = Tensor::uninitialized({static_cast<int64_t>(v.size())}, DType::Int32);
  std::memcpy(t.mutableRawData(), v.data(), v.size() * 4);
  return t;
}

}  // namespace

TEST_CASE("Const: dtype gives the values' type, checked element by element", "[dtype][const]") {
  {
    ConstRun r;
    runConst(r,
             Json::parse(R"({"dtype": "int64", "shape": [2], "values": [9007199254740993, -4]})"));
    REQUIRE(r.error.empty());
    CHECK(r.out->dtype() == DType::Int64);
    CHECK(typed<int64_t>(*r.out) == std::vector<int64_t>{9007199254740993, -4});  // 2^53 + 1
  }
  {
    ConstRun r;
    runConst(r, Json::parse(R"({"dtype": "bool", "values": [true, false, true]})"));
    REQUIRE(r.error.empty());
    CHECK(r.out->shape() == Shape{3});
    CHECK(std::vector<uint8_t>(r.out->rawData(), r.out->rawData() + 3) ==
          std::vector<uint8_t>{1, 0, 1});
  }
  {
    ConstRun r;
    runConst(r, Json::parse(R"({"dtype": "int32", "values": [3.0, -7, 2147483647]})"));
    REQUIRE(r.error.empty());
    CHECK(typed<int32_t>(*r.out) == std::vector<int32_t>{3, -7, 2147483647});
  }
  {
    ConstRun r;  // 0.1 rounds to float32 0x3dcccccd, then to float16 0x2e66
    runConst(r, Json::parse(R"({"dtype": "float16", "values": [0.1, -2, "inf"]})"));
    REQUIRE(r.error.empty());
    const auto h = r.out->valuesAs<Half>();
    CHECK(h[0].bits == 0x2e66);
    CHECK(h[1].bits == 0xc000);
    CHECK(h[2].bits == 0x7c00);
  }
  {
    ConstRun r;
    runConst(r, Json::parse(R"({"dtype": "uint8", "values": [0, 255]})"));
    CHECK(typed<uint8_t>(*r.out) == std::vector<uint8_t>{0, 255});
  }
  {
    ConstRun r;  // unset dtype: float32, as before
    runConst(r, Json::parse(R"({"values": [1, 0.5]})"));
    CHECK(r.out->dtype() == DType::Float32);
    CHECK(r.out->toVector() == std::vector<float>{1, 0.5f});
  }
  CHECK(constError(Json::parse(R"({"dtype": "int32", "values": [1, 2.5]})")) ==
        "\"values\" element 1 (2.5) is not a whole number, as a int32 tensor needs");
  CHECK(constError(Json::parse(R"({"dtype": "int32", "values": [2147483648]})")) ==
        "\"values\" element 0 (2147483648) is out of range for int32 (-2147483648 to 2147483647)");
  CHECK(constError(Json::parse(R"({"dtype": "uint8", "values": [-1]})")) ==
        "\"values\" element 0 (-1) is out of range for uint8 (0 to 255)");
  CHECK(constError(Json::parse(R"({"dtype": "bool", "values": [true, 1]})")) ==
        "\"values\" element 1 (1) is not true or false, as a bool tensor needs");
  CHECK(constError(Json::parse(R"({"values": [false]})")) ==
        "\"values\" element 0 (false) is not a number; a float32 tensor takes numbers");
  CHECK(constError(Json::parse(R"({"dtype": "int64", "values": ["nan"]})")) ==
        "\"values\" element 0 (nan) is not a whole number, as a int64 tensor needs");
  CHECK(constError(Json::parse(R"({"dtype": "float64", "values": [1]})")) ==
        "attribute 'dtype': unknown dtype 'float64' (known: float32, int32, int64, bool, float16, "
        "uint8)");
  CHECK(constError(Json::parse(R"({"values": [[1]]})")) ==
        "attribute 'values' element 0 must be a number or true/false, not array [1]");
}

TEST_CASE("Const: an npy file brings its dtype; a dtype set beside it must agree",
          "[dtype][const]") {
  test::TempDir dir;
  writeNpy(dir / "i.npy", ints({4, -1}));
  {
    ConstRun r;
    runConst(r, Json{{"npy", "i.npy"}}, dir.path());
    REQUIRE(r.error.empty());
    CHECK(typed<int32_t>(*r.out) == std::vector<int32_t>{4, -1});
  }
  {
    ConstRun r;
    runConst(r, Json{{"npy", "i.npy"}, {"dtype", "int32"}}, dir.path());
    CHECK(r.error.empty());
  }
  ConstRun r;
  runConst(r, Json{{"npy", "i.npy"}, {"dtype", "float32"}}, dir.path());
  CHECK(r.error ==
        "'i.npy' holds int32 but attribute 'dtype' is float32 (leave 'dtype' unset to take the "
        "file's, or convert with a Cast block)");
}

TEST_CASE("a fed value keeps its dtype and is checked against the block's", "[dtype][const]") {
  Page page;
  page.addBlock(makeBlock("p", "Placeholder", Json{{"dtype", "float32"}}));
  page.addBlock(makeBlock("q", "Placeholder"));
  Evaluator ev(builtinRegistry());
  ev.setFeed(BlockId("p"), ints({1}));
  ev.setFeed(BlockId("q"), ints({1, 2}));
  ev.evaluate(page);
  CHECK(ev.state(BlockId("p"))->error == "the fed value is int32 but attribute 'dtype' is float32");
  REQUIRE(ev.result("q.result_output"));
  CHECK(typed<int32_t>(*ev.result("q.result_output")) == std::vector<int32_t>{1, 2});
}

TEST_CASE("Cast: TensorFlow's element rules on hand-worked values", "[dtype][cast]") {
  const Tensor f = qs::testing::vec({-2.5f, -0.75f, 0.0f, 0.75f, 255.9f, 300.0f, -1e10f});
  {
    const auto r = runBlock("Cast", Json{{"DstT", "int32"}}, {{"x", f}});
    REQUIRE(r.ok);
    // Toward zero; beyond the range saturates.
    CHECK(typed<int32_t>(r.out("y")) ==
          std::vector<int32_t>{-2, 0, 0, 0, 255, 300, std::numeric_limits<int32_t>::min()});
  }
  {
    const auto r = runBlock("Cast", Json{{"DstT", "bool"}, {"Truncate", true}}, {{"x", f}});
    REQUIRE(r.ok);
    const Tensor& y = r.out("y");
    CHECK(std::vector<uint8_t>(y.rawData(), y.rawData() + 7) ==
          std::vector<uint8_t>{1, 1, 0, 1, 1, 1, 1});
  }
  {
    // int32 -> uint8 wraps modulo 256: 300 is 44, -1 is 255.
    const auto r = runBlock("Cast", Json{{"DstT", "uint8"}}, {{"x", ints({300, -1, 7})}});
    REQUIRE(r.ok);
    CHECK(typed<uint8_t>(r.out("y")) == std::vector<uint8_t>{44, 255, 7});
  }
  {
    // 16777217 (2^24 + 1) is not a float32: it rounds to even, 16777216.
    const auto r = runBlock("Cast", Json{{"DstT", "float32"}}, {{"x", ints({16777217, -3})}});
    REQUIRE(r.ok);
    CHECK(r.out("y").toVector() == std::vector<float>{16777216.0f, -3.0f});
  }
  {
    // 1/3 in float16 is 0x3555 (0.333251953125); 65520 overflows to infinity.
    const auto r =
        runBlock("Cast", Json{{"DstT", "float16"}}, {{"x", qs::testing::vec({1.0f / 3, 65520})}});
    REQUIRE(r.ok);
    CHECK(r.out("y").valuesAs<Half>()[0].bits == 0x3555);
    CHECK(r.out("y").valuesAs<Half>()[1].bits == 0x7c00);
  }
  const auto bad = runBlock("Cast", Json{{"DstT", "double"}}, {{"x", f}});
  CHECK(bad.error ==
        "attribute 'DstT': unknown dtype 'double' (known: float32, int32, int64, bool, float16, "
        "uint8)");
}

TEST_CASE("Cast: the gradient passes float32 to float32 only", "[dtype][cast][gradient]") {
  const BlockDescriptor* d = builtinRegistry().find("Cast");
  REQUIRE(d);
  GradientCall call;
  call.inputs = {{"x", qs::testing::vec({1, 2})}};
  call.outputs = {{"y", qs::testing::vec({1, 2})}};
  call.outputGrads = {{"y", qs::testing::vec({0.5f, -3})}};
  call.wanted = {"x"};
  const auto g = runGradient(*d, "c", resolveAttrs(*d, Json::object()), call);
  CHECK(g.at("x").toVector() == std::vector<float>{0.5f, -3});
  call.inputs = {{"x", ints({1, 2})}};
  CHECK_THROWS_WITH(runGradient(*d, "c", resolveAttrs(*d, Json::object()), call),
                    Catch::Contains("a Cast from int32 to float32 is not differentiable"));
}

TEST_CASE("evaluator: an int32 wire into a float32-only port fails naming both", "[dtype]") {
  Page page;
  page.addBlock(makeBlock("x", "Const", Json::parse(R"({"dtype": "int32", "values": [1, 2]})")));
  page.addBlock(makeBlock("abs", "Abs"));
  page.addBlock(makeBlock("f", "Cast", Json{{"DstT", "float32"}}));
  page.addBlock(makeBlock("ok", "Abs"));
  page.addLink({{BlockId("x"), PortName("output")}, {BlockId("abs"), PortName("x")}});
  page.addLink({{BlockId("x"), PortName("output")}, {BlockId("f"), PortName("x")}});
  page.addLink({{BlockId("f"), PortName("y")}, {BlockId("ok"), PortName("x")}});
  Evaluator ev(builtinRegistry());
  ev.evaluate(page);
  CHECK(ev.state(BlockId("abs"))->error == "input 'x' takes float32, not int32");
  REQUIRE(ev.result("ok.result_y"));
  CHECK(ev.result("ok.result_y")->toVector() == std::vector<float>{1, 2});
}

}  // namespace test_dtype_blocks
