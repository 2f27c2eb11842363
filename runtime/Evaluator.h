#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/BlockDescriptor.h"
#include "runtime/BlockRegistry.h"
#include "runtime/EvalPlan.h"
#include "runtime/Page.h"
#include "runtime/Tensor.h"
#include "runtime/ThreadPool.h"

namespace qs {

enum class BlockStatus { Stale, Running, Ok, Error };
std::string statusName(BlockStatus s);  // "stale", "running", "ok", "error"

struct BlockState {
  BlockStatus status = BlockStatus::Stale;
  std::string error;  // the message, without the block's name (see errorLine())
  std::string type;
  std::map<std::string, Shape> outputShapes;  // by output port, known once check() passed
  std::map<std::string, DType> outputDTypes;  // the outputs that are not float32
  DType outputDType(const std::string& port) const {
    auto it = outputDTypes.find(port);
    return it == outputDTypes.end() ? DType::Float32 : it->second;
  }
  std::map<std::string, Tensor> outputs;  // by output port, once computed
  bool released = false;  // outputs freed because nothing later needed them (runner)
  double milliseconds = 0;

  // Cache key of the computation these outputs came from.
  uint64_t revision = 0;
  std::vector<uint64_t> inputStamps;
  uint64_t feedStamp = 0;
  uint64_t heldStamp = 0;  // of the values the block held when it ran (steps)
  int64_t step = 0;        // the step it computed, for blocks that read it (readsStep)
  uint64_t stamp = 0;      // identifies these outputs; changes on every recompute
};

// "error: block 'fq' (FakeQuantWithMinMaxVarsPerChannel): <message>"
std::string errorLine(const BlockId& id, const std::string& type, const std::string& message);

struct EvalOptions {
  // Results wanted ("B.result_P"); empty means every block. Unknown names throw qs::Error.
  std::vector<std::string> fetch;
  // Free each block's outputs as soon as no later block needs them and they were not fetched.
  bool releaseIntermediates = false;
  // Worker threads one op may use; 0 = the page scope's thread count (Page::scope), and if that is
  // absent or 0, the number of cores. The runner's --threads sets this.
  int threads = 0;
  const std::atomic<bool>* cancel = nullptr;
  std::filesystem::path pageDir;
  // Called on the evaluating thread as each block starts and ends.
  std::function<void(const BlockId&, const BlockState&)> onBlockStarted;
  std::function<void(const BlockId&, const BlockState&)> onBlockFinished;
  // One step of a page that learns: every block computes from the Variables' values at the start
  // of the step, then every update is applied (in the order of the plan). The blocks that update
  // state run even when nothing fetched them. Nothing is applied when a block failed or the run was
  // cancelled. Without Variables a step is a plain evaluation.
  bool step = false;
};

struct EvalReport {
  std::vector<BlockId> computed;  // blocks whose kernel ran, in order
  std::vector<BlockId> reused;    // blocks whose cached results were still valid
  std::vector<BlockId> failed;    // blocks in error (their own or an upstream one)
  bool cancelled = false;
  bool applied = false;  // a step's updates were applied
};

// Runs a page's blocks in dependency order and keeps each block's status and results. Between
// runs it keeps a cache: a block is recomputed only when its type, attributes, inputs or feed
// changed since it last ran, so after an edit only the edited block and what depends on it run.
// The page is passed to each call (the editor evaluates snapshots on a worker thread); one
// Evaluator must not be used from two threads at once.
// A run has three parts: the plan (EvalPlan.h: needed blocks, order, cycles, release points), the
// wiring checks of each block (EvalWiring.h), and here each block's execute-or-reuse.
class Evaluator {
 public:
  explicit Evaluator(const BlockRegistry& registry);
  ~Evaluator();

  EvalReport evaluate(const Page& page, const EvalOptions& options = {});

  // Checks every block (types, wiring, attributes, shapes) without computing anything, so that an
  // editor can show errors as soon as an edit is made. Returns the blocks found in error; their
  // states say why. Computed results of blocks that are still valid are kept.
  std::vector<BlockId> check(const Page& page, const std::filesystem::path& pageDir = {});

