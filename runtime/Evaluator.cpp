#include "runtime/Evaluator.h"

#include <chrono>
#include <new>

#include "runtime/AttrJson.h"
#include "runtime/Error.h"
#include "runtime/EvalContext.h"
#include "runtime/EvalWiring.h"

namespace qs {

std::string statusName(BlockStatus s) {
  switch (s) {
    case BlockStatus::Stale:
      return "stale";
    case BlockStatus::Running:
      return "running";
    case BlockStatus::Ok:
      return "ok";
    case BlockStatus::Error:
      return "error";
  }
  return "?";
}

std::string errorLine(const BlockId& id, const std::string& type, const std::string& message) {
  return "error: block '" + id.str() + "' (" + type + "): " + message;
}

Evaluator::Evaluator(const BlockRegistry& registry) : registry_(registry) {}
Evaluator::~Evaluator() = default;

const Evaluator::PortLists& Evaluator::portsOf(const BlockDescriptor& desc) {
  auto [it, fresh] = portCache_.try_emplace(&desc);
  if (fresh) it->second = PortLists{desc.inputs(), desc.outputs()};
  return it->second;
}

ThreadPool* Evaluator::poolFor(int threads) {
  if (threads <= 0) threads = ThreadPool::hardwareThreads();
  if (!pool_ || pool_->size() != threads) pool_ = std::make_unique<ThreadPool>(threads);
  return pool_.get();
}

const BlockState* Evaluator::state(const BlockId& id) const {
  auto it = states_.find(id);
  return it == states_.end() ? nullptr : &it->second;
}

std::optional<Tensor> Evaluator::result(std::string_view name) const {
  auto ref = parseResultName(name);
  if (!ref)
    throw Error("'" + std::string(name) + "' is not a result name (expected BLOCK.result_PORT)");
  const BlockState* s = state(ref->block);
  if (!s || s->status != BlockStatus::Ok) return std::nullopt;
  auto it = s->outputs.find(ref->port);
  if (it == s->outputs.end()) return std::nullopt;
  return it->second;
}

void Evaluator::setFeed(const BlockId& id, Tensor value) {
  feeds_[id] = Feed{std::move(value), nextStamp_++, {}};
}

void Evaluator::setFeedError(const BlockId& id, std::string message) {
  feeds_[id] = Feed{Tensor(), nextStamp_++, std::move(message)};
}

void Evaluator::clearFeed(const BlockId& id) {
  feeds_.erase(id);
}

void Evaluator::clear() {
  states_.clear();
}

namespace {

// Runs a block's check() and compute() and verifies that every output came with the shape check()
// promised. Returns the error message, empty on success.
std::string runKernel(const BlockDescriptor& desc, const std::vector<const PortDescriptor*>& inputs,
                      const std::vector<const PortDescriptor*>& outputs, EvalContext& ctx) {
  try {
    desc.check(ctx);
    checkRanks(inputs, ctx);
    // compute() reads the checked shapes (Const, random blocks), so this is a copy.
    const std::map<std::string, Shape> checked = ctx.outputShapes();
    ctx.beginCompute();
    desc.compute(ctx);
    for (const PortDescriptor* out : outputs) {
      auto it = ctx.mutableOutputs().find(out->name);
      if (it == ctx.mutableOutputs().end())
        throw Error("internal error: the kernel did not produce output '" + out->name + "'");
      auto c = checked.find(out->name);
      if (c != checked.end() && c->second != it->second.shape())
        throw Error("internal error: output '" + out->name + "' has shape " +
                    shapeToString(it->second.shape()) + " but check() said " +
                    shapeToString(c->second));
    }
  } catch (const Error& e) {
    return e.what();
  } catch (const std::bad_alloc&) {
    return "out of memory";
  } catch (const std::exception& e) {
    return std::string("internal error: ") + e.what();
  }
  return {};
}

// Moves a computed block's outputs and their shapes into its state.
void takeOutputs(EvalContext& ctx, BlockState& st) {
  st.outputs = std::move(ctx.mutableOutputs());
  // The context's shapes are the outputs' own when every shape was set with its tensor (the usual
  // case): take them rather than building the map again.
  std::map<std::string, Shape>& shapes = ctx.mutableOutputShapes();
  bool same = shapes.size() == st.outputs.size();
  auto t = st.outputs.begin();
  for (auto s = shapes.begin(); same && s != shapes.end(); ++s, ++t)
    same = s->first == t->first && s->second == t->second.shape();
  if (same) {
    st.outputShapes = std::move(shapes);
  } else {
    st.outputShapes.clear();
    for (const auto& [p, t] : st.outputs) st.outputShapes[p] = t.shape();
  }
}

}  // namespace

// One evaluation (or check) of a page: follows the plan, giving each block its turn, in which it
// either fails (cycle, type, attributes, wiring, its own check), keeps its cached results, or runs.
class Evaluator::Pass {
 public:
  Pass(Evaluator& ev, const Page& page, const EvalOptions& options, Mode mode)
      : ev_(ev),
        page_(page),
        options_(options),
        mode_(mode),
        plan_(planEvaluation(page, ev.registry_, options.fetch, options.releaseIntermediates)),
        descs_(page.blockCount()),
        states_(page.blockCount(), nullptr) {
    for (size_t b = 0; b < descs_.size(); ++b) descs_[b] = ev.registry_.find(page.blocks()[b].type);
  }

