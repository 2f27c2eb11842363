#include "onnx/OnnxImport.h"

#include <onnx/onnx_pb.h>

#include <bit>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "blocks/array_ops/FakeQuantMath.h"
#include "runtime/Error.h"
#include "runtime/FileIo.h"
#include "runtime/Json.h"
#include "runtime/OnnxModel.h"

namespace qs {

namespace {

struct Pending {  // a QuantizeLinear waiting for its DequantizeLinear
  PortRef x;
  std::string scale, zeroPoint;
  int64_t axis = 1;
  Tensor low, high;  // a clamp before the QuantizeLinear (num_bits < 8, narrow_range), if any
  bool clamped = false;
};

struct Clamp {  // Min(x, high), then Max(that, low), with constant bounds
  PortRef x;
  Tensor high, low;
};

class Importer {
 public:
  Importer(const onnx::GraphProto& g, std::string source, std::filesystem::path weights)
      : g_(g), source_(std::move(source)), weights_(std::move(weights)) {}
  Page run();

 private:
  std::string newId(const std::string& name);
  PortRef tensor(const onnx::NodeProto& n, int input);
  const Tensor& constant(const onnx::NodeProto& n, int input);
  void add(const std::string& id, const std::string& type, Json attrs = Json::object());
  void wire(const PortRef& from, const std::string& block, const std::string& port);
  void node(const onnx::NodeProto& n);
  void dequantize(const onnx::NodeProto& n, const Pending& q);
  fq::QuantRange clampedRange(const onnx::NodeProto& n, const Pending& q, const Tensor& scale,
                              const std::vector<int>& zps, std::vector<bool>& zeroRange) const;
  bool clampNode(const onnx::NodeProto& n);
  std::string constBlock(const std::string& hint, const Tensor& t);
  std::string nodeName(const onnx::NodeProto& n) const;
  int64_t intAttr(const onnx::NodeProto& n, const std::string& name, int64_t fallback) const;
  [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& message) const;

