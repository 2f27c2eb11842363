#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <string>

#include "runtime/BlockDescriptor.h"

namespace qs {

// The evaluator's side of a block's context: it hands the block its inputs and surroundings, then
// takes the outputs. Blocks see only the BlockContext base.
class EvalContext : public BlockContext {
 public:
  EvalContext(const BlockDescriptor& desc, const std::string& blockId, const AttrValues& attrs)
      : BlockContext(desc, blockId, attrs) {}

  // The shape and the tensor are the caller's and must outlive the context.
  void setInputShape(const std::string& port, const Shape& shape, DType dtype) {
    putInput(port, &shape, nullptr, dtype);
  }
  void reserveInputs(size_t n) { inputs_.reserve(n); }
  void setInput(const std::string& port, const Tensor& t) {
    putInput(port, &t.shape(), &t, t.dtype());
  }
  void beginCompute() { computing_ = true; }
  void setFeed(const Tensor* feed) { feed_ = feed; }
  // `dir` must outlive the context.
  void setPageDir(const std::filesystem::path& dir) { pageDir_ = &dir; }
  void setThreads(int threads, ThreadPool* pool) {
    threads_ = threads;
    pool_ = pool;
  }
  void setCancelFlag(const std::atomic<bool>* cancel) { cancel_ = cancel; }
  void setHeld(const std::string& slot, const Tensor* value) { held_[slot] = value; }
  void setGradientService(const GradientService* service) { gradients_ = service; }
  void setStep(int64_t step) { step_ = step; }

  // For taking the results out once the block is done.
  std::map<std::string, Shape>& mutableOutputShapes() { return outputShapes_; }
  std::map<std::string, DType>& mutableOutputDTypes() { return outputDTypes_; }
  std::map<std::string, Tensor>& mutableOutputs() { return outputs_; }
};

}  // namespace qs
