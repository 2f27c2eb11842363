// The lighter neural-network layers (Relu, Relu6, MaxPool, AvgPool, Reshape, Transpose, Softmax,
// SparseSoftmaxCrossEntropyWithLogits, ArgMax, Equal) against double-precision references written
// with plain loops (tests/unit/nn_reference.h), over random shapes; TensorFlow's own kernel-test
// cases (tests/data/tf_nn_cases.json); their errors; and the same bits on 1 and 2 threads.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>

#include "nn_reference.h"
#include "runtime/FileIo.h"
#include "runtime/Json.h"
#include "test_math_helpers.h"

namespace test_nn_layers {

using qs::DType;
using qs::Json;
using qs::Shape;
using qs::Tensor;
namespace ref = qs::nnref;

namespace {

std::mt19937& rng() {
  static std::mt19937 r(1313);
  return r;
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Tensor randomTensor(const Shape& s, float lo = -3, float hi = 3) {
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::uninitialized(s);
  for (float& v : t.mutableValues()) v = u(rng());
  return t;
}

template <typename T>
Tensor typed(const Shape& s, const std::vector<T>& v) {
  Tensor t = Tensor::uninitialized(s, qs::DTypeOf<T>::value);
  REQUIRE(static_cast<int64_t>(v.size()) == t.size());
  for (size_t i = 0; i < v.size(); ++i) t.mutableAs<T>()[i] = v[i];
  return t;
}

ref::Values doubles(const Tensor& t) {
  return {t.values().begin(), t.values().end()};
}

// |got - want| <= rel * |want| + abs, element by element.
void requireNear(const Tensor& got, const ref::Values& want, double rel, double abs) {
  REQUIRE(got.size() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": got " << got.data()[i] << ", want " << want[i]);
    CHECK(std::fabs(got.data()[i] - want[i]) <= rel * std::fabs(want[i]) + abs);
  }
}

qs::testing::BlockRun run(const std::string& type, const Json& attrs,
                          const std::map<std::string, Tensor>& in, int threads = 1) {
  qs::EvalOptions o;
  o.threads = threads;
  return qs::testing::runBlock(type, attrs, in, o);
}

qs::testing::BlockRun runOk(const std::string& type, const Json& attrs,
                            const std::map<std::string, Tensor>& in, int threads = 1) {
  auto r = run(type, attrs, in, threads);
  INFO(type << ": " << r.error);
  REQUIRE(r.ok);
  return r;
}

std::string errorOf(const std::string& type, const Json& attrs,
                    const std::map<std::string, Tensor>& in) {
  const auto r = run(type, attrs, in);
  REQUIRE_FALSE(r.ok);
  return r.error;
}

Json loadCases() {
  const std::string path = std::string(QS_TEST_DATA_DIR) + "/tf_nn_cases.json";
  return qs::parseJson(qs::readFile(path), path);
}

Json poolAttrs(const ref::PoolSpec& p) {
  return Json{{"ksize", {1, p.kh, p.kw, 1}},
              {"strides", {1, p.sh, p.sw, 1}},
              {"padding", p.same ? "SAME" : "VALID"}};
}

}  // namespace

TEST_CASE("nn: Relu and Relu6 follow TensorFlow on special values", "[nn]") {
  const float nan = NAN, inf = INFINITY;
  const Tensor x = qs::testing::vec({-2, -0.0f, 0, 0.5f, 6, 7, inf, -inf, nan});
  const auto relu = runOk("Relu", Json::object(), {{"features", x}}).out("activations");
  const auto relu6 = runOk("Relu6", Json::object(), {{"features", x}}).out("activations");
  const std::vector<float> want{0, -0.0f, 0, 0.5f, 6, 7, inf, 0, nan};
  const std::vector<float> want6{0, -0.0f, 0, 0.5f, 6, 6, 6, 0, nan};
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK(std::bit_cast<uint32_t>(relu.data()[i]) == std::bit_cast<uint32_t>(want[i]));
    CHECK(std::bit_cast<uint32_t>(relu6.data()[i]) == std::bit_cast<uint32_t>(want6[i]));
  }
  // Random shapes against max(x, 0) and min(max(x, 0), 6) in double: exact.
  for (const Shape& s : std::vector<Shape>{{}, {1}, {3, 5}, {2, 3, 4, 5}}) {
    const Tensor t = randomTensor(s, -9, 9);
    ref::Values r(t.size()), r6(t.size());
    for (int64_t i = 0; i < t.size(); ++i) {
      r[i] = std::max(0.0, double(t.data()[i]));
      r6[i] = std::min(6.0, r[i]);
    }
    requireNear(runOk("Relu", Json::object(), {{"features", t}}).out("activations"), r, 0, 0);
    requireNear(runOk("Relu6", Json::object(), {{"features", t}}).out("activations"), r6, 0, 0);
  }
}

