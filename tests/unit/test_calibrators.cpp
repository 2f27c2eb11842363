// The calibrator blocks against references written here: plain loops in double over histograms
// built here, the FakeQuant nudge and quantizer in their textbook form, the KL divergence from
// explicit P and Q arrays, the expected error by integrating each bin. Also their state across
// steps and resets, and their messages for bad input.
#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "blocks/array_ops/FakeQuantKernels.h"
#include "blocks/quant/CalibrationBakeOff.h"
#include "blocks/quant/CalibrationMath.h"
#include "blocks/quant/CalibrationScan.h"
#include "kernel_override_guard.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"
#include "runtime/ThreadPool.h"

namespace test_calibrators {

using namespace qs;
using Json = nlohmann::json;

namespace {

constexpr int kBins = 2048;

// ---- A page with one calibrator fed from a Const ----------------------------------------------

struct Calib {
  Page page;
  Evaluator ev{builtinRegistry()};

  Calib(const std::string& type, Json attrs, Shape shape, const std::vector<float>& values,
        Json constAttrs = Json::object()) {
    Json v = Json::array();
    for (float f : values) v.push_back(f);
    Block x;
    x.id = BlockId("x");
    x.type = "Const";
    x.attrs = constAttrs;
    x.attrs["shape"] = shape;
    x.attrs["values"] = v;
    page.addBlock(x);
    Block c;
    c.id = BlockId("cal");
    c.type = type;
    c.attrs = std::move(attrs);
    page.addBlock(c);
    page.addLink({{BlockId("x"), PortName("output")}, {BlockId("cal"), PortName("inputs")}});
  }
  void feed(Shape shape, const std::vector<float>& values) {
    ev.setFeed(BlockId("x"), Tensor::fromValues(std::move(shape), values));
  }
  void run(bool step = false) { ev.evaluate(page, {.step = step}); }
  std::vector<float> out(const std::string& port) const {
    auto t = ev.result("cal.result_" + port);
    REQUIRE(t);
    return t->toVector();
  }
  Shape shape(const std::string& port) const { return ev.result("cal.result_" + port)->shape(); }
  std::string error() const {
    const BlockState* st = ev.state(BlockId("cal"));
    return st && st->status == BlockStatus::Error ? st->error : "";
  }
};

// ---- Test data: values kept away from bin edges ------------------------------------------------

// Column c of a row-major [rows, channels] tensor.
std::vector<float> column(const std::vector<float>& x, int channels, int c) {
  std::vector<float> r;
  for (size_t i = c; i < x.size(); i += channels) r.push_back(x[i]);
  return r;
}

// Moves v to the middle part of its bin of a histogram over [lo, lo + 2048 w], so that float and
// double binning agree.
float settle(double v, double lo, double w) {
  double u = (v - lo) / w;
  u = std::clamp(u, 0.0, kBins - 1.0);
  const double f = u - std::floor(u);
  return static_cast<float>(lo + (std::floor(u) + 0.3 + 0.4 * f) * w);
}

// `rows` values of a channel: Laplace-like with scale s, a fraction of larger outliers, and the
// planted extremes lo <= 0 <= hi (each once), every other value settled inside the |x| histogram
// (symmetric) or the [lo, hi] one.
std::vector<float> channelData(std::mt19937& rng, int rows, double s, double lo, double hi,
                               bool symmetric) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double amax = std::max(-lo, hi);
  const double hLo = symmetric ? 0.0 : lo, w = ((symmetric ? amax : hi) - hLo) / kBins;
  std::vector<float> v = {static_cast<float>(lo), static_cast<float>(hi)};
  while (static_cast<int>(v.size()) < rows) {
    const double mag = -s * std::log(1.0 - u(rng)) * (u(rng) < 0.03 ? 6.0 : 1.0);
    double x = u(rng) < 0.5 ? -mag : mag;
    x = std::clamp(x, lo * 0.999, hi * 0.999);
    if (symmetric) {
      const float m = settle(std::fabs(x), 0.0, w);
      v.push_back(x < 0 ? -m : m);
    } else {
      v.push_back(settle(x, lo, w));
    }
  }
  std::shuffle(v.begin() + 1, v.end(), rng);
  return v;
}

// Channels as columns of a [rows, channels] tensor.
std::vector<float> interleave(const std::vector<std::vector<float>>& cols) {
  std::vector<float> x;
  for (size_t r = 0; r < cols[0].size(); ++r)
    for (const auto& c : cols) x.push_back(c[r]);
  return x;
}

// Three channels: both signs with an outlier, nonnegative, and narrow with wide outliers.
std::vector<float> testTensor(int rows, bool symmetric, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  return interleave({channelData(rng, rows, 1.0, -9.0, 30.0, symmetric),
                     channelData(rng, rows, 0.5, 0.0, 6.0, symmetric),
                     channelData(rng, rows, 0.2, -4.0, 3.5, symmetric)});
}

// ---- References -------------------------------------------------------------------------------

struct RefHist {
  bool symmetric = true;
  double lo = 0, w = 0, n = 0;
  double seenMin = 0, seenMax = 0;
  std::vector<double> h = std::vector<double>(kBins, 0.0);
};

RefHist refHistogram(const std::vector<float>& v, bool symmetric) {
  RefHist r;
  r.symmetric = symmetric;
  double mn = 0, mx = 0;
  for (float f : v) {
    mn = std::min<double>(mn, f);
    mx = std::max<double>(mx, f);
  }
  r.seenMin = *std::min_element(v.begin(), v.end());
  r.seenMax = *std::max_element(v.begin(), v.end());
  r.lo = symmetric ? 0.0 : mn;
  const double hi = symmetric ? std::max(-mn, mx) : mx;
  r.w = (hi - r.lo) / kBins;
  for (float f : v) {
    const double x = symmetric ? std::fabs(double{f}) : double{f};
    const int b = std::min(kBins - 1, static_cast<int>(std::floor((x - r.lo) / r.w)));
    r.h[b] += 1;
    r.n += 1;
  }
  return r;
}

struct RefNudged {
  double min, max, scale;
};

// TensorFlow's nudge, in double.
RefNudged refNudge(double min, double max, int numBits, bool narrow) {
  const double qmin = narrow ? 1 : 0, qmax = std::pow(2.0, numBits) - 1;
  const double scale = (max - min) / (qmax - qmin);
  const double zpFromMin = qmin - min / scale;
  const double zp = zpFromMin < qmin ? qmin : zpFromMin > qmax ? qmax : std::round(zpFromMin);
  return {(qmin - zp) * scale, (qmax - zp) * scale, scale};
}

// The fake-quantized value: the nearest level (half up) of the clamped x.
double refFakeQuant(double x, const RefNudged& n) {
  const double c = std::clamp(x, n.min, n.max);
  return n.min + std::floor((c - n.min) / n.scale + 0.5) * n.scale;
}

// Candidate k as the blocks define it, computed here: threshold k * w with the sign rule, or the
// two-tailed range scaled by k / 2048.
std::pair<float, float> refCandidate(const RefHist& r, int k) {
  if (r.symmetric) {
    const float t = static_cast<float>(k * r.w);
    return {r.seenMin < 0 ? -t : 0.0f, r.seenMax > 0 ? t : 0.0f};
  }
  const double s = k / 2048.0;
  return {static_cast<float>(s * r.lo), static_cast<float>(s * (r.lo + kBins * r.w))};
}

// Integral of (x - e)^2 over [p, q].
double sqIntegral(double p, double q, double e) {
  return (std::pow(q - e, 3) - std::pow(p - e, 3)) / 3.0;
}

// Expected squared error of fake-quantizing values spread evenly over [p, q] (density 1), with
// the range's ends at a <= b and step^2 / 12 inside.
double pieceNoise(double p, double q, double a, double b, double step2) {
  double s = 0;
  if (p < a) s += sqIntegral(p, std::min(q, a), a);
  if (q > b) s += sqIntegral(std::max(p, b), q, b);
  const double in = std::max(0.0, std::min(q, b) - std::max(p, a));
  return s + in * step2 / 12.0;
}

double refExpectedNoise(const RefHist& r, std::pair<float, float> range, int bits, bool narrow) {
  const RefNudged n = refNudge(range.first, range.second, bits, narrow);
  const double step2 = n.scale * n.scale;
  const bool neg = r.seenMin<0, pos = r.seenMax> 0;
  const double wPos = neg && pos ? 0.5 : pos ? 1 : 0, wNeg = neg && pos ? 0.5 : neg ? 1 : 0;
  double total = 0;
  for (int i = 0; i < kBins; ++i) {
    if (r.h[i] == 0) continue;
    const double p = r.lo + i * r.w, q = p + r.w, density = r.h[i] / r.w;
    if (!r.symmetric) {
      total += density * pieceNoise(p, q, n.min, n.max, step2);
    } else {
      // |x| in [p, q]: the positive share against [.., nudged max], the negative one against
      // [.., -nudged min].
      total += density * (wPos * pieceNoise(p, q, -1e300, n.max, step2) +
                          wNeg * pieceNoise(p, q, -1e300, -n.min, step2));
    }
  }
  return total;
}

// TensorRT's KL divergence for i kept bins, from explicit arrays.
double refKl(const RefHist& r, int i, int levels) {
  std::vector<double> p(r.h.begin(), r.h.begin() + i);
  for (int j = i; j < kBins; ++j) p[i - 1] += r.h[j];
  const int m = i / levels;
  std::vector<double> q(i, 0.0);
  for (int g = 0; g < levels; ++g) {
    const int a = g * m, b = g + 1 == levels ? i : (g + 1) * m;
    double sum = 0;
    int nonzero = 0;
    for (int j = a; j < b; ++j) {
      sum += r.h[j];
      nonzero += p[j] > 0;
    }
    for (int j = a; j < b; ++j) q[j] = p[j] > 0 ? sum / nonzero : 0.0;
  }
  double sp = 0, sq = 0;
  for (int j = 0; j < i; ++j) {
    sp += p[j];
    sq += q[j];
  }
  double kl = 0;
  for (int j = 0; j < i; ++j) {
    if (p[j] == 0) continue;
    if (q[j] == 0) return std::numeric_limits<double>::infinity();
    kl += p[j] / sp * std::log((p[j] / sp) / (q[j] / sq));
  }
  return kl;
}

// Noise of the SQNR search: bin centres fake-quantized, clipped ones weighted.
double refSqnrNoise(const RefHist& r, std::pair<float, float> range, int bits, double weight) {
  const RefNudged n = refNudge(range.first, range.second, bits, false);
  const bool neg = r.seenMin<0, pos = r.seenMax> 0;
  const double wPos = !r.symmetric ? 1 : neg && pos ? 0.5 : pos ? 1 : 0;
  const double wNeg = !r.symmetric ? 0 : neg && pos ? 0.5 : neg ? 1 : 0;
  double noise = 0;
  for (int i = 0; i < kBins; ++i) {
    if (r.h[i] == 0) continue;
    const double c = static_cast<float>(r.lo + (i + 0.5) * r.w);
    for (double v : {c, -c}) {
      const double share = v == c ? wPos : wNeg;
      if (share == 0) continue;
      const double e = refFakeQuant(v, n) - v;
      const double clip = (v < n.min || v > n.max) ? weight : 1.0;
      noise += r.h[i] * share * clip * e * e;
    }
  }
  return noise;
}

// The candidate k whose range the block gave; 0 if none.
int candidateIndex(const RefHist& r, float lo, float hi) {
  for (int k = 1; k <= kBins; ++k)
    if (refCandidate(r, k) == std::make_pair(lo, hi)) return k;
  return 0;
}

Json attrsWith(Json a, bool symmetric) {
  a["symmetric"] = symmetric;
  return a;
}

}  // namespace

