// The real data scripts/fetch-data.sh puts in data/: these tests fail, saying how to fetch it, when
// it is missing.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>

#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/FileIo.h"
#include "runtime/Npy.h"
#include "runtime/PageJson.h"
#include "runtime/WeightFiles.h"
#include "test_math_helpers.h"

namespace test_fetched_data {

namespace {

std::filesystem::path dataDir() {
  const char* env = std::getenv("QS_DATA_DIR");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(QS_SOURCE_DIR) / "data";
}

// The path of a fetched file; fails the test, with the retry command, when it is not there.
std::filesystem::path fetched(const std::string& name) {
  const auto p = dataDir() / name;
  if (!std::filesystem::exists(p))
    FAIL(p.string() << " is missing: the real data was not fetched (no network at set-up?). "
                       "Fetch it with: bash scripts/fetch-data.sh");
  return p;
}

std::vector<int64_t> labelsOf(const std::string& name) {
  // The labels are int64 in the file; every value 0..9 is exact however the reader widens it.
  const qs::Tensor t = qs::readNpy(fetched(name));
  std::vector<int64_t> out;
  if (t.dtype() == qs::DType::Int64)
    for (int64_t v : t.valuesAs<int64_t>()) out.push_back(v);
  else
    for (float v : t.values()) out.push_back(static_cast<int64_t>(v));
  return out;
}

}  // namespace

TEST_CASE("fetched data: the 8x8 digits, their split and licence", "[data]") {
  const qs::Tensor images = qs::readNpy(fetched("digits/images.npy"));
  REQUIRE(images.shape() == qs::Shape{1797, 8, 8, 1});
  // The first image's first row and the range of all pixels, as in scikit-learn's digits.csv.gz.
  const auto v = images.toVector();
  CHECK(std::vector<float>(v.begin(), v.begin() + 8) ==
        std::vector<float>{0, 0, 5, 13, 9, 1, 0, 0});
  for (float p : v) REQUIRE((p >= 0 && p <= 16 && p == std::floor(p)));
  const auto labels = labelsOf("digits/labels.npy");
  REQUIRE(labels.size() == 1797);
  std::map<int64_t, int> perClass;
  for (int64_t l : labels) ++perClass[l];
  // scikit-learn's documented class sizes.
  CHECK(perClass == std::map<int64_t, int>{{0, 178},
                                           {1, 182},
                                           {2, 177},
                                           {3, 183},
                                           {4, 181},
                                           {5, 182},
                                           {6, 181},
                                           {7, 179},
                                           {8, 174},
                                           {9, 180}});
  // The split: row i is a test image when i % 5 == 0.
  const qs::Tensor test = qs::readNpy(fetched("digits/test_images.npy"));
  const qs::Tensor train = qs::readNpy(fetched("digits/train_images.npy"));
  REQUIRE(test.shape() == qs::Shape{360, 8, 8, 1});
  REQUIRE(train.shape() == qs::Shape{1437, 8, 8, 1});
  const auto testLabels = labelsOf("digits/test_labels.npy");
  const auto trainLabels = labelsOf("digits/train_labels.npy");
  REQUIRE(testLabels.size() == 360);
  REQUIRE(trainLabels.size() == 1437);
  for (size_t i = 0, te = 0, tr = 0; i < labels.size(); ++i) {
    const bool isTest = i % 5 == 0;
    const qs::Tensor& part = isTest ? test : train;
    const size_t row = isTest ? te++ : tr++;
    REQUIRE((isTest ? testLabels : trainLabels)[row] == labels[i]);
    REQUIRE(std::equal(v.begin() + 64 * i, v.begin() + 64 * (i + 1), part.data() + 64 * row));
  }
  CHECK(qs::readFile(fetched("digits/copyright")).find("scikit-learn") != std::string::npos);
  CHECK(qs::readFile(fetched("digits/SOURCE")).find("version: ") != std::string::npos);
}

TEST_CASE("fetched data: the tiny face detector's TensorFlow.js weights", "[data]") {
  const auto weights =
      qs::readTfjsWeights(fetched("face-api/tiny_face_detector_model-weights_manifest.json"));
  REQUIRE(weights.size() == 19);
  CHECK(weights[0].name == "conv0/filters");
  CHECK(weights[0].tensor.shape() == qs::Shape{3, 3, 3, 16});
  CHECK(weights[2].name == "conv1/depthwise_filter");
  CHECK(weights[2].tensor.shape() == qs::Shape{3, 3, 16, 1});
  CHECK(weights[18].name == "conv8/bias");
  CHECK(weights[18].tensor.shape() == qs::Shape{25});
  // Every weight is uint8-quantized: its values lie on min + k * scale, within [min, min + 255
  // scale] (conv0/filters: scale 0.009007044399485869, min -1.2069439495311063).
  for (float x : weights[0].tensor.values()) {
    const double k = (x - -1.2069439495311063) / 0.009007044399485869;
    REQUIRE(k > -1e-3);
    REQUIRE(k < 255.001);
    REQUIRE(std::abs(k - std::round(k)) < 1e-3);
  }
  CHECK(qs::readFile(fetched("face-api/LICENSE")).find("MIT License") != std::string::npos);
  CHECK(qs::readFile(fetched("face-api/SOURCE")).find("version: 1.7.15") != std::string::npos);
}

TEST_CASE("fetched data: a Const takes conv3's depthwise filter from the face detector's manifest",
          "[data][weights]") {
  const auto manifest = fetched("face-api/tiny_face_detector_model-weights_manifest.json");
  const std::string bin = qs::readFile(fetched("face-api/tiny_face_detector_model.bin"));
  qs::EvalOptions options;
  options.pageDir = manifest.parent_path();
  const auto r = qs::testing::runBlock(
      "Const",
      qs::Json{{"weights", manifest.filename().string()}, {"tensor", "conv3/depthwise_filter"}}, {},
      options);
  REQUIRE(r.error == "");
  const qs::Tensor& t = r.out("output");
  REQUIRE(t.dtype() == qs::DType::Float32);
  REQUIRE(t.shape() == qs::Shape{3, 3, 64, 1});
  // The weights before it in the one shard, one uint8 each: conv0 (432 + 16), conv1 (144 + 512 +
  // 32), conv2 (288 + 2048 + 64); then its 576 bytes, dequantized with the manifest's scale and
  // min.
  constexpr size_t kOffset = 432 + 16 + 144 + 512 + 32 + 288 + 2048 + 64;
  REQUIRE(bin.size() >= kOffset + 576);
  for (size_t i = 0; i < 576; ++i) {
    const double q = static_cast<unsigned char>(bin[kOffset + i]);
    INFO("element " << i);
    REQUIRE(t.data()[i] == static_cast<float>(q * 0.006100742489683862 + -0.8907084034938438));
  }
}

namespace {

// Per channel (the last axis of [rows, channels]): mean of (q - x)^2 in double, and
// 10 log10(mean x^2 / that), written here apart from the report block.
std::vector<double> channelSqnr(const qs::Tensor& x, const qs::Tensor& q) {
  const int64_t channels = x.dim(1);
  std::vector<double> out;
  for (int64_t c = 0; c < channels; ++c) {
    double err = 0, sig = 0;
    for (int64_t r = 0; r < x.dim(0); ++r) {
      const double a = x.data()[r * channels + c], b = q.data()[r * channels + c];
      err += (b - a) * (b - a);
      sig += a * a;
    }
    out.push_back(err == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(sig / err));
  }
  return out;
}

}  // namespace

TEST_CASE("fetched data: the pretrained depthwise example gives the figures its guide quotes",
          "[data][examples]") {
  (void)fetched("face-api/tiny_face_detector_model-weights_manifest.json");
  qs::LoadedPage loaded = qs::loadPage(std::filesystem::path(QS_SOURCE_DIR) /
                                       "assets/examples/pretrained_depthwise.page.json");
  qs::Evaluator ev(qs::builtinRegistry());
  qs::EvalOptions options;
  options.pageDir = loaded.dir;
  REQUIRE(ev.evaluate(loaded.page, options).failed.empty());
  auto result = [&](const std::string& name) { return *ev.result(name); };
  const qs::Tensor x = result("x.result_output");
  REQUIRE(x.shape() == qs::Shape{9, 64});
  // The reports agree with the FakeQuant blocks' outputs, measured here: the per-tensor report
  // (the tensor's range given to every channel) describes FakeQuantWithMinMaxVars.
  for (const auto& [fq, report] :
       std::vector<std::pair<std::string, std::string>>{{"fq_tensor_4", "report_tensor_4"},
                                                        {"fq_channel_4", "report_channel_4"},
                                                        {"fq_channel_8", "report_channel_8"}}) {
    INFO(fq);
    const auto mine = channelSqnr(x, result(fq + ".result_output"));
    const qs::Tensor theirs = result(report + ".result_sqnr_db");
    for (int c = 0; c < 64; ++c) CHECK(theirs.data()[c] == Approx(mine[c]).epsilon(1e-4));
  }
  // The figures of docs/guide-pretrained.md, as printed there (one decimal).
  CHECK(result("tensor_min.result_output").data()[0] == Approx(-0.8907).margin(5e-5));
  CHECK(result("tensor_max.result_output").data()[0] == Approx(0.6650).margin(5e-5));
  const auto t8 = result("report_tensor_8.result_sqnr_db");
  const auto c8 = result("report_channel_8.result_sqnr_db");
  const auto t4 = result("report_tensor_4.result_sqnr_db");
  const auto c4 = result("report_channel_4.result_sqnr_db");
  const auto lo = result("channel_min.result_output");
  const auto hi = result("channel_max.result_output");
  struct Row {
    int channel;
    double range, c8, t4, c4;
  };
  for (const Row& row : {Row{29, 0.0976, 14.8, 13.1, 14.8}, Row{48, 0.1464, 55.3, 10.5, 30.7},
                         Row{51, 0.2135, 50.2, 9.1, 26.2}, Row{42, 0.2257, 53.2, 8.9, 25.4},
                         Row{24, 1.5496, 49.1, 21.9, 21.8}}) {
    const int c = row.channel;
    INFO("channel " << c);
    CHECK(hi.data()[c] - lo.data()[c] == Approx(row.range).margin(5e-5));
    CHECK(c8.data()[c] == Approx(row.c8).margin(0.05));
    CHECK(t4.data()[c] == Approx(row.t4).margin(0.05));
    CHECK(c4.data()[c] == Approx(row.c4).margin(0.05));
  }
  // 8 bits per tensor: the file's own grid, so only float32 rounding is left (above 140 dB).
  int below15Tensor = 0, below15Channel = 0;
  for (int c = 0; c < 64; ++c) {
    CHECK(t8.data()[c] > 140.0f);
    below15Tensor += t4.data()[c] < 15.0f;
    below15Channel += c4.data()[c] < 15.0f;
  }
  CHECK(below15Tensor == 36);
  CHECK(below15Channel == 1);
  // Channel 29 lies below zero: its nudged range ends at 0 and 5 of its 9 values are clipped.
  CHECK(result("report_channel_4.result_clipped_below").data()[29] == Approx(5.0 / 9));
  CHECK(result("report_channel_4.result_nudged_max").data()[29] == 0.0f);
}

}  // namespace test_fetched_data
