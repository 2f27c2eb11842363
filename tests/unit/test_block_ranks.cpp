// Every block wired with tensors of every rank from 0 to 5, and with empty ones: each block ends
// with a result or an error of its own, never an out-of-bounds read (the sanitizer build runs this
// too) or a loop over the dimensions of an empty tensor. A block's check() runs before the rank
// rules of its ports, so each check must look at a shape's rank before reading its dimensions.
#include <catch2/catch.hpp>
#include <chrono>
#include <set>

#include "../page_building.h"
#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"
#include "runtime/Tensor.h"

namespace test_block_ranks {

using namespace qs;
using qs::testing::addBlock;
using qs::testing::link;

namespace {

// One block of each type, each of its tensor inputs (optional ones too) wired from one Const.
Page everyBlockFedBy(const Shape& shape) {
  Page page;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  Json values = Json::array();
  for (int64_t i = 0; i < n; ++i) values.push_back(static_cast<double>(i % 5) - 2.0);
  addBlock(page, "x", "Const", Json{{"shape", shape}, {"values", values}});
  for (const BlockDescriptor* d : builtinRegistry().all()) {
    const std::string id = "b_" + d->type;
    addBlock(page, id, d->type, Json::object());
    for (const PortDescriptor& p : d->ports)
      if (p.direction == PortDirection::Input && p.kind == PortKind::Tensor)
        link(page, "x", "output", id, p.name);
  }
  return page;
}

}  // namespace

TEST_CASE("Every block fed tensors of any rank, or empty ones, gives a result or its own error",
          "[evaluator][robustness]") {
  // Empty tensors with the largest dimensions beside the 0 that the size limit lets through: a
  // loop over their rows of nothing would take seconds, a product of their dimensions must fit.
  const auto big = static_cast<int64_t>(maxTensorBytes() / sizeof(float) / 2);
  const std::vector<Shape> shapes = {
      {},  {3},       {2, 3},   {2, 2, 3}, {1, 2, 2, 3}, {1, 1, 2, 2, 3},
      {0}, {2, 0, 3}, {big, 0}, {0, big},  {2, big, 0}};
  for (const Shape& shape : shapes) {
    const Page page = everyBlockFedBy(shape);
    INFO("input shape " << shapeToString(shape));
    Evaluator ev(builtinRegistry());
    const auto t0 = std::chrono::steady_clock::now();
    const EvalReport r = ev.evaluate(page);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(r.computed.size() + r.failed.size() == page.blockCount());
    for (const BlockDescriptor* d : builtinRegistry().all()) {
      const BlockState* st = ev.state(BlockId("b_" + d->type));
      REQUIRE(st != nullptr);
      INFO(d->type << ": " << st->error);
      CHECK((st->status == BlockStatus::Ok) != !st->error.empty());
      CHECK(st->error.find("internal error") == std::string::npos);
    }
    // Tens of milliseconds optimised, a few seconds under the sanitizers; a block that walked the
    // hundred million rows of nothing would take far longer.
    CHECK(seconds < 30);
    // The editor's shape-only check runs the same check() functions, on shapes alone: what it
    // refuses, the evaluation refused too.
    Evaluator checker(builtinRegistry());
    const std::set<BlockId> failed(r.failed.begin(), r.failed.end());
    for (const BlockId& id : checker.check(page)) {
      INFO(id.str() << " refused by the check: " << checker.state(id)->error);
      CHECK(failed.count(id) == 1);
    }
  }
}

}  // namespace test_block_ranks