TEST_CASE("MinMaxCalibrator gives each channel's extremes with 0 kept inside", "[calibrate]") {
  // Channel 1 is all positive: its min becomes 0.
  Calib t("MinMaxCalibrator", Json::object(), {3, 2}, {-1.5f, 2, 4, 0.5f, 3, 7});
  t.run();
  CHECK(t.out("min") == std::vector<float>{-1.5f, 0});
  CHECK(t.out("max") == std::vector<float>{4, 7});
  Calib whole("MinMaxCalibrator", {{"per_channel", false}}, {3, 2}, {1, 2, 4, 0.5f, 3, 7});
  whole.run();
  CHECK(whole.shape("min").empty());
  CHECK(whole.out("min") == std::vector<float>{0});
  CHECK(whole.out("max") == std::vector<float>{7});
}

TEST_CASE("MinMaxCalibrator's modes across steps, and reset", "[calibrate]") {
  const std::vector<std::vector<float>> batches = {{-1, 2}, {-3, 1}, {-0.5f, 5}};
  for (const std::string mode : {"last", "running", "moving_average"}) {
    INFO("mode " << mode);
    const double decay = 0.9;
    Calib t("MinMaxCalibrator", {{"mode", mode}, {"decay", decay}, {"per_channel", false}}, {2},
            {0, 0});
    double lo = 0, hi = 0;
    for (size_t s = 0; s < batches.size(); ++s) {
      t.feed({2}, batches[s]);
      t.run(s + 1 < batches.size());  // two steps, then the evaluation that applies nothing
      const double bLo = batches[s][0], bHi = batches[s][1];
      if (s == 0 || mode == "last") {
        lo = bLo;
        hi = bHi;
      } else if (mode == "running") {
        lo = std::min(lo, bLo);
        hi = std::max(hi, bHi);
      } else {
        lo = decay * lo + (1 - decay) * bLo;
        hi = decay * hi + (1 - decay) * bHi;
      }
    }
    CHECK(t.out("min")[0] == Approx(lo).epsilon(1e-6));
    CHECK(t.out("max")[0] == Approx(hi).epsilon(1e-6));
    t.ev.resetState();
    t.run();
    CHECK(t.out("min")[0] == -0.5f);
    CHECK(t.out("max")[0] == 5.0f);
  }
}

