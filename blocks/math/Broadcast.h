#pragma once

// NumPy/TensorFlow broadcasting, shared by the element-wise blocks, the reductions' gradients and
// the gradients of the broadcasting blocks (which sum over the broadcast dimensions).

#include <algorithm>
#include <cstdint>
#include <vector>

#include "blocks/Chunks.h"
#include "runtime/Tensor.h"

namespace qs {

// The broadcast shape of a and b: aligned on the right, each pair of dimensions equal or one of
// them 1. Throws qs::Error with TensorFlow's message ("Incompatible shapes: [2,3] vs. [4]").
Shape broadcastShape(const Shape& a, const Shape& b);

// Row-major strides of `small` seen as a tensor of rank `rank` (aligned on the right), 0 along
// the dimensions it broadcasts (length 1 or missing).
std::vector<int64_t> broadcastStrides(const Shape& small, size_t rank);

// `small` is `big`'s trailing dimensions (after dropping leading 1s), e.g. a per-channel [d]
// against [..., d]; returns the product of those dimensions, or -1 if it is not.
int64_t suffixLength(const Shape& big, const Shape& small);

// Walks `big` (row-major) one last-dimension row at a time with the matching offsets in `small`,
// which broadcasts to `big`: fn(bigOffset, smallOffset, smallStep, len) covers the elements
// big[bigOffset + k] and small[smallOffset + k * smallStep] for k < len. Checks for cancellation
// about every kCancelChunkElements elements.
template <typename Fn>
void forEachBroadcastRow(const BlockContext& ctx, const Shape& big, const Shape& small, Fn&& fn) {
  int64_t n = 1;
  for (int64_t d : big) n *= d;
  if (n == 0) return;
  const size_t rank = big.size();
  if (rank == 0) {
    fn(int64_t{0}, int64_t{0}, int64_t{0}, int64_t{1});
    return;
  }
  const std::vector<int64_t> st = broadcastStrides(small, rank);
  const int64_t last = big[rank - 1];
  const int64_t rowsPerCheck = std::max<int64_t>(1, kCancelChunkElements / last);
  std::vector<int64_t> idx(rank, 0);
  int64_t off = 0;
  for (int64_t base = 0, row = 0; base < n; base += last, ++row) {
    if (row % rowsPerCheck == 0) throwIfCancelled(ctx);
    fn(base, off, st[rank - 1], last);
    for (size_t i = rank - 1; i-- > 0;) {
      off += st[i];
      if (++idx[i] < big[i]) break;
      off -= st[i] * big[i];
      idx[i] = 0;
    }
  }
}

// `data` of shape `from` repeated along the broadcast dimensions to shape `to` (a new tensor).
Tensor broadcastTo(const BlockContext& ctx, const float* data, const Shape& from, const Shape& to);

// The gradient of a broadcast: `g` (of the broadcast shape) summed over the dimensions along which
// a tensor of shape `to` was broadcast, with shape `to`. Sums run in double, rounded once. Returns
// `g` itself when nothing was broadcast.
Tensor sumTo(const BlockContext& ctx, const Tensor& g, const Shape& to);

}  // namespace qs