  EvalReport run() {
    for (size_t k = 0; k < plan_.order.size(); ++k) {
      const bool goOn = turn(plan_.order[k]);
      for (int a : plan_.releasedAfter(k)) {
        BlockState& as = stateOf(a);
        as.outputs.clear();
        as.released = true;
      }
      if (!goOn) break;
    }
    return std::move(report_);
  }

 private:
  // Each block's state, fetched once (created when the block's turn comes; unordered_map nodes do
  // not move, so the pointers stay valid while blocks are added).
  BlockState& stateOf(int b) {
    if (!states_[b]) states_[b] = &ev_.states_[page_.blocks()[b].id];
    return *states_[b];
  }

  void fail(int b, const std::string& message) {
    BlockState& st = stateOf(b);
    st.status = BlockStatus::Error;
    st.error = message;
    st.outputs.clear();
    st.outputShapes.clear();
    st.stamp = ev_.nextStamp_++;
    report_.failed.push_back(page_.blocks()[b].id);
    if (options_.onBlockFinished) options_.onBlockFinished(page_.blocks()[b].id, st);
  }

  // Block b's turn. False when the evaluation was cancelled.
  bool turn(int b) {
    const Block& block = page_.blocks()[b];
    if (options_.cancel && options_.cancel->load()) {
      report_.cancelled = true;
      return false;
    }
    stateOf(b).type = block.type;
    if (const std::string* cycle = plan_.cycleError(b)) {
      fail(b, *cycle);
      return true;
    }
    const BlockDescriptor* desc = descs_[b];
    if (!desc) {
      fail(b, "unknown block type '" + block.type + "'");
      return true;
    }
    const ResolvedAttrs& attrs = resolvedAttrs(block, *desc);
    if (!attrs.error.empty()) {
      fail(b, attrs.error);
      return true;
    }
    const PortLists& ports = ev_.portsOf(*desc);
    checkWiring(page_, b, *desc, ports.inputs, descs_, wiring_);
    // The links accepted before the first wiring problem, in the page's order: a failed input
    // among them is named first.
    for (const WiredInput& w : wiring_.inputs) {
      const BlockState& us = stateOf(w.from);
      const bool usable =
          us.status == BlockStatus::Ok || (mode_ == Mode::Check && us.status == BlockStatus::Stale);
      if (!usable || !us.outputShapes.count(w.link->from.port.str())) {
        fail(b, "input '" + *w.port + "' comes from block '" + w.link->from.block.str() +
                    "', which " + (us.status == BlockStatus::Error ? "failed" : "has no result"));
        return true;
      }
    }
    if (!wiring_.error.empty()) {
      fail(b, wiring_.error);
      return true;
    }
    return executeOrReuse(b, *desc, attrs.values, ports);
  }

  // Attributes are resolved again only when the block changed (its revision is unique across the
  // process and changes with its type and attributes).
  const ResolvedAttrs& resolvedAttrs(const Block& block, const BlockDescriptor& desc) {
    auto [ac, fresh] = ev_.attrCache_.try_emplace(block.id);
    ResolvedAttrs& resolved = ac->second;
    if (fresh || resolved.revision != block.revision) {
      resolved.revision = block.revision;
      resolved.error.clear();
      try {
        resolved.values = resolveAttrs(desc, block.attrs);
      } catch (const std::exception& e) {
        resolved.values = AttrValues();
        resolved.error = e.what();
        if (resolved.error.empty()) resolved.error = "invalid attributes";
      }
    }
    return resolved;
  }

  // The cache: same revision, same inputs, same feed -> the results still hold. Otherwise the
  // block is checked (Mode::Check) or run. False when the evaluation was cancelled.
  bool executeOrReuse(int b, const BlockDescriptor& desc, const AttrValues& attrs,
                      const PortLists& ports) {
    const Block& block = page_.blocks()[b];
    BlockState& st = stateOf(b);
    std::vector<uint64_t> inputStamps;
    inputStamps.reserve(ports.inputs.size());
    for (const PortDescriptor* in : ports.inputs) {
      const WiredInput* w = wiring_.find(in->name);
      inputStamps.push_back(w ? stateOf(w->from).stamp : 0);
    }
    const Tensor* feed = nullptr;
    uint64_t feedStamp = 0;
    if (auto f = ev_.feeds_.find(block.id); f != ev_.feeds_.end()) {
      if (!desc.feedable) {
        fail(b, "cannot be fed: only Const and Placeholder blocks take a fed value");
        return true;
      }
      if (!f->second.error.empty()) {
        fail(b, f->second.error);
        return true;
      }
      feed = &f->second.value;
      feedStamp = f->second.stamp;
    }
    bool upstreamOk = true;
    for (const WiredInput& w : wiring_.inputs)
      upstreamOk &= stateOf(w.from).status == BlockStatus::Ok;
    if (st.status == BlockStatus::Ok && !st.released && st.revision == block.revision &&
        st.inputStamps == inputStamps && st.feedStamp == feedStamp && upstreamOk) {
      report_.reused.push_back(block.id);
      return true;
    }
    EvalContext ctx(desc, block.id.str(), attrs);
    ctx.setFeed(feed);
    ctx.setPageDir(options_.pageDir);
    if (mode_ == Mode::Check) {
      checkShapes(b, ctx, ports);
      return true;
    }
    return compute(b, ctx, ports, std::move(inputStamps), feedStamp);
  }

