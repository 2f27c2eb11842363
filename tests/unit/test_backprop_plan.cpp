// The backward pass is planned once per page structure and run at every evaluation: what can
// change without a change of structure (attributes, and with them dtypes and values) must still
// be seen at each run.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "../page_building.h"
#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"

namespace test_backprop_plan {

namespace {

using qs::testing::addBlock;
using qs::testing::link;

// d(sum(square(cast2(cast1(x)))))/dx; cast1's DstT is set by the test, cast2 goes to float32.
qs::Page castPage() {
  qs::Page page;
  addBlock(page, "x", "Const", {{"shape", {3}}, {"values", {1.5, -2, 4}}});
  addBlock(page, "cast1", "Cast", {{"DstT", "float32"}});
  addBlock(page, "cast2", "Cast", {{"DstT", "float32"}});
  addBlock(page, "sq", "Square", qs::Json::object());
  addBlock(page, "loss", "Sum", {{"axis", qs::Json::array()}});
  addBlock(page, "grad", "Gradients", qs::Json::object());
  link(page, "x", "output", "cast1", "x");
  link(page, "cast1", "y", "cast2", "x");
  link(page, "cast2", "y", "sq", "x");
  link(page, "sq", "y", "loss", "input");
  link(page, "loss", "output", "grad", "ys");
  link(page, "x", "output", "grad", "xs");
  return page;
}

}  // namespace

TEST_CASE("backprop plan: an attribute edit that puts an int32 tensor on the path is refused",
          "[gradients]") {
  qs::Page page = castPage();
  qs::Evaluator ev(qs::builtinRegistry());
  const uint64_t structure = page.structureRevision();
  // 2x, worked out by hand.
  const std::vector<float> twice{3, -4, 8};
  REQUIRE(ev.evaluate(page).failed.empty());
  CHECK(ev.result("grad.result_output")->toVector() == twice);

  page.setAttr(qs::BlockId("cast1"), "DstT", "int32");
  REQUIRE(page.structureRevision() == structure);  // the kept plan is used again
  ev.evaluate(page);
  const qs::BlockState* st = ev.state(qs::BlockId("grad"));
  REQUIRE(st != nullptr);
  CHECK(st->status == qs::BlockStatus::Error);
  CHECK(st->error ==
        "the int32 tensor from output 'y' of block 'cast1' (Cast) into block 'cast2' (Cast) is "
        "on the path from xs to ys; gradients pass through float32 tensors only");

  page.setAttr(qs::BlockId("cast1"), "DstT", "float32");
  REQUIRE(ev.evaluate(page).failed.empty());
  CHECK(ev.result("grad.result_output")->toVector() == twice);

  // New values of x through the same plan: the runners read this evaluation's tensors.
  page.setAttr(qs::BlockId("x"), "values", {0.25, 1, -3});
  REQUIRE(ev.evaluate(page).failed.empty());
  CHECK(ev.result("grad.result_output")->toVector() == std::vector<float>{0.5f, 2, -6});
}

}  // namespace test_backprop_plan
