// The block reference in docs/blocks/ is generated from the descriptors; a block added or changed
// without regenerating it fails here with the command that fixes it. The concepts page's worked
// numbers are recomputed here, so that the page cannot drift from the program.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "runtime/BlockDocs.h"
#include "runtime/Evaluator.h"
#include "runtime/PageJson.h"
#include "test_runner_support.h"

namespace test_docs {

namespace {

const std::filesystem::path kDocsDir = std::filesystem::path(QS_SOURCE_DIR) / "docs" / "blocks";
const char* kRegenerate = "regenerate with: build/quantspace-docs docs/blocks";

}  // namespace

TEST_CASE("docs: every block's reference page is committed and up to date", "[docs]") {
  const auto all = qs::builtinRegistry().all();
  REQUIRE(!all.empty());
  std::set<std::string> expected{"README.md"};
  for (const qs::BlockDescriptor* d : all) {
    const std::string name = qs::blockReferenceFileName(*d);
    expected.insert(name);
    const auto path = kDocsDir / name;
    INFO("docs/blocks/" << name << " is missing or out of date; " << kRegenerate);
    REQUIRE(std::filesystem::exists(path));
    CHECK(qs::test::slurp(path) == qs::blockReferencePage(*d));
  }
  {
    INFO("docs/blocks/README.md is out of date; " << kRegenerate);
    CHECK(qs::test::slurp(kDocsDir / "README.md") == qs::blockReferenceIndex(all));
  }
  for (const auto& entry : std::filesystem::directory_iterator(kDocsDir)) {
    const std::string name = entry.path().filename().string();
    INFO("docs/blocks/" << name << " documents no registered block; " << kRegenerate);
    CHECK(expected.count(name) == 1);
  }
}

TEST_CASE("docs: a block page shows ports, attributes with defaults and ranges, and results",
          "[docs]") {
  const qs::BlockDescriptor* fq = qs::builtinRegistry().find("FakeQuantWithMinMaxVarsPerChannel");
  REQUIRE(fq != nullptr);
  const std::string page = qs::blockReferencePage(*fq);
  CHECK(page.rfind("# FakeQuantWithMinMaxVarsPerChannel\n", 0) == 0);
  CHECK(page.find("| `scope` | input | scope |  | bound to the page, never wired |") !=
        std::string::npos);
  CHECK(page.find("| `inputs` | input | float32 tensor | rank >= 1 | required |") !=
        std::string::npos);
  CHECK(page.find("| `min` | input | float32 tensor | rank 1 | required |") != std::string::npos);
  CHECK(page.find("| `num_bits` | int | `8` | 2 to 16 (else: \"num_bits must be between 2 and 16, "
                  "inclusive\") |") != std::string::npos);
  CHECK(page.find("| `narrow_range` | bool | `false` |  |") != std::string::npos);
  CHECK(page.find("| `output` | `result_output` | `<block id>.result_output` |") !=
        std::string::npos);
  CHECK(
      page.find(
          R"({"id":"b","type":"FakeQuantWithMinMaxVarsPerChannel","attrs":{"num_bits":8,"narrow_range":false}})") !=
      std::string::npos);
  const std::string index = qs::blockReferenceIndex(qs::builtinRegistry().all());
  CHECK(
      index.find("| [FakeQuantWithMinMaxVarsPerChannel](FakeQuantWithMinMaxVarsPerChannel.md) |") !=
      std::string::npos);
}

TEST_CASE("docs: no page promises a block that does not exist", "[docs]") {
  // The attrs pin is enuSpace's; it stands for the block's own attributes. A page may speak of
  // wiring it from an Attrs block only once such a block is registered.
  const auto all = qs::builtinRegistry().all();
  if (qs::builtinRegistry().find("Attrs") != nullptr) return;
  for (const qs::BlockDescriptor* d : all) {
    const std::string page = qs::blockReferencePage(*d);
    INFO(d->type);
    CHECK(page.find("Attrs block") == std::string::npos);
    const qs::PortDescriptor* attrs = d->findPort("attrs");
    if (attrs == nullptr) continue;
    CHECK(attrs->doc.find("takes no wire") != std::string::npos);
    CHECK(page.find("| `attrs` | input | attrs |  | never wired |") != std::string::npos);
  }
  // The committed pages and the guides, too.
  const auto docs = std::filesystem::path(QS_SOURCE_DIR) / "docs";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(docs)) {
    if (entry.path().extension() != ".md") continue;
    INFO(entry.path().string());
    CHECK(qs::test::slurp(entry.path()).find("Attrs block") == std::string::npos);
  }
}