TEST_CASE("PercentileCalibrator matches the percentile of its reference histogram", "[calibrate]") {
  for (bool symmetric : {true, false}) {
    const std::vector<float> x = testTensor(601, symmetric);
    for (double p : {99.99, 97.3, 90.1}) {
      INFO("symmetric " << symmetric << ", percentile " << p);
      Calib t("PercentileCalibrator", attrsWith({{"percentile", p}}, symmetric), {601, 3}, x);
      t.run();
      REQUIRE(t.error().empty());
      for (int c = 0; c < 3; ++c) {
        INFO("channel " << c);
        const RefHist r = refHistogram(column(x, 3, c), symmetric);
        const double target = p / 100.0 * r.n;
        double cum = 0, upper = 0, lower = 0;
        for (int k = 0; k < kBins; ++k)
          if ((cum += r.h[k]) >= target) {
            upper = r.lo + (k + 1) * r.w;
            break;
          }
        cum = 0;
        for (int k = kBins - 1; k >= 0; --k)
          if ((cum += r.h[k]) >= target) {
            lower = r.lo + k * r.w;
            break;
          }
        float wantLo, wantHi;
        if (symmetric) {
          const float tt = static_cast<float>(std::min(upper, std::max(-r.seenMin, r.seenMax)));
          wantLo = r.seenMin < 0 ? -tt : 0.0f;
          wantHi = r.seenMax > 0 ? tt : 0.0f;
        } else {
          wantLo = std::min(0.0f, static_cast<float>(std::max(lower, r.seenMin)));
          wantHi = std::max(0.0f, static_cast<float>(std::min(upper, r.seenMax)));
        }
        CHECK(t.out("min")[c] == wantLo);
        CHECK(t.out("max")[c] == wantHi);
      }
    }
  }
}

TEST_CASE("MseCalibrator picks the candidate of least expected error", "[calibrate]") {
  for (bool symmetric : {true, false}) {
    for (auto [bits, narrow] : {std::pair{8, false}, std::pair{4, true}}) {
      INFO("symmetric " << symmetric << ", " << bits << " bits, narrow " << narrow);
      const std::vector<float> x = testTensor(500, symmetric);
      Calib t("MseCalibrator", attrsWith({{"num_bits", bits}, {"narrow_range", narrow}}, symmetric),
              {500, 3}, x);
      t.run();
      REQUIRE(t.error().empty());
      int clipped = 0;
      for (int c = 0; c < 3; ++c) {
        INFO("channel " << c);
        const RefHist r = refHistogram(column(x, 3, c), symmetric);
        double best = std::numeric_limits<double>::infinity();
        for (int k = 1; k <= kBins; ++k)
          best = std::min(best, refExpectedNoise(r, refCandidate(r, k), bits, narrow));
        const int k = candidateIndex(r, t.out("min")[c], t.out("max")[c]);
        INFO("candidate " << k);
        REQUIRE(k > 0);
        CHECK(refExpectedNoise(r, refCandidate(r, k), bits, narrow) <= best * (1 + 1e-9));
        clipped += k < kBins;
      }
      CHECK(clipped > 0);  // the search is not trivially the whole range
    }
  }
}

TEST_CASE("EntropyCalibrator picks TensorRT's least-divergence threshold", "[calibrate]") {
  const std::vector<float> x = testTensor(800, true, 11);
  for (int bits : {8, 6}) {
    INFO(bits << " bits");
    Calib t("EntropyCalibrator", {{"num_bits", bits}}, {800, 3}, x);
    t.run();
    REQUIRE(t.error().empty());
    const int levels = 1 << (bits - 1);
    for (int c = 0; c < 3; ++c) {
      INFO("channel " << c);
      const RefHist r = refHistogram(column(x, 3, c), true);
      double best = std::numeric_limits<double>::infinity();
      int bestI = 0;
      for (int i = levels; i <= kBins; ++i)
        if (const double kl = refKl(r, i, levels); kl < best) {
          best = kl;
          bestI = i;
        }
      const float got = t.out("max")[c] > 0 ? t.out("max")[c] : -t.out("min")[c];
      int i = 0;
      for (int k = levels; k <= kBins; ++k)
        if (static_cast<float>(std::min(k * r.w, std::max(-r.seenMin, r.seenMax))) == got) i = k;
      INFO("reference i " << bestI << ", block's i " << i);
      REQUIRE(i > 0);
      CHECK(refKl(r, i, levels) <= best + 1e-12);
      CHECK(i < kBins);
    }
  }
}

TEST_CASE("SqnrCalibrator picks the best SQNR of its two-stage candidates", "[calibrate]") {
  for (bool symmetric : {true, false}) {
    for (double weight : {1.0, 4.0}) {
      INFO("symmetric " << symmetric << ", clipping weight " << weight);
      const std::vector<float> x = testTensor(700, symmetric, 3);
      Calib t("SqnrCalibrator", attrsWith({{"clipping_weight", weight}}, symmetric), {700, 3}, x);
      t.run();
      REQUIRE(t.error().empty());
      for (int c = 0; c < 3; ++c) {
        INFO("channel " << c);
        const RefHist r = refHistogram(column(x, 3, c), symmetric);
        auto noise = [&](int k) { return refSqnrNoise(r, refCandidate(r, k), 8, weight); };
        int coarse = 128;
        for (int k = 256; k <= kBins; k += 128)
          if (noise(k) < noise(coarse)) coarse = k;
        double best = noise(coarse);
        for (int k = std::max(16, coarse - 112); k <= std::min(kBins, coarse + 112); k += 16)
          best = std::min(best, noise(k));
        const int k = candidateIndex(r, t.out("min")[c], t.out("max")[c]);
        INFO("candidate " << k << ", coarse best " << coarse);
        REQUIRE(k > 0);
        CHECK(k % 16 == 0);
        CHECK(noise(k) <= best * (1 + 1e-5));
      }
    }
  }
}

TEST_CASE("Per-tensor calibration gives scalars over the whole tensor", "[calibrate]") {
  const std::vector<float> x = testTensor(200, true);
  const RefHist r = refHistogram(x, true);
  Calib t("PercentileCalibrator", {{"percentile", 100}, {"per_channel", false}}, {200, 3}, x);
  t.run();
  REQUIRE(t.error().empty());
  CHECK(t.shape("max").empty());
  CHECK(t.out("min")[0] == static_cast<float>(r.seenMin < 0 ? -30.0 : 0));
  CHECK(t.out("max")[0] == 30.0f);
  CHECK(t.shape("histogram") == Shape{1, kBins});
}

TEST_CASE("Histogram calibrators accumulate across steps and start again after a reset",
          "[calibrate]") {
  const std::vector<float> a = testTensor(300, true, 1), b = testTensor(300, true, 2);
  // b's values within a's range: the histogram is that of both batches together.
  std::vector<float> half(b);
  for (float& v : half) v *= 0.25f;
  std::vector<float> both(a);
  both.insert(both.end(), half.begin(), half.end());
  Calib together("PercentileCalibrator", {{"percentile", 97.3}}, {600, 3}, both);
  together.run();
  Calib steps("PercentileCalibrator", {{"percentile", 97.3}}, {300, 3}, a);
  steps.run(true);
  steps.feed({300, 3}, half);
  steps.run();
  CHECK(steps.out("min") == together.out("min"));
  CHECK(steps.out("max") == together.out("max"));
  CHECK(steps.out("histogram") == together.out("histogram"));

  // A batch beyond the range widens it by a power of two, keeping every count.
  std::vector<float> wide(b);
  for (float& v : wide) v *= 3.0f;
  steps.feed({300, 3}, wide);
  steps.run();
  const std::vector<float> bounds = steps.out("histogram_bounds");
  const std::vector<float> counts = steps.out("histogram");
  CHECK(bounds[1] == 4 * 30.0f);  // channel 0: |x| up to 90 needs 30 * 2^2
  CHECK(bounds[3] == 90.0f);      // the largest value seen
  double total = 0;
  for (int i = 0; i < kBins; ++i) total += counts[i];
  CHECK(total == 600);

  const auto held = steps.ev.stateTensors();
  CHECK(held.count("cal.histogram") == 1);
  CHECK(held.count("cal.histogram_bounds") == 1);
  steps.ev.resetState();
  steps.feed({300, 3}, half);
  steps.run();
  Calib alone("PercentileCalibrator", {{"percentile", 97.3}}, {300, 3}, half);
  alone.run();
  CHECK(steps.out("max") == alone.out("max"));
}

