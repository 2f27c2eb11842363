#include "editor_bridge/RangeWarning.h"

#include "runtime/Json.h"

namespace qs::editor {

QString reversedRange(const float* mins, const float* maxs, int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    if (!(mins[c] > maxs[c])) continue;
    const QString range = QStringLiteral("min %1 > max %2")
                              .arg(QString::fromStdString(formatFloat(mins[c])),
                                   QString::fromStdString(formatFloat(maxs[c])));
    return channels > 1 ? QStringLiteral("channel %1: %2").arg(c).arg(range) : range;
  }
  return {};
}

QString rangeWarning(const Page& page, const Block& block, const ResultMap& results) {
  if (block.type.rfind("FakeQuant", 0) != 0 || block.type.find("Gradient") != std::string::npos)
    return {};
  QString reversed;
  if (block.type.rfind("FakeQuantWithMinMaxArgs", 0) == 0) {
    // The op's defaults are -6 and 6.
    auto number = [&](const char* name, float fallback) {
      auto it = block.attrs.find(name);
      return it != block.attrs.end() && it->is_number() ? it->get<float>() : fallback;
    };
    const float lo = number("min", -6.0f), hi = number("max", 6.0f);
    reversed = reversedRange(&lo, &hi, 1);
  } else {
    const int index = page.indexOf(block.id);
    if (index < 0) return {};
    const Tensor *lo = nullptr, *hi = nullptr;
    for (int li : page.incomingLinks(index)) {
      const Link& l = page.links()[static_cast<size_t>(li)];
      const std::string& port = l.to.port.str();
      if (port != "min" && port != "max") continue;
      auto r = results.find(l.from.block);
      if (r == results.end()) continue;
      auto t = r->second.outputs.find(l.from.port.str());
      if (t == r->second.outputs.end() || t->second.dtype() != DType::Float32) continue;
      (port == "min" ? lo : hi) = &t->second;
    }
    if (!lo || !hi || lo->size() != hi->size() || lo->size() == 0) return {};
    reversed = reversedRange(lo->data(), hi->data(), lo->size());
  }
  if (reversed.isEmpty()) return {};
  return QObject::tr(
             "%1. TensorFlow accepts this range, but every output is then nudged min: "
             "set min below max.")
      .arg(reversed);
}

}  // namespace qs::editor
