// The FakeQuant ops as QuantizeLinear + DequantizeLinear with TensorFlow's nudged range
// (docs/onnx.md, "FakeQuant as QDQ").

#include <cmath>

#include "blocks/array_ops/FakeQuantMath.h"
#include "onnx/OnnxEmit.h"
#include "runtime/Json.h"

namespace qs::onnxexport {

namespace {

struct QdqConstants {
  Tensor scale, zeroPoint, low, high;  // per channel ([d]) or per tensor ([])
  bool clamp = false;  // the input must be clamped to [low, high] before QuantizeLinear
};

QdqConstants qdqConstants(const Emit& e, const std::vector<float>& mins,
                          const std::vector<float>& maxs, bool perChannel) {
  const int bits = static_cast<int>(e.attrs().getInt("num_bits"));
  const bool narrow = e.attrs().getBool("narrow_range");
  if (bits > 8)
    e.fail("num_bits " + std::to_string(bits) +
           ": opset 13's QuantizeLinear has 8-bit integers only (num_bits 2 to 8 export)");
  const Shape shape = perChannel ? Shape{static_cast<int64_t>(mins.size())} : Shape{};
  QdqConstants c{Tensor::zeros(shape), Tensor::zeros(shape, DType::UInt8), Tensor::zeros(shape),
                 Tensor::zeros(shape)};
  // Below 8 bits or with narrow_range the nudged range is narrower than uint8's 0..255, where
  // QuantizeLinear saturates: the clamp keeps TensorFlow's ends.
  c.clamp = bits < 8 || narrow;
  const fq::QuantRange q = fq::quantRange(bits, narrow);
  for (size_t i = 0; i < mins.size(); ++i) {
    const float lo = mins[i], hi = maxs[i];
    const std::string where = (perChannel ? "channel " + std::to_string(i) + ": " : std::string()) +
                              "range [" + formatFloat(lo) + ", " + formatFloat(hi) + "]";
    if (lo == 0.0f && hi == 0.0f) {  // TensorFlow gives 0: clamp to [0, 0], any scale
      c.scale.mutableData()[i] = 1.0f;
      c.clamp = true;
      continue;
    }
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi))
      e.fail(where + ": QuantizeLinear needs a finite range with min < max");
    const fq::Nudged n = fq::nudge(lo, hi, q);
    if (!(n.scale > 0.0f) || !std::isfinite(n.scale))
      e.fail(where + ": its scale " + formatFloat(n.scale) + " is not a positive float32");
    c.scale.mutableData()[i] = n.scale;
    c.zeroPoint.mutableAs<uint8_t>()[i] = static_cast<uint8_t>(n.zeroPoint);
    c.low.mutableData()[i] = n.nudgedMin;
    c.high.mutableData()[i] = n.nudgedMax;
  }
  return c;
}

}  // namespace

void fakeQuant(Emit& e, const std::vector<float>& mins, const std::vector<float>& maxs,
               bool perChannel) {
  if (mins.size() != maxs.size() || mins.empty())
    e.fail("min and max must have one value per channel");
  const QdqConstants c = qdqConstants(e, mins, maxs, perChannel);
  std::string x = e.in("inputs");
  if (c.clamp) {  // TensorFlow's order: min with the top first, then max with the bottom
    x = e.node("Min", {x, e.constant("nudged_max", c.high)}, {e.tmp("below_max")}).output(0);
    x = e.node("Max", {x, e.constant("nudged_min", c.low)}, {e.tmp("clamped")}).output(0);
  }
  const std::string scale = e.constant("scale", c.scale);
  const std::string zp = e.constant("zero_point", c.zeroPoint);
  auto& qn = e.node("QuantizeLinear", {x, scale, zp}, {e.tmp("quantized")});
  auto& dn = e.node("DequantizeLinear", {e.tmp("quantized"), scale, zp}, {e.out("output")});
  if (perChannel) {
    const int64_t axis = static_cast<int64_t>(e.inShape("inputs").size()) - 1;
    setAttr(qn, "axis", axis);
    setAttr(dn, "axis", axis);
  }
}

}  // namespace qs::onnxexport
