// The real data scripts/fetch-data.sh puts in data/: these tests fail, saying how to fetch it, when
// it is missing.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "runtime/FileIo.h"
#include "runtime/Npy.h"
#include "runtime/WeightFiles.h"

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
