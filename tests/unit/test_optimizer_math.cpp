// The optimizers' update formulas against tests/data/tf_optimizer_cases.json: three steps of
// each update with every intermediate state, worked out in float32 from TensorFlow's functors
// (one rounding per operation, TensorFlow's order) independently of this code.
#include <bit>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "blocks/state/OptimizerMath.h"
#include "optimizer_cases.h"

namespace test_optimizer_math {

namespace {

using Json = nlohmann::json;

using qs::testing::caseFloat;
using qs::testing::caseFloats;
using qs::testing::optimizerCase;
// Bit for bit: the formulas fix every rounding.
void requireBits(const std::vector<float>& got, const Json& expected, const char* what, int step) {
  const std::vector<float> want = caseFloats(expected);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what << " after step " << step + 1 << ", element " << i << ": " << got[i] << " vs "
              << want[i]);
    CHECK(std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i]));
  }
}

}  // namespace

TEST_CASE("optimizers: ApplyGradientDescent, three steps bit for bit", "[optimizers]") {
  const Json& c = optimizerCase("gradient_descent");
  std::vector<float> var = caseFloats(c.at("var0"));
  for (size_t s = 0; s < c.at("grads").size(); ++s) {
    const std::vector<float> g = caseFloats(c.at("grads")[s]);
    qs::optim::applyGradientDescent(var, caseFloat(c.at("alpha")), g);
    requireBits(var, c.at("steps")[s].at("var"), "var", static_cast<int>(s));
  }
}

TEST_CASE("optimizers: ApplyMomentum with and without Nesterov, three steps", "[optimizers]") {
  for (const char* name : {"momentum", "momentum_nesterov"}) {
    CAPTURE(name);
    const Json& c = optimizerCase(name);
    std::vector<float> var = caseFloats(c.at("var0")), accum(var.size(), 0.0f);
    for (size_t s = 0; s < c.at("grads").size(); ++s) {
      const std::vector<float> g = caseFloats(c.at("grads")[s]);
      qs::optim::applyMomentum(var, accum, caseFloat(c.at("lr")), g, caseFloat(c.at("momentum")),
                               c.at("use_nesterov").get<bool>());
      requireBits(accum, c.at("steps")[s].at("accum"), "accum", static_cast<int>(s));
      requireBits(var, c.at("steps")[s].at("var"), "var", static_cast<int>(s));
    }
  }
}

TEST_CASE("optimizers: ApplyAdam with and without Nesterov, first three steps", "[optimizers]") {
  for (const char* name : {"adam", "adam_nesterov"}) {
    CAPTURE(name);
    const Json& c = optimizerCase(name);
    std::vector<float> var = caseFloats(c.at("var0")), m(var.size(), 0.0f), v(var.size(), 0.0f);
    const float beta1 = caseFloat(c.at("beta1")), beta2 = caseFloat(c.at("beta2"));
    // The powers start at beta1 and beta2 and are multiplied by them after each step (float32).
    float beta1Power = beta1, beta2Power = beta2;
    for (size_t s = 0; s < c.at("grads").size(); ++s) {
      const Json& want = c.at("steps")[s];
      CHECK(beta1Power == caseFloat(want.at("beta1_power")));
      CHECK(beta2Power == caseFloat(want.at("beta2_power")));
      const qs::optim::AdamParams p{caseFloat(c.at("lr")),           beta1,      beta2,
                                    caseFloat(c.at("epsilon")),      beta1Power, beta2Power,
                                    c.at("use_nesterov").get<bool>()};
      qs::optim::applyAdam(var, m, v, p, caseFloats(c.at("grads")[s]));
      requireBits(m, want.at("m"), "m", static_cast<int>(s));
      requireBits(v, want.at("v"), "v", static_cast<int>(s));
      requireBits(var, want.at("var"), "var", static_cast<int>(s));
      beta1Power = beta1Power * beta1;
      beta2Power = beta2Power * beta2;
    }
  }
}

namespace {

// Rounds a double to float32. An operation on two floats carried out in double and rounded once
// gives the float32 result (double has more than twice float's precision), so the references
// below fix TensorFlow's order with explicit roundings instead of float arithmetic.
float r(double x) {
  return static_cast<float>(x);
}

}  // namespace

TEST_CASE("optimizers: each rounding where TensorFlow rounds, on values that show it",
          "[optimizers]") {
  // var near zero makes the update's own bits visible (a 1-ulp change of alpha or momentum * lr
  // shows in var); values vary over magnitudes.
  std::vector<float> grad, var0;
  for (int i = 0; i < 64; ++i) {
    grad.push_back(r(std::ldexp(1.0 + 0.37 * i, (i % 9) - 4) * (i % 2 ? -1 : 1)));
    var0.push_back(i % 4 == 0 ? 0.0f : r(0.001 * (i - 30)));
  }
  const float lr = 0.013f, momentum = 0.87f, beta1 = 0.91f, beta2 = 0.997f, eps = 1e-6f;
  for (bool nesterov : {false, true}) {
    CAPTURE(nesterov);
    std::vector<float> var = var0, accum(64, 0.0f), m(64, 0.0f), v(64, 0.0f);
    std::vector<double> rv(var0.begin(), var0.end()), ra(64, 0.0), rm(64, 0.0), rvv(64, 0.0);
    float b1p = beta1, b2p = beta2;
    for (int step = 0; step < 4; ++step) {
      qs::optim::applyMomentum(var, accum, lr, grad, momentum, nesterov);
      // Both updates act on one var, momentum's first, as two update blocks in a step would.
      qs::optim::applyAdam(var, m, v, {lr, beta1, beta2, eps, b1p, b2p, nesterov}, grad);
      const double alpha = r(r(lr * r(std::sqrt(r(1.0 - b2p)))) / r(1.0 - b1p));
      for (size_t i = 0; i < 64; ++i) {
        const double g = grad[i];
        ra[i] = r(r(ra[i] * momentum) + g);
        rv[i] = nesterov ? r(rv[i] - r(r(g * lr) + r(r(ra[i] * momentum) * lr)))
                         : r(rv[i] - r(ra[i] * lr));
        rm[i] = r(rm[i] + r(r(g - rm[i]) * r(1.0 - beta1)));
        rvv[i] = r(rvv[i] + r(r(r(g * g) - rvv[i]) * r(1.0 - beta2)));
        const double num =
            nesterov ? r(r(r(g * r(1.0 - beta1)) + r(beta1 * rm[i])) * alpha) : r(rm[i] * alpha);
        rv[i] = r(rv[i] - r(num / r(r(std::sqrt(rvv[i])) + eps)));
      }
      b1p = b1p * beta1;
      b2p = b2p * beta2;
    }
    for (size_t i = 0; i < 64; ++i) {
      INFO("element " << i);
      CHECK(std::bit_cast<uint32_t>(accum[i]) == std::bit_cast<uint32_t>(r(ra[i])));
      CHECK(std::bit_cast<uint32_t>(m[i]) == std::bit_cast<uint32_t>(r(rm[i])));
      CHECK(std::bit_cast<uint32_t>(v[i]) == std::bit_cast<uint32_t>(r(rvv[i])));
      CHECK(std::bit_cast<uint32_t>(var[i]) == std::bit_cast<uint32_t>(r(rv[i])));
    }
  }
}

}  // namespace test_optimizer_math
