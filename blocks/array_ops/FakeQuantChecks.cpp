#include "blocks/array_ops/FakeQuantChecks.h"

#include <string>
#include <utility>

#include "runtime/Error.h"

namespace qs::fq {

void checkPerChannelShapes(const Shape& inputs, const Shape& min, const Shape& max) {
  if (inputs.empty()) throw Error("input must be at least rank 1");
  const int64_t d = inputs.back();
  const std::pair<const char*, const Shape*> ranges[] = {{"min", &min}, {"max", &max}};
  for (const auto& [name, s] : ranges) {
    if (s->size() != 1)
      throw Error(std::string("`") + name + "` must be rank 1 but is rank " +
                  std::to_string(s->size()));
    if ((*s)[0] != d)
      throw Error(std::string(name) + " has incorrect size, expected " + std::to_string(d) +
                  " was " + std::to_string((*s)[0]));
  }
}

AttrDescriptor numBitsAttr(std::string doc) {
  return {.name = "num_bits",
          .type = AttrType::Int,
          .defaultValue = AttrValue{int64_t{8}},
          .minValue = 2,
          .maxValue = 16,
          .rangeMessage = "num_bits must be between 2 and 16, inclusive",
          .doc = std::move(doc)};
}

AttrDescriptor narrowRangeAttr(std::string doc) {
  return {.name = "narrow_range",
          .type = AttrType::Bool,
          .defaultValue = AttrValue{false},
          .doc = std::move(doc)};
}

}  // namespace qs::fq
