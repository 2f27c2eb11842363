// The page file (docs/formats.md): loading back identically, saving twice to the same bytes, and
// the structural errors that make a page unreadable.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "runtime/Error.h"
#include "runtime/PageJson.h"
#include "test_runner_support.h"

namespace test_page_json {

using namespace qs;

namespace {

// A page with everything a round trip can lose: non-finite values, -0, a denormal, float32 values
// that are not short decimals, positions, unknown keys at both levels, a unicode name, keys out of
// the stable order.
const char* kRichPage = R"({
  "version": 1,
  "format": "quantspace-page",
  "name": "round trip \u00e9\u6f22",
  "view": {"zoom": 1.5, "scroll": [10, -3]},
  "blocks": [
    {"type": "Const", "id": "x", "position": [40.25, -60],
     "attrs": {"values": ["nan", "inf", "-inf", -0.0, 1e-45, 0.1, 3.4028235e38, 0.33333334, 16777217],
               "shape": [3, 3]},
     "comment": {"who": "me", "tags": ["a", 1, null, true]}},
    {"id": "lo", "type": "Const", "attrs": {"values": [0, 0, 0]}},
    {"id": "hi", "type": "Const", "attrs": {"values": [5, 5, 5]}},
    {"id": "fq", "type": "FakeQuantWithMinMaxVarsPerChannel", "position": [1e6, 0.1],
     "attrs": {"num_bits": 8, "narrow_range": true}},
    {"id": "mystery", "type": "NotYetKnownOp", "attrs": {"alpha": 0.5, "mode": "fast"}}
  ],
  "links": [
    {"from": ["x", "output"], "to": ["fq", "inputs"]},
    {"from": ["lo", "output"], "to": ["fq", "min"]},
    {"from": ["hi", "output"], "to": ["fq", "max"]}
  ]
})";

std::vector<float> constValues(const Page& page, const std::string& id) {
  std::vector<float> r;
  for (const auto& e : page.find(BlockId(id))->attrs.at("values"))
    r.push_back(floatFromJson(e, "v"));
  return r;
}

bool sameBits(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void requireSamePage(const Page& a, const Page& b) {
  CHECK(a.name == b.name);
  CHECK(a.extra == b.extra);
  REQUIRE(a.blockCount() == b.blockCount());
  for (size_t i = 0; i < a.blockCount(); ++i) {
    const Block& x = a.blocks()[i];
    const Block& y = b.blocks()[i];
    INFO("block " << x.id.str());
    CHECK(x.id == y.id);
    CHECK(x.type == y.type);
    CHECK(x.position == y.position);
    CHECK(x.extra == y.extra);
    // Compare attributes through the float32 values they mean (NaN != NaN in Json's ==).
    CHECK(x.attrs.dump() == y.attrs.dump());
  }
  CHECK(a.links() == b.links());
}

}  // namespace

TEST_CASE("page json: a loaded page saves, loads back identically, and saves to the same bytes",
          "[page]") {
  const LoadedPage first = parsePage(kRichPage, "rich.page.json");
  CHECK(first.warnings.size() == 2);  // "view" and block x's "comment", kept
  const std::string saved = pageToText(first.page);
  const LoadedPage second = parsePage(saved, "saved.page.json");
  requireSamePage(first.page, second.page);
  CHECK(pageToText(second.page) == saved);

  // The values mean the same float32 bits after the trip (checked against C++'s own literals).
  const std::vector<float> want = {NAN,  INFINITY,      -INFINITY,   -0.0f,      1e-45f,
                                   0.1f, 3.4028235e38f, 0.33333334f, 16777216.0f};
  const std::vector<float> got = constValues(second.page, "x");
  REQUIRE(got.size() == want.size());
  CHECK(std::isnan(got[0]));
  for (size_t i = 1; i < want.size(); ++i) {
    INFO("value " << i);
    CHECK(sameBits(got[i], want[i]));
  }

  // Non-finite values are the strings of the page format; -0 keeps its sign in the text.
  CHECK(
      saved.find(
          R"("values": ["nan", "inf", "-inf", -0.0, 1e-45, 0.1, 3.4028235e+38, 0.33333334, 16777217])") !=
      std::string::npos);
  CHECK(second.page.find(BlockId("fq"))->position ==
        std::array<double, 2>{1e6, static_cast<double>(0.1f)});
  CHECK(second.page.find(BlockId("mystery"))->attrs.at("mode") == "fast");

  // The stable order: format, version, name, blocks, links, then unknown keys; in a block id,
  // type, position, attrs, then unknown keys; attributes sorted.
  CHECK(saved.find("\"format\"") < saved.find("\"version\""));
  CHECK(saved.find("\"links\"") < saved.find("\"view\""));
  CHECK(saved.find("\"shape\"") < saved.find("\"values\""));
  CHECK(saved.find("\"attrs\"") < saved.find("\"comment\""));
}