TEST_CASE("docs: the Args pages say what the blocks refuse, the Vars pages what they accept",
          "[docs]") {
  for (const char* type : {"FakeQuantWithMinMaxArgs", "FakeQuantWithMinMaxArgsGradient"}) {
    const std::string page = qs::blockReferencePage(*qs::builtinRegistry().find(type));
    INFO(type);
    CHECK(page.find("min == max and min > max are errors") != std::string::npos);
    CHECK(page.find("None of these is an error") == std::string::npos);
  }
  for (const char* type : {"FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel"}) {
    const std::string page = qs::blockReferencePage(*qs::builtinRegistry().find(type));
    INFO(type);
    CHECK(page.find("None of these is an error") != std::string::npos);
    CHECK(page.find("TensorFlow's op names this output `outputs`") != std::string::npos);
  }
}

namespace {

// The rows between the concepts-numbers markers of docs/concepts.md: "| `name` | value | ... |".
std::map<std::string, double> conceptsNumbers() {
  const std::string page =
      qs::test::slurp(std::filesystem::path(QS_SOURCE_DIR) / "docs" / "concepts.md");
  const size_t begin = page.find("<!-- concepts-numbers:begin -->");
  const size_t end = page.find("<!-- concepts-numbers:end -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::map<std::string, double> numbers;
  std::istringstream rows(page.substr(begin, end - begin));
  const std::regex row(R"(^\| `([a-z_]+)` \| (-?[0-9.]+) \|)");
  for (std::string line; std::getline(rows, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) numbers[m[1]] = std::strtod(m[2].str().c_str(), nullptr);
  }
  return numbers;
}

// One channel fake-quantized by the textbook formulas in double precision: no float32 rounding
// order, so it agrees with the page's float32 figures to about 7 digits, and exactly on integers.
struct ChannelByHand {
  double min, max, scale, invScale, zpFloat, zeroPoint, nudgedMin, nudgedMax, t, level, output;
  int between = 0, below = 0, above = 0;
};

ChannelByHand byHand(const std::vector<double>& channel, double x, int quantMin, int quantMax) {
  ChannelByHand h{};
  h.min = *std::min_element(channel.begin(), channel.end());
  h.max = *std::max_element(channel.begin(), channel.end());
  const double steps = quantMax - quantMin;
  h.scale = (h.max - h.min) / steps;
  h.invScale = steps / (h.max - h.min);
  h.zpFloat = quantMin - h.min / h.scale;
  h.zeroPoint = std::clamp(std::round(h.zpFloat), double(quantMin), double(quantMax));
  h.nudgedMin = (quantMin - h.zeroPoint) * h.scale;
  h.nudgedMax = (quantMax - h.zeroPoint) * h.scale;
  const double clamped = std::clamp(x, h.nudgedMin, h.nudgedMax);
  h.t = (clamped - h.nudgedMin) / h.scale;
  h.level = std::floor(h.t - (h.zeroPoint - quantMin) + 0.5);
  h.output = h.level * h.scale;
  for (double v : channel) {
    if (v < h.nudgedMin)
      ++h.below;
    else if (v > h.nudgedMax)
      ++h.above;
    else
      ++h.between;
  }
  return h;
}

}  // namespace

TEST_CASE("docs: the concepts page's walk through channel 0 is what the program computes",
          "[docs]") {
  const auto doc = conceptsNumbers();
  auto number = [&](const std::string& name) {
    INFO("docs/concepts.md has no row `" << name << "` between the concepts-numbers markers");
    REQUIRE(doc.count(name) == 1);
    return doc.at(name);
  };
  qs::LoadedPage loaded =
      qs::loadPage(std::filesystem::path(QS_SOURCE_DIR) / "assets/examples/calibration.page.json");
  qs::Evaluator ev(qs::builtinRegistry());
  REQUIRE(ev.evaluate(loaded.page).failed.empty());
  const qs::Tensor x = *ev.result("x.result_z");
  REQUIRE(x.shape() == qs::Shape{16, 16, 8});
  std::vector<double> channel;
  for (int64_t i = 0; i < x.size(); i += 8) channel.push_back(x.data()[i]);
  const double x0 = x.data()[0];

  const ChannelByHand h = byHand(channel, x0, 0, 255);
  // Printed to 8 significant digits, the page's floats agree with double precision to ~1e-7.
  auto close = [](double page, double reference) {
    return page == Approx(reference).epsilon(2e-7).margin(1e-12);
  };
  CHECK(number("values") == double(channel.size()));
  CHECK(close(number("min"), h.min));
  CHECK(close(number("max"), h.max));
  CHECK(close(number("scale"), h.scale));
  CHECK(close(number("inv_scale"), h.invScale));
  CHECK(number("zp_float") == Approx(h.zpFloat).epsilon(1e-6));
  CHECK(number("zero_point") == h.zeroPoint);
  CHECK(close(number("nudged_min"), h.nudgedMin));
  CHECK(close(number("nudged_max"), h.nudgedMax));
  CHECK(close(number("x"), x0));
  CHECK(number("t") == Approx(h.t).epsilon(1e-6));
  CHECK(number("level") == h.level);
  CHECK(close(number("output"), h.output));
  CHECK(number("between") == h.between);
  CHECK(number("below") == h.below);
  CHECK(number("above") == h.above);

  // And the page quotes the program's own float32 results, to the printed digit.
  auto asPrinted = [](double page, float program) { return static_cast<float>(page) == program; };
  CHECK(asPrinted(number("scale"), ev.result("report.result_scale")->data()[0]));
  CHECK(ev.result("report.result_zero_point")->data()[0] == number("zero_point"));
  CHECK(asPrinted(number("nudged_min"), ev.result("report.result_nudged_min")->data()[0]));
  CHECK(asPrinted(number("nudged_max"), ev.result("report.result_nudged_max")->data()[0]));
  CHECK(asPrinted(number("min"), ev.result("lo.result_output")->data()[0]));
  CHECK(asPrinted(number("max"), ev.result("hi.result_output")->data()[0]));
  CHECK(asPrinted(number("output"), ev.result("fq.result_output")->data()[0]));

  // Narrow range: levels 1..255.
  const ChannelByHand n = byHand(channel, x0, 1, 255);
  CHECK(close(number("narrow_scale"), n.scale));
  CHECK(number("narrow_zero_point") == n.zeroPoint);
  CHECK(close(number("narrow_nudged_min"), n.nudgedMin));
  CHECK(close(number("narrow_nudged_max"), n.nudgedMax));
  CHECK(close(number("narrow_output"), n.output));
  loaded.page.setAttr(qs::BlockId("fq"), "narrow_range", true);
  loaded.page.setAttr(qs::BlockId("report"), "narrow_range", true);
  REQUIRE(ev.evaluate(loaded.page).failed.empty());
  CHECK(asPrinted(number("narrow_scale"), ev.result("report.result_scale")->data()[0]));
  CHECK(ev.result("report.result_zero_point")->data()[0] == number("narrow_zero_point"));
  CHECK(asPrinted(number("narrow_output"), ev.result("fq.result_output")->data()[0]));
}

namespace {

// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
std::string headingAnchor(const std::string& heading) {
  std::string anchor;
  for (unsigned char c : heading) {
    if (std::isalnum(c) || c == '-' || c == '_' || c >= 0x80)
      anchor += static_cast<char>(std::tolower(c));
    else if (c == ' ')
      anchor += '-';
  }
  return anchor;
}

// The page's text outside ``` blocks, whose brackets and hashes are code, not Markdown.
std::string withoutCodeBlocks(const std::string& page) {
  std::istringstream lines(page);
  std::string text;
  bool code = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("```", 0) == 0) code = !code;
    if (!code) text += line + "\n";
  }
  return text;
}