  // Mode::Check: the block's check() on its inputs' shapes; passing leaves it stale with known
  // output shapes.
  void checkShapes(int b, EvalContext& ctx, const PortLists& ports) {
    for (const WiredInput& w : wiring_.inputs)
      ctx.setInputShape(*w.port, stateOf(w.from).outputShapes.at(w.link->from.port.str()));
    std::string error;
    try {
      ctx.descriptor().check(ctx);
      checkRanks(ports.inputs, ctx);
    } catch (const Error& e) {
      error = e.what();
    } catch (const std::exception& e) {
      error = std::string("internal error: ") + e.what();
    }
    if (!error.empty()) return fail(b, error);
    BlockState& st = stateOf(b);
    st.status = BlockStatus::Stale;
    st.error.clear();
    st.outputs.clear();
    st.outputShapes = std::move(ctx.mutableOutputShapes());
  }

  // Runs the block and stores its outputs with their cache key. False when cancelled (the block is
  // left stale), true when it ran or failed.
  bool compute(int b, EvalContext& ctx, const PortLists& ports, std::vector<uint64_t> inputStamps,
               uint64_t feedStamp) {
    const BlockId& id = page_.blocks()[b].id;
    BlockState& st = stateOf(b);
    if (options_.onBlockStarted) {
      st.status = BlockStatus::Running;
      options_.onBlockStarted(id, st);
    }
    for (const WiredInput& w : wiring_.inputs)
      ctx.setInput(*w.port, stateOf(w.from).outputs.at(w.link->from.port.str()));
    if (!pool_)
      pool_ = ev_.poolFor(options_.threads > 0 ? options_.threads
                          : page_.scope        ? page_.scope->threads
                                               : 0);
    ctx.setThreads(pool_->size(), pool_);
    ctx.setCancelFlag(options_.cancel);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string error = runKernel(ctx.descriptor(), ports.inputs, ports.outputs, ctx);
    if (options_.cancel && options_.cancel->load() && !error.empty()) {
      report_.cancelled = true;
      st.status = BlockStatus::Stale;
      return false;
    }
    if (!error.empty()) {
      fail(b, error);
      return true;
    }
    st.milliseconds =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    st.status = BlockStatus::Ok;
    st.error.clear();
    takeOutputs(ctx, st);
    st.released = false;
    st.revision = page_.blocks()[b].revision;
    st.inputStamps = std::move(inputStamps);
    st.feedStamp = feedStamp;
    st.stamp = ev_.nextStamp_++;
    report_.computed.push_back(id);
    if (options_.onBlockFinished) options_.onBlockFinished(id, st);
    return true;
  }

  Evaluator& ev_;
  const Page& page_;
  const EvalOptions& options_;
  const Mode mode_;
  const EvalPlan plan_;
  std::vector<const BlockDescriptor*> descs_;  // by block index, looked up once (nullptr: unknown)
  std::vector<BlockState*> states_;
  Wiring wiring_;  // the current block's; one buffer for the pass
  ThreadPool* pool_ = nullptr;
  EvalReport report_;
};

EvalReport Evaluator::evaluate(const Page& page, const EvalOptions& options) {
  return run(page, options, Mode::Compute);
}

std::vector<BlockId> Evaluator::check(const Page& page, const std::filesystem::path& pageDir) {
  EvalOptions options;
  options.pageDir = pageDir;
  return run(page, options, Mode::Check).failed;
}

EvalReport Evaluator::run(const Page& page, const EvalOptions& options, Mode mode) {
  // Results of blocks deleted from the page would otherwise stay in memory for the whole session.
  std::erase_if(states_, [&](const auto& kv) { return !page.contains(kv.first); });
  // Swept only when it has grown well past the page, so that a run does not pay a look-up per
  // block for it.
  if (attrCache_.size() > 2 * page.blockCount() + 64)
    std::erase_if(attrCache_, [&](const auto& kv) { return !page.contains(kv.first); });
  return Pass(*this, page, options, mode).run();
}

}  // namespace qs
