#pragma once

#include <string>

#include "runtime/BlockDescriptor.h"
#include "runtime/Tensor.h"

namespace qs::fq {

// The PerChannel op's shape checks, in TensorFlow's order and with its messages (docs/spec.md):
// inputs rank >= 1, then min (rank 1, length d), then max. Throws qs::Error. Shared by the
// FakeQuant blocks and the quantization report, so both say the same thing about the same input.
void checkPerChannelShapes(const Shape& inputs, const Shape& min, const Shape& max);

// The num_bits (2..16, default 8, TensorFlow's message) and narrow_range (default false)
// attributes of every block that quantizes as the FakeQuant ops do; `doc` says what they mean
// for that block.
AttrDescriptor numBitsAttr(std::string doc);
AttrDescriptor narrowRangeAttr(std::string doc);

}  // namespace qs::fq