TEST_CASE("nn: MaxPool and AvgPool match the reference over random shapes", "[nn]") {
  // Batch 1 included, odd sizes, windows larger and smaller than the strides, both paddings.
  std::uniform_int_distribution<int> batch(1, 3), side(1, 9), chans(1, 5), win(1, 4), step(1, 3);
  std::bernoulli_distribution coin;
  int cases = 0;
  while (cases < 120) {
    const Shape in{batch(rng()), side(rng()), side(rng()), chans(rng())};
    ref::PoolSpec p{coin(rng()), win(rng()), win(rng()), step(rng()), step(rng()), coin(rng())};
    if (!p.same && (p.kh > in[1] || p.kw > in[2])) continue;
    ++cases;
    const Tensor x = randomTensor(in);
    const char* type = p.max ? "MaxPool" : "AvgPool";
    const auto r = runOk(type, poolAttrs(p), {{p.max ? "input" : "value", x}});
    const Tensor& y = r.out("output");
    INFO(type << " input " << qs::shapeToString(in) << " ksize " << p.kh << "x" << p.kw
              << " strides " << p.sh << "x" << p.sw << (p.same ? " SAME" : " VALID"));
    REQUIRE(y.shape() == ref::poolShape(in, p));
    // MaxPool is exact; AvgPool sums at most 16 float32 values of magnitude <= 3 and divides
    // once: within 16 float32 roundings of 48, plus one of the quotient.
    if (p.max)
      requireNear(y, ref::pool(doubles(x), in, p), 0, 0);
    else
      requireNear(y, ref::pool(doubles(x), in, p), 1e-7, 16 * 48 * std::ldexp(1.0, -24));
  }
}

TEST_CASE("nn: TensorFlow's pooling test cases", "[nn]") {
  const Json cases = loadCases();
  int ran = 0;
  for (const Json& c : cases.at("pooling")) {
    const Shape in = c.at("input_shape").get<Shape>();
    Tensor x = Tensor::uninitialized(in);
    for (int64_t f = 0; f < x.size(); ++f)
      x.mutableData()[f] = static_cast<float>(((f + 128) % 255) - 127);
    const std::string op = c.at("op");
    const Json attrs{
        {"ksize", c.at("ksize")}, {"strides", c.at("strides")}, {"padding", c.at("padding")}};
    const auto r = runOk(op, attrs, {{op == "MaxPool" ? "input" : "value", x}});
    INFO(c.at("source").get<std::string>());
    const std::vector<float> want = c.at("expected").get<std::vector<float>>();
    CHECK(r.out("output").toVector() == want);
    ++ran;
  }
  CHECK(ran == 27);
}

