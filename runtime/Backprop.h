#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "runtime/BlockDescriptor.h"
#include "runtime/Page.h"

namespace qs {

// One block output of a page: `port` of page.blocks()[block].
struct OutputRef {
  int block = -1;
  std::string port;
  bool operator==(const OutputRef&) const = default;
};

// What the backward pass of one Gradients block reads: the page, the forward results of this step,
// and the plan's order (every block after the blocks it reads).
struct BackpropRequest {
  const Page* page = nullptr;
  std::span<const BlockDescriptor* const> descs;                     // by block index
  std::function<const std::map<std::string, Tensor>&(int)> outputs;  // forward results by block
  std::function<const AttrValues&(int)> attrs;                       // resolved attributes
  std::span<const int> order;
  OutputRef ys;
  std::vector<OutputRef> xs;       // differentiated with respect to each
  const Tensor* gradYs = nullptr;  // nullptr: ones
  ThreadPool* pool = nullptr;
  const std::atomic<bool>* cancel = nullptr;
};

// The gradient with respect to one of the xs, or why there is none.
struct BackpropResult {
  Tensor grad;
  std::string error;  // empty when grad holds the gradient
};

// d(sum of ys * gradYs)/d x for each x of xs, as TensorFlow's AddSymbolicGradients: each block on
// a path from an x to ys, in reverse order, turns the gradients of its outputs into those of its
// inputs with its registered gradient, and gradients that meet are added. Zeros when x does not
// reach ys. An x with a block on its path that has no gradient, or a tensor on its path that is not
// float32, gets an error naming that block;
// the others share one pass back, which gives each the bits a pass of its own would: a tensor's
// gradient gathers the same contributions in the same order. Throws qs::Error naming a block whose
// gradient failed, and Cancelled.
std::vector<BackpropResult> backprop(const BackpropRequest& request);

}  // namespace qs
