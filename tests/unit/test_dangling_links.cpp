// Links to blocks that are not on the page: the runner refuses the page (exit 2), the editor's
// load option keeps them apart so that they can be repaired, and saving loses none of them.
#include <catch2/catch.hpp>

#include "runtime/Error.h"
#include "runtime/PageJson.h"
#include "test_runner_support.h"

namespace test_dangling_links {

using namespace qs;

namespace {

const char* kBroken = R"({
  "format": "quantspace-page",
  "version": 1,
  "name": "broken",
  "blocks": [
    {"id": "x", "type": "Const", "attrs": {"shape": [2], "values": [1, 2]}},
    {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "attrs": {}}
  ],
  "links": [
    {"from": ["ghost", "output"], "to": ["fq", "inputs"]},
    {"from": ["x", "output"], "to": ["fq", "nope"]},
    {"from": ["x", "output"], "to": ["gone", "inputs"]},
    {"from": ["a", "output"], "to": ["b", "inputs"]}
  ]
})";

const Link kFromGhost{{BlockId("ghost"), PortName("output")}, {BlockId("fq"), PortName("inputs")}};
const Link kToGone{{BlockId("x"), PortName("output")}, {BlockId("gone"), PortName("inputs")}};
const Link kNowhere{{BlockId("a"), PortName("output")}, {BlockId("b"), PortName("inputs")}};
const Link kBadPort{{BlockId("x"), PortName("output")}, {BlockId("fq"), PortName("nope")}};

}  // namespace

TEST_CASE("a link to a missing block is an error unless the page is read for repair",
          "[page][dangling]") {
  CHECK_THROWS_WITH(parsePage(kBroken, "b.page.json"),
                    "b.page.json: links[0]: a link comes from block 'ghost', which does not exist");

  const LoadedPage loaded = parsePage(kBroken, "b.page.json", {.keepDanglingLinks = true});
  const Page& page = loaded.page;
  // The link to an undeclared port joins two blocks: an ordinary link (the evaluator names it).
  CHECK(page.links() == std::vector<Link>{kBadPort});
  CHECK(page.danglingLinks() == std::vector<Link>{kFromGhost, kToGone, kNowhere});
  REQUIRE(loaded.warnings.size() == 3);
  CHECK(loaded.warnings[0] ==
        "b.page.json: links[0] (ghost.output -> fq.inputs) names block 'ghost', which is not on "
        "the page; the link is kept, drawn broken");
  CHECK(page.idTaken(BlockId("ghost")));
  CHECK(page.idTaken(BlockId("b")));
  CHECK_FALSE(page.idTaken(BlockId("ghost2")));
  CHECK(page.incomingLinks(page.indexOf(BlockId("fq"))).size() == 1);
}

TEST_CASE("saving a page with dangling links keeps them, after the other links",
          "[page][dangling]") {
  const Page page = parsePage(kBroken, "b.page.json", {.keepDanglingLinks = true}).page;
  const std::string saved = pageToText(page);
  CHECK(saved.find(R"("links": [
    {
      "from": ["x", "output"],
      "to": ["fq", "nope"]
    },
    {
      "from": ["ghost", "output"],
      "to": ["fq", "inputs"]
    },)") != std::string::npos);
  CHECK(saved.find(R"("from": ["a", "output"],
      "to": ["b", "inputs"])") != std::string::npos);
  // Read again for repair: the same page, the same bytes.
  const Page again = parsePage(saved, "s.page.json", {.keepDanglingLinks = true}).page;
  CHECK(again.danglingLinks() == page.danglingLinks());
  CHECK(pageToText(again) == saved);
  // Still refused by a strict read.
  CHECK_THROWS_AS(parsePage(saved, "s.page.json"), Error);
}

TEST_CASE("dangling links go with the block at their end and can be removed one by one",
          "[page][dangling]") {
  Page page = parsePage(kBroken, "b.page.json", {.keepDanglingLinks = true}).page;
  CHECK_THROWS_AS(page.addDanglingLink(kBadPort), Error);    // both blocks exist
  CHECK_THROWS_AS(page.addDanglingLink(kFromGhost), Error);  // given twice
  page.removeDanglingLink(kNowhere);
  CHECK_FALSE(page.hasDanglingLink(kNowhere));
  CHECK_FALSE(page.idTaken(BlockId("a")));
  page.removeBlock(BlockId("x"));  // takes x -> gone with it
  CHECK(page.danglingLinks() == std::vector<Link>{kFromGhost});
  CHECK_THROWS_AS(page.removeDanglingLink(kNowhere), Error);
}

TEST_CASE("quantspace-run still exits 2 for a link naming a missing block", "[runner][dangling]") {
  qs::test::TempDir dir;
  const auto r = qs::test::runRunner({dir.write("b.page.json", kBroken).string()});
  CHECK(r.status == 2);
  CHECK(r.err.find("links[0]: a link comes from block 'ghost', which does not exist") !=
        std::string::npos);
}

}  // namespace test_dangling_links
