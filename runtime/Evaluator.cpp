#include "runtime/Evaluator.h"

#include <algorithm>
#include <chrono>
#include <new>

#include "runtime/AttrJson.h"
#include "runtime/Backprop.h"
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
  prepared_.reset();  // it points into states_
}

namespace {

// Runs a block's check() and compute() and verifies that every output came with the shape check()
// promised. `ranksOk`: every input has a rank its port accepts (else checkRanks names the first
// one that does not, after the block's own check). Returns the error message, empty on success.
std::string runKernel(const BlockDescriptor& desc, const std::vector<const PortDescriptor*>& inputs,
                      const std::vector<const PortDescriptor*>& outputs, bool ranksOk,
                      EvalContext& ctx) {
  try {
    desc.check(ctx);
    if (!ranksOk) checkRanks(inputs, ctx);
    // setOutput() holds each output to the shape check() set.
    ctx.beginCompute();
    desc.compute(ctx);
    for (const PortDescriptor* out : outputs)
      if (!ctx.mutableOutputs().count(out->name))
        throw Error("internal error: the kernel did not produce output '" + out->name + "'");
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
  st.outputDTypes.clear();
  for (const auto& [p, t] : st.outputs)
    if (t.dtype() != DType::Float32) st.outputDTypes[p] = t.dtype();
}

// Two blocks wired to update the same Variable (or one block through two of its slots) are both
// in error, each naming the other: a Variable takes one update per step. By block; empty when
// there is no conflict.
std::vector<std::string> findUpdateConflicts(const Page& page, const EvalPlan& plan,
                                             std::span<const BlockDescriptor* const> descs) {
  std::vector<std::string> conflicts;
  auto conflict = [&](int b, std::string message) {
    if (conflicts.empty()) conflicts.resize(page.blockCount());
    if (conflicts[b].empty()) conflicts[b] = std::move(message);
  };
  std::unordered_map<int, std::pair<int, std::string>> updater;  // variable -> (block, port)
  for (int b : plan.order) {
    const BlockDescriptor* d = descs[b];
    if (!d || d->stateSlots.empty()) continue;
    for (int li : page.incomingLinks(b)) {
      const Link& l = page.links()[li];
      const StateSlot* slot = d->findSlot(l.to.port.str());
      const int v = page.linkFrom(li);
      if (!slot || !slot->updatesWired || !descs[v] || !descs[v]->variable) continue;
      auto [it, fresh] = updater.try_emplace(v, b, l.to.port.str());
      if (fresh) continue;
      const std::string var = "Variable '" + l.from.block.str() + "'";
      const auto& [first, firstPort] = it->second;
      if (first == b) {
        conflict(b, "updates " + var + " twice in one step (through '" + firstPort + "' and '" +
                        l.to.port.str() + "'); a Variable takes one update per step");
        continue;
      }
      const std::string& a = page.blocks()[first].id.str();
      const std::string& c = page.blocks()[b].id.str();
      conflict(first, "updates " + var + " in the same step as block '" + c +
                          "'; a Variable takes one update per step");
      conflict(b, "updates " + var + " in the same step as block '" + a +
                      "'; a Variable takes one update per step");
    }
  }
  return conflicts;
}

}  // namespace

struct Evaluator::Prepared {
  // The key: the page's structure and where its blocks and links live (the wiring points into
  // them), and the options the plan depends on.
  uint64_t structure = 0;
  const Block* blocks = nullptr;
  const Link* links = nullptr;
  std::vector<std::string> fetch;
  bool releases = false;
  bool step = false;

