#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <span>
#include <string>

#include "runtime/BlockDescriptor.h"
#include "runtime/Page.h"

namespace qs {

// One block output of a page: `port` of page.blocks()[block].
struct OutputRef {
  int block = -1;
  std::string port;
};

// What the backward pass of one Gradients block reads: the page, the forward results of this step,
// and the plan's order (every block after the blocks it reads).
struct BackpropRequest {
  const Page* page = nullptr;
  std::span<const BlockDescriptor* const> descs;                     // by block index
  std::function<const std::map<std::string, Tensor>&(int)> outputs;  // forward results by block
  std::function<const AttrValues&(int)> attrs;                       // resolved attributes
  std::span<const int> order;
  OutputRef ys, xs;
  const Tensor* gradYs = nullptr;  // nullptr: ones
  ThreadPool* pool = nullptr;
  const std::atomic<bool>* cancel = nullptr;
};

// d(sum of ys * gradYs)/d xs, as TensorFlow's AddSymbolicGradients: each block on a path from xs to
// ys, in reverse order, turns the gradients of its outputs into those of its inputs with its
// registered gradient, and gradients that meet are added. Zeros when xs does not reach ys. Throws
// qs::Error naming the block on the path that has no gradient or whose gradient failed.
Tensor backprop(const BackpropRequest& request);

}  // namespace qs
