#include "runtime/Gradient.h"

#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

namespace qs {

const Tensor& GradientContext::output(const std::string& port) const {
  auto it = forwardOutputs_.find(port);
  if (it == forwardOutputs_.end()) throw Error("output '" + port + "' is not available");
  return *it->second;
}

const Tensor* GradientContext::outputGrad(const std::string& port) const {
  auto it = outputGrads_.find(port);
  return it == outputGrads_.end() ? nullptr : it->second;
}

void GradientContext::setInputGrad(const std::string& port, Tensor grad) {
  inputGrads_[port] = std::move(grad);
}

namespace {

class CallContext : public GradientContext {
 public:
  // The call's tensors move into the context (the backward pass builds each call for one use).
  CallContext(const BlockDescriptor& desc, const std::string& blockId, const AttrValues& attrs,
              GradientCall& call)
      : GradientContext(desc, blockId, attrs),
        ownInputs_(std::move(call.inputs)),
        outputs_(std::move(call.outputs)),
        grads_(std::move(call.outputGrads)) {
    for (const auto& [port, t] : ownInputs_) putInput(port, &t.shape(), &t, t.dtype());
    for (const auto& [port, t] : outputs_) forwardOutputs_[port] = &t;
    for (const auto& [port, t] : grads_) outputGrads_[port] = &t;
    wanted_ = std::move(call.wanted);
    computing_ = true;
    pool_ = call.pool;
    threads_ = call.pool ? call.pool->size() : 1;
    cancel_ = call.cancel;
  }
  std::map<std::string, Tensor>& grads() { return inputGrads_; }
  const std::set<std::string>& wanted() const { return wanted_; }

 private:
  std::map<std::string, Tensor> ownInputs_;
  std::map<std::string, Tensor> outputs_;
  std::map<std::string, Tensor> grads_;
};

}  // namespace

std::map<std::string, Tensor> runGradient(const BlockDescriptor& desc, const std::string& blockId,
                                          const AttrValues& attrs, GradientCall call) {
  if (!desc.gradient) throw Error(desc.type + " has no gradient");
  for (const auto& [port, g] : call.outputGrads) {
    auto out = call.outputs.find(port);
    if (out != call.outputs.end() && out->second.shape() != g.shape())
      throw Error("internal error: the gradient of output '" + port + "' has shape " +
                  shapeToString(g.shape()) + ", the output " + shapeToString(out->second.shape()));
  }
  CallContext ctx(desc, blockId, attrs, call);
  desc.gradient(ctx);
  std::map<std::string, Tensor>& grads = ctx.grads();
  for (const std::string& port : ctx.wanted()) {
    auto g = grads.find(port);
    if (g == grads.end())
      throw Error("internal error: the gradient gave nothing for input '" + port + "'");
    const Shape& want = ctx.inputShape(port);
    if (g->second.shape() != want)
      throw Error("internal error: the gradient of input '" + port + "' has shape " +
                  shapeToString(g->second.shape()) + ", the input " + shapeToString(want));
  }
  for (auto it = grads.begin(); it != grads.end();)
    it = ctx.wanted().count(it->first) ? std::next(it) : grads.erase(it);
  return std::move(grads);
}

}  // namespace qs
