#pragma once

// Runs one block on given input tensors through the real Evaluator (the inputs come from Const
// blocks whose values are fed), for the tests of the math, random and report blocks.

#include <map>
#include <string>

#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/Json.h"

namespace qs::testing {

struct BlockRun {
  bool ok = false;
  std::string error;
  std::map<std::string, Tensor> outputs;
  const Tensor& out(const std::string& port) const { return outputs.at(port); }
};

inline BlockRun runBlock(const std::string& type, const Json& attrs,
                         const std::map<std::string, Tensor>& inputs = {},
                         const EvalOptions& options = {}) {
  Page page;
  for (const auto& [port, t] : inputs) {
    Block b;
    b.id = BlockId("in_" + port);
    b.type = "Const";
    page.addBlock(b);
  }
  Block b;
  b.id = BlockId("b");
  b.type = type;
  b.attrs = attrs.is_null() ? Json::object() : attrs;
  page.addBlock(b);
  for (const auto& [port, t] : inputs)
    page.addLink({{BlockId("in_" + port), PortName("output")}, {BlockId("b"), PortName(port)}});
  Evaluator ev(builtinRegistry());
  for (const auto& [port, t] : inputs) ev.setFeed(BlockId("in_" + port), t);
  ev.evaluate(page, options);
  const BlockState* st = ev.state(BlockId("b"));
  BlockRun r;
  r.ok = st && st->status == BlockStatus::Ok;
  if (st) {
    r.error = st->error;
    r.outputs = st->outputs;
  }
  return r;
}

inline Tensor vec(std::vector<float> v) {
  const auto n = static_cast<int64_t>(v.size());
  return Tensor::fromValues({n}, v);
}

inline Tensor tensor(Shape s, std::vector<float> v) {
  return Tensor::fromValues(std::move(s), v);
}

}  // namespace qs::testing