  EvalPlan plan;
  std::vector<const BlockDescriptor*> descs;  // by block index (nullptr: unknown type)
  bool stateful = false;                      // the page has Variables or blocks with state slots
  std::vector<std::string> conflicts;
  std::vector<Wiring> wirings;  // by block, checked on the block's first turn
  std::vector<char> wired;
  // Where each block's state and resolved attributes live in the evaluator's maps, found on the
  // block's first turn (their nodes stay put until the maps are swept, which drops this).
  std::vector<BlockState*> states;
  std::vector<ResolvedAttrs*> attrs;
  std::vector<const PortLists*> ports;  // the descriptor's, cached by the evaluator
  // The backward passes of the Gradients blocks, planned on their first run.
  std::vector<std::unique_ptr<BackpropPlan>> backprops;
  // Steps: what each block holds, looked up at most once per pass.
  std::vector<Held*> held;
  std::vector<char> heldLooked;
};

Evaluator::Prepared& Evaluator::prepare(const Page& page, const EvalOptions& options) {
  Prepared* p = prepared_.get();
  if (p && p->structure == page.structureRevision() && p->blocks == page.blocks().data() &&
      p->links == page.links().data() && p->fetch == options.fetch &&
      p->releases == options.releaseIntermediates && p->step == options.step)
    return *p;
  auto fresh = std::make_unique<Prepared>();
  fresh->plan =
      planEvaluation(page, registry_, options.fetch, options.releaseIntermediates, options.step);
  fresh->structure = page.structureRevision();
  fresh->blocks = page.blocks().data();
  fresh->links = page.links().data();
  fresh->fetch = options.fetch;
  fresh->releases = options.releaseIntermediates;
  fresh->step = options.step;
  fresh->descs.resize(page.blockCount());
  for (size_t b = 0; b < fresh->descs.size(); ++b) {
    const BlockDescriptor* d = registry_.find(page.blocks()[b].type);
    fresh->descs[b] = d;
    fresh->stateful |= d && (d->variable || !d->stateSlots.empty());
  }
  if (fresh->stateful) fresh->conflicts = findUpdateConflicts(page, fresh->plan, fresh->descs);
  fresh->wirings.resize(page.blockCount());
  fresh->wired.assign(page.blockCount(), 0);
  fresh->states.assign(page.blockCount(), nullptr);
  fresh->attrs.assign(page.blockCount(), nullptr);
  fresh->ports.assign(page.blockCount(), nullptr);
  prepared_ = std::move(fresh);
  return *prepared_;
}

// One evaluation (or check) of a page: follows the plan, giving each block its turn, in which it
// either fails (cycle, type, attributes, wiring, its own check), keeps its cached results, or runs.
class Evaluator::Pass {
 public:
  Pass(Evaluator& ev, const Page& page, const EvalOptions& options, Mode mode)
      : ev_(ev),
        page_(page),
        options_(options),
        mode_(mode),
        prep_(ev.prepare(page, options)),
        plan_(prep_.plan),
        descs_(prep_.descs),
        turned_(page.blockCount(), 0),
        stateful_(prep_.stateful),
        conflicts_(prep_.conflicts) {
    report_.computed.reserve(plan_.order.size());
    report_.reused.reserve(plan_.order.size());
    if (stateful_) {
      prep_.heldLooked.assign(page.blockCount(), 0);
      prep_.held.resize(page.blockCount());
    }
  }

  EvalReport run() {
    for (size_t k = 0; k < plan_.order.size(); ++k) {
      current_ = k;
      turned_[plan_.order[k]] = 1;
      const bool goOn = turn(plan_.order[k]);
      for (int a : plan_.releasedAfter(k)) {
        BlockState& as = stateOf(a);
        as.outputs.clear();
        as.released = true;
      }
      if (!goOn) break;
    }
    if (options_.step && mode_ == Mode::Compute && !report_.cancelled && report_.failed.empty())
      applyUpdates();
    return std::move(report_);
  }

 private:
  // Each block's state, fetched once (created when the block's turn comes; unordered_map nodes do
  // not move, so the pointers stay valid while blocks are added).
  BlockState& stateOf(int b) {
    if (!prep_.states[b]) [[unlikely]]
      findState(b);
    return *prep_.states[b];
  }
  // The block's type is set once here: a change of type is a change of the page's structure,
  // which makes a new plan.
  void findState(int b) {
    BlockState& st = ev_.states_[page_.blocks()[b].id];
    st.type = page_.blocks()[b].type;
    prep_.states[b] = &st;
  }