TEST_CASE("A large batch is binned and its extremes found as in plain loops", "[calibrate]") {
  // More rows than a 16-bit count holds (in each of two threads), a channel count that is no
  // multiple of four and a row count that is no multiple of four, so that every path of the binning
  // and extremes passes runs.
  constexpr int kRows = 140001, kChannels = 5;
  for (bool symmetric : {true, false}) {
    std::mt19937 rng(11);
    std::vector<std::vector<float>> cols;
    for (int c = 0; c < kChannels; ++c)
      cols.push_back(channelData(rng, kRows, 0.3 + c, -2.0 - c, 5.0 + 2 * c, symmetric));
    // Channel 4 holds one value only: every count in one bin, beyond 65535.
    std::fill(cols[4].begin(), cols[4].end(), 0.75f);
    const std::vector<float> x = interleave(cols);
    Calib t("PercentileCalibrator", {{"symmetric", symmetric}}, {1, kChannels},
            std::vector<float>(kChannels, 0.0f));
    t.feed({kRows, kChannels}, x);
    t.run();
    const std::vector<float> counts = t.out("histogram");
    const std::vector<float> bounds = t.out("histogram_bounds");
    REQUIRE(counts.size() == size_t{kBins} * kChannels);
    for (int c = 0; c < kChannels; ++c) {
      const RefHist ref = refHistogram(cols[c], symmetric);
      CHECK(bounds[c * 4 + 2] == static_cast<float>(ref.seenMin));
      CHECK(bounds[c * 4 + 3] == static_cast<float>(ref.seenMax));
      int wrong = 0;
      for (int i = 0; i < kBins; ++i) wrong += counts[c * kBins + i] != ref.h[i];
      CHECK(wrong == 0);
    }
    CHECK(counts[4 * kBins + kBins - 1] == kRows);
  }
}

TEST_CASE("One thread bins a large batch and adds more to it, as plain loops do", "[calibrate]") {
  // One part of the binning pass, past a 16-bit count's rows, merged into counts that already hold
  // values: the batch twice (the edges stay, every count doubles), then one row of zeros.
  constexpr int kRows = 70001, kChannels = 3;
  for (bool symmetric : {true, false}) {
    INFO("symmetric " << symmetric);
    std::mt19937 rng(17);
    std::vector<std::vector<float>> cols;
    for (int c = 0; c < kChannels; ++c)
      cols.push_back(channelData(rng, kRows, 0.5 + c, -3.0 - c, 4.0 + 2 * c, symmetric));
    const std::vector<float> x = interleave(cols);
    const std::vector<float> zeros(kChannels, 0.0f);
    calib::Histograms h(kChannels, symmetric);
    calib::accumulate(h, x.data(), kRows, false, fq::Exec{});
    calib::accumulate(h, x.data(), kRows, false, fq::Exec{});
    calib::accumulate(h, zeros.data(), 1, false, fq::Exec{});
    for (int c = 0; c < kChannels; ++c) {
      INFO("channel " << c);
      const RefHist ref = refHistogram(cols[c], symmetric);
      const int zeroBin = static_cast<int>(std::floor((0.0 - ref.lo) / ref.w));
      int wrong = 0;
      for (int i = 0; i < kBins; ++i)
        wrong += h.counts[c * kBins + i] != 2 * ref.h[i] + (i == zeroBin ? 1 : 0);
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("A histogram made from one batch equals one reset and accumulated", "[calibrate]") {
  // fromBatch() overwrites counts instead of zeroing them first: start it from a histogram full of
  // other counts and another channel count.
  constexpr int kRows = 3001, kChannels = 7;
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(kRows) * kChannels), other(x.size() * 2);
  for (float& v : x) v = normal(rng);
  for (float& v : other) v = 5.0f + normal(rng);
  for (bool symmetric : {true, false}) {
    INFO("symmetric " << symmetric);
    calib::Histograms want(kChannels, symmetric), got(kChannels + 3, !symmetric);
    calib::accumulate(want, x.data(), kRows, false, {});
    calib::accumulate(got, other.data(), kRows * kChannels / (kChannels + 3), false, {});
    calib::fromBatch(got, kChannels, symmetric, x.data(), kRows, false, {});
    CHECK(got.symmetric == symmetric);
    CHECK(got.channels == kChannels);
    CHECK(got.counts == want.counts);
    CHECK(got.lo == want.lo);
    CHECK(got.hi == want.hi);
    CHECK(got.min == want.min);
    CHECK(got.max == want.max);
  }
}

TEST_CASE("Calibration gives the same bits with one thread and with two", "[calibrate]") {
  // Large enough to be split between the threads (passes and searches).
  constexpr int kRows = 4096, kChannels = 64;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(kRows) * kChannels);
  for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng) * static_cast<float>(1 + i % 7);
  ThreadPool pool(2);
  for (calib::Method m : calib::allMethods()) {
    INFO(calib::methodName(m));
    const auto one = calib::calibrate(m, x.data(), kRows, kChannels, 8, false, {});
    const auto two = calib::calibrate(m, x.data(), kRows, kChannels, 8, false, {&pool, 2});
    REQUIRE(one.size() == two.size());
    int differ = 0;
    for (size_t c = 0; c < one.size(); ++c)
      differ += std::memcmp(&one[c], &two[c], sizeof(calib::Range)) != 0;
    CHECK(differ == 0);
  }
}

#ifdef QS_FQ_HAVE_X86
namespace {
// Whether this CPU runs the AVX2 path, so that a test comparing it with the portable one can.
bool avx2Here() {
  if (fq::simdLevelSupported(fq::SimdLevel::Avx2)) return true;
  WARN("AVX2 is not available on this CPU: only the portable path runs");
  return false;
}
}  // namespace
#endif

