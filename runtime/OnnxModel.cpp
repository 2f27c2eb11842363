#include "runtime/OnnxModel.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>

#include "runtime/Error.h"
#include "runtime/FileIo.h"

namespace qs {

namespace {

static_assert(std::endian::native == std::endian::little, "ONNX raw data is little endian");

using TP = onnx::TensorProto;

struct ElemInfo {
  DType dtype;         // what the Tensor holds
  size_t storedBytes;  // bytes of one element in raw_data
};

ElemInfo elemInfo(int type, const std::string& what) {
  switch (type) {
    case TP::FLOAT:
      return {DType::Float32, 4};
    case TP::FLOAT16:
      return {DType::Float16, 2};
    case TP::INT32:
      return {DType::Int32, 4};
    case TP::INT64:
      return {DType::Int64, 8};
    case TP::UINT8:
      return {DType::UInt8, 1};
    case TP::BOOL:
      return {DType::Bool, 1};
    case TP::INT8:
      return {DType::Int32, 1};
    case TP::INT16:
      return {DType::Int32, 2};
    case TP::UINT16:
      return {DType::Int32, 2};
    default:
      break;
  }
  const std::string name = TP::DataType_IsValid(type)
                               ? TP::DataType_Name(static_cast<TP::DataType>(type))
                               : "number " + std::to_string(type);
  throw Error(what + ": element type " + name +
              " is not read (Quant Space reads FLOAT, FLOAT16, INT32, INT64, UINT8, BOOL, and "
              "INT8, INT16, UINT16 as int32)");
}

// One stored element (raw little-endian bytes, or a typed-list entry) into the tensor's slot.
template <typename Src>
void storeElement(Tensor& t, int64_t i, int type, Src v) {
  switch (t.dtype()) {
    case DType::Float32:
      t.mutableAs<float>()[i] = static_cast<float>(v);
      break;
    case DType::Float16:
      t.mutableAs<Half>()[i] = Half{static_cast<uint16_t>(v)};
      break;
    case DType::Int64:
      t.mutableAs<int64_t>()[i] = static_cast<int64_t>(v);
      break;
    case DType::UInt8:
      t.mutableAs<uint8_t>()[i] = static_cast<uint8_t>(v);
      break;
    case DType::Bool:
      t.mutableAs<bool>()[i] = v != 0;
      break;
    case DType::Int32:
      if (type == TP::INT8) v = static_cast<Src>(static_cast<int8_t>(v));
      if (type == TP::INT16) v = static_cast<Src>(static_cast<int16_t>(v));
      if (type == TP::UINT16) v = static_cast<Src>(static_cast<uint16_t>(v));
      t.mutableAs<int32_t>()[i] = static_cast<int32_t>(v);
      break;
  }
}

void fillFromRaw(Tensor& t, const std::string& raw, int type, size_t stored) {
  const auto* src = reinterpret_cast<const unsigned char*>(raw.data());
  if (dtypeSize(t.dtype()) == stored && t.dtype() != DType::Bool) {
    if (t.size()) std::memcpy(t.mutableRawData(), src, t.bytes());
    return;
  }
  for (int64_t i = 0; i < t.size(); ++i) {
    uint64_t v = 0;
    std::memcpy(&v, src + i * stored, stored);
    storeElement(t, i, type, v);
  }
}

// The typed list that holds a tensor of this type when raw_data is not used (onnx.proto).
template <typename List>
void fillFromList(Tensor& t, const List& list, int type) {
  for (int64_t i = 0; i < t.size(); ++i) {
    if (t.dtype() == DType::Float32)
      t.mutableAs<float>()[i] = static_cast<float>(list.Get(static_cast<int>(i)));
    else
      storeElement(t, i, type, static_cast<int64_t>(list.Get(static_cast<int>(i))));
  }
}

int64_t listSize(const TP& p, int type) {
  switch (type) {
    case TP::FLOAT:
      return p.float_data_size();
    case TP::INT64:
      return p.int64_data_size();
    default:
      return p.int32_data_size();
  }
}

}  // namespace

uint64_t maxOnnxBytes() {
  return std::min<uint64_t>(maxTensorBytes() * 4, (1ull << 31) - 1);
}

void parseOnnxModel(const std::string& bytes, const std::string& source, onnx::ModelProto& model) {
  if (bytes.size() > maxOnnxBytes())
    throw Error(source + ": larger than the " + formatBytes(maxOnnxBytes()) +
                " an ONNX model may have here");
  if (!model.ParseFromString(bytes))
    throw Error(source + ": not an ONNX model (the protobuf data is truncated or malformed)");
  if (!model.has_graph()) throw Error(source + ": an ONNX model without a graph");
}

void readOnnxModel(const std::filesystem::path& path, onnx::ModelProto& model) {
  parseOnnxModel(readFile(path, maxOnnxBytes()), path.string(), model);
}

Tensor tensorFromOnnx(const onnx::TensorProto& p, const std::string& what) {
  if (p.data_location() == TP::EXTERNAL)
    throw Error(what + ": its data is in an external file, which Quant Space does not read");
  if (p.has_segment())
    throw Error(what + ": a segment of a tensor, which Quant Space does not read");
  const int type = p.data_type();
  const ElemInfo info = elemInfo(type, what);
  Shape shape;
  for (int64_t d : p.dims()) {
    if (d < 0) throw Error(what + ": negative dimension " + std::to_string(d));
    shape.push_back(d);
  }
  int64_t count = 0;
  try {
    count = checkedElementCount(shape, info.dtype);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  if (p.has_raw_data()) {
    const uint64_t want = static_cast<uint64_t>(count) * info.storedBytes;
    if (p.raw_data().size() != want)
      throw Error(what + ": shape " + shapeToString(shape) + " needs " + std::to_string(want) +
                  " bytes of data but the tensor holds " + std::to_string(p.raw_data().size()));
  } else if (listSize(p, type) != count) {
    throw Error(what + ": shape " + shapeToString(shape) + " has " + std::to_string(count) +
                " elements but the tensor lists " + std::to_string(listSize(p, type)));
  }
  Tensor t = Tensor::uninitialized(std::move(shape), info.dtype);
  if (p.has_raw_data())
    fillFromRaw(t, p.raw_data(), type, info.storedBytes);
  else if (type == TP::FLOAT)
    fillFromList(t, p.float_data(), type);
  else if (type == TP::INT64)
    fillFromList(t, p.int64_data(), type);
  else
    fillFromList(t, p.int32_data(), type);
  return t;
}

int onnxElemType(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return TP::FLOAT;
    case DType::Float16:
      return TP::FLOAT16;
    case DType::Int32:
      return TP::INT32;
    case DType::Int64:
      return TP::INT64;
    case DType::UInt8:
      return TP::UINT8;
    case DType::Bool:
      return TP::BOOL;
  }
  return TP::UNDEFINED;
}

void tensorToOnnx(const Tensor& tensor, const std::string& name, onnx::TensorProto& proto) {
  proto.set_name(name);
  proto.set_data_type(onnxElemType(tensor.dtype()));
  for (int64_t d : tensor.shape()) proto.add_dims(d);
  std::string raw(tensor.bytes(), '\0');
  if (tensor.dtype() == DType::Bool) {
    const bool* b = tensor.as<bool>();
    for (int64_t i = 0; i < tensor.size(); ++i) raw[i] = b[i] ? 1 : 0;
  } else if (!raw.empty()) {
    std::memcpy(raw.data(), tensor.rawData(), raw.size());
  }
  proto.set_raw_data(std::move(raw));
}

std::vector<NamedTensor> parseOnnxInitializers(const std::string& bytes,
                                               const std::string& source) {
  onnx::ModelProto model;
  parseOnnxModel(bytes, source, model);
  std::vector<NamedTensor> out;
  std::set<std::string> names;
  for (const TP& init : model.graph().initializer()) {
    const std::string what = source + ": initializer '" + init.name() + "'";
    if (!names.insert(init.name()).second) throw Error(what + " is given twice");
    out.push_back({init.name(), tensorFromOnnx(init, what)});
  }
  return out;
}

std::vector<NamedTensor> readOnnxInitializers(const std::filesystem::path& path) {
  return parseOnnxInitializers(readFile(path, maxOnnxBytes()), path.string());
}

}  // namespace qs
