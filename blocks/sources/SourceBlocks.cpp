#include <filesystem>
#include <iterator>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "runtime/Error.h"
#include "runtime/Npy.h"

namespace qs {

namespace {

// A fed value may have any dtype.
const std::vector<DType> kAllDTypesList(std::begin(kAllDTypes), std::end(kAllDTypes));

std::filesystem::path npyPath(const BlockContext& ctx) {
  std::filesystem::path p(ctx.attrs().getString("npy"));
  if (p.is_relative() && !ctx.pageDir().empty()) p = ctx.pageDir() / p;
  return p;
}

// Const: the value given inline (shape + values) or by an .npy file, unless fed from outside.
void constCheck(BlockContext& ctx) {
  const AttrValues& a = ctx.attrs();
  const bool hasNpy = a.has("npy");
  const bool hasValues = a.has("values");
  const bool hasShape = a.has("shape");
  if (hasNpy && (hasValues || hasShape))
    throw Error("give either \"npy\" or \"shape\" and \"values\", not both");
  if (ctx.feed()) {
    ctx.setOutputShape("output", ctx.feed()->shape(), ctx.feed()->dtype());
    return;
  }
  if (hasNpy) {
    if (a.getString("npy").empty()) throw Error("attribute 'npy' is an empty path");
    ctx.setOutputShape("output", readNpyShape(npyPath(ctx)));
    return;
  }
  if (!hasValues) throw Error("no value: set \"values\" (with \"shape\") or \"npy\"");
  const auto& values = a.getFloats("values");
  Shape shape = hasShape ? Shape(a.getInts("shape").begin(), a.getInts("shape").end())
                         : Shape{static_cast<int64_t>(values.size())};
  const int64_t count = checkedElementCount(shape);
  if (count != static_cast<int64_t>(values.size()))
    throw Error("shape " + shapeToString(shape) + " needs " + std::to_string(count) +
                " values, but \"values\" has " + std::to_string(values.size()));
  ctx.setOutputShape("output", shape);
}

void constCompute(BlockContext& ctx) {
  if (ctx.feed()) {
    ctx.setOutput("output", *ctx.feed());
    return;
  }
  const AttrValues& a = ctx.attrs();
  if (a.has("npy")) {
    ctx.setOutput("output", readNpy(npyPath(ctx)));
    return;
  }
  const auto& values = a.getFloats("values");
  ctx.setOutput("output", Tensor::fromValues(ctx.outputShapes().at("output"), values));
}

// Placeholder: a value that must be fed (runner --feed, editor). `shape` may pin dimensions;
// -1 accepts any size.
void placeholderCheck(BlockContext& ctx) {
  if (!ctx.feed()) throw Error("no value fed: give one with --feed " + ctx.blockId() + "=FILE.npy");
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
    d.summary = "A constant tensor, given inline or read from an .npy file.";
    d.doc =
        "Gives `shape` and the flat row-major `values` (non-finite values as the strings "
        "\"nan\", \"inf\", \"-inf\"), or `npy`, a path to a NumPy file relative to the page. "
        "Without `shape`, the values form a rank-1 tensor. The runner's `--feed` replaces the "
        "value.";
    d.ports = opPorts({}, {tensorOutput("output", RankRule::any(), kAllDTypesList, "The constant.")});
    d.attrs = {
        {.name = "shape",
         .type = AttrType::IntList,
         .doc = "Dimensions of the tensor; [] for a scalar."},
        {.name = "values", .type = AttrType::FloatList, .doc = "The elements in row-major order."},
        {.name = "npy",
         .type = AttrType::String,
         .doc = "Path of a .npy file (relative to the page file) to read instead of `values`."},
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
        "value; a dimension of -1 accepts any size.";
    d.ports = opPorts({}, {tensorOutput("output", RankRule::any(), kAllDTypesList, "The fed tensor.")});
    d.attrs = {{.name = "shape",
                .type = AttrType::IntList,
                .doc = "Expected shape of the fed value; -1 for any size."}};
    d.check = placeholderCheck;
    d.compute = placeholderCompute;
    d.feedable = true;
    registry.add(std::move(d));
  }
}

}  // namespace qs
