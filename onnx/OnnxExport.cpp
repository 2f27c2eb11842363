#include "onnx/OnnxExport.h"

#include <onnx/checker.h>

#include <algorithm>

#include "onnx/OnnxEmit.h"
#include "runtime/AttrJson.h"
#include "runtime/OnnxModel.h"
#include "runtime/Provenance.h"
#include "runtime/ResultNames.h"

namespace qs {

namespace onnxexport {

namespace {

// Blocks whose value the model holds as it is now: Const (the contract's initializers), and the
// sources ONNX cannot reproduce bit for bit (a Variable's current value, Quant Space's own random
// streams, a Dataset's current batch, LinSpace's float32 steps).
const std::set<std::string> kFrozenTypes = {
    "Const", "Variable", "RandomNormal", "RandomUniform", "TruncatedNormal", "LinSpace", "Dataset"};

const BlockState& okState(const Graph& g, const BlockId& id) {
  const BlockState* st = g.evaluator.state(id);
  if (!st || st->status != BlockStatus::Ok)
    throw Error("block '" + id.str() +
                "' has not been evaluated without errors; export needs "
                "every block it exports computed");
  return *st;
}

}  // namespace

std::string tensorName(const Graph& g, const PortRef& output) {
  const Block* b = g.page.find(output.block);
  if (b && g.frozen.count(b->id.str()))
    return output.port.str() == "output" ? b->id.str() : b->id.str() + "." + output.port.str();
  if (b && b->type == "Placeholder") return b->id.str();
  return output.block.str() + "." + resultName(output.port.str());
}

const PortRef& Emit::wire(const std::string& port) const {
  const int bi = g_.page.indexOf(block_.id);
  for (int li : g_.page.incomingLinks(bi)) {
    const Link& l = g_.page.links()[li];
    if (l.to.port.str() == port) return l.from;
  }
  fail("input '" + port + "' is not wired");
}

std::string Emit::in(const std::string& port) const {
  return tensorName(g_, wire(port));
}

const Tensor& Emit::value(const std::string& port) const {
  const PortRef& from = wire(port);
  const BlockState& st = okState(g_, from.block);
  auto it = st.outputs.find(from.port.str());
  if (it == st.outputs.end())
    fail("the value of input '" + port + "' was not kept by the evaluation");
  return it->second;
}

const Shape& Emit::inShape(const std::string& port) const {
  const PortRef& from = wire(port);
  const BlockState& st = okState(g_, from.block);
  auto it = st.outputShapes.find(from.port.str());
  if (it == st.outputShapes.end()) fail("the shape of input '" + port + "' is not known");
  return it->second;
}

std::string Emit::out(const std::string& port) const {
  return block_.id.str() + "." + resultName(port);
}

std::string Emit::tmp(const std::string& suffix) const {
  return block_.id.str() + "/" + suffix;
}

onnx::NodeProto& Emit::node(const std::string& op, const std::vector<std::string>& inputs,
                            const std::vector<std::string>& outputs) {
  onnx::NodeProto& n = *g_.proto.add_node();
  n.set_op_type(op);
  n.set_name(block_.id.str() + (nodes_ ? "/" + op + std::to_string(nodes_) : ""));
  ++nodes_;
  for (const auto& i : inputs) n.add_input(i);
  for (const auto& o : outputs) n.add_output(o);
  return n;
}

std::string Emit::constant(const std::string& suffix, const Tensor& value) {
  const std::string name = tmp(suffix);
  tensorToOnnx(value, name, *g_.proto.add_initializer());
  return name;
}

std::string Emit::ints(const std::string& suffix, const std::vector<int64_t>& values) {
  Tensor t = Tensor::uninitialized({static_cast<int64_t>(values.size())}, DType::Int64);
  std::copy(values.begin(), values.end(), t.mutableAs<int64_t>());
  return constant(suffix, t);
}

std::string Emit::scalar(const std::string& suffix, float value) {
  return constant(suffix, Tensor::scalar(value));
}

void Emit::fail(const std::string& message) const {
  throw OnnxExportError(block_.id, block_.type,
                        errorLine(block_.id, block_.type, "cannot export to ONNX: " + message));
}

void setAttr(onnx::NodeProto& node, const std::string& name, int64_t value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void setAttr(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void setAttr(onnx::NodeProto& node, const std::string& name, float value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void setAttr(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

}  // namespace onnxexport

using namespace onnxexport;

namespace {

// The blocks the outputs need, producers before consumers (an iterative depth-first walk: pages
// may be long chains). Frozen blocks end the walk; so do the inputs taken as values.
std::vector<int> exportOrder(const Page& page, const std::vector<int>& roots) {
  std::vector<int> order;
  std::vector<char> state(page.blockCount(), 0);  // 0 new, 1 on the stack, 2 done
  for (int root : roots) {
    std::vector<std::pair<int, size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto& [bi, next] = stack.back();
      if (next == 0 && state[bi]) {
        stack.pop_back();
        continue;
      }
      state[bi] = 1;
      const Block& b = page.blocks()[bi];
      const auto& incoming = page.incomingLinks(bi);
      const bool leaf = kFrozenTypes.count(b.type) != 0;
      while (!leaf && next < incoming.size() &&
             (takenAsValue(b.type, page.links()[incoming[next]].to.port.str()) ||
              state[page.linkFrom(incoming[next])]))
        ++next;
      if (leaf || next == incoming.size()) {
        state[bi] = 2;
        order.push_back(bi);
        stack.pop_back();
      } else {
        const int from = page.linkFrom(incoming[next++]);
        stack.push_back({from, 0});
      }
    }
  }
  return order;
}

// A free dimension (-1 in `free`) gets the name prefix_dI; with `unknown`, every dimension is left
// unnamed (the outputs of a model with a free input dimension: only their rank is known).
void setValueInfo(onnx::ValueInfoProto& v, const std::string& name, DType dtype, const Shape* shape,
                  const std::vector<int64_t>* free = nullptr, const std::string& prefix = {},
                  bool unknown = false) {
  v.set_name(name);
  auto* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnxElemType(dtype));
  if (!shape) return;
  auto* s = t->mutable_shape();
  for (size_t i = 0; i < shape->size(); ++i) {
    auto* d = s->add_dim();
    if (unknown) continue;
    if (free && i < free->size() && (*free)[i] < 0)
      d->set_dim_param(prefix + "_d" + std::to_string(i));
    else
      d->set_dim_value((*shape)[i]);
  }
}

// A Placeholder's graph input; true if a dimension is left free (-1 in its `shape`).
bool addPlaceholderInput(Graph& g, const Block& b, const BlockState& st) {
  std::vector<int64_t> free;
  if (b.attrs.contains("shape") && b.attrs["shape"].is_array())
    for (const Json& d : b.attrs["shape"])
      free.push_back(d.is_number_integer() ? d.get<int64_t>() : 0);
  const auto it = st.outputShapes.find("output");
  setValueInfo(*g.proto.add_input(), b.id.str(), st.outputDType("output"),
               it == st.outputShapes.end() ? nullptr : &it->second, &free, b.id.str());
  return std::any_of(free.begin(), free.end(), [](int64_t d) { return d < 0; });
}

void addFrozen(Graph& g, const Block& b, const BlockState& st) {
  for (const auto& [port, t] : st.outputs)
    tensorToOnnx(t, tensorName(g, {b.id, PortName(port)}), *g.proto.add_initializer());
}

// Each block in order: its graph input, initializers or nodes. True if an input has a free dim.
bool emitBlocks(Graph& g, const std::vector<int>& order, const BlockRegistry& registry) {
  bool freeDims = false;
  for (int bi : order) {
    const Block& b = g.page.blocks()[bi];
    const BlockDescriptor* desc = registry.find(b.type);
    if (b.type == "Placeholder") {
      freeDims |= addPlaceholderInput(g, b, okState(g, b.id));
      continue;
    }
    if (g.frozen.count(b.id.str())) {
      addFrozen(g, b, okState(g, b.id));
      continue;
    }
    const auto form = opForms().find(b.type);
    if (form == opForms().end() || !desc)
      throw OnnxExportError(b.id, b.type,
                            errorLine(b.id, b.type,
                                      "has no ONNX form (docs/onnx.md lists the "
                                      "blocks that export)"));
    okState(g, b.id);
    const AttrValues attrs = resolveAttrs(*desc, b.attrs);
    Emit e(g, b, attrs);
    form->second(e);
  }
  return freeDims;
}

void addOutputs(Graph& g, const std::vector<std::pair<PortRef, std::string>>& outs, bool freeDims) {
  for (const auto& [ref, name] : outs) {
    const std::string inner = tensorName(g, ref);
    if (inner != name) {
      auto* n = g.proto.add_node();
      n->set_op_type("Identity");
      n->set_name(name);
      n->add_input(inner);
      n->add_output(name);
    }
    const BlockState* st = g.evaluator.state(ref.block);
    const auto it = st->outputShapes.find(ref.port.str());
    setValueInfo(*g.proto.add_output(), name, st->outputDType(ref.port.str()),
                 it == st->outputShapes.end() ? nullptr : &it->second, nullptr, {}, freeDims);
  }
}

void setModelHeader(onnx::ModelProto& model, const Page& page, const OnnxExportOptions& options) {
  model.set_ir_version(7);
  model.set_producer_name("Quant Space");
  model.set_producer_version(quantSpaceVersion());
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  model.mutable_graph()->set_name(page.name.empty() ? "page" : page.name);
  auto* version = model.add_metadata_props();
  version->set_key("quantspace.version");
  version->set_value(quantSpaceVersion());
  if (!options.pageJson.empty()) {
    auto* p = model.add_metadata_props();
    p->set_key("quantspace.page");
    p->set_value(options.pageJson);
  }
}

}  // namespace

std::vector<std::string> sinkResults(const Page& page, const BlockRegistry& registry) {
  std::vector<std::string> out;
  for (int bi = 0; bi < static_cast<int>(page.blockCount()); ++bi) {
    if (!page.outgoingLinks(bi).empty()) continue;
    const Block& b = page.blocks()[bi];
    const BlockDescriptor* d = registry.find(b.type);
    if (!d) continue;
    for (const PortDescriptor* p : d->outputs())
      out.push_back(b.id.str() + "." + resultName(p->name));
  }
  return out;
}

std::string exportOnnx(const Page& page, const Evaluator& evaluator,
                       const OnnxExportOptions& options) {
  const std::vector<std::string> fetch =
      options.fetch.empty() ? sinkResults(page, evaluator.registry()) : options.fetch;
  if (fetch.empty()) throw Error("nothing to export: the page has no results");
  std::vector<std::pair<PortRef, std::string>> outs;
  std::vector<int> roots;
  for (const std::string& name : fetch) {
    const std::string problem = resultNameProblem(page, evaluator.registry(), name);
    if (!problem.empty()) throw Error(name + ": " + problem);
    if (std::any_of(outs.begin(), outs.end(), [&](const auto& o) { return o.second == name; }))
      continue;
    const size_t dot = name.find('.');
    const BlockId id(name.substr(0, dot));
    outs.push_back({{id, PortName(name.substr(dot + 1 + std::string("result_").size()))}, name});
    roots.push_back(page.indexOf(id));
  }
  onnx::ModelProto model;
  setModelHeader(model, page, options);
  Graph g{page, evaluator, *model.mutable_graph(), {}};
  for (const Block& b : page.blocks())
    if (kFrozenTypes.count(b.type)) g.frozen.insert(b.id.str());
  const bool freeDims = emitBlocks(g, exportOrder(page, roots), evaluator.registry());
  addOutputs(g, outs, freeDims);
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw Error(std::string("the exported model fails onnx::checker: ") + e.what());
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw Error("the exported model is too large for one ONNX file (2 GiB)");
  return bytes;
}

void feedPlaceholderStandIns(const Page& page, Evaluator& evaluator) {
  for (const Block& b : page.blocks()) {
    if (b.type != "Placeholder" || !b.attrs.contains("shape") || !b.attrs["shape"].is_array())
      continue;
    Shape shape;
    for (const Json& d : b.attrs["shape"]) {
      if (!d.is_number_integer()) return;  // the block reports its bad attribute itself
      shape.push_back(d.get<int64_t>() < 0 ? 1 : d.get<int64_t>());
    }
    DType dtype = DType::Float32;
    if (b.attrs.contains("dtype") && b.attrs["dtype"].is_string()) {
      try {
        dtype = dtypeFromName(b.attrs["dtype"].get<std::string>());
      } catch (const Error&) {
        continue;
      }
    }
    try {
      evaluator.setFeed(b.id, Tensor::zeros(shape, dtype));
    } catch (const Error&) {
    }
  }
}

}  // namespace qs
