// Provenance (docs/formats.md, "Provenance"): state files and --save-npy folders carry the page
// they were made from and the Quant Space version, and every reader of them still reads the
// arrays alone. Run as a user runs them: the runner as a process, its files read back.
#include <catch2/catch.hpp>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>

#include "blocks/RegisterBlocks.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"
#include "runtime/PageJson.h"
#include "runtime/Provenance.h"
#include "runtime/StateFile.h"
#include "runtime/WeightFiles.h"
#include "test_runner_support.h"

namespace test_provenance {

using qs::test::RunResult;
using qs::test::runRunner;
using qs::test::slurp;
using qs::test::TempDir;

namespace {

// `w` (initial [1, -2]) moved by ApplyGradientDescent, alpha 0.5, delta [0.25, -0.5]: each step
// subtracts [0.125, -0.25], exact in float32. `loss` sums w.
const char* kDescentPage = R"({"format": "quantspace-page", "version": 1, "name": "descent",
  "blocks": [
    {"id": "w0", "type": "Const", "attrs": {"shape": [2], "values": [1, -2]}},
    {"id": "alpha", "type": "Const", "attrs": {"shape": [], "values": [0.5]}},
    {"id": "delta", "type": "Const", "attrs": {"shape": [2], "values": [0.25, -0.5]}},
    {"id": "w", "type": "Variable"},
    {"id": "opt", "type": "ApplyGradientDescent"},
    {"id": "loss", "type": "Sum"}],
  "links": [
    {"from": ["w0", "output"], "to": ["w", "initial_value"]},
    {"from": ["w", "output"], "to": ["opt", "var"]},
    {"from": ["alpha", "output"], "to": ["opt", "alpha"]},
    {"from": ["delta", "output"], "to": ["opt", "delta"]},
    {"from": ["w", "output"], "to": ["loss", "input"]}]})";

// The project version as CMakeLists.txt states it, read from there rather than from the code.
std::string projectVersion() {
  const std::string cmake = slurp(std::filesystem::path(QS_SOURCE_DIR) / "CMakeLists.txt");
  std::smatch m;
  REQUIRE(std::regex_search(cmake, m, std::regex(R"(project\(QuantSpace VERSION ([0-9.]+))")));
  return m[1];
}

// The block ids and links of a page document, which the carried page must repeat.
void checkSamePage(const nlohmann::json& carried) {
  const nlohmann::json original = nlohmann::json::parse(kDescentPage);
  CHECK(carried.at("format") == "quantspace-page");
  CHECK(carried.at("name") == "descent");
  REQUIRE(carried.at("blocks").size() == original.at("blocks").size());
  for (size_t i = 0; i < original.at("blocks").size(); ++i) {
    CHECK(carried["blocks"][i].at("id") == original["blocks"][i]["id"]);
    CHECK(carried["blocks"][i].at("type") == original["blocks"][i]["type"]);
  }
  CHECK(carried.at("blocks")[2].at("attrs").at("values") == nlohmann::json({0.25, -0.5}));
  REQUIRE(carried.at("links").size() == original.at("links").size());
  for (size_t i = 0; i < original.at("links").size(); ++i)
    CHECK(carried["links"][i] == original["links"][i]);
}

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

TEST_CASE("provenance: --save-state carries the page and the version, which readers skip",
          "[provenance][state][npz]") {
  TempDir dir;
  const std::string page = dir.write("p.page.json", kDescentPage).string();
  const auto state = dir / "s.npz";
  REQUIRE(runRunner({page, "--steps", "2", "--save-state", state.string()}).status == 0);

  std::map<std::string, std::string> own;
  for (const qs::NpzMember& m : qs::readNpz(state, qs::NpzLimits::defaults(), true))
    if (m.key.rfind("__quantspace__/", 0) == 0) own[m.key] = m.bytes;
  REQUIRE(own.count("__quantspace__/page.json") == 1);
  checkSamePage(nlohmann::json::parse(own["__quantspace__/page.json"]));
  CHECK(own["__quantspace__/version.txt"] == projectVersion() + "\n");

  // Array readers never see them: the state reader, the weights reader, readNpz by default.
  std::vector<std::string> keys;
  for (const qs::NpzMember& m : qs::readNpz(state)) keys.push_back(m.key);
  CHECK(keys == std::vector<std::string>{"w", "__step__"});
  std::vector<std::string> weights;
  for (const qs::NamedTensor& t : qs::readWeightFile(state)) weights.push_back(t.name);
  CHECK(weights == std::vector<std::string>{"w", "__step__"});

  // Loaded back: w after two steps, [1 - 2 * 0.125, -2 + 2 * 0.25], bit for bit.
  const qs::LoadedPage loaded = qs::loadPage(page);
  qs::Evaluator ev(qs::builtinRegistry());
  std::vector<std::string> notes;
  qs::loadStateFile(state, loaded.page, ev, loaded.dir, &notes);
  CHECK(notes.empty());
  CHECK(ev.stepCount() == 2);
  const qs::Tensor w = ev.stateTensors().at("w");
  REQUIRE(w.size() == 2);
  CHECK(bitsOf(w.data()[0]) == bitsOf(0.75f));
  CHECK(bitsOf(w.data()[1]) == bitsOf(-1.5f));

  // The runner reads it back too, whole or partial, without a word about the extra members.
  for (const char* flag : {"--load-state", "--load-state-partial"}) {
    const RunResult r = runRunner(
        {page, flag, state.string(), "--steps", "1", "--json", "--fetch", "w.result_output"});
    INFO(flag << ": " << r.err);
    CHECK(r.status == 0);
    CHECK(r.err.find("quantspace") == std::string::npos);
    CHECK(nlohmann::json::parse(r.out)["results"]["w.result_output"]["values"] ==
          nlohmann::json({0.625, -1.25}));
  }

  // The page it carries is the page to open.
  const std::optional<qs::LoadedPage> carried = qs::carriedPage(state);
  REQUIRE(carried);
  checkSamePage(nlohmann::json::parse(qs::pageToText(carried->page)));
  CHECK(carried->dir == std::filesystem::absolute(dir.path()));
}

