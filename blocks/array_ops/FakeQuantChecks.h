#pragma once

#include "runtime/Tensor.h"

namespace qs::fq {

// The PerChannel op's shape checks, in TensorFlow's order and with its messages (docs/spec.md):
// inputs rank >= 1, then min (rank 1, length d), then max. Throws qs::Error. Shared by the
// FakeQuant blocks and the quantization report, so both say the same thing about the same input.
void checkPerChannelShapes(const Shape& inputs, const Shape& min, const Shape& max);

}  // namespace qs::fq
