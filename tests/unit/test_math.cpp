// Min/Max/Sum/Mean, Add/Sub/Mul, Square, Abs: numbers checked against values worked out by hand
// or by plain nested loops in the test (no shared code with the Eigen kernels).

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "test_math_helpers.h"

namespace test_math {

using namespace qs;
using namespace qs::testing;

namespace {

Tensor iota(Shape s) {
  Tensor t = Tensor::uninitialized(s);
  for (int64_t i = 0; i < t.size(); ++i) t.mutableData()[i] = static_cast<float>(i);
  return t;
}

Json reduceAttrs(std::vector<int64_t> axis, bool keep = false) {
  return Json{{"axis", axis}, {"keep_dims", keep}};
}

// Reference reduction of a [2, 3, 4] tensor by loops, in double.
std::vector<double> loopReduce(const Tensor& x, const std::vector<bool>& red, const char* op) {
  const Shape& s = x.shape();
  Shape outS;
  for (int i = 0; i < 3; ++i)
    if (!red[i]) outS.push_back(s[i]);
  int64_t outN = 1;
  for (auto d : outS) outN *= d;
  std::vector<double> acc(outN, std::string(op) == "min"   ? INFINITY
                                : std::string(op) == "max" ? -INFINITY
                                                           : 0.0);
  std::vector<int64_t> cnt(outN, 0);
  for (int64_t i = 0; i < s[0]; ++i)
    for (int64_t j = 0; j < s[1]; ++j)
      for (int64_t k = 0; k < s[2]; ++k) {
        int64_t o = 0;
        const int64_t idx[3] = {i, j, k};
        for (int a = 0; a < 3; ++a)
          if (!red[a]) o = o * s[a] + idx[a];
        const double v = x.data()[(i * s[1] + j) * s[2] + k];
        if (std::string(op) == "min")
          acc[o] = std::min(acc[o], v);
        else if (std::string(op) == "max")
          acc[o] = std::max(acc[o], v);
        else
          acc[o] += v;
        ++cnt[o];
      }
  if (std::string(op) == "mean")
    for (int64_t o = 0; o < outN; ++o) acc[o] /= static_cast<double>(cnt[o]);
  return acc;
}

}  // namespace

TEST_CASE("Sum of 0..23 as [2,3,4] by hand", "[math][reduce]") {
  const Tensor x = iota({2, 3, 4});
  auto all = runBlock("Sum", reduceAttrs({}), {{"input", x}});
  REQUIRE(all.ok);
  CHECK(all.out("output").shape() == Shape{});
  CHECK(all.out("output").data()[0] == 276.0f);  // 23 * 24 / 2

  auto s1 = runBlock("Sum", reduceAttrs({1}), {{"input", x}});
  REQUIRE(s1.ok);
  REQUIRE(s1.out("output").shape() == Shape{2, 4});
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 4; ++k)  // sum over j of 12i + 4j + k = 36i + 12 + 3k
      CHECK(s1.out("output").data()[i * 4 + k] == static_cast<float>(36 * i + 12 + 3 * k));

  auto s02 = runBlock("Sum", reduceAttrs({0, 2}, true), {{"input", x}});
  REQUIRE(s02.ok);
  REQUIRE(s02.out("output").shape() == Shape{1, 3, 1});
  for (int j = 0; j < 3; ++j)  // sum over i, k of 12i + 4j + k = 48 + 32j + 12
    CHECK(s02.out("output").data()[j] == static_cast<float>(60 + 32 * j));
}

