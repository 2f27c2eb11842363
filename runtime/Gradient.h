#pragma once

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <vector>

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
  bool wantsGrad(const std::string& inputPort) const;
  void setInputGrad(const std::string& port, Tensor grad);

 protected:
  GradientContext(const BlockDescriptor& desc, const std::string& blockId, const AttrValues& attrs)
      : BlockContext(desc, blockId, attrs) {}
  // A block has a handful of ports: they are looked up by name in short lists, which hold the
  // caller's tensors.
  struct OutputSlot {
    std::string port;
    const Tensor* value = nullptr;
    const Tensor* grad = nullptr;  // nullptr: zeros
  };
  std::vector<OutputSlot> outputs_;
  const OutputSlot* findOutput(const std::string& port) const;
  // By input, in the order of BlockContext's list.
  std::vector<char> wanted_;
  std::vector<Tensor> inputGrads_;
  std::vector<char> gradGiven_;
};

// One block's gradient, set up once for its ports and run again for each new set of forward
// values: the caller binds this run's tensors to the ports (by the indices addInput and addOutput
// gave), runs, and takes the gradient of each wanted input. The backward pass keeps one for each
// block on its path while the page's structure stays the same.
class GradientRunner final : public GradientContext {
 public:
  // `attrs` must outlive the runner.
  GradientRunner(const BlockDescriptor& desc, const std::string& blockId, const AttrValues& attrs);
  int addInput(const std::string& port);
  int addOutput(const std::string& port);
  int inputCount() const { return static_cast<int>(inputs_.size()); }
  const std::string& inputPort(int i) const { return inputs_[i].port; }
  const std::string& outputPort(int o) const { return outputs_[o].port; }
  DType boundDType(int i) const { return inputs_[i].dtype; }
  int outputCount() const { return static_cast<int>(outputs_.size()); }
  // The tensors must outlive run(); an unbound output is "not available" to the gradient.
  void bindInput(int i, const Tensor& t);
  void bindOutput(int o, const Tensor* value, const Tensor* grad);
  void setWanted(int i, bool wanted) { wanted_[i] = wanted; }
  bool wanted(int i) const { return wanted_[i]; }
  void setThreads(ThreadPool* pool, const std::atomic<bool>* cancel);
  // Runs `desc.gradient`: afterwards each wanted input has its gradient, checked to have the
  // input's shape. Throws qs::Error with the block's message (or Cancelled).
  void run();
  // The gradient of wanted input i after run(), moved out.
  Tensor takeInputGrad(int i) { return std::move(inputGrads_[i]); }
};

// One block's forward values, for running its gradient through the map-based runGradient.
struct GradientCall {
  std::map<std::string, Tensor> inputs;
  std::map<std::string, Tensor> outputs;
  std::map<std::string, Tensor> outputGrads;  // missing: zeros
  std::set<std::string> wanted;               // inputs whose gradient is wanted
  ThreadPool* pool = nullptr;                 // nullptr: one thread
  const std::atomic<bool>* cancel = nullptr;
};

// Runs `desc.gradient` on one block's forward values through a GradientRunner: the gradient of
// each wanted input, each checked to have its input's shape. Throws qs::Error with the block's
// message (or Cancelled). For tests and benchmarks of one block; the backward pass keeps runners.
std::map<std::string, Tensor> runGradient(const BlockDescriptor& desc, const std::string& blockId,
                                          const AttrValues& attrs, const GradientCall& call);

}  // namespace qs
