#include "runtime/Backprop.h"

#include <map>
#include <utility>
#include <vector>

#include "runtime/Error.h"

namespace qs {

namespace {

// Blocks reached by following links downstream from the output `from`.
std::vector<char> downstreamOf(const Page& page, const OutputRef& from) {
  std::vector<char> seen(page.blockCount(), 0);
  std::vector<int> stack;
  auto visit = [&](int b, const std::string* port) {
    for (int li : page.outgoingLinks(b)) {
      const Link& l = page.links()[li];
      if (port && l.from.port.str() != *port) continue;
      const int to = page.linkTo(li);
      if (!seen[to]) {
        seen[to] = 1;
        stack.push_back(to);
      }
    }
  };
  visit(from.block, &from.port);
  while (!stack.empty()) {
    const int b = stack.back();
    stack.pop_back();
    visit(b, nullptr);
  }
  return seen;
}

// `block` and every block it reads from, directly or not.
std::vector<char> upstreamOf(const Page& page, int block) {
  std::vector<char> seen(page.blockCount(), 0);
  std::vector<int> stack{block};
  seen[block] = 1;
  while (!stack.empty()) {
    const int b = stack.back();
    stack.pop_back();
    for (int li : page.incomingLinks(b)) {
      const int from = page.linkFrom(li);
      if (!seen[from]) {
        seen[from] = 1;
        stack.push_back(from);
      }
    }
  }
  return seen;
}

std::string blockName(const Page& page, int b) {
  return "block '" + page.blocks()[b].id.str() + "' (" + page.blocks()[b].type + ")";
}

}  // namespace

// How an x gets its gradient: known from the structure (ys itself, zeros, a block without a
// gradient on the way), or by going back along `path` (the blocks between it and ys).
struct BackpropPlan::XPlan {
  enum class Kind { Seed, Zeros, Error, Path } kind = Kind::Path;
  std::string error;
  std::vector<char> path;  // by block, Path only
  int slot = -1;           // where its gradient gathers
  std::vector<DTypeCheck> dtypeChecks;
};

// A link on an x's path whose tensor must be float32 (in the order the links are checked).
struct BackpropPlan::DTypeCheck {
  int step;   // into steps_: the block the link goes into
  int input;  // that block's runner input
  int from;
  const std::string* fromPort;
};

// A block on the paths: its gradient's context, kept between runs, and where its inputs come from.
struct BackpropPlan::Step {
  struct In {
    int input;  // the runner's
    int from;
    const std::string* fromPort;
    int slot;  // the gradient slot of the source output; -1 if it never takes one
    bool isX;  // the source output is one of the xs
  };
  int block = -1;
  std::unique_ptr<GradientRunner> runner;
  std::vector<In> inputs;        // in the order of the block's incoming links
  std::vector<int> outputSlots;  // by runner output
};

BackpropPlan::~BackpropPlan() = default;

BackpropPlan::BackpropPlan(const Page& page, std::span<const BlockDescriptor* const> descs,
                           std::span<const int> order, OutputRef ys, std::vector<OutputRef> xs,
                           const std::function<const AttrValues&(int)>& attrs)
    : ys_(std::move(ys)), xs_(std::move(xs)), xPlans_(xs_.size()) {
  const std::vector<char> above = upstreamOf(page, ys_.block);
  onPathAll_.assign(page.blockCount(), 0);
  for (size_t i = 0; i < xs_.size(); ++i) {
    const OutputRef& x = xs_[i];
    XPlan& xp = xPlans_[i];
    if (x == ys_) {
      xp.kind = XPlan::Kind::Seed;
      continue;
    }
    xp.path = downstreamOf(page, x);
    if (!xp.path[ys_.block]) {
      xp.kind = XPlan::Kind::Zeros;
      xp.path.clear();
      continue;
    }
    for (size_t b = 0; b < xp.path.size(); ++b) xp.path[b] &= above[b];
    for (int b : order)
      if (xp.path[b] && (!descs[b] || !descs[b]->gradient)) {
        xp.kind = XPlan::Kind::Error;
        xp.error = blockName(page, b) +
                   " is on the path from xs to ys and has no gradient, so no gradient can pass "
                   "through it";
        break;
      }
    if (xp.kind == XPlan::Kind::Error) continue;
    for (size_t b = 0; b < xp.path.size(); ++b) onPathAll_[b] |= xp.path[b];
  }
  // Gradient slots: one for each output of a block on the paths and for each x.
  std::map<std::pair<int, std::string>, int> slots;
  auto slotOf = [&](int b, const std::string& port) {
    return slots.try_emplace({b, port}, static_cast<int>(slots.size())).first->second;
  };
  std::vector<int> stepOf(page.blockCount(), -1);
  for (size_t k = order.size(); k-- > 0;) {
    const int b = order[k];
    if (!onPathAll_[b]) continue;
    stepOf[b] = static_cast<int>(steps_.size());
    Step& s = steps_.emplace_back();
    s.block = b;
    s.runner = std::make_unique<GradientRunner>(*descs[b], page.blocks()[b].id.str(), attrs(b));
    for (const PortDescriptor* out : descs[b]->outputs()) {
      s.runner->addOutput(out->name);
      s.outputSlots.push_back(slotOf(b, out->name));
    }
  }
  for (const OutputRef& x : xs_) slotOf(x.block, x.port);
  for (Step& s : steps_)
    for (int li : page.incomingLinks(s.block)) {
      const Link& l = page.links()[li];
      Step::In in{s.runner->addInput(l.to.port.str()), page.linkFrom(li), &l.from.port.str(), -1,
                  false};
      for (const OutputRef& x : xs_) in.isX |= in.from == x.block && *in.fromPort == x.port;
      if (in.isX || onPathAll_[in.from]) in.slot = slotOf(in.from, *in.fromPort);
      s.inputs.push_back(in);
    }
  for (size_t i = 0; i < xs_.size(); ++i) {
    XPlan& xp = xPlans_[i];
    xp.slot = slotOf(xs_[i].block, xs_[i].port);
    if (xp.kind != XPlan::Kind::Path) continue;
    // The links into the path from the path or from x, whose tensors must be float32.
    for (int b : order) {
      if (!xp.path[b]) continue;
      const Step& s = steps_[stepOf[b]];
      for (const Step::In& in : s.inputs)
        if (xp.path[in.from] || (in.from == xs_[i].block && *in.fromPort == xs_[i].port))
          xp.dtypeChecks.push_back({stepOf[b], in.input, in.from, in.fromPort});
    }
  }
  if (onPathAll_[ys_.block]) ysSlot_ = slotOf(ys_.block, ys_.port);
  grads_.resize(slots.size());
  has_.assign(slots.size(), 0);
}

// Gradients are float32: the first tensor on the path from x to ys of another dtype (a path can
// only reach one through a block that converts, such as Cast), named with the blocks it joins.
std::string BackpropPlan::nonFloatOnPath(const Page& page, const XPlan& x) const {
  for (const DTypeCheck& c : x.dtypeChecks) {
    const DType dtype = steps_[c.step].runner->boundDType(c.input);
    if (dtype != DType::Float32)
      return std::string("the ") + dtypeName(dtype) + " tensor from output '" + *c.fromPort +
             "' of " + blockName(page, c.from) + " into " + blockName(page, steps_[c.step].block) +
             " is on the path from xs to ys; gradients pass through float32 tensors only";
  }
  return {};
}

void BackpropPlan::bindInputs(const ForwardOutputs& outputs) {
  for (Step& s : steps_)
    for (const Step::In& in : s.inputs)
      s.runner->bindInput(in.input, outputs(in.from).at(*in.fromPort));
}

std::vector<char> BackpropPlan::onPathFor(const std::vector<size_t>& pending) const {
  std::vector<char> onPath(onPathAll_.size(), 0);
  for (size_t i : pending)
    for (size_t b = 0; b < onPath.size(); ++b) onPath[b] |= xPlans_[i].path[b];
  return onPath;
}

// Gradients meeting at one output are summed (a new tensor: either may be shared).
void BackpropPlan::accumulate(int slot, Tensor g) {
  if (!has_[slot]) {
    grads_[slot] = std::move(g);
    has_[slot] = 1;
    return;
  }
  Tensor sum = Tensor::uninitialized(g.shape());
  const float* a = grads_[slot].data();
  const float* b = g.data();
  float* s = sum.mutableData();
  for (int64_t i = 0; i < sum.size(); ++i) s[i] = a[i] + b[i];
  grads_[slot] = std::move(sum);
}

// Runs block s's gradient and passes what it gives on to the outputs its inputs come from.
void BackpropPlan::stepBack(const Page& page, Step& s, const ForwardOutputs& outputs,
                            const std::vector<char>& onPath, ThreadPool* pool,
                            const std::atomic<bool>* cancel) {
  GradientRunner& runner = *s.runner;
  const std::map<std::string, Tensor>& values = outputs(s.block);
  for (int o = 0; o < runner.outputCount(); ++o) {
    auto v = values.find(runner.outputPort(o));
    const int slot = s.outputSlots[o];
    runner.bindOutput(o, v == values.end() ? nullptr : &v->second,
                      has_[slot] ? &grads_[slot] : nullptr);
  }
  for (const Step::In& in : s.inputs) runner.setWanted(in.input, in.isX || onPath[in.from]);
  runner.setThreads(pool, cancel);
  try {
    runner.run();
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    throw Error("the gradient of " + blockName(page, s.block) + " failed: " + e.what());
  }
  for (const Step::In& in : s.inputs)
    if (runner.wanted(in.input)) accumulate(in.slot, runner.takeInputGrad(in.input));
}

std::vector<BackpropResult> BackpropPlan::run(const Page& page, const ForwardOutputs& outputs,
                                              const Tensor* gradYs, ThreadPool* pool,
                                              const std::atomic<bool>* cancel) {
  const Tensor& y = outputs(ys_.block).at(ys_.port);
  const Tensor seed = gradYs ? *gradYs : Tensor::filled(y.shape(), 1.0f);
  std::vector<BackpropResult> results(xs_.size());
  std::vector<size_t> pending;  // the xs whose paths to go back
  bool anyPath = false;
  for (const XPlan& xp : xPlans_) anyPath |= xp.kind == XPlan::Kind::Path;
  if (anyPath) bindInputs(outputs);
  for (size_t i = 0; i < xs_.size(); ++i) {
    const XPlan& xp = xPlans_[i];
    switch (xp.kind) {
      case XPlan::Kind::Seed:
        results[i].grad = seed;
        break;
      case XPlan::Kind::Zeros:
        results[i].grad = Tensor::zeros(outputs(xs_[i].block).at(xs_[i].port).shape());
        break;
      case XPlan::Kind::Error:
        results[i].error = xp.error;
        break;
      case XPlan::Kind::Path:
        results[i].error = nonFloatOnPath(page, xp);
        if (results[i].error.empty()) pending.push_back(i);
        break;
    }
  }
  if (pending.empty()) return results;
  size_t paths = 0;
  for (const XPlan& xp : xPlans_) paths += xp.kind == XPlan::Kind::Path;
  // Usually every path is open; a tensor of another dtype closes one.
  std::vector<char> fewer;
  if (pending.size() != paths) fewer = onPathFor(pending);
  const std::vector<char>& onPath = fewer.empty() ? onPathAll_ : fewer;
  grads_[ysSlot_] = seed;
  has_[ysSlot_] = 1;
  try {
    for (Step& s : steps_) {
      if (!onPath[s.block]) continue;
      bool any = false;
      for (int slot : s.outputSlots) any |= has_[slot] != 0;
      if (!any) continue;
      if (cancel && cancel->load(std::memory_order_relaxed)) throw Cancelled();
      stepBack(page, s, outputs, onPath, pool, cancel);
    }
  } catch (...) {
    std::fill(grads_.begin(), grads_.end(), Tensor());
    std::fill(has_.begin(), has_.end(), 0);
    throw;
  }
  for (size_t i : pending) {
    const XPlan& xp = xPlans_[i];
    results[i].grad = has_[xp.slot] ? grads_[xp.slot]
                                    : Tensor::zeros(outputs(xs_[i].block).at(xs_[i].port).shape());
  }
  // The gradients are this run's: nothing is kept for the next.
  std::fill(grads_.begin(), grads_.end(), Tensor());
  std::fill(has_.begin(), has_.end(), 0);
  return results;
}

}  // namespace qs