TEST_CASE("A batch of many tiles and wide rows is binned as in plain loops, on every path",
          "[calibrate]") {
  // 37 channels (two vectors of sixteen, then five; nine groups of four, then one) and rows that
  // fill several tiles of the binning pass, the last one short and no multiple of four: the
  // vector binning, the grouped counting and their tails, tile after tile.
  constexpr int kRows = 9003, kChannels = 37;
  // Values settled inside their bins of each kind of histogram (channelData()).
  std::vector<std::vector<float>> cols[2], x(2);
  for (bool symmetric : {false, true}) {
    std::mt19937 rng(29);
    for (int c = 0; c < kChannels; ++c)
      cols[symmetric].push_back(
          channelData(rng, kRows, 0.2 + 0.1 * c, -1.0 - c % 5, 2.0 + c % 7, symmetric));
    x[symmetric] = interleave(cols[symmetric]);
  }
  std::vector<fq::SimdLevel> levels{fq::SimdLevel::Portable};
#ifdef QS_FQ_HAVE_X86
  if (avx2Here()) levels.push_back(fq::SimdLevel::Avx2);
#endif
  const qs::testing::KernelOverrideGuard restore;
  ThreadPool pool(2);
  for (fq::SimdLevel level : levels) {
    fq::setKernelOverride({level});
    for (int threads : {1, 2}) {
      for (bool symmetric : {true, false}) {
        INFO("level " << static_cast<int>(level) << ", threads " << threads << ", symmetric "
                      << symmetric);
        calib::Histograms h(kChannels, symmetric);
        calib::accumulate(h, x[symmetric].data(), kRows, false,
                          {threads == 2 ? &pool : nullptr, threads});
        int wrong = 0;
        for (int c = 0; c < kChannels; ++c) {
          const RefHist ref = refHistogram(cols[symmetric][c], symmetric);
          for (int i = 0; i < kBins; ++i) wrong += h.counts[c * kBins + i] != ref.h[i];
        }
        CHECK(wrong == 0);
      }
    }
  }
}

TEST_CASE("The SQNR scoring gives the same bits on the portable path and on AVX2", "[calibrate]") {
#ifdef QS_FQ_HAVE_X86
  if (!avx2Here()) return;
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  std::uniform_int_distribution<int> count(1, 60);
  // Bin counts around a multiple of eight, so that the one-at-a-time tail runs with every length.
  for (size_t n : {size_t{1}, size_t{7}, size_t{8}, size_t{13}, size_t{2040}, size_t{2047}}) {
    std::vector<float> centre(n), counts(n);
    for (size_t i = 0; i < n; ++i) {
      centre[i] = value(rng);
      counts[i] = static_cast<float>(count(rng));
    }
    const std::pair<float, float> ranges[] = {
        {-1.0f, 1.0f}, {0.0f, 2.5f}, {-0.3f, 0.0f}, {-2.9f, 0.4f}, {0.0f, 0.0f}};
    for (auto [lo, hi] : ranges)
      for (bool both : {false, true})
        for (float weight : {1.0f, 4.0f}) {
          INFO(n << " bins, range [" << lo << ", " << hi << "], both " << both << ", weight "
                 << weight);
          const fq::Nudged nd = fq::nudge(lo, hi, fq::quantRange(8, false));
          const float wp = both ? 0.5f : 1.0f, wn = both ? 0.5f : 0.0f;
          const double portable = calib::detail::sqnrNoiseSumPortable(centre.data(), counts.data(),
                                                                      n, nd, both, wp, wn, weight);
          const double avx2 = calib::detail::sqnrNoiseSumAvx2(centre.data(), counts.data(), n, nd,
                                                              both, wp, wn, weight);
          CHECK(std::memcmp(&portable, &avx2, sizeof(double)) == 0);
          CHECK(portable > 0);
        }
  }
#else
  WARN("not an x86-64 build: only the portable path exists");
#endif
}

TEST_CASE("The MSE search gives the same bits on the portable path and on AVX2", "[calibrate]") {
#ifdef QS_FQ_HAVE_X86
  if (!avx2Here()) return;
  std::mt19937 rng(23);
  std::uniform_int_distribution<int> count(0, 40);
  for (bool symmetric : {true, false})
    // [-6.5, 8.5] at 4 bits puts the unrounded zero point of the two-tailed candidates at 6.5,
    // where rounding half away from zero and half to even differ.
    for (auto [seenMin, seenMax] : {std::pair{-3.0f, 2.5f}, std::pair{0.0f, 1.7f},
                                    std::pair{-0.6f, 0.0f}, std::pair{-6.5f, 8.5f}})
      for (auto [bits, narrow] : {std::pair{8, false}, std::pair{4, true}, std::pair{16, false}}) {
        INFO("symmetric " << symmetric << ", seen [" << seenMin << ", " << seenMax << "], " << bits
                          << " bits, narrow " << narrow);
        // Sparse and dense stretches, so that the candidates clip both empty and full bins.
        std::vector<double> h(kBins);
        for (int i = 0; i < kBins; ++i) h[i] = i % 300 < 40 ? 0 : count(rng);
        double n = 0;
        for (double v : h) n += v;
        const double lo = symmetric ? 0.0 : seenMin;
        const double hi = symmetric ? std::max(-seenMin, seenMax) : seenMax;
        const bool both = seenMin < 0 && seenMax > 0;
        const double wPos = both ? 0.5 : seenMax > 0 ? 1.0 : 0.0, wNeg = both ? 0.5 : 1.0 - wPos;
        const calib::detail::MseChannel ch(h.data(), lo, (hi - lo) / kBins, n, seenMin, seenMax,
                                           symmetric, wPos, wNeg, fq::quantRange(bits, narrow));
        std::vector<double> portable(kBins), avx2(kBins);
        calib::detail::mseNoisesPortable(ch, 1, kBins, portable.data());
        calib::detail::mseNoisesAvx2(ch, 1, kBins, avx2.data());
        int differ = 0, first = -1;
        for (int k = 0; k < kBins; ++k)
          if (std::memcmp(&portable[k], &avx2[k], sizeof(double)) != 0) {
            ++differ;
            if (first < 0) first = k;
          }
        INFO("first differing candidate " << first + 1);
        CHECK(differ == 0);
      }
#else
  WARN("not an x86-64 build: only the portable path exists");
#endif
}

