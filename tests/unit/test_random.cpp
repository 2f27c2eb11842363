// RandomUniform, RandomNormal, TruncatedNormal and LinSpace.

#include <catch2/catch.hpp>
#include <cmath>

#include "blocks/sources/RandomStream.h"
#include "test_math_helpers.h"

namespace test_random {

using namespace qs;
using namespace qs::testing;

TEST_CASE("Philox4x32-10 matches Random123's known-answer vectors", "[random]") {
  // From Random123's tests/kat_vectors (philox4x32 10 rounds).
  CHECK(rnd::philox4x32_10({0, 0, 0, 0}, {0, 0}) ==
        rnd::Counter{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(rnd::philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                           {0xffffffffu, 0xffffffffu}) ==
        rnd::Counter{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(rnd::philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                           {0xa4093822u, 0x299f31d0u}) ==
        rnd::Counter{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("portableLog agrees with the C library's log", "[random]") {
  for (double x : {1e-300, 1e-12, 0.001, 0.1, 0.5, 0.70710678, 0.7071068, 0.9, 0.999999, 1.0,
                   1.0 - 1e-16, 2.0, 123.456}) {
    INFO(x);
    CHECK(rnd::portableLog(x) == Approx(std::log(x)).epsilon(1e-15).margin(1e-300));
  }
  CHECK(rnd::portableLog(1.0) == 0.0);
}

TEST_CASE("RandomUniform: deterministic, documented stream, in range", "[random]") {
  const Json attrs{{"shape", {300, 400}}, {"seed", 42}, {"minval", -2}, {"maxval", 6}};
  auto a = runBlock("RandomUniform", attrs);
  auto b = runBlock("RandomUniform", attrs);
  REQUIRE((a.ok && b.ok));
  const Tensor& t = a.out("output");
  CHECK(t.shape() == Shape{300, 400});
  CHECK(bitwiseEqual(t, b.out("output")));
  Json other = attrs;
  other["seed"] = 43;
  CHECK_FALSE(bitwiseEqual(t, runBlock("RandomUniform", other).out("output")));

  // Element i is word i % 4 of counter block (i / 4, 0, stream, 0) of key (42, 0), top 24 bits.
  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}, int64_t{77777},
                    int64_t{119999}}) {
    const uint64_t blk = static_cast<uint64_t>(i / 4);
    const auto w = rnd::philox4x32_10({static_cast<uint32_t>(blk), 0, 0x554e4946u, 0}, {42u, 0u});
    const float u = static_cast<float>(w[i % 4] >> 8) / 16777216.0f;
    CHECK(t.data()[i] == u * 8.0f + -2.0f);
  }
  double sum = 0, sq = 0;
  float lo = INFINITY, hi = -INFINITY;
  for (float v : t.values()) {
    sum += v;
    sq += double(v) * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double n = static_cast<double>(t.size());
  const double mean = sum / n, var = sq / n - mean * mean;
  CHECK(lo >= -2.0f);
  CHECK(hi < 6.0f);
  CHECK(mean == Approx(2.0).margin(0.03));          // 5 sigma of the mean is 0.02
  CHECK(var == Approx(64.0 / 12.0).epsilon(0.01));  // range^2 / 12
}

TEST_CASE("RandomNormal: polar method, moments, determinism", "[random]") {
  const Json attrs{{"shape", {100001}}, {"seed", 7}, {"mean", 3}, {"stddev", 2}};
  auto a = runBlock("RandomNormal", attrs);
  REQUIRE(a.ok);
  const Tensor& t = a.out("output");
  CHECK(bitwiseEqual(t, runBlock("RandomNormal", attrs).out("output")));
  // Draw 0 by the polar method written out again here, with the C library's log.
  for (uint32_t attempt = 0;; ++attempt) {
    const auto w = rnd::philox4x32_10({0, 0, 0x4e4f524du, attempt / 2}, {7u, 0u});
    const double u = (w[2 * (attempt % 2)] + 0.5) / 2147483648.0 - 1.0;
    const double v = (w[2 * (attempt % 2) + 1] + 0.5) / 2147483648.0 - 1.0;
    const double s = u * u + v * v;
    if (s >= 1) continue;
    const double f = std::sqrt(-2.0 * std::log(s) / s);
    CHECK(t.data()[0] == Approx(u * f * 2 + 3).epsilon(1e-6));
    CHECK(t.data()[1] == Approx(v * f * 2 + 3).epsilon(1e-6));
    break;
  }
  double sum = 0, sq = 0, fourth = 0;
  for (float x : t.values()) sum += x;
  const double n = static_cast<double>(t.size()), mean = sum / n;
  for (float x : t.values()) {
    const double d = x - mean;
    sq += d * d;
    fourth += d * d * d * d;
  }
  const double var = sq / n;
  CHECK(mean == Approx(3.0).margin(0.03));  // sigma of the mean: 2 / sqrt(1e5) = 0.0063
  CHECK(std::sqrt(var) == Approx(2.0).epsilon(0.01));
  CHECK(fourth / n / (var * var) == Approx(3.0).margin(0.1));  // kurtosis of a normal
}

TEST_CASE("TruncatedNormal stays within two standard deviations", "[random]") {
  auto a = runBlock("TruncatedNormal", Json{{"shape", {200, 500}}, {"seed", 5}});
  REQUIRE(a.ok);
  double sum = 0, sq = 0;
  for (float x : a.out("output").values()) {
    REQUIRE(std::fabs(x) < 2.0f);
    sum += x;
    sq += double(x) * x;
  }
  const double n = 1e5, mean = sum / n;
  CHECK(mean == Approx(0.0).margin(0.015));
  // Standard deviation of a standard normal truncated to (-2, 2):
  // sqrt(1 - 2 * 2 * phi(2) / (2 * Phi(2) - 1)) = 0.8796256610 (phi, Phi: normal pdf and cdf).
  CHECK(std::sqrt(sq / n - mean * mean) == Approx(0.8796256610).epsilon(0.01));
  auto scaled = runBlock("TruncatedNormal",
                         Json{{"shape", {1000}}, {"seed", 5}, {"mean", 10}, {"stddev", 0.5}});
  for (float x : scaled.out("output").values()) CHECK(std::fabs(x - 10.0f) < 1.0f);
}

TEST_CASE("Random sources reject bad attributes", "[random][errors]") {
  CHECK(runBlock("RandomUniform", Json::object()).error == "attribute 'shape' is required");
  CHECK(runBlock("RandomUniform", Json{{"shape", {2}}, {"minval", 1}, {"maxval", 1}}).error ==
        "minval must be smaller than maxval, was: 1 >= 1");
  CHECK(
      runBlock("RandomUniform", Json{{"shape", {2}}, {"minval", -3e38}, {"maxval", 3e38}}).error ==
      "maxval - minval overflows float32 (3e+38 - -3e+38)");
  CHECK(runBlock("RandomNormal", Json{{"shape", {2, -1}}}).ok == false);
  CHECK(runBlock("RandomNormal", Json{{"shape", {2}}, {"stddev", -1}}).error ==
        "attribute 'stddev' must be at least 0, was -1");
  CHECK(runBlock("TruncatedNormal", Json{{"shape", {2}}, {"mean", "nan"}}).error ==
        "attribute 'mean' must be finite, was nan");
  CHECK(runBlock("RandomUniform", Json{{"shape", {2}}, {"seed", 1.5}}).error ==
        "attribute 'seed' must be a whole number, not 1.5");
  auto scalar = runBlock("RandomUniform", Json{{"shape", Json::array()}});
  REQUIRE(scalar.ok);
  CHECK(scalar.out("output").shape() == Shape{});
}

TEST_CASE("LinSpace follows TensorFlow's kernel", "[random][linspace]") {
  auto five = runBlock("LinSpace", Json{{"start", 0}, {"stop", 1}, {"num", 5}});
  REQUIRE(five.ok);
  CHECK(five.out("output").toVector() == std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1});
  auto sym = runBlock("LinSpace", Json{{"start", -1}, {"stop", 1}, {"num", 3}});
  CHECK(sym.out("output").toVector() == std::vector<float>{-1, 0, 1});
  auto one = runBlock("LinSpace", Json{{"start", 4}, {"stop", 9}, {"num", 1}});
  CHECK(one.out("output").toVector() == std::vector<float>{4});
  // step = 1/3 in float; element i = 0 + step * i; the last is stop exactly.
  auto thirds = runBlock("LinSpace", Json{{"start", 0}, {"stop", 1}, {"num", 4}});
  const float step = 1.0f / 3.0f;
  CHECK(thirds.out("output").toVector() == std::vector<float>{0, step, step * 2.0f, 1});
  auto down = runBlock("LinSpace", Json{{"start", 2}, {"stop", -2}, {"num", 5}});
  CHECK(down.out("output").toVector() == std::vector<float>{2, 1, 0, -1, -2});
  CHECK(runBlock("LinSpace", Json{{"start", 0}, {"stop", 1}, {"num", 0}}).error ==
        "Requires num > 0: 0");
  CHECK(runBlock("LinSpace", Json{{"start", 0}, {"stop", 1}, {"num", -3}}).error ==
        "Requires num > 0: -3");
  CHECK(runBlock("LinSpace", Json{{"start", 0}, {"num", 3}}).error ==
        "attribute 'stop' is required");
}

TEST_CASE("Random tensors do not depend on the thread count", "[random]") {
  for (const char* type : {"RandomUniform", "RandomNormal", "TruncatedNormal"}) {
    Page page;
    Block b;
    b.id = BlockId("r");
    b.type = type;
    b.attrs = Json{{"shape", {300, 401}}, {"seed", -3}};  // odd size: a half-used last draw
    page.addBlock(b);
    Tensor results[2];
    for (int threads : {1, 2}) {
      Evaluator ev(builtinRegistry());
      EvalOptions options;
      options.threads = threads;
      REQUIRE(ev.evaluate(page, options).failed.empty());
      results[threads - 1] = *ev.result("r.result_output");
    }
    INFO(type);
    CHECK(bitwiseEqual(results[0], results[1]));
  }
}

}  // namespace test_random
