#pragma once

#include <cstdint>

#include "blocks/array_ops/FakeQuantMath.h"

namespace qs {
class ThreadPool;
}

namespace qs::fq {

// Per-channel forward over a row-major [outer, channels] view of the input: channel c of every
// row uses min[c], max[c]. `threads` workers of `pool` may share the work (pool may be null).
void perChannelForward(const float* x, int64_t outer, int64_t channels, const float* min,
                       const float* max, QuantRange q, float* out, ThreadPool* pool, int threads);

}  // namespace qs::fq