TEST_CASE("Mean, Min, Max over axes by hand", "[math][reduce]") {
  const Tensor x = iota({2, 3, 4});
  auto m = runBlock("Mean", reduceAttrs({-1}), {{"input", x}});
  REQUIRE(m.ok);
  REQUIRE(m.out("output").shape() == Shape{2, 3});
  for (int r = 0; r < 6; ++r) CHECK(m.out("output").data()[r] == 4.0f * r + 1.5f);

  const Tensor y = tensor({2, 3}, {3, -7, 2, -1, 5, 2.5f});
  auto mn = runBlock("Min", reduceAttrs({0}), {{"input", y}});
  auto mx = runBlock("Max", reduceAttrs({1}, true), {{"input", y}});
  REQUIRE(mn.ok);
  REQUIRE(mx.ok);
  CHECK(mn.out("output").toVector() == std::vector<float>{-1, -7, 2});
  CHECK(mx.out("output").shape() == Shape{2, 1});
  CHECK(mx.out("output").toVector() == std::vector<float>{3, 5});
  auto mnAll = runBlock("Min", reduceAttrs({}), {{"input", y}});
  CHECK(mnAll.out("output").data()[0] == -7.0f);
}

TEST_CASE("Reductions agree with nested loops on every axis set", "[math][reduce]") {
  Tensor x = Tensor::uninitialized({2, 3, 4});
  for (int64_t i = 0; i < x.size(); ++i)
    x.mutableData()[i] = static_cast<float>(std::sin(0.7 * i) * 10.0);
  for (const char* op : {"Sum", "Mean", "Min", "Max"})
    for (int mask = 0; mask < 8; ++mask) {
      std::vector<int64_t> axes;
      std::vector<bool> red(3, false);
      for (int a = 0; a < 3; ++a)
        if (mask & (1 << a)) {
          axes.push_back(a % 2 ? a - 3 : a);  // mix negative and positive axes
          red[a] = true;
        }
      if (axes.empty()) red.assign(3, true);
      std::string lower = op;
      for (auto& c : lower) c = static_cast<char>(std::tolower(c));
      const auto want = loopReduce(x, red, lower.c_str());
      auto r = runBlock(op, reduceAttrs(axes), {{"input", x}});
      INFO(op << " mask " << mask);
      REQUIRE(r.ok);
      REQUIRE(r.out("output").size() == static_cast<int64_t>(want.size()));
      for (size_t i = 0; i < want.size(); ++i)
        CHECK(r.out("output").data()[i] == static_cast<float>(want[i]));
    }
}

TEST_CASE("Sum accumulates in double", "[math][reduce]") {
  // In float, 1e8 + 1 rounds back to 1e8 and the sum would be 0.
  auto r = runBlock("Sum", reduceAttrs({}), {{"input", vec({1e8f, 1.0f, -1e8f})}});
  REQUIRE(r.ok);
  CHECK(r.out("output").data()[0] == 1.0f);
}

TEST_CASE("Reductions: duplicate axes, scalars, empty tensors, NaN", "[math][reduce]") {
  const Tensor x = iota({2, 3});
  auto dup = runBlock("Sum", reduceAttrs({1, -1}), {{"input", x}});
  REQUIRE(dup.ok);
  CHECK(dup.out("output").toVector() == std::vector<float>{3, 12});

  auto scalar = runBlock("Mean", reduceAttrs({}), {{"input", Tensor::scalar(2.5f)}});
  REQUIRE(scalar.ok);
  CHECK(scalar.out("output").shape() == Shape{});
  CHECK(scalar.out("output").data()[0] == 2.5f);

  const Tensor empty = Tensor::zeros({0, 3});
  auto sum = runBlock("Sum", reduceAttrs({0}), {{"input", empty}});
  auto mn = runBlock("Min", reduceAttrs({0}), {{"input", empty}});
  auto mx = runBlock("Max", reduceAttrs({0}), {{"input", empty}});
  auto mean = runBlock("Mean", reduceAttrs({0}), {{"input", empty}});
  REQUIRE((sum.ok && mn.ok && mx.ok && mean.ok));
  for (int c = 0; c < 3; ++c) {
    CHECK(sum.out("output").data()[c] == 0.0f);
    CHECK(mn.out("output").data()[c] == INFINITY);
    CHECK(mx.out("output").data()[c] == -INFINITY);
    CHECK(std::isnan(mean.out("output").data()[c]));
  }
  auto keepEmpty = runBlock("Sum", reduceAttrs({1}), {{"input", empty}});
  REQUIRE(keepEmpty.ok);
  CHECK(keepEmpty.out("output").shape() == Shape{0});

  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const char* op : {"Min", "Max"}) {
    auto a = runBlock(op, reduceAttrs({}), {{"input", vec({1, nan, -1})}});
    auto b = runBlock(op, reduceAttrs({}), {{"input", vec({nan, 1, -1})}});
    auto c = runBlock(op, reduceAttrs({0}), {{"input", tensor({2, 2}, {1, 2, nan, 0})}});
    REQUIRE((a.ok && b.ok && c.ok));
    CHECK(std::isnan(a.out("output").data()[0]));
    CHECK(std::isnan(b.out("output").data()[0]));
    CHECK(std::isnan(c.out("output").data()[0]));
    CHECK(c.out("output").data()[1] == (std::string(op) == "Min" ? 0.0f : 2.0f));
  }
}