TEST_CASE("nn: pooling refuses bad attributes with TensorFlow's messages", "[nn]") {
  const Tensor x = randomTensor({1, 4, 4, 2});
  auto attrs = [](Json k, Json s, std::string pad = "VALID") {
    return Json{{"ksize", std::move(k)}, {"strides", std::move(s)}, {"padding", pad}};
  };
  const std::vector<int> one{1, 1, 1, 1}, two{1, 2, 2, 1};
  CHECK(errorOf("MaxPool", attrs({1, 2, 2}, two), {{"input", x}}) ==
        "Sliding window ksize field must specify 4 dimensions");
  CHECK(errorOf("AvgPool", attrs({1, 0, 2, 1}, two), {{"value", x}}) ==
        "Sliding window ksize for dimension 1 was zero.");
  CHECK(errorOf("MaxPool", attrs(two, {1, 2, 2}), {{"input", x}}) ==
        "Sliding window stride field must specify 4 dimensions");
  CHECK(errorOf("MaxPool", attrs({2, 2, 2, 1}, two), {{"input", x}}) ==
        "Pooling is not yet supported on the batch dimension.");
  CHECK(errorOf("MaxPool", attrs(two, {1, 0, 2, 1}), {{"input", x}}) ==
        "Stride must be > 0, but got 0");
  CHECK(errorOf("AvgPool", attrs({1, 1, 1, 2}, {1, 1, 1, 2}), {{"value", x}})
            .find("Pooling over the depth dimension") != std::string::npos);
  CHECK(errorOf("MaxPool", attrs(two, two, "EXPLICIT"), {{"input", x}}) ==
        "Value for attr 'padding' of \"EXPLICIT\" is not in the list of allowed values: "
        "\"SAME\", \"VALID\"");
  CHECK(errorOf("MaxPool", attrs({1, 5, 2, 1}, two), {{"input", x}}) ==
        "ksize dimension 1 (5) is larger than the input tensor dimension (4) with VALID padding");
  Json nchw = attrs(two, two);
  nchw["data_format"] = "NCHW";
  CHECK(errorOf("MaxPool", nchw, {{"input", x}}).find("only supports NHWC") != std::string::npos);
  CHECK_FALSE(errorOf("MaxPool", attrs(two, two), {{"input", randomTensor({4, 4, 2})}}).empty());
  // A SAME window larger than the input is fine: one output averaging what is there.
  const auto r = runOk("AvgPool", attrs({1, 9, 9, 1}, two, "SAME"),
                       {{"value", qs::testing::tensor({1, 1, 2, 1}, {1, 4})}});
  CHECK(r.out("output").toVector() == std::vector<float>{2.5f});
}

TEST_CASE("nn: Softmax matches the reference; large logits do not overflow", "[nn]") {
  for (const Shape& s : std::vector<Shape>{{1}, {7}, {1, 10}, {5, 10}, {2, 3, 17}, {4, 1}}) {
    const Tensor x = randomTensor(s, -20, 20);
    const auto r = runOk("Softmax", Json::object(), {{"logits", x}});
    INFO("shape " << qs::shapeToString(s));
    // The documented bound, relative 2^-24 (2r + 8) with r <= 40 the range of a row's logits:
    // the float32 rounding of x - max, Eigen's exp and the quotient.
    requireNear(r.out("softmax"), ref::softmax(doubles(x), s.back()), std::ldexp(88.0, -24), 1e-30);
  }
  const auto big = runOk("Softmax", Json::object(), {{"logits", qs::testing::vec({1000, 1000})}});
  CHECK(big.out("softmax").toVector() == std::vector<float>{0.5f, 0.5f});
  CHECK(errorOf("Softmax", Json::object(), {{"logits", Tensor::scalar(1)}}) ==
        "logits must have >= 1 dimension, got []");
}

