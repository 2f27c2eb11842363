// quantspace-run --calibrate as a user runs it: the JSON's minmax ranges against the page's own
// Min/Max blocks, its numbers against QuantizationReport's, the best marks against the SQNRs, and
// bad flags.
#include <catch2/catch.hpp>
#include <string>

#include "runtime/Json.h"
#include "test_runner_support.h"

namespace test_runner_calibrate {

using qs::test::runRunner;

namespace {

const std::string kPage = std::string(QS_SOURCE_DIR) + "/assets/examples/calibration.page.json";

std::vector<double> numbers(const nlohmann::json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(x.get<double>());
  return v;
}

}  // namespace

TEST_CASE("runner: --calibrate --json gives every calibrator's ranges and costs",
          "[runner][calibrate]") {
  const auto r = runRunner({kPage, "--calibrate", "x.result_z", "--json"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  const auto& cal = j.at("calibrate");
  for (const char* m : {"minmax", "percentile", "mse", "entropy", "sqnr"})
    for (const char* k : {"min", "max", "mse", "sqnr_db", "clipped"})
      CHECK(cal.at(m).at(k).size() == 8);
  // The page's lo/hi are Min/Max over the batch axes; its report measures that range.
  const auto page = nlohmann::json::parse(
      runRunner({kPage, "--json", "--fetch", "lo.result_output", "--fetch", "hi.result_output",
                 "--fetch", "report.result_sqnr_db", "--fetch", "report.result_mse"})
          .out)["results"];
  const auto lo = numbers(page["lo.result_output"]["values"]);
  const auto hi = numbers(page["hi.result_output"]["values"]);
  const auto sqnr = numbers(page["report.result_sqnr_db"]["values"]);
  for (size_t c = 0; c < 8; ++c) {
    INFO("channel " << c);
    CHECK(cal["minmax"]["min"][c].get<double>() == std::min(lo[c], 0.0));
    CHECK(cal["minmax"]["max"][c].get<double>() == std::max(hi[c], 0.0));
    CHECK(cal["minmax"]["sqnr_db"][c].get<double>() == Approx(sqnr[c]).epsilon(1e-6));
    std::string best;
    double top = -1e300;
    for (const char* m : {"minmax", "percentile", "mse", "entropy", "sqnr"})
      if (cal[m]["sqnr_db"][c].get<double>() > top) {
        top = cal[m]["sqnr_db"][c].get<double>();
        best = m;
      }
    CHECK(j["best"][c] == best);
  }
  // Channel 3 holds the outlier, and clipping it (entropy) costs it dearly.
  CHECK(cal["entropy"]["max"][3].get<double>() < 5);
  CHECK(cal["entropy"]["sqnr_db"][3].get<double>() < 10);
}

TEST_CASE("runner: --calibrate prints a table and refuses bad flags", "[runner][calibrate]") {
  const auto table = runRunner({kPage, "--calibrate", "x.result_z", "--num-bits", "4"});
  REQUIRE(table.status == 0);
  CHECK_THAT(table.out, Catch::Contains("channel 7\n  calibrator"));
  CHECK_THAT(table.out, Catch::Contains("best"));
  const auto bits = runRunner({kPage, "--calibrate", "x.result_z", "--num-bits", "17"});
  CHECK(bits.status == 2);
  CHECK_THAT(bits.err, Catch::Contains("--num-bits takes a whole number from 2 to 16"));
  const auto missing = runRunner({kPage, "--calibrate", "nope.result_z"});
  CHECK(missing.status == 2);
  const auto scalar = runRunner({kPage, "--calibrate", "mse_all.result_output"});
  CHECK(scalar.status == 1);
  CHECK_THAT(scalar.err, Catch::Contains("needs a float32 tensor of rank >= 1"));
  // Histograms of 700000 channels and their copies pass the tensor limit (at most 16 GiB) on any
  // machine: a message instead of the whole memory.
  const qs::test::TempDir dir;
  const auto wide = dir.write("wide.page.json", R"({"format": "quantspace-page", "version": 1,
    "blocks": [{"id": "noise", "type": "RandomNormal", "position": [0, 0],
                "attrs": {"shape": [1, 700000], "seed": 1, "mean": 0, "stddev": 1}}],
    "links": []})");
  const auto big = runRunner({wide.string(), "--calibrate", "noise.result_output"});
  CHECK(big.status == 1);
  CHECK_THAT(big.err, Catch::Contains("--calibrate noise.result_output: histograms of 700000 "
                                      "channels take 5.7 GB"));
}

}  // namespace test_runner_calibrate
