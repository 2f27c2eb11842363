// QuantizationReport and computeChannelReport(): hand-worked channels, the op's own output, the
// PerChannel op's validation.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "blocks/array_ops/FakeQuantKernels.h"
#include "blocks/array_ops/QuantizationReport.h"
#include "test_math_helpers.h"

namespace test_report {

using namespace qs;
using namespace qs::testing;

namespace {

Json bits(int n, bool narrow = false) {
  return Json{{"num_bits", n}, {"narrow_range", narrow}};
}

}  // namespace

TEST_CASE("QuantizationReport: three 2-bit channels worked out by hand", "[report]") {
  // Channel 0: range [0, 3] at 2 bits: scale 1, zero point 0, levels 0, 1, 2, 3.
  //   x = -1, 0.25, 1.75, 3.5 -> 0, 0, 2, 3; errors 1, -0.25, 0.25, -0.5.
  // Channel 1: min == max == 0: the op outputs 0; nudged range [0, 0].
  //   x = 1, -2, 0, 0 -> errors -1, 2, 0, 0.
  // Channel 2: range [-1.5, 1.5]: scale 1, zero point round(1.5) = 2, nudged [-2, 1]; x all 0.
  const Tensor x = tensor({4, 3}, {-1, 1, 0, 0.25f, -2, 0, 1.75f, 0, 0, 3.5f, 0, 0});
  auto r = runBlock("QuantizationReport", bits(2),
                    {{"inputs", x}, {"min", vec({0, 0, -1.5f})}, {"max", vec({3, 0, 1.5f})}});
  REQUIRE(r.ok);
  for (const char* port : {"nudged_min", "nudged_max", "scale", "zero_point", "clipped_below",
                           "clipped_above", "mse", "sqnr_db"})
    CHECK(r.out(port).shape() == Shape{3});
  CHECK(r.out("nudged_min").toVector() == std::vector<float>{0, 0, -2});
  CHECK(r.out("nudged_max").toVector() == std::vector<float>{3, 0, 1});
  CHECK(r.out("scale").toVector() == std::vector<float>{1, 0, 1});
  CHECK(r.out("zero_point").toVector() == std::vector<float>{0, 0, 2});
  CHECK(r.out("clipped_below").toVector() == std::vector<float>{0.25f, 0.25f, 0});
  CHECK(r.out("clipped_above").toVector() == std::vector<float>{0.25f, 0.25f, 0});
  // mse: (1 + 0.0625 + 0.0625 + 0.25) / 4 and (1 + 4) / 4, exact in binary.
  CHECK(r.out("mse").toVector() == std::vector<float>{0.34375f, 1.25f, 0});
  // sqnr: signal (1 + 0.0625 + 3.0625 + 12.25) / 4 over the mse; channel 1 has signal == noise;
  // channel 2 is exact (zero noise) -> +inf.
  const float* s = r.out("sqnr_db").data();
  CHECK(s[0] == Approx(10.0 * std::log10(16.375 / 1.375)).epsilon(1e-6));
  CHECK(s[1] == 0.0f);
  CHECK(s[2] == INFINITY);
}

TEST_CASE("QuantizationReport: the 8-bit [-1, 1] trap of docs/spec.md", "[report]") {
  // docs/spec.md: zero point 127, nudged range [-0.99607849, 1.00392163]; TensorFlow gives
  // [-0.9960785, 0, 1.0039215] for inputs [-1, 0, 1].
  auto r =
      runBlock("QuantizationReport", bits(8),
               {{"inputs", tensor({3, 1}, {-1, 0, 1})}, {"min", vec({-1})}, {"max", vec({1})}});
  REQUIRE(r.ok);
  CHECK(r.out("zero_point").data()[0] == 127.0f);
  CHECK(r.out("nudged_min").data()[0] == Approx(-0.99607849).epsilon(1e-7));
  CHECK(r.out("nudged_max").data()[0] == Approx(1.00392163).epsilon(1e-7));
  CHECK(r.out("scale").data()[0] == 2.0f / 255.0f);
  CHECK(r.out("clipped_below").data()[0] == Approx(1.0 / 3.0));  // -1 < -0.996
  CHECK(r.out("clipped_above").data()[0] == 0.0f);               // 1 < 1.0039
  const double e0 = 1.0 - 0.99607849, e2 = 1.00392163 - 1.0;
  const double mse = (e0 * e0 + e2 * e2) / 3.0;
  CHECK(r.out("mse").data()[0] == Approx(mse).epsilon(1e-5));
  CHECK(r.out("sqnr_db").data()[0] == Approx(10.0 * std::log10((2.0 / 3.0) / mse)).epsilon(1e-5));
}

TEST_CASE("QuantizationReport: edge cases of SQNR and empty channels", "[report]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Channel 0 holds a NaN; channel 1 is all zero with min > max (the op gives the nudged min, not
  // 0: zero signal, non-zero noise -> -inf); channel 2 has min == max != 0 (the op gives NaN).
  auto r = runBlock("QuantizationReport", bits(8),
                    {{"inputs", tensor({2, 3}, {nan, 0, 1, 5, 0, 2})},
                     {"min", vec({-10, 1, 3})},
                     {"max", vec({10, -1, 3})}});
  REQUIRE(r.ok);
  CHECK(std::isnan(r.out("mse").data()[0]));
  CHECK(std::isnan(r.out("sqnr_db").data()[0]));
  CHECK(r.out("clipped_below").data()[0] == 0.0f);  // NaN is neither below nor above
  CHECK(r.out("clipped_above").data()[0] == 0.0f);
  CHECK(r.out("mse").data()[1] > 0.0f);
  CHECK(r.out("sqnr_db").data()[1] == -INFINITY);
  CHECK(std::isnan(r.out("sqnr_db").data()[2]));

  auto empty =
      runBlock("QuantizationReport", bits(8),
               {{"inputs", Tensor::zeros({0, 2})}, {"min", vec({-1, 0})}, {"max", vec({1, 1})}});
  REQUIRE(empty.ok);
  CHECK(empty.out("mse").shape() == Shape{2});
  CHECK(std::isnan(empty.out("clipped_below").data()[0]));
  CHECK(std::isnan(empty.out("mse").data()[1]));
  CHECK(std::isnan(empty.out("sqnr_db").data()[1]));
  CHECK(empty.out("zero_point").data()[0] == 127.0f);  // the range is still reported

  CHECK(fq::sqnrDb(1.0, 0.0) == INFINITY);
  CHECK(fq::sqnrDb(0.0, 0.0) == INFINITY);
  CHECK(fq::sqnrDb(0.0, 1.0) == -INFINITY);
  CHECK(fq::sqnrDb(100.0, 1.0) == Approx(20.0));
  CHECK(std::isnan(fq::sqnrDb(INFINITY, INFINITY)));
}

TEST_CASE("QuantizationReport agrees with the PerChannel op's output", "[report]") {
  // A reproducible pseudo-random [200, 5] tensor (a plain LCG) and ranges that clip some values.
  const int64_t rows = 200, d = 5;
  std::vector<float> xs(rows * d);
  uint32_t state = 12345;
  for (float& v : xs) {
    state = state * 1664525u + 1013904223u;
    v = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 8.0f;
  }
  const Tensor x = tensor({rows, d}, xs);
  const Tensor lo = vec({-3, -4, 0.5f, -1, -2.7f});
  const Tensor hi = vec({3, 1, 3.5f, 0, 4.1f});
  for (int nb : {3, 8, 16})
    for (bool narrow : {false, true}) {
      INFO("num_bits " << nb << " narrow_range " << narrow);
      auto op = runBlock("FakeQuantWithMinMaxVarsPerChannel", bits(nb, narrow),
                         {{"inputs", x}, {"min", lo}, {"max", hi}});
      auto rep = runBlock("QuantizationReport", bits(nb, narrow),
                          {{"inputs", x}, {"min", lo}, {"max", hi}});
      REQUIRE((op.ok && rep.ok));
      const float* y = op.out("output").data();
      for (int64_t c = 0; c < d; ++c) {
        const float nmin = rep.out("nudged_min").data()[c], nmax = rep.out("nudged_max").data()[c];
        const float scale = rep.out("scale").data()[c];
        double noise = 0, signal = 0;
        int64_t below = 0, above = 0;
        for (int64_t r = 0; r < rows; ++r) {
          const float xv = x.data()[r * d + c], yv = y[r * d + c];
          // Clipped values land on the nudged ends; every output is on a level.
          if (xv < nmin) {
            ++below;
            CHECK(yv == nmin);
          }
          if (xv > nmax) {
            ++above;
            CHECK(yv == nmax);
          }
          CHECK(yv >= nmin);
          CHECK(yv <= nmax);
          const double level = (static_cast<double>(yv) - nmin) / scale;
          // (up to float rounding of y and of nudged_min, 2^-23 of each, in steps of `scale`)
          const double tol = 1e-3 + (std::fabs(yv) + std::fabs(nmin)) / scale * 0x1p-23;
          CHECK(std::fabs(level - std::round(level)) < tol);
          noise += (static_cast<double>(yv) - xv) * (static_cast<double>(yv) - xv);
          signal += static_cast<double>(xv) * xv;
        }
        CHECK(rep.out("clipped_below").data()[c] == static_cast<float>(below / double(rows)));
        CHECK(rep.out("clipped_above").data()[c] == static_cast<float>(above / double(rows)));
        CHECK(rep.out("mse").data()[c] == static_cast<float>(noise / rows));
        CHECK(rep.out("sqnr_db").data()[c] ==
              Approx(10.0 * std::log10(signal / noise)).epsilon(1e-6));
        // The one-channel entry point (the inspector's bit sweep) gives the same numbers.
        const auto one = fq::computeOneChannel(x.data(), rows, d, c, lo.data()[c], hi.data()[c],
                                               fq::quantRange(nb, narrow));
        CHECK(one.mse == noise / rows);
        CHECK(one.nudgedMin == nmin);
      }
    }
}

TEST_CASE("QuantizationReport validates like the PerChannel op", "[report][errors]") {
  struct Case {
    Json attrs;
    Tensor x, lo, hi;
    std::string message;
  };
  const std::vector<Case> cases = {
      {bits(17), Tensor::zeros({2, 3}), vec({0, 0, 0}), vec({1, 1, 1}),
       "num_bits must be between 2 and 16, inclusive"},
      {bits(1), Tensor::zeros({2, 3}), vec({0, 0, 0}), vec({1, 1, 1}),
       "num_bits must be between 2 and 16, inclusive"},
      {bits(8), Tensor::scalar(1), vec({0}), vec({1}), "input must be at least rank 1"},
      {bits(8), Tensor::zeros({2, 3}), Tensor::zeros({1, 3}), vec({1, 1, 1}),
       "`min` must be rank 1 but is rank 2"},
      {bits(8), Tensor::zeros({2, 3}), vec({0, 0}), vec({1, 1, 1}),
       "min has incorrect size, expected 3 was 2"},
      {bits(8), Tensor::zeros({2, 3}), vec({0, 0, 0}), Tensor::scalar(1),
       "`max` must be rank 1 but is rank 0"},
      {bits(8), Tensor::zeros({2, 3}), vec({0, 0, 0}), vec({1, 1, 1, 1}),
       "max has incorrect size, expected 3 was 4"},
      // Both wrong: min is reported first.
      {bits(8), Tensor::zeros({2, 3}), vec({0}), vec({1}),
       "min has incorrect size, expected 3 was 1"},
  };
  for (const Case& c : cases) {
    auto rep =
        runBlock("QuantizationReport", c.attrs, {{"inputs", c.x}, {"min", c.lo}, {"max", c.hi}});
    auto op = runBlock("FakeQuantWithMinMaxVarsPerChannel", c.attrs,
                       {{"inputs", c.x}, {"min", c.lo}, {"max", c.hi}});
    CHECK_FALSE(rep.ok);
    CHECK(rep.error == c.message);
    CHECK(op.error == rep.error);
  }
}

TEST_CASE("computeChannelReport with Quantize::Div describes the Vars op", "[report]") {
  // Values spread over [-3, 3] with a range [-2.2, 1.7] at 4 bits: clipping on both sides.
  std::vector<float> xs;
  for (int i = 0; i <= 600; ++i) xs.push_back(-3.0f + 0.01f * static_cast<float>(i));
  const auto n = static_cast<int64_t>(xs.size());
  auto op = runBlock(
      "FakeQuantWithMinMaxVars", bits(4),
      {{"inputs", vec(xs)}, {"min", Tensor::scalar(-2.2f)}, {"max", Tensor::scalar(1.7f)}});
  REQUIRE(op.ok);
  double noise = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double e = static_cast<double>(op.out("output").data()[i]) - xs[i];
    noise += e * e;
  }
  const float lo = -2.2f, hi = 1.7f;
  const auto stats = fq::computeChannelReport(xs.data(), n, 1, &lo, &hi, fq::quantRange(4, false),
                                              fq::Quantize::Div);
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].mse == noise / static_cast<double>(n));
  const auto one = fq::computeOneChannel(xs.data(), n, 1, 0, lo, hi, fq::quantRange(4, false),
                                         fq::Quantize::Div);
  CHECK(one.mse == stats[0].mse);
  CHECK(one.below > 0);
  CHECK(one.above > 0);
}

