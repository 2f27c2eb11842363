#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/BlockRegistry.h"
#include "runtime/Page.h"

namespace qs {

// A result name "B.result_P" split into block and output port.
struct ResultRef {
  BlockId block;
  std::string port;
  std::string name() const { return block.str() + "." + resultName(port); }
};
// Parses "B.result_P"; nullopt if it does not have that form.
std::optional<ResultRef> parseResultName(std::string_view name);

// What one evaluation of a page runs, decided from the page's structure alone (no values, no
// attributes): which blocks the fetched results need, in which order, which blocks sit on a cycle,
// and after which block each intermediate result is no longer needed. Blocks are indices into
// page.blocks().
//
// `order` is also the order in which a step applies its updates, after every block has computed
// from the step's starting values.
struct EvalPlan {
  // Per block: the block runs in this evaluation (all blocks when nothing was fetched).
  std::vector<char> needed;
  // Per block: one of its results was fetched, so its outputs are kept.
  std::vector<char> fetched;
  // The needed blocks, each after every block it takes an input from: sources in page order, each
  // block as soon as its inputs are ordered (depth first). Then the blocks on a cycle (page
  // order), then the blocks below a cycle in their own dependency order (they fail on their failed
  // input).
  std::vector<int> order;
  // Per block, for blocks on a cycle: "is part of a cycle: a -> b -> a". Empty when the needed
  // blocks have no cycle (most pages), so use cycleError(b).
  std::vector<std::string> cycleErrors;
  // releasedAfter(k): the blocks whose outputs no needed block reads once order[k] has had its
  // turn, however that turn ended. Fetched blocks and blocks nobody reads are never listed. Only
  // planned when asked for (it costs a look-up per link); otherwise nothing is ever listed.
  std::vector<int> releaseList;
  std::vector<int> releaseStart;  // order.size() + 1 offsets into releaseList

  const std::string* cycleError(int block) const {
    return cycleErrors.empty() || cycleErrors[block].empty() ? nullptr : &cycleErrors[block];
  }
  std::span<const int> releasedAfter(size_t k) const {
    if (releaseStart.empty()) return {};
    return {releaseList.data() + releaseStart[k], releaseList.data() + releaseStart[k + 1]};
  }
};

// Plans the evaluation of `fetch` ("B.result_P" names; empty = every block), with release points
// if `releases` (none when a needed block reads everything above it, as Gradients does). A `step`
// also runs every block that updates state. Throws qs::Error for a malformed name, a block not on
// the page, or a result the block's type does not have.
EvalPlan planEvaluation(const Page& page, const BlockRegistry& registry,
                        const std::vector<std::string>& fetch, bool releases = true,
                        bool step = false);

}  // namespace qs