std::set<std::string> anchorsOf(const std::filesystem::path& page) {
  std::set<std::string> anchors;
  std::istringstream lines(withoutCodeBlocks(qs::test::slurp(page)));
  const std::regex heading(R"(^#{1,6} +(.*?) *$)");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, heading)) anchors.insert(headingAnchor(m[1]));
  }
  return anchors;
}

}  // namespace

TEST_CASE("docs: every relative link in the docs and the README leads to a file and a heading",
          "[docs]") {
  namespace fs = std::filesystem;
  const fs::path root(QS_SOURCE_DIR);
  std::vector<fs::path> pages{root / "README.md"};
  for (const auto& entry : fs::recursive_directory_iterator(root / "docs"))
    if (entry.path().extension() == ".md") pages.push_back(entry.path());
  const std::regex link(R"(\]\(([^)\s]+)\))");
  int links = 0;
  for (const fs::path& page : pages) {
    const std::string text = withoutCodeBlocks(qs::test::slurp(page));
    for (auto it = std::sregex_iterator(text.begin(), text.end(), link);
         it != std::sregex_iterator(); ++it) {
      const std::string target = (*it)[1];
      if (std::regex_search(target, std::regex("^[a-z]+:"))) continue;  // http:, mailto:
      ++links;
      const size_t hash = target.find('#');
      const std::string file = target.substr(0, hash);
      const fs::path to = file.empty() ? page : (page.parent_path() / file).lexically_normal();
      INFO(fs::relative(page, root).string() << " links to " << target);
      REQUIRE(fs::exists(to));
      if (hash != std::string::npos && to.extension() == ".md")
        CHECK(anchorsOf(to).count(target.substr(hash + 1)) == 1);
    }
  }
  CHECK(links > 50);
}

}  // namespace test_docs
