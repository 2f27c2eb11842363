#include "runtime/Gradient.h"

#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

namespace qs {

const Tensor& GradientContext::output(const std::string& port) const {
  const Tensor* t = find(forwardOutputs_, port);
  if (!t) throw Error("output '" + port + "' is not available");
  return *t;
}

const Tensor* GradientContext::outputGrad(const std::string& port) const {
  return find(outputGrads_, port);
}

void GradientContext::setInputGrad(const std::string& port, Tensor grad) {
  inputGrads_[port] = std::move(grad);
}

namespace {

class CallContext : public GradientContext {
 public:
  // The context reads the call's tensors, which outlive it.
  CallContext(const BlockDescriptor& desc, const std::string& blockId, const AttrValues& attrs,
              const GradientCall& call)
      : GradientContext(desc, blockId, attrs) {
    for (const auto& [port, t] : call.inputs) putInput(port, &t.shape(), &t, t.dtype());
    forwardOutputs_.reserve(call.outputs.size());
    for (const auto& [port, t] : call.outputs) forwardOutputs_.push_back({&port, &t});
    outputGrads_.reserve(call.outputGrads.size());
    for (const auto& [port, t] : call.outputGrads) outputGrads_.push_back({&port, &t});
    wanted_ = &call.wanted;
    computing_ = true;
    pool_ = call.pool;
    threads_ = call.pool ? call.pool->size() : 1;
    cancel_ = call.cancel;
  }
  std::map<std::string, Tensor>& grads() { return inputGrads_; }
  const std::set<std::string>& wanted() const { return *wanted_; }
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
