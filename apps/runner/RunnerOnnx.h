#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "runtime/Evaluator.h"

namespace qs {

// quantspace-run --export-onnx OUT: writes the evaluated page as an ONNX model (docs/onnx.md).
// Returns 0, 1 after the error line of the first block with no ONNX form, or 2 when OUT cannot be
// written.
int writeOnnxExport(const std::string& path, const Page& page, const Evaluator& evaluator,
                    const std::vector<std::string>& fetch, std::ostream& err);

}  // namespace qs