  void fail(int b, const std::string& message) {
    BlockState& st = stateOf(b);
    st.status = BlockStatus::Error;
    st.error = message;
    st.outputs.clear();
    st.outputShapes.clear();
    st.outputDTypes.clear();
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
    stateOf(b);
    if (const std::string* cycle = plan_.cycleError(b)) {
      fail(b, *cycle);
      return true;
    }
    const BlockDescriptor* desc = descs_[b];
    if (!desc) {
      fail(b, "unknown block type '" + block.type + "'");
      return true;
    }
    const ResolvedAttrs& attrs = resolvedAttrs(b, *desc);
    if (!attrs.error.empty()) {
      fail(b, attrs.error);
      return true;
    }
    if (!prep_.ports[b]) prep_.ports[b] = &ev_.portsOf(*desc);
    const PortLists& ports = *prep_.ports[b];
    if (!prep_.wired[b]) {
      checkWiring(page_, b, *desc, ports.inputs, descs_, prep_.wirings[b]);
      prep_.wired[b] = 1;
    }
    wiring_ = &prep_.wirings[b];
    // The links accepted before the first wiring problem, in the page's order: a failed input
    // among them is named first.
    for (const WiredInput& w : wiring_->inputs) {
      const BlockState& us = stateOf(w.from);
      const bool usable =
          us.status == BlockStatus::Ok || (mode_ == Mode::Check && us.status == BlockStatus::Stale);
      if (!usable || !us.outputShapes.count(w.link->from.port.str())) {
        fail(b, "input '" + *w.port + "' comes from block '" + w.link->from.block.str() +
                    "', which " + (us.status == BlockStatus::Error ? "failed" : "has no result"));
        return true;
      }
    }
    if (!wiring_->error.empty()) {
      fail(b, wiring_->error);
      return true;
    }
    if (stateful_ && (!desc->stateSlots.empty() || !conflicts_.empty())) {
      if (std::string problem = stateWiringProblem(b, *desc); !problem.empty()) {
        fail(b, problem);
        return true;
      }
    }
    const bool goOn = executeOrReuse(b, *desc, attrs.values, ports);
    if (options_.step && stateOf(b).status == BlockStatus::Ok) stageUpdates(b, *desc);
    return goOn;
  }

  // ---- Steps ----

  // Why block b's state wiring cannot work; empty if it can.
  std::string stateWiringProblem(int b, const BlockDescriptor& desc) {
    if (!conflicts_.empty() && !conflicts_[b].empty()) return conflicts_[b];
    for (const StateSlot& slot : desc.stateSlots) {
      const WiredInput* w = wiring_->find(slot.input);
      if (!w || !slot.updatesWired) continue;
      const BlockDescriptor* src = descs_[w->from];
      if (!src || !src->variable || w->link->from.port.str() != "output")
        return "input '" + slot.input +
               "' must be wired straight from the output of the Variable it updates, but it "
               "comes from " +
               w->link->from.block.str() + "." + w->link->from.port.str() + " (" +
               page_.blocks()[w->from].type + ")";
    }
    return {};
  }

  // What block b holds, for its context and its cache key.
  // Looked up once per pass (held_ may be replaced between passes).
  Evaluator::Held* heldOf(int b) {
    if (!prep_.heldLooked[b]) {
      auto it = ev_.held_.find(page_.blocks()[b].id);
      prep_.held[b] = it == ev_.held_.end() ? nullptr : &it->second;
      prep_.heldLooked[b] = 1;
    }
    return prep_.held[b];
  }

  void giveHeld(int b, const BlockDescriptor& desc, EvalContext& ctx) {
    const Held* h = heldOf(b);
    if (!h) return;
    auto give = [&](const std::string& slot) {
      auto it = h->values.find(slot);
      if (it != h->values.end()) ctx.setHeld(slot, &it->second);
    };
    if (desc.variable) give("");
    for (const StateSlot& slot : desc.stateSlots)
      if (!wiring_->find(slot.input)) give(slot.input);
  }

