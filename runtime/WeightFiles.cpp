#include "runtime/WeightFiles.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <set>

#include "runtime/Error.h"
#include "runtime/FileIo.h"
#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"
#include "runtime/OnnxModel.h"

namespace qs {

namespace {

static_assert(std::endian::native == std::endian::little, "weight files are little endian");

// A shape: a JSON array of non-negative integers.
Shape shapeFromJson(const Json& j, const std::string& what) {
  if (!j.is_array()) throw Error(what + ": \"shape\" must be a list of integers");
  Shape shape;
  for (const Json& d : j) {
    if (d.is_number_unsigned() && d.get<uint64_t>() <= uint64_t(INT64_MAX))
      shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    else
      throw Error(what + ": \"shape\" " + jsonSnippet(j) +
                  " must be a list of non-negative integers");
  }
  return shape;
}

// Elements of `shape` of `dtype`, refused (naming `what`) beyond what the runtime allocates.
int64_t elementCount(const Shape& shape, DType dtype, const std::string& what) {
  try {
    return checkedElementCount(shape, dtype);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

// A tensor of `dtype` and `shape` holding the `count` elements at `src` as they are (bools made
// 0/1: a byte other than 0 is true, as a cast to bool reads it).
Tensor tensorFromBytes(const unsigned char* src, DType dtype, Shape shape, int64_t count) {
  Tensor t = Tensor::uninitialized(std::move(shape), dtype);
  if (dtype == DType::Bool) {
    bool* dst = t.mutableAs<bool>();
    for (int64_t i = 0; i < count; ++i) dst[i] = src[i] != 0;
  } else if (count) {
    std::memcpy(t.mutableRawData(), src, t.bytes());
  }
  return t;
}

// ---- safetensors ----

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

DType safetensorsDType(const Json& j, const std::string& what) {
  static const std::map<std::string, DType> known = {
      {"F32", DType::Float32}, {"F16", DType::Float16}, {"I32", DType::Int32},
      {"I64", DType::Int64},   {"BOOL", DType::Bool},   {"U8", DType::UInt8}};
  if (!j.is_string()) throw Error(what + ": \"dtype\" must be a string such as \"F32\"");
  auto it = known.find(j.get<std::string>());
  if (it == known.end())
    throw Error(what + ": dtype " + jsonSnippet(j) +
                " is not read (Quant Space reads F32, F16, I32, I64, BOOL and U8)");
  return it->second;
}

SafetensorsEntry safetensorsEntry(const std::string& name, const Json& j,
                                  const std::string& source) {
  const std::string what = source + ": tensor '" + name + "'";
  if (!j.is_object()) throw Error(what + ": must be an object with dtype, shape and data_offsets");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!j.contains(key)) throw Error(what + ": has no \"" + key + "\"");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets")
      throw Error(what + ": unknown key \"" + it.key() + "\"");
  SafetensorsEntry e{name, safetensorsDType(j["dtype"], what), shapeFromJson(j["shape"], what), 0,
                     0};
  const Json& off = j["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    throw Error(what + ": \"data_offsets\" must be [begin, end], two non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin)
    throw Error(what + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] end before they begin");
  return e;
}

// The header's entries, in data order, checked to tile the data exactly (safetensors' rule: no
// overlap, no hole, nothing after the last tensor) and each to match its dtype and shape.
std::vector<SafetensorsEntry> safetensorsEntries(const Json& header, uint64_t dataBytes,
                                                 const std::string& source) {
  if (!header.is_object()) throw Error(source + ": the header must be a JSON object");
  std::vector<SafetensorsEntry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) throw Error(source + ": \"__metadata__\" must be an object");
      continue;
    }
    entries.push_back(safetensorsEntry(it.key(), it.value(), source));
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const SafetensorsEntry& e : entries) {
    const std::string what = source + ": tensor '" + e.name + "'";
    const std::string range = "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.begin < at)
      throw Error(what + ": data_offsets " + range +
                  " overlap the tensor before it (which ends at " + std::to_string(at) + ")");
    if (e.begin > at)
      throw Error(what + ": data_offsets " + range + " leave the bytes from " + std::to_string(at) +
                  " unused");
    if (e.end > dataBytes)
      throw Error(what + ": data_offsets " + range + " run past the data, which holds " +
                  std::to_string(dataBytes) + " bytes");
    const int64_t count = elementCount(e.shape, e.dtype, what);
    const uint64_t need = static_cast<uint64_t>(count) * dtypeSize(e.dtype);
    if (e.end - e.begin != need)
      throw Error(what + ": data_offsets " + range + " hold " + std::to_string(e.end - e.begin) +
                  " bytes but a " + dtypeName(e.dtype) + " tensor of shape " +
                  shapeToString(e.shape) + " needs " + std::to_string(need));
    at = e.end;
  }
  if (at != dataBytes)
    throw Error(source + ": " + std::to_string(dataBytes - at) +
                " bytes after the last tensor belong to none");
  return entries;
}

}  // namespace

