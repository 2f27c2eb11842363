#pragma once

#include "runtime/BlockDescriptor.h"
#include "runtime/Json.h"

namespace qs {

// Checks a block's raw attributes (as the page gives them) against its descriptor and returns the
// typed values with defaults filled in. Checks run in the descriptor's order, so the first error
// is the one TensorFlow would report (num_bits first). Throws qs::Error naming the attribute and
// the reason: an undeclared attribute, a wrong type, an out-of-range value, a missing required
// one. Nothing is clamped or ignored.
AttrValues resolveAttrs(const BlockDescriptor& desc, const Json& attrs);

// One attribute value as it is written in a page file.
Json attrValueToJson(const AttrValue& value);
// "8", "false", "[2, 4]", "-6" (for messages and the editor).
std::string attrValueToString(const AttrValue& value);

}  // namespace qs
