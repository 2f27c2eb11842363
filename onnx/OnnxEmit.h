#pragma once

// The exporter's working state, shared by the graph walk (OnnxExport.cpp) and the blocks' ONNX
// forms (OnnxOps.cpp). Internal to qs_onnx.

#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "onnx/OnnxExport.h"
#include "runtime/BlockDescriptor.h"

namespace qs::onnxexport {

struct Graph {
  const Page& page;
  const Evaluator& evaluator;
  onnx::GraphProto& proto;
  // Blocks whose value goes into the model as an initializer (Const and the frozen sources).
  std::set<std::string> frozen;
};

// One block's part of the graph: its inputs' tensor names and values, and the nodes it adds.
class Emit {
 public:
  Emit(Graph& graph, const Block& block, const AttrValues& attrs)
      : g_(graph), block_(block), attrs_(attrs) {}
  const Block& block() const { return block_; }
  const AttrValues& attrs() const { return attrs_; }

  // The ONNX tensor that the wire into `port` carries.
  std::string in(const std::string& port) const;
  // The value of that wire as evaluated (for ranges and other inputs the model takes as
  // constants).
  const Tensor& value(const std::string& port) const;
  const Shape& inShape(const std::string& port) const;
  // "B.result_P": the tensor of this block's output `port`.
  std::string out(const std::string& port) const;
  // A name for an intermediate tensor of this block: "B/suffix".
  std::string tmp(const std::string& suffix) const;

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs);
  // An initializer "B/suffix" holding `value`; returns its name.
  std::string constant(const std::string& suffix, const Tensor& value);
  std::string ints(const std::string& suffix, const std::vector<int64_t>& values);
  std::string scalar(const std::string& suffix, float value);

  [[noreturn]] void fail(const std::string& message) const;

 private:
  const PortRef& wire(const std::string& port) const;
  Graph& g_;
  const Block& block_;
  const AttrValues& attrs_;
  int nodes_ = 0;
};

void setAttr(onnx::NodeProto& node, const std::string& name, int64_t value);
void setAttr(onnx::NodeProto& node, const std::string& name, const std::vector<int64_t>& values);
void setAttr(onnx::NodeProto& node, const std::string& name, float value);
void setAttr(onnx::NodeProto& node, const std::string& name, const std::string& value);

// The tensor name of an output wherever it is used: a frozen block's initializer is "B" (its
// `output`) or "B.P", a Placeholder's graph input "B", any other output "B.result_P".
std::string tensorName(const Graph& graph, const PortRef& output);

using OpForm = std::function<void(Emit&)>;
// The ONNX forms of the block types, by type name.
const std::map<std::string, OpForm>& opForms();
// Inputs whose value the model takes as a constant (not a graph edge), by block type.
bool takenAsValue(const std::string& type, const std::string& port);

}  // namespace qs::onnxexport