std::vector<NamedTensor> parseSafetensors(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 8)
    throw Error(source + ": not a safetensors file (shorter than its 8-byte header length)");
  uint64_t headerLen;
  std::memcpy(&headerLen, bytes.data(), 8);
  if (headerLen > kMaxSafetensorsHeader)
    throw Error(source + ": header length " + std::to_string(headerLen) +
                " is more than the limit of " + std::to_string(kMaxSafetensorsHeader) + " bytes");
  if (headerLen > bytes.size() - 8)
    throw Error(source + ": truncated: the header length is " + std::to_string(headerLen) +
                " bytes but the file holds " + std::to_string(bytes.size() - 8) + " after it");
  const std::string_view headerText(bytes.data() + 8, headerLen);
  if (headerText.empty() || headerText[0] != '{')
    throw Error(source + ": not a safetensors file (the header is not a JSON object)");
  const Json header = parseJson(headerText, source + " (header)");
  const uint64_t dataStart = 8 + headerLen;
  const auto entries = safetensorsEntries(header, bytes.size() - dataStart, source);
  std::vector<NamedTensor> out;
  out.reserve(entries.size());
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data()) + dataStart;
  for (const SafetensorsEntry& e : entries) {
    const int64_t count = static_cast<int64_t>((e.end - e.begin) / dtypeSize(e.dtype));
    out.push_back({e.name, tensorFromBytes(data + e.begin, e.dtype, e.shape, count)});
  }
  return out;
}

std::vector<NamedTensor> readSafetensors(const std::filesystem::path& path) {
  return parseSafetensors(readFile(path, maxTensorBytes() + kMaxSafetensorsHeader + 8),
                          path.string());
}

// ---- TensorFlow.js ----

namespace {

struct TfjsWeight {
  std::string name;
  DType dtype;  // of the tensor made
  Shape shape;
  std::string storedAs;  // "float32", "int32", "bool", or the quantization's "uint8", ...
  double scale = 1, min = 0;
  size_t storedSize = 4;  // bytes of one stored element
};

double tfjsNumber(const Json& q, const char* key, const std::string& what) {
  if (!q.contains(key) || !q[key].is_number())
    throw Error(what + ": quantization " + jsonSnippet(q) + " has no number \"" + key + "\"");
  return q[key].get<double>();
}

TfjsWeight tfjsWeight(const Json& j, const std::string& source) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    throw Error(source + ": a weight " + jsonSnippet(j) + " has no \"name\"");
  TfjsWeight w;
  w.name = j["name"].get<std::string>();
  const std::string what = source + ": weight '" + w.name + "'";
  if (!j.contains("shape")) throw Error(what + ": has no \"shape\"");
  w.shape = shapeFromJson(j["shape"], what);
  const Json dtype = j.value("dtype", Json());
  if (!dtype.is_string()) throw Error(what + ": has no \"dtype\"");
  w.storedAs = dtype.get<std::string>();
  if (w.storedAs == "float32" || w.storedAs == "int32" || w.storedAs == "bool") {
    w.dtype = dtypeFromName(w.storedAs);
    w.storedSize = dtypeSize(w.dtype);
  } else {
    throw Error(what + ": dtype " + jsonSnippet(dtype) +
                " is not read (Quant Space reads float32, int32 and bool weights)");
  }
  if (!j.contains("quantization")) return w;
  const Json& q = j["quantization"];
  if (!q.is_object() || !q.contains("dtype") || !q["dtype"].is_string())
    throw Error(what + ": \"quantization\" must be an object with a \"dtype\"");
  const std::string qd = q["dtype"].get<std::string>();
  if (w.dtype != DType::Float32)
    throw Error(what + ": a quantized " + w.storedAs + " weight is not read (only float32 ones)");
  if (qd == "uint8" || qd == "uint16") {
    w.scale = tfjsNumber(q, "scale", what);
    w.min = tfjsNumber(q, "min", what);
    w.storedSize = qd == "uint8" ? 1 : 2;
  } else if (qd == "float16") {
    w.storedSize = 2;
  } else {
    throw Error(what + ": quantization dtype \"" + qd + "\" is not one of uint8, uint16, float16");
  }
  w.storedAs = qd;
  return w;
}

// The weight's tensor from its stored bytes (`count` elements at `src`).
Tensor tfjsTensor(const TfjsWeight& w, const unsigned char* src, int64_t count) {
  if (w.storedAs != "uint8" && w.storedAs != "uint16" && w.storedAs != "float16")
    return tensorFromBytes(src, w.dtype, w.shape, count);
  Tensor t = Tensor::uninitialized(w.shape, DType::Float32);
  float* dst = t.mutableData();
  for (int64_t i = 0; i < count; ++i) {
    if (w.storedAs == "float16") {
      Half h;
      std::memcpy(&h.bits, src + 2 * i, 2);
      dst[i] = halfToFloat(h);
    } else {
      uint16_t q = src[w.storedSize * i];
      if (w.storedSize == 2) std::memcpy(&q, src + 2 * i, 2);
      dst[i] = static_cast<float>(q * w.scale + w.min);
    }
  }
  return t;
}

