#include "runtime/BlockDescriptor.h"

#include "runtime/Error.h"

namespace qs {

std::string RankRule::describe() const {
  if (max == kUnbounded) return min == 0 ? "any rank" : "rank >= " + std::to_string(min);
  if (min == max) return "rank " + std::to_string(min);
  return "rank " + std::to_string(min) + " to " + std::to_string(max);
}

std::string attrTypeName(AttrType type) {
  switch (type) {
    case AttrType::Int:
      return "int";
    case AttrType::Float:
      return "float";
    case AttrType::Bool:
      return "bool";
    case AttrType::String:
      return "string";
    case AttrType::IntList:
      return "list of int";
    case AttrType::FloatList:
      return "list of float";
    case AttrType::ValueList:
      return "list of number or bool";
  }
  return "?";
}

std::string resultName(const std::string& port) {
  return "result_" + port;
}

const AttrValue& AttrValues::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw Error("attribute '" + name + "' is not set");
  return it->second;
}

template <typename T>
static const T& typed(const AttrValues& v, const std::string& name) {
  const T* p = std::get_if<T>(&v.get(name));
  if (!p) throw Error("attribute '" + name + "' has the wrong type");
  return *p;
}

int64_t AttrValues::getInt(const std::string& n) const {
  return typed<int64_t>(*this, n);
}
double AttrValues::getFloat(const std::string& n) const {
  return typed<double>(*this, n);
}
bool AttrValues::getBool(const std::string& n) const {
  return typed<bool>(*this, n);
}
const std::string& AttrValues::getString(const std::string& n) const {
  return typed<std::string>(*this, n);
}
const std::vector<int64_t>& AttrValues::getInts(const std::string& n) const {
  return typed<std::vector<int64_t>>(*this, n);
}
const std::vector<float>& AttrValues::getFloats(const std::string& n) const {
  return typed<std::vector<float>>(*this, n);
}
const std::vector<AttrScalar>& AttrValues::getScalars(const std::string& n) const {
  return typed<std::vector<AttrScalar>>(*this, n);
}

BlockContext::BlockContext(const BlockDescriptor& desc, const std::string& blockId,
                           const AttrValues& attrs)
    : desc_(desc), blockId_(blockId), attrs_(attrs) {}

const BlockContext::Input* BlockContext::findInput(const std::string& port) const {
  for (const Input& in : inputs_)
    if (in.port == port) return &in;
  return nullptr;
}

void BlockContext::putInput(const std::string& port, const Shape* shape, const Tensor* tensor,
                            DType dtype) {
  for (Input& in : inputs_)
    if (in.port == port) {
      in.shape = shape;
      in.tensor = tensor;
      in.dtype = dtype;
      return;
    }
  inputs_.push_back({port, shape, tensor, dtype});
}

DType BlockContext::inputDType(const std::string& port) const {
  const Input* in = findInput(port);
  if (!in) throw Error("input '" + port + "' is not wired");
  return in->dtype;
}

DType BlockContext::outputDType(const std::string& port) const {
  auto it = outputDTypes_.find(port);
  return it == outputDTypes_.end() ? DType::Float32 : it->second;
}

bool PortDescriptor::takes(DType dtype) const {
  for (DType d : dtypes)
    if (d == dtype) return true;
  return false;
}

std::string PortDescriptor::describeDTypes() const {
  std::string s;
  for (size_t i = 0; i < dtypes.size(); ++i) {
    if (i) s += i + 1 == dtypes.size() ? " or " : ", ";
    s += dtypeName(dtypes[i]);
  }
  return s;
}

const std::filesystem::path& BlockContext::noDir() {
  static const std::filesystem::path empty;
  return empty;
}

bool BlockContext::hasInput(const std::string& port) const {
  return findInput(port) != nullptr;
}

const Shape& BlockContext::inputShape(const std::string& port) const {
  const Input* in = findInput(port);
  if (!in) throw Error("input '" + port + "' is not wired");
  return *in->shape;
}

const Tensor& BlockContext::input(const std::string& port) const {
  const Input* in = findInput(port);
  if (!in || !in->tensor) throw Error("input '" + port + "' is not available");
  return *in->tensor;
}

const Tensor* BlockContext::held(const std::string& slot) const {
  auto it = held_.find(slot);
  return it == held_.end() ? nullptr : it->second;
}

Tensor BlockContext::symbolicGradient(const std::string& ysPort, const std::string& xsPort,
                                      const std::string& gradYsPort) const {
  if (!gradients_) throw Error("gradients are computed only when the page is evaluated");
  return gradients_->gradient(ysPort, xsPort, gradYsPort);
}

void BlockContext::setOutputShape(const std::string& port, Shape shape, DType dtype) {
  outputShapes_[port] = std::move(shape);
  if (dtype != DType::Float32)
    outputDTypes_[port] = dtype;
  else
    outputDTypes_.erase(port);
}

void BlockContext::setOutput(const std::string& port, Tensor tensor) {
  auto [shape, fresh] = outputShapes_.try_emplace(port, tensor.shape());
  // compute() must give the shapes and dtypes check() promised (the editor showed them before the
  // run).
  if (!fresh && shape->second != tensor.shape())
    throw Error("internal error: output '" + port + "' has shape " + shapeToString(tensor.shape()) +
                " but check() said " + shapeToString(shape->second));
  if (fresh && tensor.dtype() != DType::Float32) outputDTypes_[port] = tensor.dtype();
  if (tensor.dtype() != outputDType(port))
    throw Error(std::string("internal error: output '") + port + "' is " +
                dtypeName(tensor.dtype()) + " but check() said " + dtypeName(outputDType(port)));
  outputs_[port] = std::move(tensor);
}

const PortDescriptor* BlockDescriptor::findPort(const std::string& name) const {
  for (const auto& p : ports)
    if (p.name == name) return &p;
  return nullptr;
}

const PortDescriptor* BlockDescriptor::findPort(const std::string& name,
                                                PortDirection direction) const {
  for (const auto& p : ports)
    if (p.name == name && p.direction == direction) return &p;
  return nullptr;
}

const StateSlot* BlockDescriptor::findSlot(const std::string& input) const {
  for (const auto& s : stateSlots)
    if (s.input == input) return &s;
  return nullptr;
}

const AttrDescriptor* BlockDescriptor::findAttr(const std::string& name) const {
  for (const auto& a : attrs)
    if (a.name == name) return &a;
  return nullptr;
}

std::vector<const PortDescriptor*> BlockDescriptor::inputs() const {
  std::vector<const PortDescriptor*> r;
  for (const auto& p : ports)
    if (p.direction == PortDirection::Input && p.kind == PortKind::Tensor) r.push_back(&p);
  return r;
}

std::vector<const PortDescriptor*> BlockDescriptor::outputs() const {
  std::vector<const PortDescriptor*> r;
  for (const auto& p : ports)
    if (p.direction == PortDirection::Output && p.kind == PortKind::Tensor) r.push_back(&p);
  return r;
}

}  // namespace qs
