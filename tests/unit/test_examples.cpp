// Every page in assets/examples/ must evaluate with no block in error, and run with the runner.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/PageJson.h"

namespace test_examples {

using namespace qs;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> examplePages() {
  std::vector<fs::path> pages;
  for (const auto& e : fs::directory_iterator(fs::path(QS_SOURCE_DIR) / "assets" / "examples")) {
    const std::string name = e.path().filename().string();
    if (name.size() > 10 && name.substr(name.size() - 10) == ".page.json")
      pages.push_back(e.path());
  }
  std::sort(pages.begin(), pages.end());
  return pages;
}

// The block types of a page that no built-in block provides.
std::string missingTypes(const Page& page) {
  std::string missing;
  for (const Block& b : page.blocks())
    if (!builtinRegistry().find(b.type)) missing += (missing.empty() ? "" : ", ") + b.type;
  return missing;
}

// Fails the test, saying how to fetch it, when a page reads a file of the fetched data folder
// (data/, ignored by git) that is not there.
void requireFetchedFiles(const fs::path& pagePath, const Page& page) {
  for (const Block& b : page.blocks())
    for (const char* attr : {"weights", "npy", "features", "labels"}) {
      if (!b.attrs.contains(attr) || !b.attrs[attr].is_string()) continue;
      std::string file = b.attrs[attr].get<std::string>();
      if (const size_t npz = file.rfind(".npz:"); npz != std::string::npos) file.resize(npz + 4);
      const fs::path p = pagePath.parent_path() / file;
      if (file.find("data/") != std::string::npos && !fs::exists(p))
        FAIL(p.lexically_normal().string()
             << " is missing: the real data was not fetched (no network at set-up?). Fetch it "
                "with: bash scripts/fetch-data.sh");
    }
}

}  // namespace

TEST_CASE("Every example page evaluates with no block in error", "[examples]") {
  const auto pages = examplePages();
  // The five example pages at least: a page lost from the folder fails here.
  REQUIRE(pages.size() >= 5);
  for (const fs::path& path : pages) {
    INFO(path.filename().string());
    LoadedPage loaded = loadPage(path);
    CHECK(loaded.warnings.empty());
    requireFetchedFiles(path, loaded.page);
    INFO("unregistered block types: " << missingTypes(loaded.page));
    CHECK(missingTypes(loaded.page).empty());
    Evaluator ev(builtinRegistry());
    EvalOptions options;
    options.pageDir = loaded.dir;
    const EvalReport report = ev.evaluate(loaded.page, options);
    std::string errors;
    for (const BlockId& id : report.failed)
      errors += errorLine(id, ev.state(id)->type, ev.state(id)->error) + "\n";
    INFO(errors);
    CHECK(report.failed.empty());
    CHECK(report.computed.size() == loaded.page.blockCount());
  }
}

TEST_CASE("The runner exits 0 on the example pages", "[examples][runner]") {
  for (const fs::path& path : examplePages()) {
    requireFetchedFiles(path, loadPage(path).page);
    // Appended piece by piece: GCC 12 warns of a false overrun in the chain of operator+.
    std::string cmd = "\"";
    cmd += QS_RUNNER_PATH;
    cmd += "\" \"" + path.string() + "\" > /dev/null 2>&1";
    INFO(cmd);
    CHECK(std::system(cmd.c_str()) == 0);
  }
}

TEST_CASE("The calibration example shows its badly ranged channel", "[examples]") {
  LoadedPage loaded = loadPage(fs::path(QS_SOURCE_DIR) / "assets/examples/calibration.page.json");
  Evaluator ev(builtinRegistry());
  REQUIRE(ev.evaluate(loaded.page).failed.empty());
  const Tensor sqnr = *ev.result("report.result_sqnr_db");
  const Tensor scale = *ev.result("report.result_scale");
  const Tensor mseReport = *ev.result("report.result_mse");
  const Tensor mseBlocks = *ev.result("mse.result_output");
  REQUIRE(sqnr.shape() == Shape{8});
  // Channel 3 holds the outlier (40 in a channel of standard deviation 1): its step is several
  // times that of channel 1 (same spread, no outlier), and its SQNR is the lowest by > 5 dB.
  CHECK(scale.data()[3] > 4.0f * scale.data()[1]);
  for (int c = 0; c < 8; ++c)
    if (c != 3) CHECK(sqnr.data()[3] + 5.0f < sqnr.data()[c]);
  // Sub -> Square -> Mean over the batch axes measures the same error as the report.
  for (int c = 0; c < 8; ++c)
    CHECK(mseBlocks.data()[c] == Approx(mseReport.data()[c]).epsilon(1e-5));
}

}  // namespace test_examples
