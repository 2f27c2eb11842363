#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "runtime/Tensor.h"

namespace qs {

// Weights from other frameworks' files (docs/formats.md, "Weight files"). Every error is a
// qs::Error naming the file and, where there is one, the tensor; nothing is allocated for a
// tensor before its size has been checked against the bytes the file holds.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Hugging Face's safetensors: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data.
// Reads F32, F16, I32, I64, BOOL and U8 tensors (as float32, float16, int32, int64, bool, uint8);
// refuses other dtypes, a header longer than kMaxSafetensorsHeader, offsets that overlap, leave a
// hole, run past the data or do not match the shape. Tensors come in the order of their data.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;
std::vector<NamedTensor> parseSafetensors(const std::string& bytes, const std::string& source);
std::vector<NamedTensor> readSafetensors(const std::filesystem::path& path);

// TensorFlow.js weights: a manifest (model.json with a "weightsManifest", or a
// weights_manifest.json that is the list itself) of groups {"paths": [shard files], "weights":
// [{"name", "shape", "dtype", "quantization": {"dtype", "scale", "min"}}]}; a group's shards,
// concatenated in order, hold its weights one after another. float32, int32 and bool weights are
// read; quantized float32 weights are dequantized as TensorFlow.js does: uint8/uint16 q becomes
// q * scale + min computed in double and rounded once to float32, float16 is widened exactly.
// Tensors come in manifest order.
// `readShard` gives a shard's bytes by its path as the manifest writes it (relative to the
// manifest's folder); paths that are absolute or climb out of the folder are refused first.
std::vector<NamedTensor> parseTfjsWeights(
    const std::string& manifestText, const std::string& source,
    const std::function<std::string(const std::string& path)>& readShard);
std::vector<NamedTensor> readTfjsWeights(const std::filesystem::path& manifest);

// Every tensor of a weights file, its format chosen by the file name's ending: ".npy" (one
// tensor, named by the file's stem), ".npz" (one per array, by key), ".safetensors", ".onnx" (the
// model's initializers, runtime/OnnxModel.h) or ".json" (a TensorFlow.js manifest). Another ending
// is refused with a qs::Error naming the file.
std::vector<NamedTensor> readWeightFile(const std::filesystem::path& path);

}  // namespace qs
