// The Evaluator: dependency order, per-block errors, the cache that re-runs only what an edit made
// stale, shape-only checking, fetch subsets, deep and huge pages.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>

#include "blocks/RegisterBlocks.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"

namespace test_evaluator {

using namespace qs;

namespace {

const std::string kFq = "FakeQuantWithMinMaxVarsPerChannel";

Block makeBlock(const std::string& id, const std::string& type, Json attrs = Json::object()) {
  Block b;
  b.id = BlockId(id);
  b.type = type;
  b.attrs = std::move(attrs);
  return b;
}

Block constBlock(const std::string& id, std::vector<float> values) {
  Json v = Json::array();
  for (float f : values) v.push_back(f);
  return makeBlock(id, "Const", Json{{"values", v}});
}

void link(Page& page, const std::string& from, const std::string& to, const std::string& port) {
  page.addLink({{BlockId(from), PortName("output")}, {BlockId(to), PortName(port)}});
}

void addFq(Page& page, const std::string& id, const std::string& input,
           Json attrs = Json::object()) {
  page.addBlock(makeBlock(id, kFq, std::move(attrs)));
  link(page, input, id, "inputs");
  link(page, "lo", id, "min");
  link(page, "hi", id, "max");
}

std::set<std::string> names(const std::vector<BlockId>& ids) {
  std::set<std::string> s;
  for (const auto& id : ids) s.insert(id.str());
  return s;
}

// x, lo, hi -> fq1 -> fq2;  y -> fq3 (a separate branch sharing lo and hi).
Page branchyPage() {
  Page page;
  page.addBlock(constBlock("x", {-1, 0, 2, 6}));
  page.addBlock(constBlock("y", {1, 2, 3, 4}));
  page.addBlock(constBlock("lo", {0, 0, 0, 0}));
  page.addBlock(constBlock("hi", {5, 5, 5, 5}));
  addFq(page, "fq1", "x");
  addFq(page, "fq2", "fq1", Json{{"num_bits", 4}});
  addFq(page, "fq3", "y");
  return page;
}

}  // namespace

TEST_CASE("evaluator: blocks run after their inputs whatever the page order", "[evaluator]") {
  Page page;
  page.addBlock(makeBlock("fq", kFq));  // first in the file, last to run
  page.addBlock(constBlock("x", {-1, 0, 5, 6}));
  page.addBlock(constBlock("hi", {5, 5, 5, 5}));
  page.addBlock(constBlock("lo", {0, 0, 0, 0}));
  link(page, "x", "fq", "inputs");
  link(page, "lo", "fq", "min");
  link(page, "hi", "fq", "max");
  Evaluator ev(builtinRegistry());
  const EvalReport r = ev.evaluate(page);
  REQUIRE(r.failed.empty());
  REQUIRE(r.computed.size() == 4);
  CHECK(r.computed.back().str() == "fq");
  CHECK(ev.result("fq.result_output")->toVector() == std::vector<float>{0, 0, 5, 5});
  CHECK(ev.state(BlockId("fq"))->status == BlockStatus::Ok);
}

TEST_CASE("evaluator: an attribute edit re-runs that block and its downstream only",
          "[evaluator]") {
  Page page = branchyPage();
  Evaluator ev(builtinRegistry());
  REQUIRE(ev.evaluate(page).computed.size() == 7);
  const Tensor fq3Before = *ev.result("fq3.result_output");
  // 8 bits over [0, 5]: steps of 5/255; 2 * 255/5 = 102 exactly, so 2 stays 2.
  CHECK(ev.result("fq1.result_output")->toVector() == std::vector<float>{0, 0, 2, 5});

  // Nothing changed: nothing runs.
  EvalReport again = ev.evaluate(page);
  CHECK(again.computed.empty());
  CHECK(again.reused.size() == 7);

  page.setAttr(BlockId("fq1"), "num_bits", 3);
  EvalReport r = ev.evaluate(page);
  CHECK(names(r.computed) == std::set<std::string>{"fq1", "fq2"});
  CHECK(names(r.reused) == std::set<std::string>{"x", "y", "lo", "hi", "fq3"});
  // Order still holds: fq1 before fq2.
  CHECK(r.computed.front().str() == "fq1");
  // The untouched branch keeps the very same tensor (no recompute, no copy).
  CHECK(ev.result("fq3.result_output")->sharesStorageWith(fq3Before));
  // The new num_bits is used: 3 bits over [0, 5] gives steps of 5/7; 2 * 7/5 = 2.8 rounds to
  // level 3, so 2 becomes 15/7 = 2.142857 (it stayed 2 at 8 bits).
  const std::vector<float> threeBits = ev.result("fq1.result_output")->toVector();
  CHECK(threeBits[2] == Approx(15.0 / 7.0));
  CHECK(threeBits[3] == 5.0f);

  // A source edit re-runs the source and everything below it.
  page.setAttr(BlockId("lo"), "values", Json::array({-1, -1, -1, -1}));
  CHECK(names(ev.evaluate(page).computed) == std::set<std::string>{"lo", "fq1", "fq2", "fq3"});

  // Moving a block is layout only.
  page.setPosition(BlockId("fq2"), std::array<double, 2>{10, 20});
  CHECK(ev.evaluate(page).computed.empty());

  // Rewiring re-runs the block whose input changed.
  page.removeLink({{BlockId("x"), PortName("output")}, {BlockId("fq1"), PortName("inputs")}});
  link(page, "y", "fq1", "inputs");
  CHECK(names(ev.evaluate(page).computed) == std::set<std::string>{"fq1", "fq2"});

  // A feed re-runs the fed block and its downstream.
  ev.setFeed(BlockId("y"), Tensor::fromValues({4}, {4, 3, 2, 1}));
  CHECK(names(ev.evaluate(page).computed) == std::set<std::string>{"y", "fq1", "fq2", "fq3"});
}

TEST_CASE("evaluator: a failing block leaves the rest usable, and recovers when fixed",
          "[evaluator]") {
  Page page = branchyPage();
  page.setAttr(BlockId("fq1"), "num_bits", 17);
  Evaluator ev(builtinRegistry());
  EvalReport r = ev.evaluate(page);
  CHECK(names(r.failed) == std::set<std::string>{"fq1", "fq2"});
  CHECK(ev.state(BlockId("fq1"))->error == "num_bits must be between 2 and 16, inclusive");
  CHECK(ev.state(BlockId("fq2"))->error == "input 'inputs' comes from block 'fq1', which failed");
  CHECK(ev.state(BlockId("fq3"))->status == BlockStatus::Ok);
  CHECK_FALSE(ev.result("fq1.result_output").has_value());

  page.setAttr(BlockId("fq1"), "num_bits", 8);
  r = ev.evaluate(page);
  CHECK(r.failed.empty());
  CHECK(names(r.computed) == std::set<std::string>{"fq1", "fq2"});
  CHECK(ev.result("fq2.result_output").has_value());
}

TEST_CASE("evaluator: check() validates shapes without computing", "[evaluator]") {
  Page page = branchyPage();
  page.addBlock(constBlock("short", {1, 2, 3}));
  addFq(page, "bad", "short");  // 3 channels against 4-long min and max
  page.addBlock(makeBlock("huge", "Const",
                          Json{{"shape", {100000, 100000, 100000}}, {"values", Json::array()}}));
  Evaluator ev(builtinRegistry());
  const std::vector<BlockId> failed = ev.check(page);
  CHECK(names(failed) == std::set<std::string>{"bad", "huge"});
  CHECK(ev.state(BlockId("bad"))->error == "min has incorrect size, expected 3 was 4");
  CHECK(ev.state(BlockId("huge"))->error.find("needs 4.0 PB") != std::string::npos);
  // Blocks that pass are stale with known output shapes and no tensors.
  const BlockState* fq2 = ev.state(BlockId("fq2"));
  CHECK(fq2->status == BlockStatus::Stale);
  CHECK(fq2->outputShapes.at("output") == Shape{4});
  CHECK(fq2->outputs.empty());
  CHECK_FALSE(ev.result("x.result_output").has_value());

  // After a real run, check() keeps the computed results.
  ev.evaluate(page);
  ev.check(page);
  CHECK(ev.state(BlockId("fq2"))->status == BlockStatus::Ok);
  CHECK(ev.result("fq2.result_output").has_value());
}

TEST_CASE("evaluator: fetch runs only what the results need and can release the rest",
          "[evaluator]") {
  Page page = branchyPage();
  Evaluator ev(builtinRegistry());
  EvalOptions opt;
  opt.fetch = {"fq2.result_output"};
  opt.releaseIntermediates = true;
  const EvalReport r = ev.evaluate(page, opt);
  CHECK(names(r.computed) == std::set<std::string>{"x", "lo", "hi", "fq1", "fq2"});
  CHECK(ev.result("fq2.result_output").has_value());
  CHECK(ev.state(BlockId("fq1"))->released);
  CHECK_FALSE(ev.result("fq1.result_output").has_value());
  CHECK(ev.state(BlockId("y")) == nullptr);

  EvalOptions bad;
  bad.fetch = {"fq2.output"};
  CHECK_THROWS_WITH(ev.evaluate(page, bad), Catch::Contains("is not a result name"));
  bad.fetch = {"nope.result_output"};
  CHECK_THROWS_WITH(ev.evaluate(page, bad), Catch::Contains("no block 'nope'"));
}

TEST_CASE("evaluator: wiring errors name the port", "[evaluator]") {
  Page page = branchyPage();
  link(page, "x", "fq3", "inputs");  // fq3.inputs already wired from y: wired twice
  page.addBlock(makeBlock("s", kFq));
  page.addLink({{BlockId("x"), PortName("output")}, {BlockId("s"), PortName("scope")}});
  Evaluator ev(builtinRegistry());
  ev.evaluate(page);
  CHECK(ev.state(BlockId("fq3"))->error.find("is given twice") == std::string::npos);
  CHECK(ev.state(BlockId("fq3"))->error.find("input 'inputs' is wired twice") != std::string::npos);
  CHECK(ev.state(BlockId("s"))->error.find("scope pin") != std::string::npos);
}

TEST_CASE("evaluator: cycles are reported with a real path, and blocks below them fail",
          "[evaluator]") {
  Page page = branchyPage();
  // b <- a <- c <- b, in page order a, b, c.
  addFq(page, "a", "x");
  addFq(page, "b", "x");
  page.removeLink({{BlockId("x"), PortName("output")}, {BlockId("a"), PortName("inputs")}});
  page.removeLink({{BlockId("x"), PortName("output")}, {BlockId("b"), PortName("inputs")}});
  addFq(page, "c", "b");
  link(page, "c", "a", "inputs");
  link(page, "a", "b", "inputs");
  addFq(page, "below", "c");
  Evaluator ev(builtinRegistry());
  const EvalReport r = ev.evaluate(page);
  CHECK(names(r.failed) == std::set<std::string>{"a", "b", "c", "below"});
  CHECK(ev.state(BlockId("a"))->error == "is part of a cycle: a -> b -> c -> a");
  CHECK(ev.state(BlockId("below"))->error == "input 'inputs' comes from block 'c', which failed");
  CHECK(ev.state(BlockId("fq3"))->status == BlockStatus::Ok);
}

TEST_CASE("evaluator: deep and huge pages run without stack overflow", "[evaluator][limits]") {
  constexpr int kDepth = 100000;
  Page page;
  page.addBlock(constBlock("lo", {0}));
  page.addBlock(constBlock("hi", {1}));
  page.addBlock(constBlock("b0", {0.3f}));
  for (int i = 1; i < kDepth; ++i)
    addFq(page, "b" + std::to_string(i), "b" + std::to_string(i - 1));
  Evaluator ev(builtinRegistry());
  const auto t0 = std::chrono::steady_clock::now();
  EvalOptions opt;
  opt.threads = 1;
  const EvalReport r = ev.evaluate(page, opt);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("chain of " << kDepth << " blocks evaluated in " << seconds << " s");
  CHECK(r.failed.empty());
  CHECK(r.computed.size() == static_cast<size_t>(kDepth) + 2);
  // 0.3 at 8 bits in [0, 1] is 77/255, and stays there down the chain.
  CHECK(ev.result("b99999.result_output")->toVector()[0] ==
        ev.result("b1.result_output")->toVector()[0]);

  // An edit at the top re-runs the whole chain; at the bottom, one block.
  page.setAttr(BlockId("b99999"), "num_bits", 4);
  CHECK(ev.evaluate(page, opt).computed.size() == 1);

  // Close a cycle over the whole chain: found without recursion, and the error names its length.
  page.removeLink({{BlockId("b0"), PortName("output")}, {BlockId("b1"), PortName("inputs")}});
  link(page, "b99999", "b1", "inputs");
  const EvalReport cyc = ev.evaluate(page, opt);
  CHECK(cyc.failed.size() == static_cast<size_t>(kDepth) - 1);
  CHECK(ev.state(BlockId("b500"))->error.find("(99999 blocks)") != std::string::npos);
}

TEST_CASE("evaluator: a long chain below a cycle listed in reverse order is ordered quickly",
          "[evaluator][limits]") {
  constexpr int kDepth = 50000;
  Page page;
  page.addBlock(constBlock("lo", {0}));
  page.addBlock(constBlock("hi", {1}));
  // Page order: the bottom of the chain first.
  for (int i = kDepth - 1; i >= 0; --i) page.addBlock(makeBlock("c" + std::to_string(i), kFq));
  page.addBlock(makeBlock("loop", kFq));
  link(page, "loop", "loop", "inputs");
  for (int i = 0; i < kDepth; ++i) {
    link(page, i == 0 ? "loop" : "c" + std::to_string(i - 1), "c" + std::to_string(i), "inputs");
    link(page, "lo", "c" + std::to_string(i), "min");
    link(page, "hi", "c" + std::to_string(i), "max");
  }
  Evaluator ev(builtinRegistry());
  const auto t0 = std::chrono::steady_clock::now();
  const EvalReport r = ev.evaluate(page);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.failed.size() == static_cast<size_t>(kDepth) + 1);
  CHECK(ev.state(BlockId("loop"))->error == "is part of a cycle: loop -> loop");
  CHECK(ev.state(BlockId("c49999"))->error ==
        "input 'inputs' comes from block 'c49998', which failed");
  // Quadratic ordering took minutes here; linear takes well under a second.
  CHECK(seconds < 20);
}

TEST_CASE("evaluator: results of deleted blocks are dropped", "[evaluator]") {
  Page page = branchyPage();
  Evaluator ev(builtinRegistry());
  ev.evaluate(page);
  REQUIRE(ev.state(BlockId("fq3")) != nullptr);
  page.removeBlock(BlockId("fq3"));
  ev.evaluate(page);
  CHECK(ev.state(BlockId("fq3")) == nullptr);
  // Re-added under the same id: computed afresh, not taken from the old block.
  page.addBlock(makeBlock("fq3", kFq, Json{{"num_bits", 2}}));
  link(page, "y", "fq3", "inputs");
  link(page, "lo", "fq3", "min");
  link(page, "hi", "fq3", "max");
  CHECK(names(ev.evaluate(page).computed) == std::set<std::string>{"fq3"});
}

}  // namespace test_evaluator