namespace {
// Histogram shapes for the MSE search: smooth, spiky, sparse, heavy-tailed and degenerate.
std::vector<float> mseShape(int shape, std::mt19937& rng) {
  std::vector<float> h(kBins, 0.0f);
  std::uniform_int_distribution<int> small(0, 40), bin(0, kBins - 1);
  for (int i = 0; i < kBins; ++i) {
    const double x = (i + 0.5) / kBins;
    const int kind = shape % 7;
    if (kind == 0) h[i] = static_cast<float>(small(rng));                        // noise
    if (kind == 1) h[i] = std::floor(1e5 * std::exp(-x * x * 60));               // bell
    if (kind == 2) h[i] = std::floor(5e4 * std::exp(-x * 25)) + (i > 2000);      // tail
    if (kind == 3) h[i] = i % 300 < 40 ? 0.0f : static_cast<float>(small(rng));  // gaps
    if (kind == 5) h[i] = i < 64 ? 1000.0f : 0.0f;                               // one end
    if (kind == 6) h[i] = 1.0f;                                                  // flat
  }
  if (shape % 7 == 4)  // spikes
    for (int k = 0; k < 3; ++k) h[bin(rng)] += 7000.0f;
  if (shape % 7 == 5 && shape % 2) h[kBins - 1] = 1.0f;  // one outlier at the far end
  return h;
}

// One channel's histogram for the search tests, with what the searches derive from it.
struct SearchCase {
  calib::Histograms h;
  bool symmetric = true;
  float seenMin = 0, seenMax = 0;
  double lo = 0, w = 0;
  double wPos = 0, wNeg = 0;  // the shares of a symmetric histogram counted as + and as -
};

// Every shape of mseShape() (twice, other draws), both kinds of histogram and five seen ranges:
// both signs, one sign only, a zero-width side, a far outlier.
template <typename Fn>
void forEachSearchCase(unsigned seed, Fn&& fn) {
  std::mt19937 rng(seed);
  for (int shape = 0; shape < 14; ++shape)
    for (bool symmetric : {true, false})
      for (auto [seenMin, seenMax] :
           {std::pair{-3.0f, 2.5f}, std::pair{0.0f, 1.7f}, std::pair{-0.6f, 0.0f},
            std::pair{-6.5f, 8.5f}, std::pair{-1e-3f, 4e4f}}) {
        INFO("shape " << shape << ", symmetric " << symmetric << ", seen [" << seenMin << ", "
                      << seenMax << "]");
        SearchCase s{calib::Histograms(1, symmetric), symmetric, seenMin, seenMax};
        s.h.counts = mseShape(shape, rng);
        s.h.lo[0] = symmetric ? 0.0f : seenMin;
        s.h.hi[0] = symmetric ? std::max(-seenMin, seenMax) : seenMax;
        s.h.min[0] = seenMin;
        s.h.max[0] = seenMax;
        s.lo = s.h.lo[0];
        s.w = (double{s.h.hi[0]} - s.lo) / kBins;
        const bool both = seenMin < 0 && seenMax > 0;
        s.wPos = both ? 0.5 : seenMax > 0 ? 1.0 : 0.0;
        s.wNeg = both ? 0.5 : seenMin < 0 ? 1.0 : 0.0;
        fn(static_cast<const SearchCase&>(s));
      }
}

// The search's range, on the portable path and on the automatic one, is candidate `best`.
template <typename Search>
void checkBothPaths(const SearchCase& s, int best, Search search) {
  const calib::Range want =
      calib::detail::candidateRange(s.symmetric, s.lo, s.w, s.seenMin, s.seenMax, best);
  INFO("exhaustive candidate " << best);
  for (bool portable : {true, false}) {
    const qs::testing::KernelOverrideGuard guard;
    if (portable) fq::setKernelOverride({fq::SimdLevel::Portable});
    const calib::Range got = search();
    CHECK(got.min == want.min);
    CHECK(got.max == want.max);
  }
}
}  // namespace

TEST_CASE("The MSE search's bounds skip only candidates that cannot win", "[calibrate]") {
  // mseRange() scores blocks of candidates in the order of a bound below their noise; the answer
  // must be the exhaustive one: the first of all kBins candidates of least noise, on either path.
  int checked = 0, inner = 0;
  forEachSearchCase(31, [&](const SearchCase& s) {
    for (auto [bits, narrow] : {std::pair{8, false}, std::pair{4, true}, std::pair{2, false},
                                std::pair{16, false}, std::pair{7, true}}) {
      INFO(bits << " bits, narrow " << narrow);
      // The exhaustive search, from the histogram as mseRange() reads it.
      std::vector<double> counts(s.h.counts.begin(), s.h.counts.end());
      double n = 0;
      for (double v : counts) n += v;
      const fq::QuantRange q = fq::quantRange(bits, narrow);
      const calib::detail::MseChannel ch(counts.data(), s.lo, s.w, n, s.seenMin, s.seenMax,
                                         s.symmetric, s.wPos, s.wNeg, q);
      std::vector<double> noise(kBins);
      calib::detail::mseNoisesPortable(ch, 1, kBins, noise.data());
      int best = kBins;
      for (int k = kBins; k >= 1; --k)
        if (!(noise[k - 1] > noise[best - 1])) best = k;
      checkBothPaths(s, best, [&] { return calib::mseRange(s.h, 0, q); });
      ++checked;
      inner += best < kBins;
    }
  });
  CHECK(checked == 14 * 2 * 5 * 5);
  CHECK(inner > checked / 2);  // most answers clip: the search is not trivially the last block
}

TEST_CASE("The entropy search's bounds skip only candidates that cannot win", "[calibrate]") {
  // entropyRange() scores blocks of candidates in the order of a bound below their divergence;
  // the answer must be the first candidate of least divergence of all of them, on either path.
  int checked = 0, inner = 0;
  forEachSearchCase(53, [&](const SearchCase& s) {
    if (!s.symmetric) return;  // the calibrator histograms |x| only
    for (int bits : {8, 4, 2, 3, 16, 7}) {
      INFO(bits << " bits");
      const int levels = bits - 1 >= 11 ? kBins : 1 << (bits - 1);
      std::vector<double> kl;
      {
        const qs::testing::KernelOverrideGuard guard;
        fq::setKernelOverride({fq::SimdLevel::Portable});
        kl = calib::detail::klDivergences(s.h, 0, bits);
      }
      REQUIRE(kl.size() == static_cast<size_t>(kBins - levels + 1));
      int best = kBins;
      double least = std::numeric_limits<double>::infinity();
      for (int i = levels; i <= kBins; ++i)
        if (kl[i - levels] < least) {
          least = kl[i - levels];
          best = i;
        }
      const double amax = std::max(-double{s.seenMin}, double{s.seenMax});
      const calib::Range want =
          calib::signedRange(std::min(s.lo + best * s.w, amax), s.seenMin, s.seenMax);
      INFO("exhaustive candidate " << best);
      for (bool portable : {true, false}) {
        const qs::testing::KernelOverrideGuard guard;
        if (portable) fq::setKernelOverride({fq::SimdLevel::Portable});
        const calib::Range got = calib::entropyRange(s.h, 0, bits);
        CHECK(got.min == want.min);
        CHECK(got.max == want.max);
      }
      ++checked;
      inner += best < kBins;
    }
  });
  CHECK(checked == 14 * 5 * 6);
  CHECK(inner > checked / 2);  // most answers clip: the search is not trivially the last block
}

TEST_CASE("The SQNR search's bounds skip only candidates that cannot win", "[calibrate]") {
  // sqnrRange() scores each stage's candidates in the order of a bound below their noise; the
  // answer must be that of scoring them all, on either path.
  int checked = 0, inner = 0;
  forEachSearchCase(41, [&](const SearchCase& s) {
    std::vector<float> centre, count;
    for (int i = 0; i < kBins; ++i)
      if (s.h.counts[i] > 0) {
        centre.push_back(static_cast<float>(s.lo + (i + 0.5) * s.w));
        count.push_back(s.h.counts[i]);
      }
    for (auto [bits, w] : {std::pair{8, 1.0}, std::pair{4, 4.0}, std::pair{16, 1.0},
                           std::pair{3, 0.0}, std::pair{7, 0.25}}) {
      const double weight = w;  // clang 14's lambdas cannot capture a structured binding
      INFO(bits << " bits, clipping weight " << weight);
      // Every candidate of both stages scored, as the definition reads.
      const fq::QuantRange q = fq::quantRange(bits, false);
      int best = 0;
      double bestNoise = std::numeric_limits<double>::infinity();
      auto score = [&](int k) {
        const calib::Range r =
            calib::detail::candidateRange(s.symmetric, s.lo, s.w, s.seenMin, s.seenMax, k);
        const double noise = calib::sqnrNoise(
            centre, count, fq::nudge(r.min, r.max, q), s.symmetric, static_cast<float>(s.wPos),
            static_cast<float>(s.wNeg), static_cast<float>(weight));
        if (noise < bestNoise || (noise == bestNoise && k < best)) {
          bestNoise = noise;
          best = k;
        }
      };
      for (int k = calib::kSqnrCoarse; k <= kBins; k += calib::kSqnrCoarse) score(k);
      const int coarse = best;
      for (int k = coarse - calib::kSqnrCoarse + calib::kSqnrFine; k < coarse + calib::kSqnrCoarse;
           k += calib::kSqnrFine)
        if (k >= 1 && k <= kBins && k != coarse) score(k);
      checkBothPaths(s, best, [&] { return calib::sqnrRange(s.h, 0, q, weight); });
      ++checked;
      inner += best < kBins;
    }
  });
  CHECK(checked == 14 * 2 * 5 * 5);
  CHECK(inner > checked / 3);  // many answers clip: the bounds had something to skip
}