TEST_CASE("Reductions reject a bad axis with TensorFlow's message", "[math][reduce][errors]") {
  const Tensor x = iota({2, 3, 4});
  auto hi = runBlock("Max", reduceAttrs({3}), {{"input", x}});
  CHECK_FALSE(hi.ok);
  CHECK(hi.error == "Invalid reduction dimension (3 for input with 3 dimension(s)");
  auto lo = runBlock("Sum", reduceAttrs({0, -4}), {{"input", x}});
  CHECK(lo.error == "Invalid reduction dimension (-4 for input with 3 dimension(s)");
  auto sc = runBlock("Mean", reduceAttrs({0}), {{"input", Tensor::scalar(1)}});
  CHECK(sc.error == "Invalid reduction dimension (0 for input with 0 dimension(s)");
  auto badType = runBlock("Min", Json{{"axis", 1}}, {{"input", x}});
  CHECK(badType.error == "attribute 'axis' must be a list of integers, not number 1");
}

TEST_CASE("Add, Sub, Mul broadcast a per-channel vector and scalars", "[math][broadcast]") {
  const Tensor x = tensor({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor c = vec({10, 20, 30});
  auto add = runBlock("Add", {}, {{"x", x}, {"y", c}});
  REQUIRE(add.ok);
  CHECK(add.out("z").shape() == Shape{2, 3});
  CHECK(add.out("z").toVector() == std::vector<float>{11, 22, 33, 14, 25, 36});
  auto sub = runBlock("Sub", {}, {{"x", c}, {"y", x}});  // [3] - [2,3]
  REQUIRE(sub.ok);
  CHECK(sub.out("z").toVector() == std::vector<float>{9, 18, 27, 6, 15, 24});
  auto mul = runBlock("Mul", {}, {{"x", x}, {"y", Tensor::scalar(0.5f)}});
  CHECK(mul.out("z").toVector() == std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3});
  auto rsub = runBlock("Sub", {}, {{"x", Tensor::scalar(1)}, {"y", x}});
  CHECK(rsub.out("z").toVector() == std::vector<float>{0, -1, -2, -3, -4, -5});
  auto same = runBlock("Mul", {}, {{"x", x}, {"y", x}});
  CHECK(same.out("z").toVector() == std::vector<float>{1, 4, 9, 16, 25, 36});
  // [1, 3] against [2, 3]: a leading 1 is still the per-channel case.
  auto lead = runBlock("Sub", {}, {{"x", x}, {"y", tensor({1, 3}, {1, 1, 1})}});
  CHECK(lead.out("z").toVector() == std::vector<float>{0, 1, 2, 3, 4, 5});
  // A scalar of shape [1] against a scalar [] gives [1].
  auto tiny = runBlock("Add", {}, {{"x", Tensor::scalar(2)}, {"y", vec({3})}});
  CHECK(tiny.out("z").shape() == Shape{1});
  CHECK(tiny.out("z").data()[0] == 5.0f);
}

TEST_CASE("General broadcasting agrees with index arithmetic", "[math][broadcast]") {
  // [2, 1, 3] * [4, 1] -> [2, 4, 3]; z[i, j, k] = x[i, 0, k] * y[j, 0].
  const Tensor x = tensor({2, 1, 3}, {1, 2, 3, -1, -2, -3});
  const Tensor y = tensor({4, 1}, {1, 10, 100, 1000});
  auto r = runBlock("Mul", {}, {{"x", x}, {"y", y}});
  REQUIRE(r.ok);
  REQUIRE(r.out("z").shape() == Shape{2, 4, 3});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k)
        CHECK(r.out("z").data()[(i * 4 + j) * 3 + k] == x.data()[i * 3 + k] * y.data()[j]);
  // [3, 1] - [1, 4] -> [3, 4]
  auto outer =
      runBlock("Sub", {}, {{"x", tensor({3, 1}, {1, 2, 3})}, {"y", tensor({1, 4}, {0, 1, 2, 3})}});
  REQUIRE(outer.ok);
  REQUIRE(outer.out("z").shape() == Shape{3, 4});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      CHECK(outer.out("z").data()[i * 4 + j] == static_cast<float>(i + 1 - j));
  // Empty against a vector.
  auto empty = runBlock("Add", {}, {{"x", Tensor::zeros({0, 3})}, {"y", vec({1, 2, 3})}});
  REQUIRE(empty.ok);
  CHECK(empty.out("z").shape() == Shape{0, 3});
}

