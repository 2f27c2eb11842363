#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/Tensor.h"
#include "runtime/WeightFiles.h"

// The classes protobuf generates from onnx.proto (Debian's libonnx-dev). Only code that includes
// <onnx/onnx_pb.h> itself (and links onnx_proto) touches them; qs_runtime links them privately.
namespace onnx {
class ModelProto;
class TensorProto;
}  // namespace onnx

namespace qs {

// An ONNX model file is at most this large: a model holds its weights, so the bound is the
// runtime's own tensor limit (4x, as for a TensorFlow.js manifest's shards) but below protobuf's
// 2 GiB message limit.
uint64_t maxOnnxBytes();

// Reads an ONNX model (a serialized onnx.ModelProto). Throws qs::Error naming `source` for bytes
// that are not one (truncated, another format) and for a model without a graph.
void parseOnnxModel(const std::string& bytes, const std::string& source, onnx::ModelProto& model);
void readOnnxModel(const std::filesystem::path& path, onnx::ModelProto& model);

// One ONNX tensor as a Tensor. float32, float16, int32, int64, uint8 and bool keep their dtype;
// int8, int16 and uint16 are widened to int32 (their values unchanged). The data may be raw_data
// or the typed lists; its size must match the dims exactly, checked before anything is allocated.
// Refused, with `what` in the message: other element types, negative or too large dims, data
// stored outside the file, segments.
Tensor tensorFromOnnx(const onnx::TensorProto& proto, const std::string& what);
// The tensor as an initializer named `name` (raw little-endian data).
void tensorToOnnx(const Tensor& tensor, const std::string& name, onnx::TensorProto& proto);
// The ONNX element type (TensorProto::DataType) of a dtype.
int onnxElemType(DType dtype);

// Every initializer of the model's main graph, by name, in the file's order (the weights-file
// reader for ".onnx"). Two initializers of one name are refused.
std::vector<NamedTensor> parseOnnxInitializers(const std::string& bytes, const std::string& source);
std::vector<NamedTensor> readOnnxInitializers(const std::filesystem::path& path);

}  // namespace qs
