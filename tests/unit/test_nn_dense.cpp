// MatMul, Conv2D, DepthwiseConv2dNative and BiasAdd against the double-precision references of
// nn_dense_reference.h, within the rounding bound of a float32 sum; TensorFlow's own kernel-test
// cases (tests/data/tf_dense_cases.json); TensorFlow's messages for bad attributes and shapes; and
// the same bits on 1 and 2 threads, forward and gradients.
//
// The bound: a float32 result of K products, summed in any order (with or without fused
// multiply-adds), is within (K + 2) * 2^-24 * sum|terms| of the exact value.
#include <catch2/catch.hpp>
#include <climits>
#include <cmath>
#include <fstream>
#include <random>

#include "nn_dense_reference.h"
#include "runtime/AttrJson.h"
#include "runtime/Gradient.h"
#include "runtime/Tensor.h"
#include "runtime/ThreadPool.h"
#include "test_math_helpers.h"

namespace test_nn_dense {

using qs::Json;
using qs::Shape;
using qs::Tensor;
using qs::testing::BlockRun;
using qs::testing::runBlock;
namespace nnref = qs::testing::nnref;

namespace {

std::mt19937& gen() {
  static std::mt19937 r(2026);
  return r;
}

int64_t pick(int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(gen());
}

Tensor randomTensor(const Shape& s) {
  std::uniform_real_distribution<float> u(-1, 1);
  Tensor t = Tensor::uninitialized(s);
  for (float& v : t.mutableValues()) v = u(gen());
  return t;
}

std::vector<double> dbl(const Tensor& t) {
  return {t.values().begin(), t.values().end()};
}

void requireWithinBound(const BlockRun& run, const std::string& port, const nnref::Ref& want,
                        int64_t terms) {
  INFO(run.error);
  REQUIRE(run.ok);
  const Tensor& got = run.out(port);
  REQUIRE(got.shape() == want.shape);
  const double unit = std::ldexp(1.0, -24);
  int bad = 0;
  for (size_t i = 0; i < want.v.size(); ++i) {
    const double err = std::fabs(got.data()[i] - want.v[i]);
    if (err <= static_cast<double>(terms + 2) * unit * want.mag[i]) continue;
    if (++bad <= 3) {
      INFO("element " << i << ": got " << got.data()[i] << ", want " << want.v[i]);
      CHECK(false);
    }
  }
  CHECK(bad == 0);
}

Json convAttrs(const nnref::Conv& c) {
  return {{"strides", {1, c.strideRows, c.strideCols, 1}},
          {"dilations", {1, c.dilationRows, c.dilationCols, 1}},
          {"padding", c.same ? "SAME" : "VALID"}};
}

Tensor arange(const Shape& s) {
  Tensor t = Tensor::uninitialized(s);
  float v = 1;
  for (float& x : t.mutableValues()) x = v++;
  return t;
}

qs::EvalOptions threadsOption(int threads) {
  qs::EvalOptions o;
  o.threads = threads;
  return o;
}

}  // namespace

TEST_CASE("nn: TensorFlow's kernel-test cases for Conv2D, DepthwiseConv2dNative and MatMul",
          "[nn]") {
  std::ifstream in(std::string(QS_TEST_DATA_DIR) + "/tf_dense_cases.json");
  REQUIRE(in);
  const Json cases = Json::parse(in).at("cases");
  REQUIRE(cases.size() >= 15);
  for (const Json& c : cases) {
    INFO(c.at("name").get<std::string>() << " (" << c.at("source").get<std::string>() << ")");
    const std::string op = c.at("op");
    BlockRun run;
    if (op == "MatMul") {
      auto matrix = [](const Json& rows) {
        std::vector<float> v;
        for (const Json& r : rows)
          for (const Json& x : r) v.push_back(x.get<float>());
        return qs::testing::tensor(
            {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, v);
      };
      run = runBlock(op, Json::object(), {{"a", matrix(c.at("a"))}, {"b", matrix(c.at("b"))}});
    } else {
      const auto strides = c.at("strides").get<std::vector<int64_t>>();
      const auto dil = c.value("dilations", std::vector<int64_t>{1, 1});
      const Json attrs{{"strides", {1, strides[0], strides[1], 1}},
                       {"dilations", {1, dil[0], dil[1], 1}},
                       {"padding", c.at("padding")}};
      run = runBlock(op, attrs,
                     {{"input", arange(c.at("input").get<Shape>())},
                      {"filter", arange(c.at("filter").get<Shape>())}});
    }
    INFO(run.error);
    REQUIRE(run.ok);
    const Tensor& out = run.outputs.begin()->second;
    // Sums of small integers: exact in float32.
    CHECK(out.toVector() == c.at("expected").get<std::vector<float>>());
  }
}

TEST_CASE("nn: MatMul over random shapes and all transpositions is within the bound", "[nn]") {
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t m = pick(1, 37), n = pick(1, 37), k = trial % 10 == 0 ? 1 : pick(1, 300);
    const bool ta = trial % 2, tb = trial / 2 % 2;
    const Shape as = ta ? Shape{k, m} : Shape{m, k}, bs = tb ? Shape{n, k} : Shape{k, n};
    const Tensor a = randomTensor(as), b = randomTensor(bs);
    INFO("a " << qs::shapeToString(as) << " b " << qs::shapeToString(bs) << " ta " << ta << " tb "
              << tb);
    requireWithinBound(
        runBlock("MatMul", {{"transpose_a", ta}, {"transpose_b", tb}}, {{"a", a}, {"b", b}}),
        "product", nnref::matMul(dbl(a), as, dbl(b), bs, ta, tb), k);
  }
  // An empty inner dimension gives zeros.
  const BlockRun r = runBlock("MatMul", Json::object(),
                              {{"a", Tensor::zeros({2, 0})}, {"b", Tensor::zeros({0, 3})}});
  REQUIRE(r.ok);
  CHECK(r.out("product").toVector() == std::vector<float>(6, 0.0f));
}

TEST_CASE("nn: Conv2D and DepthwiseConv2dNative over random geometries are within the bound",
          "[nn]") {
  for (int trial = 0; trial < 80; ++trial) {
    const bool depthwise = trial % 2;
    nnref::Conv c;
    c.same = trial / 2 % 2;
    c.strideRows = pick(1, 3);
    c.strideCols = pick(1, 3);
    c.dilationRows = pick(1, 3);
    c.dilationCols = trial % 5 == 0 ? 1 : pick(1, 2);
    const Shape xs{trial % 3 == 0 ? 1 : pick(1, 3), pick(1, 9), pick(1, 9), pick(1, 4)};
    const Shape ws{pick(1, 4), pick(1, 3), xs[3], pick(1, 4)};
    const Tensor x = randomTensor(xs), w = randomTensor(ws);
    const std::string type = depthwise ? "DepthwiseConv2dNative" : "Conv2D";
    INFO(type << " x " << qs::shapeToString(xs) << " w " << qs::shapeToString(ws) << " strides "
              << c.strideRows << "," << c.strideCols << " dilations " << c.dilationRows << ","
              << c.dilationCols << (c.same ? " SAME" : " VALID"));
    const BlockRun run = runBlock(type, convAttrs(c), {{"input", x}, {"filter", w}});
    // TensorFlow's VALID size is (in - span + stride) / stride, truncated toward zero: a window
    // longer than the input gives 0 rows, or an error once the quotient reaches -1.
    const int64_t spanRows = (ws[0] - 1) * c.dilationRows + 1;
    const int64_t spanCols = (ws[1] - 1) * c.dilationCols + 1;
    if (!c.same && ((xs[1] - spanRows + c.strideRows) / c.strideRows < 0 ||
                    (xs[2] - spanCols + c.strideCols) / c.strideCols < 0)) {
      CHECK_THAT(run.error, Catch::Matchers::Contains("Computed output size would be negative"));
      continue;
    }
    requireWithinBound(run, "output", nnref::conv(dbl(x), xs, dbl(w), ws, c, depthwise),
                       ws[0] * ws[1] * (depthwise ? 1 : xs[3]));
  }
}

TEST_CASE("nn: the 1x1 Conv2D (a plain product) and batch 1 are within the bound", "[nn]") {
  for (const Shape& xs : std::vector<Shape>{{1, 5, 7, 3}, {3, 4, 1, 9}, {1, 1, 1, 1}}) {
    const Shape ws{1, 1, xs[3], 5};
    const Tensor x = randomTensor(xs), w = randomTensor(ws);
    for (const bool same : {false, true}) {
      nnref::Conv c;
      c.same = same;
      requireWithinBound(runBlock("Conv2D", convAttrs(c), {{"input", x}, {"filter", w}}), "output",
                         nnref::conv(dbl(x), xs, dbl(w), ws, c, false), xs[3]);
    }
  }
}

TEST_CASE("nn: BiasAdd adds the bias along the last dimension", "[nn]") {
  for (const Shape& vs : std::vector<Shape>{{2, 3}, {1, 5}, {2, 3, 4}, {2, 1, 3, 7}, {4, 0}}) {
    const Tensor v = randomTensor(vs), b = randomTensor({vs.back()});
    requireWithinBound(runBlock("BiasAdd", Json::object(), {{"value", v}, {"bias", b}}), "output",
                       nnref::biasAdd(dbl(v), vs, dbl(b)), 0);
  }
}

TEST_CASE("nn: bad shapes and attributes get TensorFlow's messages", "[nn]") {
  using Catch::Matchers::Contains;
  auto error = [](const std::string& type, const Json& attrs, const Shape& a, const Shape& b) {
    const bool mm = type == "MatMul", bias = type == "BiasAdd";
    const BlockRun r = runBlock(type, attrs,
                                {{mm     ? "a"
                                  : bias ? "value"
                                         : "input",
                                  Tensor::zeros(a)},
                                 {mm     ? "b"
                                  : bias ? "bias"
                                         : "filter",
                                  Tensor::zeros(b)}});
    CHECK_FALSE(r.ok);
    return r.error;
  };
  CHECK_THAT(error("MatMul", Json::object(), {2, 3}, {4, 5}),
             Contains("Matrix size-incompatible: In[0]: [2,3], In[1]: [4,5]"));
  CHECK_THAT(error("MatMul", {{"transpose_a", true}}, {2, 3}, {3, 5}),
             Contains("Matrix size-incompatible: In[0]: [2,3], In[1]: [3,5]"));
  CHECK_THAT(error("BiasAdd", Json::object(), {2, 4}, {3}),
             Contains("Must provide as many biases as the last dimension of the input tensor: "
                      "[3] vs. [2,4]"));
  CHECK_THAT(error("BiasAdd", {{"data_format", "NCHW"}}, {2, 4}, {4}), Contains("NHWC"));
  const Shape x{1, 4, 4, 2}, w{3, 3, 2, 1};
  CHECK_THAT(error("Conv2D", {{"data_format", "NCHW"}}, x, w),
             Contains("only supports the NHWC tensor format on the CPU. The op was given the "
                      "format: NCHW"));
  CHECK_THAT(error("Conv2D", {{"data_format", "NWHC"}}, x, w), Contains("Invalid data format"));
  CHECK_THAT(error("DepthwiseConv2dNative", {{"data_format", "NCHW"}}, x, w),
             Contains("only supported for NHWC format"));
  CHECK_THAT(error("Conv2D", {{"strides", {1, 1, 1}}}, x, w),
             Contains("Sliding window strides field must specify 4 dimensions"));
  CHECK_THAT(error("Conv2D", {{"strides", {2, 1, 1, 1}}}, x, w),
             Contains("does not yet support strides in the batch and depth dimensions."));
  CHECK_THAT(error("Conv2D", {{"strides", {1, 0, 1, 1}}}, x, w),
             Contains("Row and column strides should be larger than 0."));
  CHECK_THAT(error("Conv2D", {{"dilations", {1, 1, 1, 2}}}, x, w),
             Contains("does not yet support dilations in the batch and depth dimensions."));
  CHECK_THAT(error("Conv2D", {{"dilations", {1, 0, 1, 1}}}, x, w),
             Contains("Dilated rates should be larger than 0."));
  CHECK_THAT(error("Conv2D", {{"dilations", {1, int64_t{1} << 40, 1, 1}}}, x, w),
             Contains("must be at most"));
  // An empty input whose rows pass INT_MAX (its other dimensions must still fit the tensor limit).
  const int64_t rows = int64_t{INT_MAX} + 1;
  if (qs::maxTensorBytes() >= static_cast<uint64_t>(rows) * sizeof(float))
    CHECK_THAT(error("Conv2D", Json::object(), {0, rows, 1, 1}, w),
               Contains("Input rows too large"));
  CHECK_THAT(error("Conv2D", {{"padding", "EXPLICIT"}}, x, w), Contains("EXPLICIT"));
  CHECK_THAT(error("Conv2D", {{"padding", "FULL"}}, x, w),
             Contains("is not in the list of allowed values: \"SAME\", \"VALID\""));
  CHECK_THAT(error("Conv2D", {{"padding", "VALID"}}, {1, 2, 2, 2}, {5, 1, 2, 1}),
             Contains("Computed output size would be negative: -2 [input_size: 2, "
                      "effective_filter_size: 5, stride: 1]"));
  CHECK_THAT(error("Conv2D", Json::object(), {1, 4, 4, 3}, {3, 3, 2, 1}),
             Contains("input depth must be evenly divisible by filter depth: 3 vs 2"));
  CHECK_THAT(error("Conv2D", Json::object(), {1, 4, 4, 4}, {3, 3, 2, 1}),
             Contains("does not support grouped convolutions"));
  CHECK_THAT(error("DepthwiseConv2dNative", Json::object(), {1, 4, 4, 3}, {3, 3, 2, 1}),
             Contains("input and filter must have the same depth: 3 vs 2"));
}

TEST_CASE("nn: the same bits on 1 and 2 threads, forward and gradients", "[nn][threads]") {
  struct Case {
    std::string type;
    Json attrs;
    std::string in0, in1, out;
    Shape s0, s1;
  };
  const Json same{{"padding", "SAME"}};
  const Json strided{{"padding", "VALID"}, {"strides", {1, 2, 1, 1}}, {"dilations", {1, 2, 2, 1}}};
  const Json stride2{{"padding", "SAME"}, {"strides", {1, 2, 2, 1}}};
  const std::vector<Case> cases{
      {"MatMul", Json::object(), "a", "b", "product", {600, 300}, {300, 40}},
      {"MatMul", {{"transpose_a", true}}, "a", "b", "product", {50, 1100}, {50, 30}},
      {"MatMul", Json::object(), "a", "b", "product", {100, 30}, {30, 700}},
      {"MatMul",
       {{"transpose_a", true}, {"transpose_b", true}},
       "a",
       "b",
       "product",
       {65, 513},
       {257, 65}},
      {"MatMul", {{"transpose_b", true}}, "a", "b", "product", {3, 1200}, {900, 1200}},
      {"Conv2D", same, "input", "filter", "output", {4, 32, 32, 8}, {3, 3, 8, 8}},
      {"Conv2D", strided, "input", "filter", "output", {3, 31, 29, 6}, {3, 3, 6, 12}},
      {"Conv2D", same, "input", "filter", "output", {2, 40, 40, 16}, {1, 1, 16, 16}},
      // Stride 2: the input gradient goes through the patch matrix's gradient.
      {"Conv2D", stride2, "input", "filter", "output", {8, 32, 32, 16}, {3, 3, 16, 32}},
      // One input channel: tiles of 1024 pixels.
      {"Conv2D", same, "input", "filter", "output", {64, 16, 16, 1}, {3, 3, 1, 8}},
      {"DepthwiseConv2dNative", same, "input", "filter", "output", {2, 64, 64, 8}, {3, 3, 8, 2}},
      {"DepthwiseConv2dNative",
       strided,
       "input",
       "filter",
       "output",
       {3, 45, 41, 16},
       {3, 3, 16, 1}}};
  const qs::BlockDescriptor* desc = nullptr;
  qs::ThreadPool pool(2);
  for (const Case& c : cases) {
    INFO(c.type << " " << qs::shapeToString(c.s0) << " " << qs::shapeToString(c.s1) << " "
                << c.attrs.dump());
    const std::map<std::string, Tensor> in{{c.in0, randomTensor(c.s0)},
                                           {c.in1, randomTensor(c.s1)}};
    const BlockRun one = runBlock(c.type, c.attrs, in, threadsOption(1));
    const BlockRun two = runBlock(c.type, c.attrs, in, threadsOption(2));
    INFO(one.error);
    REQUIRE(one.ok);
    REQUIRE(two.ok);
    CHECK(qs::bitwiseEqual(one.out(c.out), two.out(c.out)));
    desc = qs::builtinRegistry().find(c.type);
    qs::GradientCall call;
    call.inputs = in;
    call.outputs = one.outputs;
    call.outputGrads = {{c.out, randomTensor(one.out(c.out).shape())}};
    call.wanted = {c.in0, c.in1};
    const qs::AttrValues attrs = qs::resolveAttrs(*desc, c.attrs);
    const auto g1 = qs::runGradient(*desc, "b", attrs, call);
    call.pool = &pool;
    const auto g2 = qs::runGradient(*desc, "b", attrs, call);
    for (const std::string& port : {c.in0, c.in1}) {
      INFO("gradient of " << port);
      CHECK(qs::bitwiseEqual(g1.at(port), g2.at(port)));
    }
  }
}

}  // namespace test_nn_dense