TEST_CASE("QuantizationReport gives the same bits on the portable path and on AVX2", "[report]") {
  if (!fq::simdLevelSupported(fq::SimdLevel::Avx2)) {
    WARN("AVX2 is not available: only the portable path runs");
    return;
  }
  // Channel counts around the groups of eight; ranges ordinary, [0, 0], min == max, reversed,
  // one-sided; values with NaN, infinities and exact nudged ends among them.
  std::mt19937 rng(43);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int64_t channels : {1, 7, 8, 9, 16, 29, 128}) {
    const int64_t outer = 300;
    std::vector<float> x(static_cast<size_t>(outer * channels)), lo(channels), hi(channels);
    for (float& v : x) v = normal(rng);
    for (int64_t c = 0; c < channels; ++c) {
      const int kind = static_cast<int>(c % 6);
      lo[c] = kind == 1 ? 0.0f : kind == 4 ? 0.5f : -1.0f - static_cast<float>(c % 3);
      hi[c] = kind == 1 ? 0.0f : kind == 2 ? lo[c] : kind == 3 ? -3.0f : 2.5f + 0.1f * c;
    }
    x[3] = std::nanf("");
    x[static_cast<size_t>(channels) + 1] = std::numeric_limits<float>::infinity();
    x[2 * static_cast<size_t>(channels)] = -std::numeric_limits<float>::infinity();
    x[5 % x.size()] = lo[5 % channels];
    for (auto [bits, narrow] : {std::pair{8, false}, std::pair{3, true}})
      for (fq::Quantize op : {fq::Quantize::Mul, fq::Quantize::Div}) {
        INFO(channels << " channels, " << bits << " bits, narrow " << narrow << ", divide "
                      << (op == fq::Quantize::Div));
        const fq::QuantRange q = fq::quantRange(bits, narrow);
        // Rows 10 to 69 on the midpoints between levels, where multiplying by the inverse scale
        // and dividing by the scale can round apart.
        for (int64_t c = 0; c < channels; ++c) {
          const fq::Nudged n = fq::nudge(lo[c], hi[c], q);
          for (int64_t r = 10; r < 70; ++r)
            x[static_cast<size_t>(r * channels + c)] =
                n.nudgedMin + (static_cast<float>(r % q.quantMax) + 0.5f) * n.scale;
        }
        fq::setKernelOverride({fq::SimdLevel::Portable});
        const auto portable =
            fq::computeChannelReport(x.data(), outer, channels, lo.data(), hi.data(), q, op);
        fq::setKernelOverride({fq::SimdLevel::Avx2});
        const auto avx2 =
            fq::computeChannelReport(x.data(), outer, channels, lo.data(), hi.data(), q, op);
        fq::setKernelOverride({});
        REQUIRE(portable.size() == avx2.size());
        for (int64_t c = 0; c < channels; ++c) {
          INFO("channel " << c);
          const fq::QuantChannelStats &a = portable[c], &b = avx2[c];
          CHECK(a.below == b.below);
          CHECK(a.above == b.above);
          CHECK(std::memcmp(&a.signalPower, &b.signalPower, sizeof(double)) == 0);
          CHECK(std::memcmp(&a.mse, &b.mse, sizeof(double)) == 0);
          CHECK(std::memcmp(&a.sqnrDb, &b.sqnrDb, sizeof(double)) == 0);
        }
      }
  }
}

}  // namespace test_report
