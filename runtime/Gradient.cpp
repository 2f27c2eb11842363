#include "runtime/Gradient.h"

#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

namespace qs {

const GradientContext::OutputSlot* GradientContext::findOutput(const std::string& port) const {
  for (const OutputSlot& o : outputs_)
    if (o.port == port) return &o;
  return nullptr;
}

const Tensor& GradientContext::output(const std::string& port) const {
  const OutputSlot* o = findOutput(port);
  if (!o || !o->value) throw Error("output '" + port + "' is not available");
  return *o->value;
}

const Tensor* GradientContext::outputGrad(const std::string& port) const {
  const OutputSlot* o = findOutput(port);
  return o ? o->grad : nullptr;
}

bool GradientContext::wantsGrad(const std::string& inputPort) const {
  const Input* in = findInput(inputPort);
  return in && wanted_[in - inputs_.data()];
}

void GradientContext::setInputGrad(const std::string& port, Tensor grad) {
  const Input* in = findInput(port);
  if (!in) return;  // not an input: nobody asked for it
  const size_t i = in - inputs_.data();
  inputGrads_[i] = std::move(grad);
  gradGiven_[i] = 1;
}

GradientRunner::GradientRunner(const BlockDescriptor& desc, const std::string& blockId,
                               const AttrValues& attrs)
    : GradientContext(desc, blockId, attrs) {
  computing_ = true;
}

int GradientRunner::addInput(const std::string& port) {
  if (const Input* in = findInput(port)) return static_cast<int>(in - inputs_.data());
  putInput(port, nullptr, nullptr, DType::Float32);
  wanted_.push_back(0);
  inputGrads_.emplace_back();
  gradGiven_.push_back(0);
  return static_cast<int>(inputs_.size()) - 1;
}

int GradientRunner::addOutput(const std::string& port) {
  if (const OutputSlot* o = findOutput(port)) return static_cast<int>(o - outputs_.data());
  outputs_.push_back({port, nullptr, nullptr});
  return static_cast<int>(outputs_.size()) - 1;
}

void GradientRunner::bindInput(int i, const Tensor& t) {
  Input& in = inputs_[i];
  in.shape = &t.shape();
  in.tensor = &t;
  in.dtype = t.dtype();
}

void GradientRunner::bindOutput(int o, const Tensor* value, const Tensor* grad) {
  outputs_[o].value = value;
  outputs_[o].grad = grad;
}

void GradientRunner::setThreads(ThreadPool* pool, const std::atomic<bool>* cancel) {
  pool_ = pool;
  threads_ = pool ? pool->size() : 1;
  cancel_ = cancel;
}

void GradientRunner::run() {
  if (!desc_.gradient) throw Error(desc_.type + " has no gradient");
  for (const OutputSlot& o : outputs_)
    if (o.value && o.grad && o.value->shape() != o.grad->shape())
      throw Error("internal error: the gradient of output '" + o.port + "' has shape " +
                  shapeToString(o.grad->shape()) + ", the output " +
                  shapeToString(o.value->shape()));
  for (size_t i = 0; i < inputs_.size(); ++i) {
    gradGiven_[i] = 0;
    inputGrads_[i] = Tensor();
  }
  desc_.gradient(*this);
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (!wanted_[i]) {
      inputGrads_[i] = Tensor();
      continue;
    }
    const std::string& port = inputs_[i].port;
    if (!gradGiven_[i])
      throw Error("internal error: the gradient gave nothing for input '" + port + "'");
    const Shape& want = *inputs_[i].shape;
    if (inputGrads_[i].shape() != want)
      throw Error("internal error: the gradient of input '" + port + "' has shape " +
                  shapeToString(inputGrads_[i].shape()) + ", the input " + shapeToString(want));
  }
}

std::map<std::string, Tensor> runGradient(const BlockDescriptor& desc, const std::string& blockId,
                                          const AttrValues& attrs, const GradientCall& call) {
  GradientRunner runner(desc, blockId, attrs);
  for (const auto& [port, t] : call.inputs) runner.bindInput(runner.addInput(port), t);
  for (const std::string& port : call.wanted) {
    if (!call.inputs.count(port))
      throw Error("internal error: the gradient gave nothing for input '" + port + "'");
    runner.setWanted(runner.addInput(port), true);
  }
  for (const auto& [port, t] : call.outputs) runner.bindOutput(runner.addOutput(port), &t, nullptr);
  for (const auto& [port, g] : call.outputGrads) {
    const int o = runner.addOutput(port);
    auto out = call.outputs.find(port);
    runner.bindOutput(o, out == call.outputs.end() ? nullptr : &out->second, &g);
  }
  runner.setThreads(call.pool, call.cancel);
  runner.run();
  std::map<std::string, Tensor> grads;
  for (int i = 0; i < runner.inputCount(); ++i)
    if (runner.wanted(i)) grads[runner.inputPort(i)] = runner.takeInputGrad(i);
  return grads;
}

}  // namespace qs
