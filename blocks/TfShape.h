#pragma once

#include <string>

#include "runtime/Tensor.h"

namespace qs {

// TensorShape::DebugString, for the messages TensorFlow's kernels give: "[2,3]", "[]".
inline std::string tfShape(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace qs
