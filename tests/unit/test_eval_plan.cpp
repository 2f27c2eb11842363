// The evaluator's parts on their own: the plan (needed blocks, order, cycles, release points) and
// the wiring checks, on small pages of a test block type (no kernels run).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "runtime/Error.h"
#include "runtime/EvalContext.h"
#include "runtime/EvalPlan.h"
#include "runtime/EvalWiring.h"
#include "runtime/Page.h"

namespace test_eval_plan {

using namespace qs;

namespace {

// "Op": tensor inputs a (required, rank 1) and b (optional), output y; plus the scope and attrs
// pins every op block has.
const BlockRegistry& testRegistry() {
  static const BlockRegistry registry = [] {
    BlockRegistry r;
    BlockDescriptor d;
    d.type = "Op";
    d.category = "Test";
    d.summary = "A block for planning tests.";
    PortDescriptor b = tensorInput("b", RankRule::any(), "Optional.");
    b.required = false;
    d.ports = opPorts({tensorInput("a", RankRule::exactly(1), "Required."), b},
                      {tensorOutput("y", RankRule::any(), "Output.")});
    d.check = [](BlockContext&) {};
    d.compute = [](BlockContext&) {};
    r.add(std::move(d));
    return r;
  }();
  return registry;
}

void addOp(Page& page, const std::string& id, const std::string& type = "Op") {
  Block b;
  b.id = BlockId(id);
  b.type = type;
  page.addBlock(std::move(b));
}

void wire(Page& page, const std::string& from, const std::string& to, const std::string& port,
          const std::string& fromPort = "y") {
  page.addLink({{BlockId(from), PortName(fromPort)}, {BlockId(to), PortName(port)}});
}

// Block ids of plan.order.
std::vector<std::string> orderOf(const Page& page, const EvalPlan& plan) {
  std::vector<std::string> ids;
  for (int b : plan.order) ids.push_back(page.blocks()[b].id.str());
  return ids;
}

std::vector<std::string> releasedAfter(const Page& page, const EvalPlan& plan, size_t k) {
  std::vector<std::string> ids;
  for (int b : plan.releasedAfter(k)) ids.push_back(page.blocks()[b].id.str());
  return ids;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("plan: inputs before their readers, sources in page order, depth first",
          "[evaluator][plan]") {
  Page page;
  addOp(page, "c");  // reads a and b
  addOp(page, "b");
  addOp(page, "a");
  addOp(page, "d");  // independent
  addOp(page, "e");  // reads c
  wire(page, "a", "c", "a");
  wire(page, "b", "c", "b");
  wire(page, "c", "e", "a");
  const EvalPlan plan = planEvaluation(page, testRegistry(), {});
  // b and a are ready first (page order b, a); c becomes ready with a and goes next, then e;
  // then d, which was ready all along.
  CHECK(orderOf(page, plan) == Strings{"b", "a", "c", "e", "d"});
  CHECK(plan.needed == std::vector<char>{1, 1, 1, 1, 1});
  CHECK(plan.fetched == std::vector<char>{0, 0, 0, 0, 0});
  CHECK(plan.cycleErrors.empty());

  Page flat;
  for (const char* id : {"z", "y", "x"}) addOp(flat, id);
  CHECK(orderOf(flat, planEvaluation(flat, testRegistry(), {})) == Strings{"z", "y", "x"});
}

TEST_CASE("plan: a fetch needs only what its results read from", "[evaluator][plan]") {
  Page page;
  for (const char* id : {"x", "y", "p", "q", "r"}) addOp(page, id);
  wire(page, "x", "p", "a");
  wire(page, "p", "q", "a");
  wire(page, "y", "r", "a");
  wire(page, "q", "r", "b");
  const EvalPlan plan = planEvaluation(page, testRegistry(), {"q.result_y"});
  CHECK(plan.needed == std::vector<char>{1, 0, 1, 1, 0});
  CHECK(plan.fetched == std::vector<char>{0, 0, 0, 1, 0});
  CHECK(orderOf(page, plan) == Strings{"x", "p", "q"});

  const EvalPlan two = planEvaluation(page, testRegistry(), {"p.result_y", "y.result_y"});
  CHECK(orderOf(page, two) == Strings{"x", "p", "y"});  // p is ready once x is: depth first

  CHECK_THROWS_WITH(planEvaluation(page, testRegistry(), {"q.y"}),
                    "'q.y' is not a result name (expected BLOCK.result_PORT)");
  CHECK_THROWS_WITH(planEvaluation(page, testRegistry(), {"nope.result_y"}),
                    "no block 'nope' on the page (asked for nope.result_y)");
  CHECK_THROWS_WITH(planEvaluation(page, testRegistry(), {"q.result_a"}),
                    "block 'q' (Op) has no result 'result_a'");
  // A block of unknown type is planned; it fails when its turn comes.
  addOp(page, "u", "NoSuchType");
  CHECK(orderOf(page, planEvaluation(page, testRegistry(), {"u.result_y"})) == Strings{"u"});
}

TEST_CASE("plan: cycles are named along their path, blocks below them come after",
          "[evaluator][plan]") {
  Page page;
  // Page order: below2 and below1 first, so their order comes from the links, not the page.
  for (const char* id : {"below2", "below1", "a", "b", "c", "ok", "loop"}) addOp(page, id);
  wire(page, "c", "a", "a");  // a <- c <- b <- a
  wire(page, "a", "b", "a");
  wire(page, "b", "c", "a");
  wire(page, "c", "below1", "a");
  wire(page, "below1", "below2", "a");
  wire(page, "loop", "loop", "a");
  const EvalPlan plan = planEvaluation(page, testRegistry(), {});
  CHECK(orderOf(page, plan) == Strings{"ok", "a", "b", "c", "loop", "below1", "below2"});
  const auto errorOf = [&](const char* id) {
    const std::string* e = plan.cycleError(page.indexOf(BlockId(id)));
    return e ? *e : std::string("(none)");
  };
  CHECK(errorOf("a") == "is part of a cycle: a -> b -> c -> a");
  CHECK(errorOf("c") == "is part of a cycle: a -> b -> c -> a");
  CHECK(errorOf("loop") == "is part of a cycle: loop -> loop");
  CHECK(errorOf("below1") == "(none)");
  CHECK(errorOf("below2") == "(none)");
  CHECK(errorOf("ok") == "(none)");

  // The path is the shortest one through the first block: with a chord b -> a, a -> b -> a.
  wire(page, "b", "a", "b");
  CHECK(planEvaluation(page, testRegistry(), {}).cycleError(page.indexOf(BlockId("c"))) != nullptr);
  CHECK(*planEvaluation(page, testRegistry(), {}).cycleError(page.indexOf(BlockId("a"))) ==
        "is part of a cycle: a -> b -> a");

  // A fetch that does not reach the cycle plans no cycle.
  CHECK(planEvaluation(page, testRegistry(), {"ok.result_y"}).cycleErrors.empty());
}

TEST_CASE("plan: each result is released after its last reader", "[evaluator][plan]") {
  Page page;
  for (const char* id : {"a", "b", "c", "d"}) addOp(page, id);
  wire(page, "a", "b", "a");
  wire(page, "a", "c", "b");
  wire(page, "b", "c", "a");
  wire(page, "c", "d", "a");
  const EvalPlan all = planEvaluation(page, testRegistry(), {});
  REQUIRE(orderOf(page, all) == Strings{"a", "b", "c", "d"});
  CHECK(releasedAfter(page, all, 0).empty());
  CHECK(releasedAfter(page, all, 1).empty());  // a is still read by c
  // c's links in page order: a -> c, then b -> c.
  CHECK(releasedAfter(page, all, 2) == Strings{"a", "b"});
  // d is read by nobody: never listed.
  CHECK(releasedAfter(page, all, 3) == Strings{"c"});

  // Fetched results are kept; readers that are not needed do not hold a result.
  const EvalPlan fetch = planEvaluation(page, testRegistry(), {"b.result_y", "c.result_y"});
  REQUIRE(orderOf(page, fetch) == Strings{"a", "b", "c"});
  CHECK(releasedAfter(page, fetch, 1).empty());
  CHECK(releasedAfter(page, fetch, 2) == Strings{"a"});

  // Not asked for: nothing is released.
  const EvalPlan keep = planEvaluation(page, testRegistry(), {}, false);
  for (size_t k = 0; k < keep.order.size(); ++k) CHECK(keep.releasedAfter(k).empty());
}

TEST_CASE("wiring: every link lands on a tensor input, once, from a real output",
          "[evaluator][wiring]") {
  const BlockDescriptor& op = *testRegistry().find("Op");
  const std::vector<const PortDescriptor*> inputs = op.inputs();
  Page page;
  for (const char* id : {"x", "y", "t"}) addOp(page, id);
  addOp(page, "u", "NoSuchType");
  const auto check = [&](Wiring& w) {
    std::vector<const BlockDescriptor*> descs;
    for (const Block& b : page.blocks()) descs.push_back(testRegistry().find(b.type));
    checkWiring(page, page.indexOf(BlockId("t")), op, inputs, descs, w);
    return w.error;
  };
  Wiring w;
  CHECK(check(w) == "input 'a' is not wired");
  wire(page, "x", "t", "b");
  CHECK(check(w) == "input 'a' is not wired");
  wire(page, "y", "t", "a");
  CHECK(check(w).empty());
  REQUIRE(w.inputs.size() == 2);
  CHECK(*w.inputs[0].port == "b");  // the links' order on the page
  CHECK(w.inputs[0].from == page.indexOf(BlockId("x")));
  CHECK(w.find("a")->link->from.block.str() == "y");
  CHECK(w.find("nope") == nullptr);

  SECTION("an input wired twice") {
    wire(page, "u", "t", "a");
    CHECK(check(w) == "input 'a' is wired twice (from y.y and u.y)");
    CHECK(w.inputs.size() == 2);
  }
  SECTION("a port the block does not have") {
    wire(page, "x", "t", "nope");
    CHECK(check(w) == "has no input 'nope' (wired from x.y; inputs are: a, b)");
  }
  SECTION("an output") {
    wire(page, "x", "t", "y");
    CHECK(check(w) == "'y' is an output; the wire from x.y must go to an input");
  }
  SECTION("the scope pin") {
    wire(page, "x", "t", "scope");
    CHECK(check(w) == "the scope pin is bound to the page and cannot be wired (wire from x.y)");
  }
  SECTION("from a port the source does not have as an output") {
    page.removeLink({{BlockId("x"), PortName("y")}, {BlockId("t"), PortName("b")}});
    wire(page, "x", "t", "b", "a");
    CHECK(check(w) == "input 'b' is wired to x.a, but Op has no output 'a'");
    // Only the links before the problem are given.
    REQUIRE(w.inputs.size() == 1);
    CHECK(*w.inputs[0].port == "a");
  }
  SECTION("from a block of unknown type: accepted, the source fails on its own") {
    page.removeLink({{BlockId("x"), PortName("y")}, {BlockId("t"), PortName("b")}});
    wire(page, "u", "t", "b", "whatever");
    CHECK(check(w).empty());
    CHECK(w.find("b")->from == page.indexOf(BlockId("u")));
  }
}

TEST_CASE("wiring: ranks are checked against the descriptor", "[evaluator][wiring]") {
  const BlockDescriptor& op = *testRegistry().find("Op");
  AttrValues attrs;
  EvalContext ctx(op, "t", attrs);
  const Shape rank3{2, 3, 4}, rank1{4}, rank2{2, 2}, rank0{};
  ctx.setInputShape("b", rank3, DType::Float32);  // any rank
  CHECK_NOTHROW(checkRanks(op.inputs(), ctx));
  ctx.setInputShape("a", rank1, DType::Float32);
  CHECK_NOTHROW(checkRanks(op.inputs(), ctx));
  ctx.setInputShape("a", rank2, DType::Float32);
  CHECK_THROWS_WITH(checkRanks(op.inputs(), ctx), "input 'a' must be rank 1 but is rank 2");
  ctx.setInputShape("a", rank0, DType::Float32);
  CHECK_THROWS_WITH(checkRanks(op.inputs(), ctx), "input 'a' must be rank 1 but is rank 0");
}

}  // namespace test_eval_plan
