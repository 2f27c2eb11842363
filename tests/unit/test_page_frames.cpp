// Comment frames in the page file: an optional top-level "frames" list, layout only.

#include <catch2/catch.hpp>

#include "runtime/Error.h"
#include "runtime/PageJson.h"

namespace test_page_frames {

using namespace qs;

namespace {
const char* kHead = R"({"format": "quantspace-page", "version": 1, "name": "f",
  "blocks": [{"id": "a", "type": "Const", "attrs": {}}, {"id": "b", "type": "Const", "attrs": {}}],
  "links": [])";

std::string pageWith(const std::string& frames) {
  return std::string(kHead) + (frames.empty() ? "" : ", \"frames\": " + frames) + "}";
}

std::string loadError(const std::string& text) {
  try {
    parsePage(text, "p.json");
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}
}  // namespace

TEST_CASE("page frames: read, written back in the same form, and absent when there are none",
          "[page][frames]") {
  const std::string text =
      pageWith(R"([{"title": "inputs", "color": "#4f8a4f", "blocks": ["b", "a"]}])");
  LoadedPage loaded = parsePage(text, "p.json");
  CHECK(loaded.warnings.empty());
  REQUIRE(loaded.page.frames.size() == 1);
  CHECK(loaded.page.frames[0].title == "inputs");
  CHECK(loaded.page.frames[0].color == "#4f8a4f");
  CHECK(loaded.page.frames[0].blocks == std::vector<BlockId>{BlockId("b"), BlockId("a")});
  const std::string saved = pageToText(loaded.page);
  CHECK(saved.find(R"("frames": [)") != std::string::npos);
  CHECK(pageToText(parsePage(saved, "again").page) == saved);

  // A page without frames gets no "frames" key: older pages save back as they were.
  const std::string plain = pageToText(parsePage(pageWith(""), "p.json").page);
  CHECK(plain.find("frames") == std::string::npos);
  // Title and colour are optional.
  const Page bare = parsePage(pageWith(R"([{"blocks": ["a"]}])"), "p.json").page;
  CHECK(bare.frames[0].title.empty());
  CHECK(bare.frames[0].color == "#4a6fa5");
}

TEST_CASE("page frames: a member not on the page is dropped with a warning, and not saved",
          "[page][frames]") {
  LoadedPage loaded = parsePage(pageWith(R"([{"blocks": ["a", "gone"], "note": 1}])"), "p.json");
  REQUIRE(loaded.warnings.size() == 2);
  CHECK(loaded.warnings[0] ==
        "p.json: frames[0] names block 'gone', which is not on the page; left out of the frame");
  CHECK(loaded.warnings[1] == "p.json: frames[0]: unknown key \"note\" kept as it is");
  CHECK(loaded.page.frames[0].blocks == std::vector<BlockId>{BlockId("a")});
  CHECK(pageToText(loaded.page).find("\"note\": 1") != std::string::npos);
  // A block deleted while framed stays a member (undo brings it back) but is not written.
  Page page = loaded.page;
  page.removeBlock(BlockId("a"));
  CHECK(page.frames[0].blocks.size() == 1);
  CHECK(page.idTaken(BlockId("a")));
  CHECK(pageToText(page).find(R"("blocks": [])") != std::string::npos);
}

TEST_CASE("page frames: a malformed frame is refused with a message naming it", "[page][frames]") {
  CHECK(loadError(pageWith(R"({"blocks": []})")) ==
        "p.json: \"frames\" must be a list, not object");
  CHECK(loadError(pageWith(R"([{"title": 3, "blocks": []}])")) ==
        "p.json: frames[0]: \"title\" must be a string, not number");
  CHECK(loadError(pageWith(R"([{"color": "red", "blocks": []}])")) ==
        "p.json: frames[0]: \"color\" must be a string \"#rrggbb\", not \"red\"");
  CHECK(loadError(pageWith(R"([{"title": "t"}])")) ==
        "p.json: frames[0] needs \"blocks\", a list of block ids");
  CHECK(loadError(pageWith(R"([{"blocks": ["a", "a"]}])")) ==
        "p.json: frames[0] names block 'a' twice");
}

TEST_CASE("renaming a block renames it in its links and frames and keeps its place",
          "[page][frames]") {
  Page page = parsePage(pageWith(R"([{"blocks": ["a"]}])"), "p.json").page;
  page.addLink({{BlockId("a"), PortName("output")}, {BlockId("b"), PortName("x")}});
  page.renameBlock(BlockId("a"), BlockId("c"));
  CHECK(page.indexOf(BlockId("c")) == 0);
  CHECK_FALSE(page.contains(BlockId("a")));
  CHECK(page.hasLink({{BlockId("c"), PortName("output")}, {BlockId("b"), PortName("x")}}));
  CHECK(page.outgoingLinks(0).size() == 1);
  CHECK(page.frames[0].blocks == std::vector<BlockId>{BlockId("c")});
  CHECK_THROWS_WITH(page.renameBlock(BlockId("c"), BlockId("b")), "block id 'b' is already taken");
  CHECK_THROWS_WITH(page.renameBlock(BlockId("c"), BlockId("9x")), Catch::Contains("is not valid"));
}

TEST_CASE("an unknown top-level key, as a build without frames sees \"frames\", is kept",
          "[page][frames]") {
  // What an older build does with a page that has frames: it does not know the key, keeps it as
  // it is with a warning, and writes it back. Shown here with a key this build does not know.
  LoadedPage loaded =
      parsePage(std::string(kHead) + R"(, "frames2": [{"blocks": ["a"]}]})", "p.json");
  REQUIRE(loaded.warnings.size() == 1);
  CHECK(loaded.warnings[0] == "p.json: unknown top-level key \"frames2\" kept as it is");
  CHECK(pageToText(loaded.page).find(R"("frames2": [)") != std::string::npos);
}

}  // namespace test_page_frames
