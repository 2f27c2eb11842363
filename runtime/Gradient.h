#pragma once

#include <atomic>
#include <map>
#include <set>
#include <string>

#include "runtime/BlockDescriptor.h"

namespace qs {

// What a block's registered gradient sees: its forward inputs (input()) and outputs of this step,
// the gradient of the summed ys with respect to each output, and which inputs want a gradient
// (those on the path from xs). It sets a gradient of the input's shape for each wanted input.
class GradientContext : public BlockContext {
 public:
  const Tensor& output(const std::string& port) const;
  // d(sum ys)/d(output `port`), of the output's shape; nullptr when no gradient flows back into
  // that output, which stands for zeros.
  const Tensor* outputGrad(const std::string& port) const;
  bool wantsGrad(const std::string& inputPort) const { return wanted_->count(inputPort) != 0; }
  void setInputGrad(const std::string& port, Tensor grad);

 protected:
  GradientContext(const BlockDescriptor& desc, const std::string& blockId, const AttrValues& attrs)
      : BlockContext(desc, blockId, attrs) {}
  // A block has a handful of ports: they are looked up in short lists of the call's own tensors.
  struct Named {
    const std::string* port;
    const Tensor* tensor;
  };
  static const Tensor* find(const std::vector<Named>& list, const std::string& port) {
    for (const Named& n : list)
      if (*n.port == port) return n.tensor;
    return nullptr;
  }
  std::vector<Named> forwardOutputs_;
  std::vector<Named> outputGrads_;
  const std::set<std::string>* wanted_ = nullptr;
  std::map<std::string, Tensor> inputGrads_;
};

// One block's forward values, for running its gradient.
struct GradientCall {
  std::map<std::string, Tensor> inputs;
  std::map<std::string, Tensor> outputs;
  std::map<std::string, Tensor> outputGrads;  // missing: zeros
  std::set<std::string> wanted;               // inputs whose gradient is wanted
  ThreadPool* pool = nullptr;                 // nullptr: one thread
  const std::atomic<bool>* cancel = nullptr;
};

// Runs `desc.gradient` on one block's forward values: the gradient of each wanted input, each
// checked to have its input's shape. Throws qs::Error with the block's message (or Cancelled).
// The backward pass runs every block this way; tests call it directly.
std::map<std::string, Tensor> runGradient(const BlockDescriptor& desc, const std::string& blockId,
                                          const AttrValues& attrs, GradientCall call);

}  // namespace qs
