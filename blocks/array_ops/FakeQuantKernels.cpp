#include "blocks/array_ops/FakeQuantKernels.h"

#include <algorithm>
#include <vector>

#include "runtime/ThreadPool.h"

namespace qs::fq {

void perChannelForward(const float* x, int64_t outer, int64_t channels, const float* min,
                       const float* max, QuantRange q, float* out, ThreadPool* pool, int threads) {
  std::vector<Nudged> n(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) n[c] = nudge(min[c], max[c], q);
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * channels;
      float* outr = out + r * channels;
      for (int64_t c = 0; c < channels; ++c) outr[c] = quantizeMul(xr[c], n[c]);
    }
  };
  if (pool && threads > 1 && outer * channels >= (1 << 16)) {
    const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(channels, 1));
    pool->parallelFor(outer, grain, threads, rows);
  } else {
    rows(0, outer);
  }
}

}  // namespace qs::fq
