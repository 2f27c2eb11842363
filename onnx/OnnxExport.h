#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"

namespace qs {

// A block of the exported part of the page that has no ONNX form (or a value that ONNX cannot
// express, such as a FakeQuant range wider than 8 bits). what() is the whole message; `block` is
// the block's id, for errorLine().
class OnnxExportError : public Error {
 public:
  OnnxExportError(BlockId block, std::string type, const std::string& message)
      : Error(message), block(std::move(block)), type(std::move(type)) {}
  BlockId block;
  std::string type;
};

struct OnnxExportOptions {
  // Results that become the graph's outputs ("B.result_P"); empty: every result of every block
  // that feeds nothing.
  std::vector<std::string> fetch;
  // Written into the model's metadata (provenance); empty leaves it out.
  std::string pageJson;
};

// The page as an ONNX model (opset 13), serialized. The evaluator must have evaluated the page
// with every block the outputs need computed and its intermediate results kept: Consts, frozen
// sources and the ranges of the FakeQuant ops are taken from its results (docs/onnx.md). The model
// passes onnx::checker before it is returned. Throws OnnxExportError for a block with no ONNX
// form (the first one met, outputs in order, inputs depth first), qs::Error for anything else.
std::string exportOnnx(const Page& page, const Evaluator& evaluator,
                       const OnnxExportOptions& options = {});

// The results a default export makes its outputs: every output of every block that feeds nothing.
std::vector<std::string> sinkResults(const Page& page, const BlockRegistry& registry);

// For an export without a --feed: each Placeholder whose `shape` attribute is set gets zeros of
// that shape (a -1 dimension as 1) and of its `dtype` (float32 when unset), so that the page
// evaluates; the graph input keeps -1 as a named, free dimension.
void feedPlaceholderStandIns(const Page& page, Evaluator& evaluator);

}  // namespace qs