  // Block b has its results for this step: what it will hold, or the Variable it updates, after
  // the step. A Variable that held nothing yet keeps its initial value.
  void stageUpdates(int b, const BlockDescriptor& desc) {
    if (!desc.variable && desc.stateSlots.empty()) return;
    static const std::string kValue;  // a Variable's slot
    const BlockState& st = stateOf(b);
    const Held* h = heldOf(b);
    if (desc.variable && (!h || !h->values.count(kValue)))
      staged_.push_back({b, &kValue, st.outputs.at("output")});
    for (const StateSlot& slot : desc.stateSlots) {
      const WiredInput* w = wiring_->find(slot.input);
      if (w && !slot.updatesWired) continue;
      const Tensor& value = st.outputs.at(slot.output);
      if (w)
        staged_.push_back({w->from, &kValue, value});
      else
        staged_.push_back({b, &slot.input, value});
    }
  }

  void applyUpdates() {
    for (Staged& s : staged_) {
      Held* held = heldOf(s.block);
      if (!held) prep_.held[s.block] = held = &ev_.held_[page_.blocks()[s.block].id];
      held->values[*s.slot] = std::move(s.value);
      held->stamp = ev_.nextStamp_++;
    }
    ++ev_.steps_;
    report_.applied = true;
  }

  // ---- Gradients ----

  // The backward pass of the Gradients block now computing (block b, whose wiring is wiring_).
  class Gradients : public GradientService {
   public:
    Gradients(Pass& pass, int block) : pass_(pass), block_(block) {}
    Tensor gradient(const std::string& ysPort, const std::string& xsPort,
                    const std::string& gradYsPort) const override {
      return pass_.backward(block_, ysPort, xsPort, gradYsPort);
    }

   private:
    Pass& pass_;
    int block_;
  };

  // Where block b's input `port` comes from, if it is wired from a block that has had its turn in
  // this pass and has its results.
  std::optional<OutputRef> computedSource(int b, const std::string& port) {
    for (int li : page_.incomingLinks(b)) {
      const Link& l = page_.links()[li];
      if (l.to.port.str() != port) continue;
      const int from = page_.linkFrom(li);
      if (!turned_[from] || stateOf(from).status != BlockStatus::Ok) return std::nullopt;
      return OutputRef{from, l.from.port.str()};
    }
    return std::nullopt;
  }

  // The gradient for Gradients block b. The blocks of its type later in this pass that take the
  // same ys and grad_ys go back through the page with it, once, and find their results kept.
  Tensor backward(int b, const std::string& ysPort, const std::string& xsPort,
                  const std::string& gradYsPort) {
    const auto ys = computedSource(b, ysPort), xs = computedSource(b, xsPort);
    if (!ys || !xs) throw Error("ys and xs must both be wired");
    const OutputRef gy = computedSource(b, gradYsPort).value_or(OutputRef{});
    for (const SharedBackward& s : shared_)
      if (s.ys == *ys && s.gradYs == gy)
        for (const auto& [x, grad] : s.xs)
          if (x == *xs) return grad;
    std::vector<OutputRef> all{*xs};
    for (size_t k = current_ + 1; k < plan_.order.size(); ++k) {
      const int s = plan_.order[k];
      if (descs_[s] != descs_[b] || computedSource(s, ysPort) != ys ||
          computedSource(s, gradYsPort).value_or(OutputRef{}) != gy)
        continue;
      const auto sx = computedSource(s, xsPort);
      if (sx && std::find(all.begin(), all.end(), *sx) == all.end()) all.push_back(*sx);
    }
    const std::vector<BackpropResult> results =
        backpropPlan(*ys, std::move(all))
            .run(page_, forwardOutputs(), gy.block >= 0 ? &output(gy) : nullptr, pool_,
                 options_.cancel);
    if (!results[0].error.empty()) throw Error(results[0].error);
    SharedBackward& kept = shared_.emplace_back(SharedBackward{*ys, gy, {}});
    const std::vector<OutputRef>& planned = prep_.backprops.back()->xs();
    for (size_t i = 1; i < planned.size(); ++i)
      if (results[i].error.empty()) kept.xs.emplace_back(planned[i], results[i].grad);
    return results[0].grad;
  }