  const BlockState* state(const BlockId& id) const;
  // The tensor of a result, if computed. Throws qs::Error for a malformed name.
  std::optional<Tensor> result(std::string_view resultName) const;

  // Replaces the value of a feedable block (Const, Placeholder) from outside.
  void setFeed(const BlockId& id, Tensor value);
  // The value meant for a block could not be had (a missing --feed file): the block fails with
  // `message` instead of using its own value.
  void setFeedError(const BlockId& id, std::string message);
  void clearFeed(const BlockId& id);

  // Drops every cached result (not the held state).
  void clear();

  // ---- Pages that learn ----
  // Steps applied since the last reset (or the count loaded with loadState).
  int64_t stepCount() const { return steps_; }
  // Returns every Variable and held slot to its initial value, read again at the next run.
  void resetState();
  // Every held value: a Variable's as "<block id>", a block's own slot as "<block id>.<slot>".
  std::map<std::string, Tensor> stateTensors() const;
  // The names stateTensors() has once `page` has taken a step, with their shapes (from a check of
  // the page). Throws qs::Error when a stateful block has an error that hides a shape.
  std::map<std::string, Shape> stateLayout(const Page& page,
                                           const std::filesystem::path& pageDir = {});
  // Replaces the held values (a saved state): each name of stateLayout(page) must be present with
  // its shape, and no other; otherwise qs::Error naming the member, and nothing changes. With
  // `allowMissing`, names of the layout that `values` lacks start from their initial values (a
  // state saved by a page with fewer Variables), but every name given must still be the page's.
  void loadState(const Page& page, const std::map<std::string, Tensor>& values, int64_t steps,
                 const std::filesystem::path& pageDir = {}, bool allowMissing = false);

  const BlockRegistry& registry() const { return registry_; }

 private:
  struct Feed {
    Tensor value;
    uint64_t stamp;
    std::string error;
  };
  enum class Mode { Check, Compute };
  // A block's attributes as resolved for one revision of it (error: why they did not resolve).
  struct ResolvedAttrs {
    uint64_t revision = 0;
    AttrValues values;
    std::string error;
  };
  // A descriptor's tensor inputs and outputs, computed once (the registry is read-only).
  struct PortLists {
    std::vector<const PortDescriptor*> inputs;
    std::vector<const PortDescriptor*> outputs;
  };
  const PortLists& portsOf(const BlockDescriptor& desc);
  class Pass;  // one run: planning, then each block's wiring check and execute-or-reuse
  // The plan, descriptors and wiring of a page, kept while its structure and the options that
  // shape the plan stay the same (a training loop evaluates one page thousands of times).
  struct Prepared;
  Prepared& prepare(const Page& page, const EvalOptions& options);
  std::unique_ptr<Prepared> prepared_;
  uint64_t sweptStructure_ = 0;  // the page structure the caches were last swept for
  EvalReport run(const Page& page, const EvalOptions& options, Mode mode);
  ThreadPool* poolFor(int threads);

  const BlockRegistry& registry_;
  std::unordered_map<BlockId, BlockState> states_;
  std::unordered_map<BlockId, Feed> feeds_;
  // Not results: kept by clear(), dropped with the block.
  std::unordered_map<BlockId, ResolvedAttrs> attrCache_;
  std::unordered_map<const BlockDescriptor*, PortLists> portCache_;
  std::unique_ptr<ThreadPool> pool_;
  uint64_t nextStamp_ = 1;

  // What a stateful block holds between steps, by slot ("" for a Variable's value).
  struct Held {
    std::map<std::string, Tensor> values;
    uint64_t stamp = 0;  // changes whenever a slot does; part of the block's cache key
  };
  std::unordered_map<BlockId, Held> held_;
  int64_t steps_ = 0;
  void dropStaleHeld(const Page& page);
};

}  // namespace qs