TEST_CASE("provenance: a state file without the page still loads and carries no page",
          "[provenance][state][npz]") {
  TempDir dir;
  const auto state = dir / "old.npz";
  const qs::Tensor w = qs::Tensor::fromValues(qs::Shape{2}, {0.75f, -1.5f});
  qs::writeNpz(state, {{"w", qs::npyBytes(w)}, {"__step__", qs::npyInt64Bytes(2)}});
  const qs::LoadedPage loaded = qs::parsePage(kDescentPage, "descent");
  qs::Evaluator ev(qs::builtinRegistry());
  qs::loadStateFile(state, loaded.page, ev);
  CHECK(ev.stepCount() == 2);
  CHECK(ev.stateTensors().at("w").toVector() == std::vector<float>{0.75f, -1.5f});
  CHECK_FALSE(qs::carriedPage(state));
}

TEST_CASE("provenance: own members are written under their whole name and never clash",
          "[provenance][npz]") {
  const std::string archive = qs::npzBytes({{"w", qs::npyInt64Bytes(1)},
                                            {"__quantspace__/page.json", "{}"},
                                            {"__quantspace__/x.npy", qs::npyInt64Bytes(3)}},
                                           false);
  // The names in the zip's central directory, as any zip tool lists them.
  CHECK(archive.find("w.npy") != std::string::npos);
  CHECK(archive.find("__quantspace__/page.json") != std::string::npos);
  CHECK(archive.find("__quantspace__/page.json.npy") == std::string::npos);
  // A name under the prefix that ends in .npy (here "__quantspace__/x.npy.npy") is an array like
  // any other.
  CHECK(archive.find("__quantspace__/x.npy.npy") != std::string::npos);
  std::vector<std::string> keys;
  for (const qs::NpzMember& m : qs::parseNpz(archive, "a.npz")) keys.push_back(m.key);
  CHECK(keys == std::vector<std::string>{"w", "__quantspace__/x.npy"});
  const auto all = qs::parseNpz(archive, "a.npz", qs::NpzLimits::defaults(), true);
  REQUIRE(all.size() == 3);
  CHECK(all[1].key == "__quantspace__/page.json");
  CHECK(all[1].bytes == "{}");
  // Anything else that is not named *.npy is still refused.
  const std::string other = qs::npzBytes({{"__quantspace__/a", "x"}}, false);
  std::string renamed = other;
  for (size_t at = renamed.find("__quantspace__/a"); at != std::string::npos;
       at = renamed.find("__quantspace__/a", at + 1))
    renamed.replace(at, 16, "__quantspace___a");
  CHECK_THROWS_WITH(qs::parseNpz(renamed, "r.npz"), Catch::Contains("is not an array"));
}

TEST_CASE("provenance: --save-npy writes the page and the version beside the arrays",
          "[provenance][npy]") {
  TempDir dir;
  const std::string page = dir.write("p.page.json", kDescentPage).string();
  const auto out = dir / "results";
  const RunResult r = runRunner({page, "--steps", "1", "--save-npy", out.string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  checkSamePage(nlohmann::json::parse(slurp(out / "quantspace-page.json")));
  CHECK(slurp(out / "quantspace-version.txt") == projectVersion() + "\n");
  // The arrays are as they were: loss after one step is 0.875 + -1.75.
  CHECK(qs::readNpy(out / "loss.result_output.npy").toVector() == std::vector<float>{-0.875f});
  // The folder, or any .npy in it, carries the page; the page opens from its own file too.
  for (const auto& path : {out, out / "loss.result_output.npy"}) {
    const std::optional<qs::LoadedPage> carried = qs::carriedPage(path);
    REQUIRE(carried);
    checkSamePage(nlohmann::json::parse(qs::pageToText(carried->page)));
  }
  checkSamePage(
      nlohmann::json::parse(qs::pageToText(qs::loadPage(out / "quantspace-page.json").page)));
  // A folder of .npy files someone else wrote carries none.
  std::filesystem::create_directories(dir / "plain");
  qs::writeNpy(dir / "plain" / "a.npy", qs::Tensor::fromValues(qs::Shape{1}, {1}));
  CHECK_FALSE(qs::carriedPage(dir / "plain"));
  CHECK_FALSE(qs::carriedPage(dir / "plain" / "a.npy"));
}

}  // namespace test_provenance