  const Tensor& output(const OutputRef& ref) { return stateOf(ref.block).outputs.at(ref.port); }

  ForwardOutputs forwardOutputs() {
    return [this](int blk) -> const std::map<std::string, Tensor>& { return stateOf(blk).outputs; };
  }

  // The plan of the backward pass from ys to xs, made on its first use and kept with the page's
  // plan (it depends only on the structure). The one used last is moved to the back.
  BackpropPlan& backpropPlan(const OutputRef& ys, std::vector<OutputRef> xs) {
    std::vector<std::unique_ptr<BackpropPlan>>& plans = prep_.backprops;
    for (size_t i = 0; i < plans.size(); ++i)
      if (plans[i]->ys() == ys && plans[i]->xs() == xs) {
        std::rotate(plans.begin() + i, plans.begin() + i + 1, plans.end());
        return *plans.back();
      }
    auto attrsOf = [this](int blk) -> const AttrValues& { return prep_.attrs[blk]->values; };
    plans.push_back(std::make_unique<BackpropPlan>(
        page_, descs_, std::span<const int>(plan_.order.data(), current_), ys, std::move(xs),
        attrsOf));
    return *plans.back();
  }

  // Attributes are resolved again only when the block changed (its revision is unique across the
  // process and changes with its type and attributes).
  const ResolvedAttrs& resolvedAttrs(int b, const BlockDescriptor& desc) {
    const Block& block = page_.blocks()[b];
    bool fresh = false;
    if (!prep_.attrs[b]) {
      auto ac = ev_.attrCache_.try_emplace(block.id);
      prep_.attrs[b] = &ac.first->second;
      fresh = ac.second;
    }
    ResolvedAttrs& resolved = *prep_.attrs[b];
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
    const Tensor* feed = nullptr;
    uint64_t feedStamp = 0;
    if (auto f = ev_.feeds_.empty() ? ev_.feeds_.end() : ev_.feeds_.find(block.id);
        f != ev_.feeds_.end()) {
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
    // The inputs' stamps, in the wiring's order (a change of wiring is a new revision).
    bool upstreamOk = true;
    bool sameInputs = st.inputStamps.size() == wiring_->inputs.size();
    for (size_t i = 0; i < wiring_->inputs.size(); ++i) {
      const BlockState& us = stateOf(wiring_->inputs[i].from);
      upstreamOk &= us.status == BlockStatus::Ok;
      sameInputs = sameInputs && st.inputStamps[i] == us.stamp;
    }
    const bool holds = desc.variable || !desc.stateSlots.empty();
    const Held* held = stateful_ && holds ? heldOf(b) : nullptr;
    const uint64_t heldStamp = held ? held->stamp : 0;
    const int64_t step = desc.readsStep ? ev_.steps_ : 0;
    if (st.status == BlockStatus::Ok && !st.released && st.revision == block.revision &&
        sameInputs && st.feedStamp == feedStamp && st.heldStamp == heldStamp && st.step == step &&
        upstreamOk) {
      report_.reused.push_back(block.id);
      return true;
    }
    EvalContext ctx(desc, block.id.str(), attrs);
    ctx.setFeed(feed);
    ctx.setPageDir(options_.pageDir);
    ctx.setStep(ev_.steps_);
    if (held) giveHeld(b, desc, ctx);
    if (mode_ == Mode::Check) {
      checkShapes(b, ctx, ports);
      return true;
    }
    const Gradients gradients(*this, b);
    if (desc.readsUpstream) ctx.setGradientService(&gradients);
    if (!compute(b, ctx, ports, feedStamp)) return false;
    stateOf(b).heldStamp = heldStamp;
    stateOf(b).step = step;
    return true;
  }

  // Mode::Check: the block's check() on its inputs' shapes; passing leaves it stale with known
  // output shapes.
  void checkShapes(int b, EvalContext& ctx, const PortLists& ports) {
    for (const WiredInput& w : wiring_->inputs) {
      const BlockState& us = stateOf(w.from);
      const DType dtype = us.outputDType(w.link->from.port.str());
      if (std::string problem = dtypeProblem(*w.input, dtype); !problem.empty())
        return fail(b, problem);
      ctx.setInputShape(*w.port, us.outputShapes.at(w.link->from.port.str()), dtype);
    }
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
    st.outputDTypes = std::move(ctx.mutableOutputDTypes());
  }

  // Runs the block and stores its outputs with their cache key. False when cancelled (the block is
  // left stale), true when it ran or failed.
  bool compute(int b, EvalContext& ctx, const PortLists& ports, uint64_t feedStamp) {
    const BlockId& id = page_.blocks()[b].id;
    BlockState& st = stateOf(b);
    bool ranksOk = true;
    ctx.reserveInputs(wiring_->inputs.size());
    for (const WiredInput& w : wiring_->inputs) {
      const Tensor& t = stateOf(w.from).outputs.at(w.link->from.port.str());
      ranksOk &= w.input->rank.accepts(t.rank());
      // Before the block's own check(), whose messages assume the dtypes it declared.
      if (!w.input->takes(t.dtype())) {
        fail(b, dtypeProblem(*w.input, t.dtype()));
        return true;
      }
      ctx.setInput(*w.port, t);
    }
    if (options_.onBlockStarted) {
      st.status = BlockStatus::Running;
      options_.onBlockStarted(id, st);
    }
    if (!pool_)
      pool_ = ev_.poolFor(options_.threads > 0 ? options_.threads
                          : page_.scope        ? page_.scope->threads
                                               : 0);
    ctx.setThreads(pool_->size(), pool_);
    ctx.setCancelFlag(options_.cancel);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string error =
        runKernel(ctx.descriptor(), ports.inputs, ports.outputs, ranksOk, ctx);
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
    st.inputStamps.resize(wiring_->inputs.size());
    for (size_t i = 0; i < wiring_->inputs.size(); ++i)
      st.inputStamps[i] = stateOf(wiring_->inputs[i].from).stamp;
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
  // The block's wiring is filled in on its first turn; the rest of it is read-only here.
  Prepared& prep_;
  const EvalPlan& plan_;
  const std::vector<const BlockDescriptor*>& descs_;  // by block index (nullptr: unknown type)
  const Wiring* wiring_ = nullptr;                    // the current block's
  ThreadPool* pool_ = nullptr;
  EvalReport report_;
  size_t current_ = 0;        // index into plan_.order of the block having its turn
  std::vector<char> turned_;  // by block: has had its turn in this pass
  // Gradients computed ahead for later Gradients blocks that share ys and grad_ys.
  struct SharedBackward {
    OutputRef ys, gradYs;
    std::vector<std::pair<OutputRef, Tensor>> xs;
  };
  std::vector<SharedBackward> shared_;
  // Steps: whether the page has stateful blocks at all, the blocks in error for updating one
  // Variable twice (by block; empty when none), and the values to hold once the step is done.
  const bool stateful_;
  const std::vector<std::string>& conflicts_;
  struct Staged {
    int block;
    const std::string* slot;  // the descriptor's, or a Variable's ""
    Tensor value;
  };
  std::vector<Staged> staged_;
};

void Evaluator::resetState() {
  held_.clear();
  steps_ = 0;
}

namespace {
std::string heldName(const BlockId& block, const std::string& slot) {
  return slot.empty() ? block.str() : block.str() + "." + slot;
}
}  // namespace

std::map<std::string, Tensor> Evaluator::stateTensors() const {
  std::map<std::string, Tensor> r;
  for (const auto& [block, h] : held_)
    for (const auto& [slot, t] : h.values) r[heldName(block, slot)] = t;
  return r;
}

std::map<std::string, Shape> Evaluator::stateLayout(const Page& page,
                                                    const std::filesystem::path& pageDir) {
  check(page, pageDir);
  std::map<std::string, Shape> layout;
  for (const Block& block : page.blocks()) {
    const BlockDescriptor* d = registry_.find(block.type);
    if (!d || (!d->variable && d->stateSlots.empty())) continue;
    const BlockState* st = state(block.id);
    if (!st || st->status == BlockStatus::Error)
      throw Error(errorLine(block.id, block.type, st ? st->error : "was not checked"));
    if (d->variable) layout[heldName(block.id, "")] = st->outputShapes.at("output");
    const int b = page.indexOf(block.id);
    for (const StateSlot& slot : d->stateSlots) {
      bool wired = false;
      for (int li : page.incomingLinks(b)) wired |= page.links()[li].to.port.str() == slot.input;
      if (!wired) layout[heldName(block.id, slot.input)] = st->outputShapes.at(slot.output);
    }
  }
  return layout;
}

void Evaluator::loadState(const Page& page, const std::map<std::string, Tensor>& values,
                          int64_t steps, const std::filesystem::path& pageDir, bool allowMissing) {
  // Checked against the page's own shapes, so the held values must not take part.
  std::unordered_map<BlockId, Held> kept;
  kept.swap(held_);
  std::map<std::string, Shape> layout;
  try {
    layout = stateLayout(page, pageDir);
  } catch (...) {
    held_.swap(kept);
    throw;
  }
  held_.swap(kept);
  for (const auto& [name, shape] : layout) {
    auto v = values.find(name);
    if (v == values.end()) {
      if (allowMissing) continue;
      throw Error("the state has no '" + name + "'");
    }
    if (v->second.shape() != shape)
      throw Error("'" + name + "' has shape " + shapeToString(v->second.shape()) +
                  " but the page's is " + shapeToString(shape));
  }
  for (const auto& [name, t] : values)
    if (!layout.count(name)) throw Error("'" + name + "' is not a Variable or slot of this page");
  std::unordered_map<BlockId, Held> loaded;
  for (const auto& [name, t] : values) {
    const size_t dot = name.find('.');
    Held& h = loaded[BlockId(name.substr(0, dot))];
    h.values[dot == std::string::npos ? "" : name.substr(dot + 1)] = t;
    h.stamp = nextStamp_++;
  }
  held_ = std::move(loaded);
  steps_ = steps;
}

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
  // Only blocks leave a page whose structure changed: a page run again as it was (a training
  // loop) skips the sweep.
  if (sweptStructure_ != page.structureRevision()) {
    prepared_.reset();  // it points into the maps swept here
    std::erase_if(states_, [&](const auto& kv) { return !page.contains(kv.first); });
    // Swept only when it has grown well past the page, so that a run does not pay a look-up per
    // block for it.
    if (attrCache_.size() > 2 * page.blockCount() + 64)
      std::erase_if(attrCache_, [&](const auto& kv) { return !page.contains(kv.first); });
    if (!held_.empty()) dropStaleHeld(page);
    sweptStructure_ = page.structureRevision();
  }
  return Pass(*this, page, options, mode).run();
}

// After an edit, what a block held may no longer be its own: the block is gone or of another type,
// or the slot is now wired from a Variable (which holds it instead). Kept, it would be saved with
// the state and refused when read back.
void Evaluator::dropStaleHeld(const Page& page) {
  for (auto it = held_.begin(); it != held_.end();) {
    const int b = page.indexOf(it->first);
    const BlockDescriptor* d = b < 0 ? nullptr : registry_.find(page.blocks()[b].type);
    const size_t dropped = std::erase_if(it->second.values, [&](const auto& kv) {
      if (!d) return true;
      if (kv.first.empty()) return !d->variable;
      if (!d->findSlot(kv.first)) return true;
      for (int li : page.incomingLinks(b))
        if (page.links()[li].to.port.str() == kv.first) return true;
      return false;
    });
    if (dropped) it->second.stamp = nextStamp_++;
    it = it->second.values.empty() ? held_.erase(it) : std::next(it);
  }
}

}  // namespace qs
