#pragma once

// Long loops of the blocks run in chunks and look at the evaluation's cancel flag between them, so
// that a cancelled run returns within one chunk's time instead of at the end of the block.

#include <algorithm>
#include <cstdint>

#include "runtime/BlockDescriptor.h"
#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

namespace qs {

// Elements per chunk: 256 KiB of float32, a few tens of microseconds of work for the cheapest
// loops, so that one relaxed load per chunk costs nothing measurable.
constexpr int64_t kCancelChunkElements = int64_t{1} << 16;

inline void throwIfCancelled(const BlockContext& ctx) {
  if (ctx.cancelled()) throw Cancelled();
}

// Calls fn(b, e) over [begin, end) in consecutive chunks of at most `chunk` elements, throwing
// Cancelled before a chunk once the evaluation is cancelled.
template <typename Fn>
void forEachChunk(const BlockContext& ctx, int64_t begin, int64_t end, int64_t chunk, Fn&& fn) {
  chunk = std::max<int64_t>(chunk, 1);
  for (int64_t b = begin; b < end;) {
    throwIfCancelled(ctx);
    const int64_t e = std::min(end, b + chunk);
    fn(b, e);
    b = e;
  }
}

// Calls fn(b, e) over [0, n) in chunks of at most `chunk`, checking for cancellation before each,
// split over the op's threads (contiguous shares, each at least `grain` long) when `split` and the
// op has more than one. Callers make each element's result independent of the split, so that
// every thread count gives the same bits.
template <typename Fn>
void parallelChunks(const BlockContext& ctx, int64_t n, int64_t grain, int64_t chunk, bool split,
                    Fn&& fn) {
  auto share = [&](int64_t b, int64_t e) { forEachChunk(ctx, b, e, chunk, fn); };
  if (split && ctx.pool() && ctx.threads() > 1 && n > grain)
    ctx.pool()->parallelFor(n, std::max<int64_t>(grain, 1), ctx.threads(), share);
  else
    share(0, n);
}

}  // namespace qs
