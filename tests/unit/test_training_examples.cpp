// The two training examples do what docs/guide-training.md says: the linear regression reaches the
// least-squares line, and the learned 4-bit ranges beat Min/Max calibration and come close to the
// best ranges a brute-force search finds. References are computed here in double from the page's
// own data, and the fake quantization of the search is the test-only double reference.
//
// QS_LEARN_RANGES_TABLE=1 prints the per-channel table quoted in the guide.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/PageJson.h"
#include "tests/reference/FakeQuantDoubleReference.h"

namespace test_training_examples {

using namespace qs;

namespace {

struct Trained {
  LoadedPage page;
  Evaluator ev{builtinRegistry()};
  std::vector<float> losses;  // before each step's update

  Trained(const std::string& name, int steps, const std::string& lossResult) {
    page = loadPage(std::string(QS_SOURCE_DIR) + "/assets/examples/" + name);
    EvalOptions step;
    step.step = true;
    step.pageDir = page.dir;
    for (int i = 0; i < steps; ++i) {
      const EvalReport r = ev.evaluate(page.page, step);
      REQUIRE(r.failed.empty());
      REQUIRE(r.applied);
      losses.push_back(ev.result(lossResult)->values()[0]);
    }
    REQUIRE(ev.evaluate(page.page, {.pageDir = page.dir}).failed.empty());
  }
  std::vector<float> get(const std::string& result) { return ev.result(result)->toVector(); }
};

}  // namespace

TEST_CASE("Linear regression example reaches the least-squares line", "[training-examples]") {
  Trained t("linear_regression.page.json", 100, "loss.result_output");
  const std::vector<float> x = t.get("x.result_output");
  const std::vector<float> y = t.get("y.result_z");
  REQUIRE(x.size() == 64);
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += double(x[i]) * x[i];
    sxy += double(x[i]) * y[i];
  }
  const double n = static_cast<double>(x.size());
  const double w = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const double b = (sy - w * sx) / n;
  CHECK(std::abs(t.get("w.result_output")[0] - w) < 1e-3);
  CHECK(std::abs(t.get("b.result_output")[0] - b) < 1e-3);
  // The noise keeps w and b near, not at, the line that made the data.
  CHECK(std::abs(w - 3) < 0.2);
  CHECK(t.losses.back() < t.losses.front() / 50);
}

TEST_CASE("Two Gradients blocks of one loss give the bits each gives alone",
          "[training-examples]") {
  const LoadedPage both =
      loadPage(std::string(QS_SOURCE_DIR) + "/assets/examples/linear_regression.page.json");
  for (const char* alone : {"grad_w", "grad_b"}) {
    Page page = both.page;
    const char* other = std::string(alone) == "grad_w" ? "grad_b" : "grad_w";
    page.removeBlock(BlockId(std::string("step_") + (other + 5)));
    page.removeBlock(BlockId(other));
    Evaluator one(builtinRegistry()), two(builtinRegistry());
    REQUIRE(one.evaluate(page).failed.empty());
    REQUIRE(two.evaluate(both.page).failed.empty());
    const std::string name = std::string(alone) + ".result_output";
    CHECK(bitwiseEqual(*one.result(name), *two.result(name)));
  }
}

namespace {

std::map<std::string, Tensor> stepped(const LoadedPage& page, Evaluator& ev, int steps,
                                      int threads) {
  EvalOptions o;
  o.step = true;
  o.threads = threads;
  for (int i = 0; i < steps; ++i) REQUIRE(ev.evaluate(page.page, o).applied);
  return ev.stateTensors();
}

void requireSameBits(const std::map<std::string, Tensor>& a,
                     const std::map<std::string, Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, t] : a) {
    INFO(name);
    CHECK(bitwiseEqual(t, b.at(name)));
  }
}

}  // namespace

TEST_CASE("Learning ranges: the same bits on 1 and 2 threads, and across a saved state",
          "[training-examples]") {
  // Adam's held slots, the FakeQuant gradients and the reductions all take part.
  const LoadedPage page =
      loadPage(std::string(QS_SOURCE_DIR) + "/assets/examples/learn_ranges.page.json");
  Evaluator one(builtinRegistry()), two(builtinRegistry());
  const auto whole = stepped(page, one, 20, 1);
  CHECK(whole.size() == 10);  // 2 Variables, and m, v and two powers of each of 2 ApplyAdam
  requireSameBits(whole, stepped(page, two, 20, 2));

  // With 16 times the data the FakeQuant kernels and their gradients split the work between the
  // threads (from 2^18 elements on), and the bits still agree.
  LoadedPage large = page;
  for (const char* id : {"a", "b"}) {
    Json attrs = large.page.find(BlockId(id))->attrs;
    attrs["shape"] = Json::array({65536, 8});
    large.page.setAttrs(BlockId(id), attrs);
  }
  Evaluator bigOne(builtinRegistry()), bigTwo(builtinRegistry());
  requireSameBits(stepped(large, bigOne, 3, 1), stepped(large, bigTwo, 3, 2));

  Evaluator first(builtinRegistry()), second(builtinRegistry());
  const auto half = stepped(page, first, 10, 1);
  second.loadState(page.page, half, first.stepCount());
  const auto rest = stepped(page, second, 10, 1);
  CHECK(second.stepCount() == 20);
  requireSameBits(whole, rest);
  // Not trivially so: the state moved in the second half.
  CHECK_FALSE(bitwiseEqual(half.at("lo_scale"), whole.at("lo_scale")));
}