TEST_CASE("The bake-off's ranges, from one histogram, are each calibrator's own", "[calibrate]") {
  // Channels: normal, one outlier, only positive, only negative, all zero.
  constexpr int kRows = 700, kChannels = 5;
  std::mt19937 rng(37);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::vector<float> x(static_cast<size_t>(kRows) * kChannels);
  for (int r = 0; r < kRows; ++r) {
    const float v = normal(rng);
    float* row = x.data() + static_cast<size_t>(r) * kChannels;
    row[0] = v;
    row[1] = r == 99 ? 60.0f : v * 0.5f;
    row[2] = std::fabs(v) + 0.25f;
    row[3] = -std::fabs(v);
    row[4] = 0.0f;
  }
  for (auto [bits, narrow] : {std::pair{8, false}, std::pair{5, true}}) {
    const std::vector<calib::Scored> all = calib::bakeOff(x.data(), kRows, kChannels, bits, narrow);
    REQUIRE(all.size() == calib::allMethods().size());
    for (const calib::Scored& s : all) {
      INFO(calib::methodName(s.method) << ", " << bits << " bits, narrow " << narrow);
      const std::vector<calib::Range> own =
          calib::calibrate(s.method, x.data(), kRows, kChannels, bits, narrow, {});
      REQUIRE(s.ranges.size() == own.size());
      for (int c = 0; c < kChannels; ++c) {
        INFO("channel " << c);
        CHECK(s.ranges[c].min == own[c].min);
        CHECK(s.ranges[c].max == own[c].max);
      }
    }
  }
}

TEST_CASE("Counts' logarithms come from the table exactly for whole counts in it, on both paths",
          "[calibrate]") {
  // A table of distinct values (its index plus a half), and counts that are whole and in range,
  // whole and out of it, not whole, negative and NaN, in runs that are no multiple of four.
  constexpr int kSize = 100;
  std::vector<double> table(kSize);
  for (int k = 0; k < kSize; ++k) table[k] = k + 0.5;
  std::vector<double> h;
  for (int i = 0; i < 7; ++i)
    for (double v : {0.0, 1.0, 99.0, 100.0, 1e9, 2.5, 99.5, -1.0, -0.0, 42.0,
                     std::numeric_limits<double>::quiet_NaN(), 7.0 + i})
      h.push_back(v);
  h.push_back(3.0);
  std::vector<int> wantRest;
  for (size_t i = 0; i < h.size(); ++i)
    if (!(h[i] >= 0 && h[i] < kSize && std::floor(h[i]) == h[i])) wantRest.push_back(int(i));
  auto check = [&](auto tableLogs) {
    std::vector<double> lg(h.size(), -7.0);
    std::vector<int> rest(h.size(), -1);
    const int n = tableLogs(h.data(), int(h.size()), table.data(), kSize, lg.data(), rest.data());
    rest.resize(static_cast<size_t>(std::max(n, 0)));
    CHECK(rest == wantRest);
    int wrong = 0;
    for (size_t i = 0; i < h.size(); ++i)
      if (std::find(wantRest.begin(), wantRest.end(), int(i)) == wantRest.end())
        wrong += lg[i] != static_cast<double>(static_cast<int>(h[i])) + 0.5;
    CHECK(wrong == 0);
  };
  check(calib::detail::tableLogsPortable);
#ifdef QS_FQ_HAVE_X86
  if (fq::simdLevelSupported(fq::SimdLevel::Avx2)) check(calib::detail::tableLogsAvx2);
#endif
}

TEST_CASE("The calibrators' logarithm is within an ulp of std::log, the same on both paths",
          "[calibrate]") {
  std::vector<double> x;
  for (int i = 1; i <= 200000; ++i) x.push_back(i);  // the counts and sums it mostly takes
  std::mt19937_64 rng(29);
  std::uniform_real_distribution<double> exponent(-1000.0, 1000.0), near(-1e-6, 1e-6);
  for (int i = 0; i < 200000; ++i) x.push_back(std::exp2(exponent(rng)));
  for (int i = 0; i < 20000; ++i) {
    x.push_back(1.0 + near(rng));
    x.push_back(std::sqrt(2.0) + near(rng));
    x.push_back(std::sqrt(0.5) + near(rng));
  }
  for (double v :
       {1.0, 2.0, 0.5, std::numeric_limits<double>::min(), std::numeric_limits<double>::max(),
        std::nextafter(1.0, 2.0), std::nextafter(1.0, 0.0)})
    x.push_back(v);
  // Outside the positive normal numbers it answers as std::log does.
  const std::vector<double> special = {0.0, -1.0, std::numeric_limits<double>::denorm_min(),
                                       std::numeric_limits<double>::infinity(),
                                       std::numeric_limits<double>::quiet_NaN()};
  std::vector<double> portable(x.size());
  calib::detail::logsPortable(x.data(), portable.data(), x.size());
  int64_t worst = 0;
  double worstAt = 0;
  int signs = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    // Ulps apart: both results are finite and have the same sign here (x = 1 gives 0 and 0).
    const double ref = std::log(x[i]);
    signs += std::signbit(ref) != std::signbit(portable[i]);
    const int64_t ulps = std::abs(
        static_cast<int64_t>(std::bit_cast<uint64_t>(ref) - std::bit_cast<uint64_t>(portable[i])));
    if (ulps > worst) {
      worst = ulps;
      worstAt = x[i];
    }
  }
  INFO("worst at x = " << worstAt);
  CHECK(signs == 0);
  CHECK(worst <= 1);
  for (double v : special) {
    const double got = calib::detail::logOf(v), ref = std::log(v);
    CHECK(std::memcmp(&got, &ref, sizeof(double)) == 0);
  }
#ifdef QS_FQ_HAVE_X86
  if (fq::simdLevelSupported(fq::SimdLevel::Avx2)) {
    x.insert(x.end(), special.begin(), special.end());
    x.push_back(3.0);  // a tail of one after the vectors
    portable.resize(x.size());
    calib::detail::logsPortable(x.data(), portable.data(), x.size());
    std::vector<double> avx2(x.size());
    calib::detail::logsAvx2(x.data(), avx2.data(), x.size());
    int differ = 0;
    for (size_t i = 0; i < x.size(); ++i)
      differ += std::memcmp(&portable[i], &avx2[i], sizeof(double)) != 0;
    CHECK(differ == 0);
  }
#endif
}

