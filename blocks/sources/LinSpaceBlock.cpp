#include <cmath>

#include "blocks/RegisterBlocks.h"
#include "runtime/Error.h"
#include "runtime/Json.h"

namespace qs {

namespace {

void linSpaceCheck(BlockContext& ctx) {
  const int64_t num = ctx.attrs().getInt("num");
  if (num <= 0) throw Error("Requires num > 0: " + std::to_string(num));
  for (const char* name : {"start", "stop"}) {
    const float v = static_cast<float>(ctx.attrs().getFloat(name));
    if (!std::isfinite(v))
      throw Error(std::string("attribute '") + name + "' must be finite, was " + formatFloat(v));
  }
  checkedElementCount({num});
  ctx.setOutputShape("output", {num});
}

// TensorFlow's kernel: step = (stop - start) / (num - 1) in float, element i = start + step * i,
// and the last element is `stop` exactly.
void linSpaceCompute(BlockContext& ctx) {
  const int64_t num = ctx.attrs().getInt("num");
  const float start = static_cast<float>(ctx.attrs().getFloat("start"));
  const float stop = static_cast<float>(ctx.attrs().getFloat("stop"));
  Tensor out = Tensor::uninitialized({num});
  float* y = out.mutableData();
  if (num == 1) {
    y[0] = start;
  } else {
    const float step = (stop - start) / static_cast<float>(num - 1);
    for (int64_t i = 0; i < num - 1; ++i) y[i] = start + step * static_cast<float>(i);
    y[num - 1] = stop;
  }
  ctx.setOutput("output", std::move(out));
}

}  // namespace

void registerLinSpaceBlock(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "LinSpace";
  d.category = "Sources";
  d.summary = "Generates `num` evenly spaced values from `start` to `stop`, both included.";
  d.doc =
      "As TensorFlow's LinSpace kernel (float32): step = (stop - start) / (num - 1), element i is "
      "start + step * i, and the last element is exactly `stop`; num = 1 gives [start]. "
      "TensorFlow takes start, stop and num as tensor inputs; here they are attributes. Useful "
      "as the x axis of a transfer curve.";
  d.ports = opPorts({}, {tensorOutput("output", RankRule::exactly(1), "The values, shape [num].")});
  d.attrs = {
      {.name = "start", .type = AttrType::Float, .required = true, .doc = "First value."},
      {.name = "stop", .type = AttrType::Float, .required = true, .doc = "Last value."},
      {.name = "num",
       .type = AttrType::Int,
       .required = true,
       .doc = "Number of values; must be > 0."},
  };
  d.check = linSpaceCheck;
  d.compute = linSpaceCompute;
  registry.add(std::move(d));
}

}  // namespace qs