// A shard path as the manifest gives it, refused when it could name a file outside the
// manifest's folder.
void checkShardPath(const Json& p, const std::string& source) {
  if (!p.is_string() || p.get<std::string>().empty())
    throw Error(source + ": a shard path " + jsonSnippet(p) + " is not a file name");
  const std::string s = p.get<std::string>();
  const std::filesystem::path path(s);
  bool climbs = path.is_absolute() || path.has_root_name() || s.find('\\') != std::string::npos ||
                s.find('\0') != std::string::npos;
  for (const auto& part : path) climbs |= part == "..";
  if (climbs)
    throw Error(source + ": shard path \"" + s +
                "\" leaves the manifest's folder (only relative paths below it are read)");
}

// One group: its shards concatenated, cut into its weights.
void readTfjsGroup(const Json& group, size_t index, const std::string& source,
                   const std::function<std::string(const std::string&)>& readShard,
                   std::set<std::string>& names, std::vector<NamedTensor>& out) {
  const std::string what = source + ": group " + std::to_string(index);
  if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
      !group.contains("weights") || !group["weights"].is_array())
    throw Error(what + ": must be an object with \"paths\" and \"weights\" lists");
  std::vector<TfjsWeight> weights;
  uint64_t need = 0;
  for (const Json& j : group["weights"]) {
    TfjsWeight w = tfjsWeight(j, source);
    if (!names.insert(w.name).second)
      throw Error(source + ": two weights are named '" + w.name + "'");
    const int64_t count = elementCount(w.shape, w.dtype, source + ": weight '" + w.name + "'");
    need += static_cast<uint64_t>(count) * w.storedSize;  // each below 2^63 / 4: cannot wrap
    if (need > maxTensorBytes() * 4)
      throw Error(what + ": its weights need more than " + formatBytes(maxTensorBytes() * 4));
    weights.push_back(std::move(w));
  }
  for (const Json& p : group["paths"]) checkShardPath(p, source);
  std::string buffer;
  for (const Json& p : group["paths"]) {
    buffer += readShard(p.get<std::string>());
    if (buffer.size() > need) break;
  }
  if (buffer.size() > need)
    throw Error(what + ": its shards hold more than the " + std::to_string(need) +
                " bytes its weights need");
  if (buffer.size() < need)
    throw Error(what + ": its shards hold " + std::to_string(buffer.size()) +
                " bytes but its weights need " + std::to_string(need));
  uint64_t at = 0;
  for (const TfjsWeight& w : weights) {
    const int64_t count = checkedElementCount(w.shape, w.dtype);
    const auto* src = reinterpret_cast<const unsigned char*>(buffer.data()) + at;
    out.push_back({w.name, tfjsTensor(w, src, count)});
    at += static_cast<uint64_t>(count) * w.storedSize;
  }
}

}  // namespace

std::vector<NamedTensor> parseTfjsWeights(
    const std::string& manifestText, const std::string& source,
    const std::function<std::string(const std::string& path)>& readShard) {
  const Json doc = parseJson(manifestText, source, JsonNumbers::Double);
  const Json* groups = &doc;
  if (doc.is_object()) {
    if (!doc.contains("weightsManifest"))
      throw Error(source + ": a model.json without \"weightsManifest\"");
    groups = &doc["weightsManifest"];
  }
  if (!groups->is_array())
    throw Error(source + ": the weights manifest must be a list of groups {paths, weights}");
  std::vector<NamedTensor> out;
  std::set<std::string> names;
  for (size_t g = 0; g < groups->size(); ++g)
    readTfjsGroup((*groups)[g], g, source, readShard, names, out);
  return out;
}

std::vector<NamedTensor> readTfjsWeights(const std::filesystem::path& manifest) {
  const std::filesystem::path dir = manifest.parent_path();
  return parseTfjsWeights(
      readFile(manifest, 64u << 20), manifest.string(),
      [&](const std::string& p) { return readFile(dir / p, maxTensorBytes() * 4); });
}

std::vector<NamedTensor> readWeightFile(const std::filesystem::path& path) {
  const std::string ext = lowerExtension(path);
  if (ext == ".npy") return {{path.stem().string(), readNpy(path)}};
  if (ext == ".npz") {
    std::vector<NamedTensor> out;
    for (const NpzMember& m : readNpz(path))
      out.push_back({m.key, parseNpy(m.bytes, path.string() + ":" + m.key)});
    return out;
  }
  if (ext == ".safetensors") return readSafetensors(path);
  if (ext == ".json") return readTfjsWeights(path);
  if (ext == ".onnx") return readOnnxInitializers(path);
  throw Error(path.string() +
              ": not a weights file Quant Space reads (.npy, .npz, .safetensors, .onnx, or a "
              "TensorFlow.js weights manifest .json)");
}

}  // namespace qs