namespace {

// Mean squared error of 4-bit per-channel fake quantization of channel c of x ([rows, channels])
// with range [lo, hi], in double from the test's reference.
double channelMse(const std::vector<float>& x, int channels, int c, float lo, float hi) {
  const qsref2::Range r = qsref2::nudgeRange(lo, hi, 4, false);
  double sum = 0;
  size_t n = 0;
  for (size_t i = c; i < x.size(); i += channels, ++n) {
    const double e = double(qsref2::forward(qsref2::Kind::PerChannel, x[i], r)) - x[i];
    sum += e * e;
  }
  return sum / static_cast<double>(n);
}

// The best range [mn * a, mx * b] over a grid of a and b in (0, 1], refined around the best.
std::pair<double, std::pair<float, float>> bruteForce(const std::vector<float>& x, int channels,
                                                      int c, float mn, float mx) {
  double best = INFINITY;
  float ba = 1, bb = 1;
  auto search = [&](float a0, float a1, float b0, float b1, float stride) {
    for (float a = a0; a <= a1 + 1e-6f; a += stride)
      for (float b = b0; b <= b1 + 1e-6f; b += stride) {
        if (a <= 0 || b <= 0 || a > 1.2f || b > 1.2f) continue;
        const double m = channelMse(x, channels, c, mn * a, mx * b);
        if (m < best) {
          best = m;
          ba = a;
          bb = b;
        }
      }
  };
  search(0.04f, 1.0f, 0.04f, 1.0f, 0.04f);
  search(ba - 0.04f, ba + 0.04f, bb - 0.04f, bb + 0.04f, 0.004f);
  return {best, {mn * ba, mx * bb}};
}

}  // namespace

TEST_CASE("Learned 4-bit ranges beat Min/Max and approach the best range", "[training-examples]") {
  Trained t("learn_ranges.page.json", 300, "loss.result_output");
  const std::vector<float> x = t.get("weights.result_z");
  const std::vector<float> dataMin = t.get("data_min.result_output");
  const std::vector<float> dataMax = t.get("data_max.result_output");
  const std::vector<float> lo = t.get("min.result_z");
  const std::vector<float> hi = t.get("max.result_z");
  const std::vector<float> pageMse = t.get("mse.result_output");
  const int channels = static_cast<int>(dataMin.size());
  REQUIRE(channels == 8);
  const bool print = std::getenv("QS_LEARN_RANGES_TABLE") != nullptr;
  if (print)
    std::printf(
        "| channel | RMS | Min/Max range | MSE | SQNR dB | learned range | MSE | SQNR dB | "
        "searched range | MSE | SQNR dB |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int c = 0; c < channels; ++c) {
    double power = 0;
    for (size_t i = c; i < x.size(); i += channels) power += double(x[i]) * x[i];
    power /= static_cast<double>(x.size() / channels);
    const double minmax = channelMse(x, channels, c, dataMin[c], dataMax[c]);
    const double learned = channelMse(x, channels, c, lo[c], hi[c]);
    const auto [best, range] = bruteForce(x, channels, c, dataMin[c], dataMax[c]);
    // The page's own MSE of the learned range is the reference's.
    CHECK(pageMse[c] == Approx(learned).epsilon(1e-4));
    CHECK(learned < 0.7 * minmax);
    CHECK(learned < 1.05 * best);
    auto db = [&](double mse) { return 10 * std::log10(power / mse); };
    if (print)
      std::printf(
          "| %d | %g | [%.4g, %.4g] | %.3g | %.2f | [%.4g, %.4g] | %.3g | %.2f | [%.4g, %.4g] | "
          "%.3g | %.2f |\n",
          c, std::sqrt(power), dataMin[c], dataMax[c], minmax, db(minmax), lo[c], hi[c], learned,
          db(learned), range.first, range.second, best, db(best));
  }
  if (print) {
    std::printf("\nloss by step:");
    for (size_t s = 0; s < t.losses.size(); s += 25) std::printf(" %zu:%.5g", s + 1, t.losses[s]);
    std::printf(" %zu:%.5g\n", t.losses.size(), t.losses.back());
  }
}

}  // namespace test_training_examples