  const onnx::GraphProto& g_;
  std::string source_;
  std::filesystem::path weights_;
  Page page_;
  std::map<std::string, PortRef> tensors_;   // defined so far
  std::map<std::string, Tensor> constants_;  // initializers, read when a node needs one
  std::map<std::string, const onnx::TensorProto*> inits_;
  std::map<std::string, int> ranks_;
  std::map<std::string, Pending> pending_;
  std::map<std::string, Clamp> clamps_;  // by the Min's or the Max's output
  std::set<std::string> ids_;
};

std::string Importer::newId(const std::string& name) {
  std::string id;
  for (char c : name)
    id += (std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 128)
              ? c
              : '_';
  if (id.empty() || std::isdigit(static_cast<unsigned char>(id[0]))) id = "t_" + id;
  std::string unique = id;
  for (int i = 2; ids_.count(unique); ++i) unique = id + "_" + std::to_string(i);
  ids_.insert(unique);
  return unique;
}

void Importer::fail(const onnx::NodeProto& n, const std::string& message) const {
  throw Error(source_ + ": node '" + n.name() + "' (" + n.op_type() + "): " + message);
}

void Importer::add(const std::string& id, const std::string& type, Json attrs) {
  Block b;
  b.id = BlockId(id);
  b.type = type;
  b.attrs = std::move(attrs);
  page_.addBlock(std::move(b));
}

void Importer::wire(const PortRef& from, const std::string& block, const std::string& port) {
  page_.addLink({from, {BlockId(block), PortName(port)}});
}

const Tensor& Importer::constant(const onnx::NodeProto& n, int input) {
  if (input >= n.input_size()) fail(n, "input " + std::to_string(input) + " is missing");
  const std::string& name = n.input(input);
  auto it = inits_.find(name);
  if (it == inits_.end()) fail(n, "input '" + name + "' must be an initializer (a constant)");
  auto c = constants_.find(name);
  if (c == constants_.end())
    c = constants_
            .emplace(name, tensorFromOnnx(*it->second, source_ + ": initializer '" + name + "'"))
            .first;
  return c->second;
}

std::string Importer::constBlock(const std::string& hint, const Tensor& t) {
  const std::string id = newId(hint);
  Json values = Json::array();
  for (float v : t.values()) values.push_back(floatToJson(v));
  add(id, "Const", {{"shape", t.shape()}, {"values", values}});
  return id;
}

PortRef Importer::tensor(const onnx::NodeProto& n, int input) {
  if (input >= n.input_size() || n.input(input).empty())
    fail(n, "input " + std::to_string(input) + " is missing");
  const std::string& name = n.input(input);
  if (auto it = tensors_.find(name); it != tensors_.end()) return it->second;
  if (auto it = inits_.find(name); it != inits_.end()) {  // a weight: read from the model file
    const std::string id = newId(name);
    add(id, "Const", {{"weights", weights_.string()}, {"tensor", name}});
    const PortRef ref{BlockId(id), PortName("output")};
    tensors_[name] = ref;
    ranks_[name] = it->second->dims_size();
    return ref;
  }
  if (clamps_.count(name))
    fail(n, "uses '" + name +
                "', a Min/Max with a constant, which imports only as the clamp in "
                "front of a QuantizeLinear");
  fail(n, "uses '" + name + "' before it is defined (a cycle, or nodes not in topological order)");
}

// A block is named after the graph output it makes ("fq.result_output" -> fq_result_output), else
// after its node.
std::string Importer::nodeName(const onnx::NodeProto& n) const {
  for (const auto& o : g_.output())
    if (o.name() == n.output(0)) return o.name();
  return n.name().empty() ? n.output(0) : n.name();
}

int64_t Importer::intAttr(const onnx::NodeProto& n, const std::string& name,
                          int64_t fallback) const {
  for (const auto& a : n.attribute())
    if (a.name() == name) {
      if (a.type() != onnx::AttributeProto::INT) fail(n, "attribute '" + name + "' must be an int");
      return a.i();
    }
  return fallback;
}

// A min and max that TensorFlow nudges to exactly `scale` and `zeroPoint` over the levels 0..255:
// (0 - zp) * scale and (255 - zp) * scale, or, where float32 rounding moves the nudge, the
// nearest floats around them that do not.
float ulpsAway(float v, int k) {
  for (int i = 0; i < std::abs(k); ++i) v = std::nextafter(v, k > 0 ? INFINITY : -INFINITY);
  return v;
}

std::optional<std::pair<float, float>> equivalentRange(float scale, int zeroPoint,
                                                       fq::QuantRange q) {
  const float lo0 = (float(q.quantMin) - float(zeroPoint)) * scale;
  const float hi0 = (float(q.quantMax) - float(zeroPoint)) * scale;
  const int offsets[] = {0, 1, -1, 2, -2, 3, -3, 4, -4};
  for (int a : offsets)
    for (int b : offsets) {
      const float lo = ulpsAway(lo0, a), hi = ulpsAway(hi0, b);
      const fq::Nudged n = fq::nudge(lo, hi, q);
      if (n.scale == scale && n.zeroPoint == zeroPoint) return std::make_pair(lo, hi);
    }
  return std::nullopt;
}

// The levels' zero point (0..255) of a QuantizeLinear's zero-point tensor: uint8 as it is, int8
// shifted by 128 (the same grid over -128..127).
std::vector<int> levelZeroPoints(const Tensor& zp, bool int8, size_t count) {
  std::vector<int> out(count, int8 ? 128 : 0);
  for (size_t i = 0; i < count && i < size_t(zp.size()); ++i)
    out[i] = zp.dtype() == DType::UInt8 ? zp.as<uint8_t>()[i] : zp.as<int32_t>()[i] + 128;
  return out;
}

}  // namespace

// The levels a clamp leaves (the exporter's form of num_bits < 8 and narrow_range): [1 or 0,
// 2^bits - 1], the same for every channel; a channel clamped to [0, 0] is TensorFlow's zero range.
fq::QuantRange Importer::clampedRange(const onnx::NodeProto& n, const Pending& q,
                                      const Tensor& scale, const std::vector<int>& zps,
                                      std::vector<bool>& zeroRange) const {
  if (q.low.dtype() != DType::Float32 || q.high.dtype() != DType::Float32 ||
      q.low.size() != scale.size() || q.high.size() != scale.size())
    fail(n, "the clamp before the pair must have one float32 bound per scale");
  std::optional<fq::QuantRange> range;
  for (int64_t c = 0; c < scale.size(); ++c) {
    const float lo = q.low.data()[c], hi = q.high.data()[c], s = scale.data()[c];
    if (lo == 0.0f && hi == 0.0f) {
      zeroRange[size_t(c)] = true;
      continue;
    }
    const double qlo = std::round(double(lo) / s) + zps[size_t(c)];
    const double qhi = std::round(double(hi) / s) + zps[size_t(c)];
    int bits = 2;
    while (bits < 8 && double((1 << bits) - 1) != qhi) ++bits;
    if (double((1 << bits) - 1) != qhi || (qlo != 0 && qlo != 1))
      fail(n, "channel " + std::to_string(c) + ": the clamp keeps levels " +
                  formatFloat(float(qlo)) + " to " + formatFloat(float(qhi)) +
                  ", which no num_bits and narrow_range give");
    const fq::QuantRange r = fq::quantRange(bits, qlo == 1);
    if (range && (range->quantMin != r.quantMin || range->quantMax != r.quantMax))
      fail(n, "its channels are clamped to different widths");
    range = r;
  }
  return range.value_or(fq::QuantRange{});
}

// Min(x, constant) and Max(Min(...), constant): the clamp the exporter puts before a pair. True
// when the node is one (it makes no block: its QuantizeLinear takes it in).
bool Importer::clampNode(const onnx::NodeProto& n) {
  if ((n.op_type() != "Min" && n.op_type() != "Max") || n.input_size() != 2 ||
      !inits_.count(n.input(1)))
    return false;
  Clamp c;
  if (n.op_type() == "Min") {
    c.x = tensor(n, 0);
    c.high = constant(n, 1);
  } else {
    const auto it = clamps_.find(n.input(0));
    if (it == clamps_.end() || it->second.low.size() != 0) return false;
    c = it->second;
    c.low = constant(n, 1);
  }
  if (c.low.size() == 0 && n.op_type() == "Max") return false;
  clamps_[n.output(0)] = c;
  return true;
}

void Importer::dequantize(const onnx::NodeProto& n, const Pending& q) {
  if (n.input_size() < 2 || n.input(1) != q.scale ||
      (n.input_size() > 2 ? n.input(2) : "") != q.zeroPoint)
    fail(n, "its scale and zero point are not those of its QuantizeLinear");
  const Tensor& scale = constant(n, 1);
  if (scale.dtype() != DType::Float32 || scale.rank() > 1)
    fail(n, "the scale must be float32, a scalar or 1-D");
  bool int8 = false;
  Tensor zp = Tensor::zeros({0}, DType::UInt8);
  if (!q.zeroPoint.empty()) {
    zp = constant(n, 2);
    int8 = inits_.at(q.zeroPoint)->data_type() == onnx::TensorProto::INT8;
    if ((zp.dtype() != DType::UInt8 && !int8) || zp.size() != scale.size())
      fail(n, "the zero point must be uint8 or int8, one per scale");
  }
  const size_t count = size_t(scale.size());
  const std::vector<int> zps = levelZeroPoints(zp, int8, count);
  std::vector<bool> zeroRange(count, false);
  const fq::QuantRange range =
      q.clamped ? clampedRange(n, q, scale, zps, zeroRange) : fq::QuantRange{};
  std::vector<float> mins, maxs;
  for (size_t c = 0; c < count; ++c) {
    if (zeroRange[c]) {  // clamped to [0, 0]: TensorFlow's min = max = 0
      mins.push_back(0.0f);
      maxs.push_back(0.0f);
      continue;
    }
    const auto r = equivalentRange(scale.data()[c], zps[c], range);
    if (!r)
      fail(n, "channel " + std::to_string(c) +
                  ": no float32 range that TensorFlow nudges to scale " +
                  formatFloat(scale.data()[c]) + " and zero point " + std::to_string(zps[c]));
    mins.push_back(r->first);
    maxs.push_back(r->second);
  }
  const std::string id = newId(nodeName(n));
  const bool perAxis = scale.rank() == 1;
  const int rank = ranks_.count(n.input(0)) ? ranks_.at(n.input(0)) : 0;
  const int64_t axis = q.axis < 0 ? q.axis + rank : q.axis;
  if (perAxis && (axis < 0 || axis >= rank))
    fail(n, "axis " + std::to_string(q.axis) + " is out of range");
  const auto tensorOf = [](const std::vector<float>& v, bool vec) {
    return vec ? Tensor::fromValues({int64_t(v.size())}, v) : Tensor::scalar(v.at(0));
  };
  PortRef x = q.x;
  std::vector<int64_t> perm;
  std::string fqId = id;  // the block that gives the pair's output keeps the node's name
  if (perAxis && axis != rank - 1) {  // the channel axis moved last, and back after
    for (int i = 0; i < rank; ++i)
      if (i != axis) perm.push_back(i);
    perm.push_back(axis);
    const std::string toLast = newId(id + "_to_last");
    fqId = newId(id + "_fq");
    add(toLast, "Transpose", {{"perm", perm}});
    wire(x, toLast, "x");
    x = {BlockId(toLast), PortName("y")};
  }
  add(fqId, perAxis ? "FakeQuantWithMinMaxVarsPerChannel" : "FakeQuantWithMinMaxVars",
      {{"num_bits", std::bit_width(unsigned(range.quantMax))},
       {"narrow_range", range.quantMin == 1}});
  wire(x, fqId, "inputs");
  wire({BlockId(constBlock(id + "_min", tensorOf(mins, perAxis))), PortName("output")}, fqId,
       "min");
  wire({BlockId(constBlock(id + "_max", tensorOf(maxs, perAxis))), PortName("output")}, fqId,
       "max");
  PortRef out{BlockId(fqId), PortName("output")};
  if (!perm.empty()) {
    std::vector<int64_t> back(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) back[perm[i]] = int64_t(i);
    add(id, "Transpose", {{"perm", back}});
    wire(out, id, "x");
    out = {BlockId(id), PortName("y")};
  }
  tensors_[n.output(0)] = out;
  ranks_[n.output(0)] = rank;
}

void Importer::node(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    fail(n, "operators of domain '" + n.domain() + "' do not import");
  if (n.output_size() < 1) fail(n, "has no output");
  if (clampNode(n)) {
    ranks_[n.output(0)] = ranks_[n.input(0)];
    return;
  }
  if (op == "QuantizeLinear") {
    Pending p;
    const auto clamp = clamps_.find(n.input_size() ? n.input(0) : "");
    if (clamp != clamps_.end() && clamp->second.low.size() != 0) {
      p.x = clamp->second.x;
      p.low = clamp->second.low;
      p.high = clamp->second.high;
      p.clamped = true;
    } else {
      p.x = tensor(n, 0);
    }
    constant(n, 1);
    p.scale = n.input(1);
    p.zeroPoint = n.input_size() > 2 ? n.input(2) : "";
    p.axis = intAttr(n, "axis", 1);
    pending_[n.output(0)] = p;
    ranks_[n.output(0)] = ranks_[n.input(0)];
    return;
  }
  if (op == "DequantizeLinear") {
    const auto it = pending_.find(n.input_size() ? n.input(0) : "");
    if (it == pending_.end())
      fail(n, "dequantizes a tensor that no QuantizeLinear of the graph made: only pairs import");
    const Pending q = it->second;
    pending_.erase(it);
    dequantize(n, q);
    return;
  }
  struct Form {
    std::string type;
    std::vector<std::string> ins;
    std::string out;
  };
  static const std::map<std::string, Form> forms = {
      {"Add", {"Add", {"x", "y"}, "z"}},
      {"Sub", {"Sub", {"x", "y"}, "z"}},
      {"Mul", {"Mul", {"x", "y"}, "z"}},
      {"Relu", {"Relu", {"features"}, "activations"}},
      {"Abs", {"Abs", {"x"}, "y"}},
      {"Identity", {"Identity", {"input"}, "output"}},
      {"MatMul", {"MatMul", {"a", "b"}, "product"}},
      {"Softmax", {"Softmax", {"logits"}, "softmax"}},
      {"Transpose", {"Transpose", {"x"}, "y"}},
      {"Reshape", {"Reshape", {"tensor"}, "output"}},
  };
  const auto f = forms.find(op);
  if (f == forms.end())
    fail(n, "has no block in Quant Space (docs/onnx.md lists the ops that import)");
  Json attrs = Json::object();
  int rank = 0;
  std::vector<PortRef> ins;
  for (size_t i = 0; i < f->second.ins.size(); ++i) {
    ins.push_back(tensor(n, int(i)));
    rank = std::max(rank, ranks_[n.input(int(i))]);
  }
  if (op == "Transpose") {
    std::vector<int64_t> perm;
    for (const auto& a : n.attribute())
      if (a.name() == "perm") perm.assign(a.ints().begin(), a.ints().end());
    attrs["perm"] = perm;
  } else if (op == "Reshape") {
    const Tensor& shape = constant(n, 1);
    if (shape.dtype() != DType::Int64 || shape.rank() != 1)
      fail(n, "the shape must be a 1-D int64 initializer");
    attrs["shape"] = std::vector<int64_t>(shape.as<int64_t>(), shape.as<int64_t>() + shape.size());
    rank = int(shape.size());
  } else if (op == "Softmax" && intAttr(n, "axis", -1) != -1 &&
             intAttr(n, "axis", -1) != rank - 1) {
    fail(n, "only a softmax over the last axis imports");
  }
  const std::string id = newId(nodeName(n));
  add(id, f->second.type, attrs);
  for (size_t i = 0; i < ins.size(); ++i) wire(ins[i], id, f->second.ins[i]);
  tensors_[n.output(0)] = {BlockId(id), PortName(f->second.out)};
  ranks_[n.output(0)] = op == "MatMul" ? 2 : rank;
}

Page Importer::run() {
  for (const auto& t : g_.initializer())
    if (!inits_.emplace(t.name(), &t).second)
      throw Error(source_ + ": initializer '" + t.name() + "' is given twice");
  static const std::map<int, std::string> dtypes = {
      {onnx::TensorProto::FLOAT, "float32"},   {onnx::TensorProto::INT32, "int32"},
      {onnx::TensorProto::INT64, "int64"},     {onnx::TensorProto::BOOL, "bool"},
      {onnx::TensorProto::FLOAT16, "float16"}, {onnx::TensorProto::UINT8, "uint8"}};
  for (const auto& in : g_.input()) {
    if (inits_.count(in.name())) continue;
    const std::string what = source_ + ": graph input '" + in.name() + "'";
    if (!in.type().has_tensor_type()) throw Error(what + " is not a tensor");
    const auto dt = dtypes.find(in.type().tensor_type().elem_type());
    if (dt == dtypes.end()) throw Error(what + ": its element type does not import");
    Json attrs = {{"dtype", dt->second}};
    if (in.type().tensor_type().has_shape()) {
      std::vector<int64_t> shape;
      for (const auto& d : in.type().tensor_type().shape().dim())
        shape.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : -1);
      attrs["shape"] = shape;
      ranks_[in.name()] = int(shape.size());
    }
    const std::string id = newId(in.name());
    add(id, "Placeholder", attrs);
    tensors_[in.name()] = {BlockId(id), PortName("output")};
  }
  for (const auto& n : g_.node()) node(n);
  for (const auto& [name, q] : pending_)
    throw Error(source_ + ": QuantizeLinear output '" + name +
                "' is not dequantized: only QuantizeLinear + DequantizeLinear pairs import");
  page_.name = g_.name();
  return std::move(page_);
}

Page importOnnxPage(const std::string& bytes, const std::string& source,
                    const std::filesystem::path& weightsPath) {
  onnx::ModelProto model;
  parseOnnxModel(bytes, source, model);
  return Importer(model.graph(), source, weightsPath).run();
}

Page importOnnxPage(const std::filesystem::path& model) {
  return importOnnxPage(readFile(model, maxOnnxBytes()), model.string(),
                        std::filesystem::absolute(model));
}

LoadedPage pageFromOnnx(const std::filesystem::path& model) {
  const std::string bytes = readFile(model, maxOnnxBytes());
  onnx::ModelProto m;
  parseOnnxModel(bytes, model.string(), m);
  for (const auto& p : m.metadata_props())
    if (p.key() == "quantspace.page") {
      LoadedPage loaded = parsePage(p.value(), model.string() + " (its page)");
      loaded.dir = std::filesystem::absolute(model).parent_path();
      return loaded;
    }
  LoadedPage loaded;
  loaded.page = importOnnxPage(bytes, model.string(), std::filesystem::absolute(model));
  loaded.dir = std::filesystem::absolute(model).parent_path();
  return loaded;
}

}  // namespace qs
