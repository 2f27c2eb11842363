// Result names on the command line (--fetch of the runner, --inspect of the editor): a name the
// page does not have is refused with a message naming the block or the result.
#include <catch2/catch.hpp>

#include "blocks/RegisterBlocks.h"
#include "runtime/PageJson.h"
#include "runtime/ResultNames.h"

namespace test_result_names {

using namespace qs;

namespace {
const char* kPage = R"({"format": "quantspace-page", "version": 1, "name": "p",
  "blocks": [
    {"id": "x", "type": "Const", "attrs": {"shape": [2], "values": [1, 2]}},
    {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "attrs": {}},
    {"id": "m", "type": "NotYetKnownOp", "attrs": {}}
  ],
  "links": [{"from": ["x", "output"], "to": ["fq", "inputs"]}]})";
}  // namespace

TEST_CASE("resultNameProblem names the missing block or result", "[runner][results]") {
  const Page page = parsePage(kPage, "p.page.json").page;
  const BlockRegistry& reg = builtinRegistry();
  CHECK(resultNameProblem(page, reg, "fq.result_output").empty());
  CHECK(resultNameProblem(page, reg, "fq.result_nope") ==
        "block 'fq' (FakeQuantWithMinMaxArgs) has no result 'result_nope' (it has: "
        "fq.result_output)");
  CHECK(resultNameProblem(page, reg, "ghost.result_output") == "no block 'ghost' on the page");
  // A block of unknown type: its outputs are unknown, any name is taken as given.
  CHECK(resultNameProblem(page, reg, "m.result_anything").empty());
  CHECK(resultNameProblem(page, reg, "fq.output") ==
        "'fq.output' is not a result name (expected BLOCK.result_PORT)");
}

}  // namespace test_result_names