TEST_CASE("Calibration gives the same bits on the portable path and on AVX2", "[calibrate]") {
#ifdef QS_FQ_HAVE_X86
  if (!avx2Here()) return;
  constexpr int kRows = 3000, kChannels = 6;
  std::mt19937 rng(31);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(kRows) * kChannels);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = normal(rng) * static_cast<float>(1 + i % 5) + (i % 6 == 5 ? 3.0f : 0.0f);
  const qs::testing::KernelOverrideGuard restore;
  // Binning: 37 channels (two vectors of sixteen and a tail of five) and rows in fours and two
  // more, both kinds of histogram.
  {
    constexpr int kWide = 37, kWideRows = 502;
    std::vector<float> wide(static_cast<size_t>(kWideRows) * kWide);
    for (size_t i = 0; i < wide.size(); ++i)
      wide[i] = normal(rng) * static_cast<float>(1 + i % 7) - (i % 3 == 0 ? 1.0f : 0.0f);
    // Other values of the same shape binned on the portable path before each path, so that an
    // index the path fails to write is not left right from the previous call.
    std::vector<float> other(wide.size());
    for (size_t i = 0; i < other.size(); ++i) other[i] = static_cast<float>((i * 7919) % 1000);
    auto binOther = [&](bool symmetric) {
      calib::Histograms dirty(kWide, symmetric);
      fq::setKernelOverride({fq::SimdLevel::Portable});
      calib::accumulate(dirty, other.data(), kWideRows, false, {});
    };
    for (bool symmetric : {true, false}) {
      INFO("binning, symmetric " << symmetric);
      calib::Histograms portable(kWide, symmetric), avx2(kWide, symmetric);
      binOther(symmetric);
      calib::accumulate(portable, wide.data(), kWideRows, false, {});
      binOther(symmetric);
      fq::setKernelOverride({});
      calib::accumulate(avx2, wide.data(), kWideRows, false, {});
      CHECK(portable.counts == avx2.counts);
      CHECK(portable.lo == avx2.lo);
      CHECK(portable.hi == avx2.hi);
    }
  }
  for (int bits : {8, 4}) {
    for (calib::Method m : calib::allMethods()) {
      INFO(calib::methodName(m) << ", " << bits << " bits");
      fq::setKernelOverride({fq::SimdLevel::Portable});
      const auto portable = calib::calibrate(m, x.data(), kRows, kChannels, bits, false, {});
      fq::setKernelOverride({});
      const auto avx2 = calib::calibrate(m, x.data(), kRows, kChannels, bits, false, {});
      int differ = 0;
      for (size_t c = 0; c < portable.size(); ++c)
        differ += std::memcmp(&portable[c], &avx2[c], sizeof(calib::Range)) != 0;
      CHECK(differ == 0);
    }
  }
#else
  WARN("not an x86-64 build: only the portable path exists");
#endif
}

TEST_CASE("Calibrators refuse bad input with a message", "[calibrate]") {
  struct Case {
    std::string type;
    Json attrs;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"PercentileCalibrator", {{"percentile", 0}}, "percentile must be in (0, 100], not 0"},
      {"PercentileCalibrator", {{"percentile", 100.5}}, "percentile must be in (0, 100]"},
      {"MinMaxCalibrator", {{"decay", 1}}, "decay must be in (0, 1), not 1"},
      {"MinMaxCalibrator", {{"decay", -0.5}}, "decay must be in (0, 1)"},
      {"MinMaxCalibrator", {{"mode", "ema"}}, "mode must be \"last\", \"running\" or"},
      {"MseCalibrator", {{"num_bits", 1}}, "num_bits must be between 2 and 16, inclusive"},
      {"EntropyCalibrator", {{"num_bits", 17}}, "num_bits must be between 2 and 16, inclusive"},
      {"SqnrCalibrator", {{"clipping_weight", 0}}, "clipping_weight must be a positive number"},
  };
  for (const Case& c : cases) {
    INFO(c.type << " " << c.attrs.dump());
    Calib t(c.type, c.attrs, {2, 2}, {1, 2, 3, 4});
    t.run();
    CHECK_THAT(t.error(), Catch::Contains(c.message));
    CHECK_THAT(errorLine(BlockId("cal"), c.type, t.error()),
               Catch::StartsWith("error: block 'cal' (" + c.type + "): "));
  }
  SECTION("a dtype other than float32") {
    Calib t("MseCalibrator", Json::object(), {2}, {1, 2}, {{"dtype", "int32"}});
    t.run();
    CHECK_THAT(t.error(), Catch::Contains("takes float32, not int32"));
  }
  SECTION("NaN or infinity") {
    Calib t("EntropyCalibrator", Json::object(), {2, 2}, {1, 2, 3, 4});
    t.feed({2, 2}, {1, 2, 3, std::numeric_limits<float>::infinity()});
    t.run();
    CHECK_THAT(t.error(), Catch::Contains("inputs hold a NaN or an infinity in channel 1"));
    Calib m("MinMaxCalibrator", {{"per_channel", false}}, {2}, {1, 2});
    m.feed({2}, {std::nanf(""), 2});
    m.run();
    CHECK_THAT(m.error(), Catch::Contains("inputs hold a NaN or an infinity;"));
  }
  SECTION("a scalar per channel") {
    Calib t("SqnrCalibrator", Json::object(), {}, {1});
    t.run();
    CHECK_THAT(t.error(), Catch::Contains("per_channel needs a channel axis"));
  }
  SECTION("more channels than their histograms fit in memory") {
    // 700000 channels of 2048 float counts are 5.7 GB, held 3.5 times or more in a step: past
    // the limit, which is at most 16 GiB, on any machine. Refused before anything is allocated.
    constexpr int64_t kWide = 700000;
    Calib t("PercentileCalibrator", Json::object(), {1}, {0});
    t.feed({1, kWide}, std::vector<float>(kWide, 1.0f));
    t.run();
    CHECK_THAT(t.error(), Catch::Contains("histograms of 700000 channels take 5.7 GB (2048 bins "
                                          "each), and a step holds about"));
    CHECK_THAT(t.error(), Catch::Contains("more than the limit of"));
    // Per tensor, the same values are one channel.
    Calib whole("PercentileCalibrator", {{"per_channel", false}}, {1}, {0});
    whole.feed({1, kWide}, std::vector<float>(kWide, 1.0f));
    whole.run();
    CHECK(whole.error().empty());
  }
}

TEST_CASE("Histograms are refused past the tensor limit with the step's copies counted",
          "[calibrate]") {
  // The rule, restated: counts of 2048 floats a channel, times 2 + 1.5 per thread, within
  // maxTensorBytes(); a tenth either side of the bound.
  for (int threads : {1, 2, 8}) {
    INFO(threads << " threads");
    const double bound =
        static_cast<double>(maxTensorBytes()) / (2048.0 * 4.0 * (2.0 + 1.5 * threads));
    CHECK_NOTHROW(calib::checkHistogramSize(static_cast<int64_t>(bound * 0.9), threads));
    CHECK_THROWS_WITH(calib::checkHistogramSize(static_cast<int64_t>(bound * 1.1), threads),
                      Catch::Contains("more than the limit of"));
  }
  CHECK_THROWS_WITH(calib::checkHistogramSize(std::numeric_limits<int64_t>::max(), 1),
                    Catch::Contains("take more than 18.4 EB"));
  CHECK_NOTHROW(calib::checkHistogramSize(0, 1));
}

}  // namespace test_calibrators