TEST_CASE("nn: SparseSoftmaxCrossEntropyWithLogits matches the reference", "[nn]") {
  std::uniform_int_distribution<int> rows(1, 9), classes(1, 12);
  for (int k = 0; k < 20; ++k) {
    const int64_t b = rows(rng()), c = classes(rng());
    const Tensor f = randomTensor({b, c}, -10, 10);
    std::vector<int64_t> labels(b);
    for (auto& l : labels) l = std::uniform_int_distribution<int64_t>(0, c - 1)(rng());
    const Tensor lab =
        k % 2 ? typed<int64_t>({b}, labels)
              : typed<int32_t>({b}, std::vector<int32_t>(labels.begin(), labels.end()));
    const auto r = runOk("SparseSoftmaxCrossEntropyWithLogits", Json::object(),
                         {{"features", f}, {"labels", lab}});
    ref::Values bp = ref::softmax(doubles(f), c);
    for (int64_t i = 0; i < b; ++i) bp[i * c + labels[i]] -= 1;
    INFO("features [" << b << "," << c << "], labels " << qs::dtypeName(lab.dtype()));
    // The documented bound: 2^-24 (2r + 8) absolute, r <= 20 the range of a row's logits.
    const double bound = std::ldexp(48.0, -24);
    requireNear(r.out("loss"), ref::xentLoss(doubles(f), labels, c), 0, bound);
    requireNear(r.out("backprop"), bp, 0, bound);
  }
}

TEST_CASE("nn: TensorFlow's sparse cross-entropy test cases", "[nn]") {
  const Json cases = loadCases();
  for (const Json& c : cases.at("sparse_xent")) {
    INFO(c.at("source").get<std::string>());
    const Tensor f = Tensor::fromValues(c.at("features_shape").get<Shape>(),
                                        c.at("features").get<std::vector<float>>());
    const auto labels = c.at("labels").get<std::vector<int32_t>>();
    const Tensor l = typed<int32_t>({static_cast<int64_t>(labels.size())}, labels);
    const auto r = run("SparseSoftmaxCrossEntropyWithLogits", Json::object(),
                       {{"features", f}, {"labels", l}});
    if (c.contains("error")) {
      REQUIRE_FALSE(r.ok);
      CHECK(r.error.find(c.at("error").get<std::string>()) != std::string::npos);
      continue;
    }
    REQUIRE(r.ok);
    const double tol = c.at("tol");
    const auto loss = c.at("loss").get<std::vector<double>>();
    const auto bp = c.at("backprop").get<std::vector<double>>();
    requireNear(r.out("loss"), loss, tol, tol);
    requireNear(r.out("backprop"), bp, tol, tol);
  }
}

TEST_CASE("nn: cross entropy names the row and value of a bad label; dtypes are checked", "[nn]") {
  const Tensor f = randomTensor({4, 10});
  CHECK(errorOf("SparseSoftmaxCrossEntropyWithLogits", Json::object(),
                {{"features", f}, {"labels", typed<int64_t>({4}, {1, 2, 10, -1})}}) ==
        "Received a label value of 10 at row 2, which is outside the valid range of [0, 10)");
  CHECK(errorOf("SparseSoftmaxCrossEntropyWithLogits", Json::object(),
                {{"features", f}, {"labels", typed<int32_t>({4}, {0, -3, 1, 1})}}) ==
        "Received a label value of -3 at row 1, which is outside the valid range of [0, 10)");
  CHECK(errorOf("SparseSoftmaxCrossEntropyWithLogits", Json::object(),
                {{"features", f}, {"labels", qs::testing::vec({0, 1, 2, 3})}})
            .find("takes int32 or int64, not float32") != std::string::npos);
  CHECK(errorOf("SparseSoftmaxCrossEntropyWithLogits", Json::object(),
                {{"features", f}, {"labels", typed<int32_t>({3}, {0, 1, 2})}}) ==
        "logits and labels must have the same first dimension, got logits shape [4,10] and "
        "labels shape [3]");
  CHECK(errorOf("SparseSoftmaxCrossEntropyWithLogits", Json::object(),
                {{"features", randomTensor({2, 0})}, {"labels", typed<int32_t>({2}, {0, 0})}}) ==
        "Must have at least one class, but got logits shape [2,0]");
  // The state holds the message; the runner and the editor show it with the block's name.
  const auto r = run("SparseSoftmaxCrossEntropyWithLogits", Json::object(),
                     {{"features", f}, {"labels", typed<int32_t>({4}, {0, 1, 2, 12})}});
  CHECK(qs::errorLine(qs::BlockId("b"), "SparseSoftmaxCrossEntropyWithLogits", r.error) ==
        "error: block 'b' (SparseSoftmaxCrossEntropyWithLogits): Received a label value of 12 at "
        "row 3, which is outside the valid range of [0, 10)");
}