TEST_CASE("Incompatible shapes give TensorFlow's message", "[math][broadcast][errors]") {
  auto a = runBlock("Add", {}, {{"x", Tensor::zeros({2, 3})}, {"y", vec({1, 2, 3, 4})}});
  CHECK_FALSE(a.ok);
  CHECK(a.error == "Incompatible shapes: [2,3] vs. [4]");
  auto b = runBlock("Mul", {}, {{"x", Tensor::zeros({2, 3})}, {"y", Tensor::zeros({3, 2})}});
  CHECK(b.error == "Incompatible shapes: [2,3] vs. [3,2]");
  auto c = runBlock("Sub", {}, {{"x", Tensor::zeros({0})}, {"y", Tensor::zeros({2})}});
  CHECK(c.error == "Incompatible shapes: [0] vs. [2]");
  auto unwired = runBlock("Sub", {}, {{"x", Tensor::zeros({2})}});
  CHECK(unwired.error == "input 'y' is not wired");
}

TEST_CASE("Square and Abs by hand, including signed zero and non-finite values", "[math]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = tensor({2, 3}, {-2, -0.0f, 3, nan, -INFINITY, 1.5f});
  auto sq = runBlock("Square", {}, {{"x", x}});
  auto ab = runBlock("Abs", {}, {{"x", x}});
  REQUIRE((sq.ok && ab.ok));
  CHECK(sq.out("y").shape() == Shape{2, 3});
  const float* s = sq.out("y").data();
  CHECK(s[0] == 4.0f);
  CHECK((s[1] == 0.0f && !std::signbit(s[1])));
  CHECK(s[2] == 9.0f);
  CHECK(std::isnan(s[3]));
  CHECK(s[4] == INFINITY);
  CHECK(s[5] == 2.25f);
  const float* a = ab.out("y").data();
  CHECK(a[0] == 2.0f);
  CHECK((a[1] == 0.0f && !std::signbit(a[1])));
  CHECK(a[2] == 3.0f);
  CHECK(std::isnan(a[3]));
  CHECK(a[4] == INFINITY);
  CHECK(a[5] == 1.5f);
}

}  // namespace test_math
