#include "blocks/math/Broadcast.h"

#include <Eigen/Core>
#include <string>

#include "blocks/TfShape.h"
#include "runtime/Error.h"

namespace qs {

namespace {

// `small` (aligned on the right) is `big`'s leading dimensions followed by 1s, e.g. [3, 1] against
// [3, 4]; returns the product of those leading dimensions (1 for all 1s), or -1 if it is not.
int64_t prefixLength(const Shape& big, const Shape& small) {
  const size_t pad = big.size() - small.size();
  auto at = [&](size_t i) { return i < pad ? int64_t{1} : small[i - pad]; };
  size_t k = 0;
  int64_t len = 1;
  while (k < big.size() && at(k) == big[k]) len *= big[k++];
  for (size_t i = k; i < big.size(); ++i)
    if (at(i) != 1) return -1;
  return len;
}

using ConstRows =
    Eigen::Map<const Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

}  // namespace

int64_t suffixLength(const Shape& big, const Shape& small) {
  size_t first = 0;
  while (first < small.size() && small[first] == 1) ++first;
  const size_t n = small.size() - first;
  if (n > big.size()) return -1;
  int64_t len = 1;
  for (size_t i = 0; i < n; ++i) {
    if (small[first + i] != big[big.size() - n + i]) return -1;
    len *= small[first + i];
  }
  return len;
}

Shape broadcastShape(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error("Incompatible shapes: " + tfShape(a) + " vs. " + tfShape(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcastStrides(const Shape& small, size_t rank) {
  std::vector<int64_t> st(rank, 0);
  int64_t acc = 1;
  for (size_t i = small.size(); i-- > 0;) {
    st[i + rank - small.size()] = small[i] == 1 ? 0 : acc;
    acc *= small[i];
  }
  return st;
}

Tensor broadcastTo(const BlockContext& ctx, const float* data, const Shape& from, const Shape& to) {
  Tensor out = Tensor::uninitialized(to);
  float* o = out.mutableData();
  forEachBroadcastRow(ctx, to, from, [&](int64_t bo, int64_t so, int64_t step, int64_t len) {
    for (int64_t k = 0; k < len; ++k) o[bo + k] = data[so + k * step];
  });
  return out;
}

Tensor sumTo(const BlockContext& ctx, const Tensor& g, const Shape& to) {
  if (g.shape() == to) return g;
  const int64_t n = g.size();
  std::vector<double> acc(static_cast<size_t>(checkedElementCount(to)), 0.0);
  const float* src = g.data();
  if (const int64_t rows = prefixLength(g.shape(), to); rows > 0 && n > 0) {
    // Summing whole trailing blocks (a scalar, or [3, 1] from [3, 4]): one row sum each.
    const int64_t cols = n / rows;
    forEachChunk(ctx, 0, rows, std::max<int64_t>(1, kCancelChunkElements / cols),
                 [&](int64_t b, int64_t e) {
                   Eigen::Map<Eigen::ArrayXd>(acc.data() + b, e - b) =
                       ConstRows(src + b * cols, e - b, cols).cast<double>().rowwise().sum();
                 });
  } else if (const int64_t d = suffixLength(g.shape(), to); d > 0) {
    // Summing over leading dimensions (a per-channel [d] from [..., d]): column sums.
    Eigen::Map<Eigen::Array<double, 1, Eigen::Dynamic>> a(acc.data(), d);
    forEachChunk(ctx, 0, n / d, kCancelChunkElements / d, [&](int64_t b, int64_t e) {
      a += ConstRows(src + b * d, e - b, d).cast<double>().colwise().sum();
    });
  } else {
    forEachBroadcastRow(ctx, g.shape(), to, [&](int64_t bo, int64_t so, int64_t step, int64_t len) {
      for (int64_t k = 0; k < len; ++k) acc[so + k * step] += src[bo + k];
    });
  }
  Tensor out = Tensor::uninitialized(to);
  for (size_t i = 0; i < acc.size(); ++i) out.mutableData()[i] = static_cast<float>(acc[i]);
  return out;
}

}  // namespace qs