TEST_CASE("nn: Reshape works out -1 and refuses what TensorFlow refuses", "[nn]") {
  const Tensor x = typed<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const auto r = runOk("Reshape", Json{{"shape", {3, -1}}}, {{"tensor", x}});
  CHECK(r.out("output").shape() == Shape{3, 2});
  CHECK(r.out("output").dtype() == DType::Int32);
  CHECK(std::vector<int32_t>(r.out("output").valuesAs<int32_t>().begin(),
                             r.out("output").valuesAs<int32_t>().end()) ==
        std::vector<int32_t>{1, 2, 3, 4, 5, 6});
  CHECK(runOk("Reshape", Json{{"shape", Json::array()}}, {{"tensor", qs::testing::vec({7})}})
            .out("output")
            .shape() == Shape{});
  CHECK(errorOf("Reshape", Json{{"shape", {-1, -1}}}, {{"tensor", x}}) ==
        "Only one input size may be -1, not both 0 and 1");
  CHECK(errorOf("Reshape", Json{{"shape", {-2, 3}}}, {{"tensor", x}}) ==
        "Size 0 must be non-negative, not -2");
  CHECK(errorOf("Reshape", Json{{"shape", {4, -1}}}, {{"tensor", x}}) ==
        "Input to reshape is a tensor with 6 values, but the requested shape requires a multiple "
        "of 4");
  CHECK(errorOf("Reshape", Json{{"shape", {4}}}, {{"tensor", x}}) ==
        "Input to reshape is a tensor with 6 values, but the requested shape has 4");
  CHECK(errorOf("Reshape", Json{{"shape", {0, -1}}}, {{"tensor", randomTensor({0, 2})}}) ==
        "Reshape cannot infer the missing input size for an empty tensor unless all specified "
        "input sizes are non-zero");
}

