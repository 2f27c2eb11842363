#pragma once

#include <QString>

#include "runtime/BlockRegistry.h"
#include "runtime/Page.h"

namespace qs {

// File > Export ONNX: evaluates `page` once on its own (no step: Variables export with the value
// they start with) and writes it to `path` as quantspace-run --export-onnx does, every result of a
// block that feeds nothing as an output (docs/onnx.md). `pageFile` is the page's file, for its
// relative paths ("" for an unsaved page). False with `error` set when a block fails, has no ONNX
// form, or the file cannot be written.
bool exportPageToOnnx(const Page& page, const QString& pageFile, const BlockRegistry& registry,
                      const QString& path, QString* error);

}  // namespace qs
