#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include "blocks/RegisterBlocks.h"
#include "runtime/Error.h"
#include "runtime/FileIo.h"
#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/WeightFiles.h"

namespace qs {

namespace {

std::filesystem::path npyPath(const BlockContext& ctx) {
  std::filesystem::path p(ctx.attrs().getString("npy"));
  if (p.is_relative() && !ctx.pageDir().empty()) p = ctx.pageDir() / p;
  return p;
}

// The `dtype` attribute, when the page sets it.
std::optional<DType> attrDType(const BlockContext& ctx) {
  if (!ctx.attrs().has("dtype")) return std::nullopt;
  try {
    return dtypeFromName(ctx.attrs().getString("dtype"));
  } catch (const Error& e) {
    throw Error(std::string("attribute 'dtype': ") + e.what());
  }
}

// A fed value must have the dtype the block says it gives; without a `dtype` attribute it keeps
// its own, and the ports it is wired to check it.
void checkFedDType(const BlockContext& ctx) {
  const std::optional<DType> want = attrDType(ctx);
  if (want && ctx.feed()->dtype() != *want)
    throw Error(std::string("the fed value is ") + dtypeName(ctx.feed()->dtype()) +
                " but attribute 'dtype' is " + dtypeName(*want));
}

std::string scalarText(const AttrScalar& v) {
  if (v.kind == AttrScalar::Kind::Bool) return v.integer ? "true" : "false";
  if (v.kind == AttrScalar::Kind::Integer) return std::to_string(v.integer);
  return formatFloat(v.number);
}

// Element `i` of `values` as an integer in [lo, hi]: a JSON integer, or a whole number.
int64_t integerElement(const AttrScalar& v, size_t i, DType dtype, int64_t lo, int64_t hi) {
  const std::string what = "\"values\" element " + std::to_string(i) + " (" + scalarText(v) + ")";
  if (v.kind == AttrScalar::Kind::Bool)
    throw Error(what + " is not a number; a " + std::string(dtypeName(dtype)) +
                " tensor takes whole numbers");
  int64_t x;
  if (v.kind == AttrScalar::Kind::Integer) {
    x = v.integer;
  } else {
    if (!std::isfinite(v.wide) || v.wide != std::floor(v.wide) || std::fabs(v.wide) >= 9.2e18)
      throw Error(what + " is not a whole number, as a " + std::string(dtypeName(dtype)) +
                  " tensor needs");
    x = static_cast<int64_t>(v.wide);
  }
  if (x < lo || x > hi)
    throw Error(what + " is out of range for " + dtypeName(dtype) + " (" + std::to_string(lo) +
                " to " + std::to_string(hi) + ")");
  return x;
}

// The inline `values` as a tensor of `dtype`: numbers for the number dtypes (float16 rounded
// from float32), true/false for bool; anything else is an error naming the element.
Tensor tensorFromValues(const Shape& shape, DType dtype, const std::vector<AttrScalar>& values) {
  Tensor t = Tensor::uninitialized(shape, dtype);
  for (size_t i = 0; i < values.size(); ++i) {
    const AttrScalar& v = values[i];
    const bool isBool = v.kind == AttrScalar::Kind::Bool;
    switch (dtype) {
      case DType::Float32:
      case DType::Float16:
        if (isBool)
          throw Error("\"values\" element " + std::to_string(i) + " (" + scalarText(v) +
                      ") is not a number; a " + dtypeName(dtype) + " tensor takes numbers");
        if (dtype == DType::Float32)
          t.mutableAs<float>()[i] = v.number;
        else
          t.mutableAs<Half>()[i] = floatToHalf(v.number);
        break;
      case DType::Bool:
        if (!isBool)
          throw Error("\"values\" element " + std::to_string(i) + " (" + scalarText(v) +
                      ") is not true or false, as a bool tensor needs");
        t.mutableAs<bool>()[i] = v.integer != 0;
        break;
      case DType::Int32:
        t.mutableAs<int32_t>()[i] = static_cast<int32_t>(integerElement(
            v, i, dtype, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
        break;
      case DType::Int64:
        t.mutableAs<int64_t>()[i] = integerElement(v, i, dtype, std::numeric_limits<int64_t>::min(),
                                                   std::numeric_limits<int64_t>::max());
        break;
      case DType::UInt8:
        t.mutableAs<uint8_t>()[i] = static_cast<uint8_t>(integerElement(v, i, dtype, 0, 255));
        break;
    }
  }
  return t;
}

// The tensor named by `tensor` in the file named by `weights` (.npz, .safetensors, an ONNX model's
// initializers or a TensorFlow.js manifest). Errors name the attribute, the file and the tensor.
Tensor weightsTensor(const BlockContext& ctx) {
  const AttrValues& a = ctx.attrs();
  const std::string file = a.getString("weights");
  if (file.empty()) throw Error("attribute 'weights' is an empty path");
  std::filesystem::path p(file);
  const std::string ext = lowerExtension(p);
  if (ext == ".npy")
    throw Error("attribute 'weights': '" + file +
                "' is an .npy file, which holds one tensor: give it as \"npy\" instead");
  if (!a.has("tensor") || a.getString("tensor").empty())
    throw Error("attribute 'weights' needs attribute 'tensor', the name of a tensor in '" + file +
                "'");
  const std::string name = a.getString("tensor");
  if (p.is_relative() && !ctx.pageDir().empty()) p = ctx.pageDir() / p;
  std::vector<NamedTensor> all;
  try {
    all = readWeightFile(p);
  } catch (const Error& e) {
    throw Error(std::string("attribute 'weights': ") + e.what());
  }
  std::string names;
  for (NamedTensor& t : all) {
    if (t.name == name) return std::move(t.tensor);
    if (names.size() < 200) names += (names.empty() ? "" : ", ") + t.name;
  }
  if (names.size() >= 200) names += ", ...";
  throw Error("'" + file + "' has no tensor named '" + name +
              "' (it holds: " + (names.empty() ? "no tensors" : names) + ")");
}

// Const: the value given inline (shape + values) or by an .npy file, unless fed from outside.
// An .npy file brings its own dtype; a `dtype` attribute beside it must agree.
Shape constValueShape(const BlockContext& ctx) {
  const AttrValues& a = ctx.attrs();
  const auto& values = a.getScalars("values");
  Shape shape = a.has("shape") ? Shape(a.getInts("shape").begin(), a.getInts("shape").end())
                               : Shape{static_cast<int64_t>(values.size())};
  const int64_t count = checkedElementCount(shape, attrDType(ctx).value_or(DType::Float32));
  if (count != static_cast<int64_t>(values.size()))
    throw Error("shape " + shapeToString(shape) + " needs " + std::to_string(count) +
                " values, but \"values\" has " + std::to_string(values.size()));
  return shape;
}

void constCheck(BlockContext& ctx) {
  const AttrValues& a = ctx.attrs();
  const bool hasNpy = a.has("npy");
  const bool hasWeights = a.has("weights");
  const bool hasValues = a.has("values");
  const bool hasShape = a.has("shape");
  if (hasNpy && (hasValues || hasShape))
    throw Error("give either \"npy\" or \"shape\" and \"values\", not both");
  if (hasWeights && (hasNpy || hasValues || hasShape))
    throw Error("give one of \"weights\" (with \"tensor\"), \"npy\", or \"shape\" and \"values\"");
  if (a.has("tensor") && !hasWeights)
    throw Error("attribute 'tensor' names a tensor of a weights file: set \"weights\" too");
  const std::optional<DType> dtype = attrDType(ctx);
  if (ctx.feed()) {
    checkFedDType(ctx);
    ctx.setOutputShape("output", ctx.feed()->shape(), ctx.feed()->dtype());
    return;
  }
  if (hasNpy) {
    if (a.getString("npy").empty()) throw Error("attribute 'npy' is an empty path");
    const NpyHeaderInfo file = readNpyHeader(npyPath(ctx));
    if (dtype && *dtype != file.dtype)
      throw Error("'" + a.getString("npy") + "' holds " + dtypeName(file.dtype) +
                  " but attribute 'dtype' is " + dtypeName(*dtype) +
                  " (leave 'dtype' unset to take the file's, or convert with a Cast block)");
    ctx.setOutputShape("output", file.shape, file.dtype);
    return;
  }
  if (hasWeights) {
    const Tensor t = weightsTensor(ctx);
    if (dtype && *dtype != t.dtype())
      throw Error("tensor '" + a.getString("tensor") + "' of '" + a.getString("weights") + "' is " +
                  dtypeName(t.dtype()) + " but attribute 'dtype' is " + dtypeName(*dtype) +
                  " (leave 'dtype' unset to take the file's, or convert with a Cast block)");
    ctx.setOutputShape("output", t.shape(), t.dtype());
    return;
  }
  if (!hasValues)
    throw Error(
        "no value: set \"values\" (with \"shape\"), \"npy\", or \"weights\" (with \"tensor\")");
  const Shape shape = constValueShape(ctx);
  const DType d = dtype.value_or(DType::Float32);
  (void)tensorFromValues(shape, d, a.getScalars("values"));  // every element checked up front
  ctx.setOutputShape("output", shape, d);
}

void constCompute(BlockContext& ctx) {
  if (ctx.feed()) {
    ctx.setOutput("output", *ctx.feed());
    return;
  }
  const AttrValues& a = ctx.attrs();
  if (a.has("npy")) {
    Tensor t = readNpy(npyPath(ctx));
    if (t.dtype() != ctx.outputDType("output") || t.shape() != ctx.outputShapes().at("output"))
      throw Error("'" + a.getString("npy") + "' changed while the page was evaluated");
    ctx.setOutput("output", std::move(t));
    return;
  }
  if (a.has("weights")) {
    Tensor t = weightsTensor(ctx);
    if (t.dtype() != ctx.outputDType("output") || t.shape() != ctx.outputShapes().at("output"))
      throw Error("'" + a.getString("weights") + "' changed while the page was evaluated");
    ctx.setOutput("output", std::move(t));
    return;
  }
  ctx.setOutput("output", tensorFromValues(ctx.outputShapes().at("output"),
                                           ctx.outputDType("output"), a.getScalars("values")));
}

// Placeholder: a value that must be fed (runner --feed, editor). `shape` may pin dimensions;
// -1 accepts any size.
void placeholderCheck(BlockContext& ctx) {
  if (!ctx.feed()) throw Error("no value fed: give one with --feed " + ctx.blockId() + "=FILE.npy");
  checkFedDType(ctx);
  const Shape& fed = ctx.feed()->shape();
  if (ctx.attrs().has("shape")) {
    const auto& want = ctx.attrs().getInts("shape");
    bool ok = want.size() == fed.size();
    for (size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || want[i] == fed[i];
    if (!ok)
      throw Error("the fed value has shape " + shapeToString(fed) + " but the placeholder wants " +
                  shapeToString(Shape(want.begin(), want.end())));
  }
  ctx.setOutputShape("output", fed, ctx.feed()->dtype());
}

void placeholderCompute(BlockContext& ctx) {
  ctx.setOutput("output", *ctx.feed());
}

}  // namespace

void registerSourceBlocks(BlockRegistry& registry) {
  {
    BlockDescriptor d;
    d.type = "Const";
    d.category = "Sources";
    d.summary = "A constant tensor, given inline or read from an .npy or weights file.";
    d.doc =
        "Gives `shape` and the flat row-major `values` (non-finite values as the strings "
        "\"nan\", \"inf\", \"-inf\"), or `npy`, a path to a NumPy file relative to the page. "
        "Without `shape`, the values form a rank-1 tensor. `dtype` (float32 when unset) says "
        "what the values are: numbers for float32 and float16 (rounded from float32), whole "
        "numbers in range for int32, int64 and uint8, true/false for bool. An .npy file brings "
        "its own dtype; a `dtype` set beside it must be the same. The runner's `--feed` replaces "
        "the value, keeping the fed file's dtype, which must match `dtype` when it is set. "
        "`weights` and `tensor` take one tensor of a weights file instead: `weights` is the "
        "path (relative to the page) of an .npz archive, a safetensors file, an ONNX model "
        "(.onnx: its initializers) or a TensorFlow.js weights manifest (.json, model.json or "
        "weights_manifest.json, its shards beside it), `tensor` the tensor's name in it (the .npz "
        "key, the safetensors or initializer name, the manifest's `name`, e.g. "
        "\"conv1/depthwise_filter\"). The tensor keeps the file's dtype (quantized "
        "TensorFlow.js weights are dequantized to float32); see formats.md for the readers.";
    d.ports = opPorts({}, {tensorOutput("output", RankRule::any(), allDTypes(), "The constant.")});
    d.attrs = {
        {.name = "shape",
         .type = AttrType::IntList,
         .doc = "Dimensions of the tensor; [] for a scalar."},
        {.name = "values", .type = AttrType::ValueList, .doc = "The elements in row-major order."},
        {.name = "dtype",
         .type = AttrType::String,
         .doc = "float32, int32, int64, bool, float16 or uint8; unset: float32, or the npy "
                "file's."},
        {.name = "npy",
         .type = AttrType::String,
         .doc = "Path of a .npy file (relative to the page file) to read instead of `values`."},
        {.name = "weights",
         .type = AttrType::String,
         .doc = "Path of an .npz, .safetensors, .onnx or TensorFlow.js manifest (.json) file "
                "(relative to the page file) holding the tensor named by `tensor`."},
        {.name = "tensor",
         .type = AttrType::String,
         .doc = "Name of the tensor to take from the `weights` file."},
    };
    d.check = constCheck;
    d.compute = constCompute;
    d.feedable = true;
    registry.add(std::move(d));
  }
  {
    BlockDescriptor d;
    d.type = "Placeholder";
    d.category = "Sources";
    d.summary = "A tensor fed from outside the page (the runner's --feed B=FILE.npy).";
    d.doc =
        "Fails with a message until a value is fed. `shape`, if set, is checked against the fed "
        "value; a dimension of -1 accepts any size. The fed value keeps its file's dtype; "
        "`dtype`, if set, is checked against it.";
    d.ports =
        opPorts({}, {tensorOutput("output", RankRule::any(), allDTypes(), "The fed tensor.")});
    d.attrs = {{.name = "shape",
                .type = AttrType::IntList,
                .doc = "Expected shape of the fed value; -1 for any size."},
               {.name = "dtype",
                .type = AttrType::String,
                .doc = "Expected dtype of the fed value (float32, int32, int64, bool, float16 or "
                       "uint8); unset: any."}};
    d.check = placeholderCheck;
    d.compute = placeholderCompute;
    d.feedable = true;
    registry.add(std::move(d));
  }
}

}  // namespace qs