TEST_CASE("nn: Transpose matches the reference for every dtype and random permutations", "[nn]") {
  std::uniform_int_distribution<int> rank(0, 5), dim(1, 4);
  for (int k = 0; k < 40; ++k) {
    Shape s(rank(rng()));
    for (auto& d : s) d = dim(rng());
    std::vector<int64_t> perm(s.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
    std::shuffle(perm.begin(), perm.end(), rng());
    const Tensor x = randomTensor(s);
    const auto r = runOk("Transpose", Json{{"perm", perm}}, {{"x", x}});
    const std::vector<float> want = ref::transpose(x.toVector(), s, perm);
    INFO("shape " << qs::shapeToString(s) << " perm " << Json(perm).dump());
    CHECK(r.out("y").toVector() == want);
    // The same permutation moves int64 and bool elements alike.
    std::vector<int64_t> iv(x.size());
    std::vector<char> bv(x.size());
    for (int64_t i = 0; i < x.size(); ++i) {
      iv[i] = (int64_t{1} << 40) + i;
      bv[i] = i % 3 == 0;
    }
    const auto ri = runOk("Transpose", Json{{"perm", perm}}, {{"x", typed<int64_t>(s, iv)}});
    const auto wantI = ref::transpose(iv, s, perm);
    CHECK(std::vector<int64_t>(ri.out("y").valuesAs<int64_t>().begin(),
                               ri.out("y").valuesAs<int64_t>().end()) == wantI);
    std::vector<bool> bools(bv.begin(), bv.end());
    const auto rb = runOk("Transpose", Json{{"perm", perm}}, {{"x", typed<bool>(s, bools)}});
    const auto wantB = ref::transpose(bv, s, perm);
    for (int64_t i = 0; i < x.size(); ++i) CHECK(rb.out("y").as<bool>()[i] == bool(wantB[i]));
  }
  const Tensor x = randomTensor({2, 3});
  CHECK(errorOf("Transpose", Json{{"perm", {0}}}, {{"x", x}}) ==
        "transpose expects a vector of size 2. But perm has 1 values");
  CHECK(errorOf("Transpose", Json{{"perm", {0, 2}}}, {{"x", x}}) == "2 is out of range [0 .. 2)");
  CHECK(errorOf("Transpose", Json{{"perm", {1, 1}}}, {{"x", x}}) == "0 is missing from {1,1}.");
}

TEST_CASE("nn: ArgMax gives the first largest index, int64 by default", "[nn]") {
  // Worked by hand: ties take the first, NaN is passed over.
  const Tensor x = qs::testing::tensor({2, 4}, {1, 3, 3, 2, NAN, -1, 5, 5});
  const auto r1 = runOk("ArgMax", Json{{"dimension", 1}}, {{"input", x}});
  CHECK(r1.out("output").dtype() == DType::Int64);
  CHECK(r1.out("output").as<int64_t>()[0] == 1);
  CHECK(r1.out("output").as<int64_t>()[1] == 2);
  const auto r0 =
      runOk("ArgMax", Json{{"dimension", -2}, {"output_type", "int32"}}, {{"input", x}});
  REQUIRE(r0.out("output").dtype() == DType::Int32);
  CHECK(std::vector<int32_t>(r0.out("output").valuesAs<int32_t>().begin(),
                             r0.out("output").valuesAs<int32_t>().end()) ==
        std::vector<int32_t>{0, 0, 1, 1});
  // Random int32 tensors with many ties, against a plain scan.
  std::uniform_int_distribution<int32_t> small(-2, 2);
  for (int axis = 0; axis < 3; ++axis) {
    const Shape s{3, 4, 5};
    std::vector<int32_t> v(numel(s));
    for (auto& e : v) e = small(rng());
    const auto r = runOk("ArgMax", Json{{"dimension", axis}}, {{"input", typed<int32_t>(s, v)}});
    Shape out;
    for (int i = 0; i < 3; ++i)
      if (i != axis) out.push_back(s[i]);
    REQUIRE(r.out("output").shape() == out);
    for (int64_t o = 0; o < numel(out); ++o) {
      auto c = ref::coordsOf(o, out);
      c.insert(c.begin() + axis, 0);
      int64_t bestK = 0;
      int32_t best = INT32_MIN;
      for (int64_t k = 0; k < s[axis]; ++k) {
        c[axis] = k;
        const int32_t e = v[(c[0] * s[1] + c[1]) * s[2] + c[2]];
        if (e > best) best = e, bestK = k;
      }
      CHECK(r.out("output").as<int64_t>()[o] == bestK);
    }
  }
  CHECK(errorOf("ArgMax", Json{{"dimension", 2}}, {{"input", x}}) ==
        "Expected dimension in the range [-2, 2), but got 2");
  CHECK(errorOf("ArgMax", Json{{"dimension", 0}}, {{"input", randomTensor({0, 3})}}) ==
        "Reduction axis 0 is empty in shape [0,3]");
  CHECK(errorOf("ArgMax", Json{{"output_type", "float32"}}, {{"input", x}}).find("output_type") !=
        std::string::npos);
  CHECK(errorOf("ArgMax", Json::object(), {{"input", typed<bool>({2}, {true, false})}})
            .find("takes float32, int32 or int64, not bool") != std::string::npos);
}

TEST_CASE("nn: Equal broadcasts and compares every dtype it takes", "[nn]") {
  const auto r = runOk("Equal", Json::object(),
                       {{"x", qs::testing::tensor({2, 3}, {1, 2, 3, NAN, -0.0f, 6})},
                        {"y", qs::testing::vec({1, 0, 6})}});
  REQUIRE(r.out("z").dtype() == DType::Bool);
  REQUIRE(r.out("z").shape() == Shape{2, 3});
  const std::vector<bool> want{true, false, false, false, true, true};
  for (int i = 0; i < 6; ++i) CHECK(r.out("z").as<bool>()[i] == want[i]);
  // General broadcasting ([3,1] against [1,4]) on int64 and bool, against a plain loop.
  const Tensor a = typed<int64_t>({3, 1}, {1, 2, 3}), b = typed<int64_t>({1, 4}, {3, 2, 1, 2});
  const auto ri = runOk("Equal", Json::object(), {{"x", a}, {"y", b}});
  REQUIRE(ri.out("z").shape() == Shape{3, 4});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      CHECK(ri.out("z").as<bool>()[i * 4 + j] == (a.as<int64_t>()[i] == b.as<int64_t>()[j]));
  const auto rb = runOk("Equal", Json::object(),
                        {{"x", typed<bool>({2}, {true, false})}, {"y", typed<bool>({}, {false})}});
  CHECK_FALSE(rb.out("z").as<bool>()[0]);
  CHECK(rb.out("z").as<bool>()[1]);
  CHECK(errorOf("Equal", Json::object(),
                {{"x", qs::testing::vec({1})}, {"y", typed<int32_t>({1}, {1})}}) ==
        "x and y must have the same dtype, got float32 and int32");
  CHECK(errorOf("Equal", Json::object(),
                {{"x", qs::testing::vec({1, 2})}, {"y", qs::testing::vec({1, 2, 3})}}) ==
        "Incompatible shapes: [2] vs. [3]");
  const auto loose = runOk("Equal", Json{{"incompatible_shape_error", false}},
                           {{"x", qs::testing::vec({1, 2})}, {"y", qs::testing::vec({1, 2, 3})}});
  CHECK(loose.out("z").shape() == Shape{});
  CHECK_FALSE(loose.out("z").as<bool>()[0]);
}

TEST_CASE("nn: Identity passes every dtype through", "[nn]") {
  const Tensor x = typed<bool>({3}, {true, false, true});
  const auto r = runOk("Identity", Json::object(), {{"input", x}});
  CHECK(r.out("output").dtype() == DType::Bool);
  CHECK(r.out("output").sharesStorageWith(x));
}

TEST_CASE("nn: the layers give the same bits on 1 and 2 threads", "[nn]") {
  // Sizes above the thresholds from which the work is split.
  const Tensor img = randomTensor({4, 64, 64, 16});
  const Tensor logits = randomTensor({2048, 40}, -8, 8);
  std::vector<int32_t> labels(2048);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i * 7 % 40);
  const Tensor lab = typed<int32_t>({2048}, labels);
  const std::vector<std::tuple<std::string, Json, std::map<std::string, Tensor>>> runs{
      {"MaxPool", poolAttrs({true, 3, 3, 2, 2, true}), {{"input", img}}},
      {"AvgPool", poolAttrs({false, 3, 3, 1, 1, false}), {{"value", img}}},
      {"Relu", Json::object(), {{"features", img}}},
      {"Softmax", Json::object(), {{"logits", logits}}},
      {"SparseSoftmaxCrossEntropyWithLogits",
       Json::object(),
       {{"features", logits}, {"labels", lab}}},
      {"Transpose", Json{{"perm", {0, 3, 1, 2}}}, {{"x", img}}},
  };
  for (const auto& [type, attrs, in] : runs) {
    const auto one = runOk(type, attrs, in, 1), two = runOk(type, attrs, in, 2);
    for (const auto& [port, t] : one.outputs) {
      INFO(type << " output " << port);
      CHECK(qs::bitwiseEqual(t, two.out(port)));
    }
  }
}

}  // namespace test_nn_layers
