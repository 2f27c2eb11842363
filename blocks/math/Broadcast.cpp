#include "blocks/math/Broadcast.h"

#include <string>

#include "runtime/Error.h"

namespace qs {

namespace {

// TensorShape::DebugString: "[2,3]", "[]".
std::string tfShape(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

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
  std::vector<double> acc(static_cast<size_t>(checkedElementCount(to)), 0.0);
  const float* src = g.data();
  forEachBroadcastRow(ctx, g.shape(), to, [&](int64_t bo, int64_t so, int64_t step, int64_t len) {
    for (int64_t k = 0; k < len; ++k) acc[so + k * step] += src[bo + k];
  });
  Tensor out = Tensor::uninitialized(to);
  for (size_t i = 0; i < acc.size(); ++i) out.mutableData()[i] = static_cast<float>(acc[i]);
  return out;
}

}  // namespace qs
