#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/BlockDescriptor.h"
#include "runtime/Gradient.h"
#include "runtime/Page.h"

namespace qs {

// One block output of a page: `port` of page.blocks()[block].
struct OutputRef {
  int block = -1;
  std::string port;
  bool operator==(const OutputRef&) const = default;
};

// The gradient with respect to one of the xs, or why there is none.
struct BackpropResult {
  Tensor grad;
  std::string error;  // empty when grad holds the gradient
};

// Forward results of the evaluation the backward pass runs in, by block index.
using ForwardOutputs = std::function<const std::map<std::string, Tensor>&(int)>;

// d(sum of ys * gradYs)/d x for each x of xs, as TensorFlow's AddSymbolicGradients: each block on
// a path from an x to ys, in reverse order, turns the gradients of its outputs into those of its
// inputs with its registered gradient, and gradients that meet are added. Zeros when x does not
// reach ys. An x with a block on its path that has no gradient, or a tensor on its path that is not
// float32, gets an error naming that block; the others share one pass back, which gives each the
// bits a pass of its own would: a tensor's gradient gathers the same contributions in the same
// order.
// The paths, the order of the blocks and each block's gradient context depend only on the page's
// structure, so they are planned once and the plan is run at every evaluation (a training loop
// runs it thousands of times).
class BackpropPlan {
 public:
  // `order`: the blocks in an order where each comes after the blocks it reads. `attrs(b)` is
  // block b's resolved attributes, which must outlive the plan. `page` must keep its structure
  // while the plan is used.
  BackpropPlan(const Page& page, std::span<const BlockDescriptor* const> descs,
               std::span<const int> order, OutputRef ys, std::vector<OutputRef> xs,
               const std::function<const AttrValues&(int)>& attrs);
  ~BackpropPlan();
  BackpropPlan(const BackpropPlan&) = delete;
  BackpropPlan& operator=(const BackpropPlan&) = delete;

  const OutputRef& ys() const { return ys_; }
  const std::vector<OutputRef>& xs() const { return xs_; }

  // One pass back over this evaluation's forward results of `page` (the page planned for).
  // gradYs: nullptr for ones. Throws qs::Error naming a block whose gradient failed, and
  // Cancelled.
  std::vector<BackpropResult> run(const Page& page, const ForwardOutputs& outputs,
                                  const Tensor* gradYs, ThreadPool* pool,
                                  const std::atomic<bool>* cancel);

 private:
  struct XPlan;
  struct Step;
  struct DTypeCheck;
  std::vector<char> onPathFor(const std::vector<size_t>& pending) const;
  void bindInputs(const ForwardOutputs& outputs);
  std::string nonFloatOnPath(const Page& page, const XPlan& x) const;
  void stepBack(const Page& page, Step& s, const ForwardOutputs& outputs,
                const std::vector<char>& onPath, ThreadPool* pool, const std::atomic<bool>* cancel);
  void accumulate(int slot, Tensor g);

  OutputRef ys_;
  std::vector<OutputRef> xs_;
  std::vector<XPlan> xPlans_;    // by x
  std::vector<Step> steps_;      // the blocks on the paths, last block first
  std::vector<char> onPathAll_;  // by block: on the path of an x without a structural error
  int ysSlot_ = -1;
  // This run's gradient of each output that receives one (by slot), and whether it has one.
  std::vector<Tensor> grads_;
  std::vector<char> has_;
};

}  // namespace qs
