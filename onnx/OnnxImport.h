#pragma once

#include <filesystem>
#include <string>

#include "runtime/Page.h"
#include "runtime/PageJson.h"

namespace qs {

// An ONNX model as a page (docs/onnx.md, "Import"): graph inputs become Placeholders, the
// initializers the nodes use Consts reading them from the model file (`weights` = the model's
// path, `tensor` = the initializer's name), and each QuantizeLinear + DequantizeLinear pair a
// FakeQuant block (per axis: FakeQuantWithMinMaxVarsPerChannel, between Transposes when the axis is
// not the last; per tensor: FakeQuantWithMinMaxVars) whose min and max TensorFlow nudges to the
// same scale and zero point. The other nodes import as their blocks where the table of
// docs/onnx.md has one. Throws qs::Error naming the node for anything else: a node with no
// block, a pair whose range cannot be matched, a tensor used before it is defined (cyclic or
// unsorted graphs), wrong element types.
Page importOnnxPage(const std::filesystem::path& model);
Page importOnnxPage(const std::string& bytes, const std::string& source,
                    const std::filesystem::path& weightsPath);

// The page an .onnx file stands for: the page it was exported from when its metadata carries one
// ("quantspace.page", docs/onnx.md), else importOnnxPage's. Relative paths of the page are taken
// from the model's folder.
LoadedPage pageFromOnnx(const std::filesystem::path& model);

}  // namespace qs