TEST_CASE("page json: savePage twice gives the same file, atomically, with a backup", "[page]") {
  test::TempDir dir;
  const LoadedPage loaded = parsePage(kRichPage, "rich.page.json");
  const auto path = dir / "p.page.json";
  savePage(loaded.page, path);
  const std::string once = test::slurp(path);
  const LoadedPage reloaded = loadPage(path);
  savePage(reloaded.page, path, /*keepBackup=*/true);
  CHECK(test::slurp(path) == once);
  CHECK(test::slurp(dir / "p.page.json.bak") == once);
  // No temporary files left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  CHECK(files == 2);
  CHECK(reloaded.dir == dir.path());
}

TEST_CASE("page json: structural errors name the file and the problem", "[page]") {
  auto error = [](const std::string& text) {
    try {
      parsePage(text, "p.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string head = R"({"format": "quantspace-page", "version": 1, )";
  CHECK(error("{\n\"a\": 1,\n\"a\": 2}") == "p.json:3:1: key \"a\" appears twice in one object");
  CHECK(error(head + R"("blocks": [{"id": "a", "type": "Const", "id": "b"}]})") ==
        "p.json:1:85: key \"id\" appears twice in one object");
  CHECK(
      error(head +
            R"("blocks": [], "links": [{"from": ["a", "output"], "to": ["b", "x"], "via": 1}]})") ==
      "p.json: links[0] has unknown key \"via\"");
  CHECK(
      error(
          head +
          R"("blocks": [{"id": "a", "type": "Const"}], "links": [{"from": ["a", "output"], "to": ["a", "x"]}, {"from": ["a", "output"], "to": ["a", "x"]}]})") ==
      "p.json: links[1]: the link a.output -> a.x is given twice");
  CHECK(error(head + R"("blocks": [{"id": "a", "type": "Const", "position": [1]}]})") ==
        "p.json: block 'a': \"position\" must be [x, y] with finite numbers, not [1]");
  CHECK(error(head + R"("blocks": [{"id": "a", "type": "Const", "position": [1e39, 0]}]})") ==
        "p.json: block 'a': \"position\" must be [x, y] with finite numbers, not [1e+39,0]");
  CHECK(error(head + R"("blocks": [{"id": "a", "type": 3}]})") ==
        "p.json: block 'a' has no string \"type\"");
  CHECK(error(head + R"("blocks": [{"id": "a", "type": "Const", "attrs": [1]}]})") ==
        "p.json: block 'a': \"attrs\" must be an object, not array");
  CHECK(error(head + R"("blocks": [7]})") == "p.json: blocks[0] must be an object, not number");
  CHECK(error(head + R"("blocks": []})").find("(no error)") == 0);
  // Invalid UTF-8 is a JSON error, not a crash later.
  CHECK(error(head + "\"name\": \"\xff\", \"blocks\": []}").find("p.json:1:") == 0);
}

TEST_CASE("page json: nesting beyond the limit is refused, not a stack overflow",
          "[page][limits]") {
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  CHECK_THROWS_WITH(parseJson(deep, "deep.json"),
                    "deep.json:1:" + std::to_string(kMaxJsonDepth + 1) + ": nested deeper than " +
                        std::to_string(kMaxJsonDepth) + " levels");
  // Right at the limit is fine, and such a value survives a save.
  const std::string ok = std::string(kMaxJsonDepth - 3, '[') + std::string(kMaxJsonDepth - 3, ']');
  const LoadedPage p = parsePage(
      R"({"format": "quantspace-page", "version": 1, "blocks": [], "x": )" + ok + "}", "p");
  CHECK(parsePage(pageToText(p.page), "again").page.extra == p.page.extra);
}

}  // namespace test_page_json
