#pragma once

// Double-precision references for the neural-network layers, written from the definitions with
// plain loops (nothing shared with blocks/nn/), for test_nn_layers.cpp and test_gradients.cpp.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/Tensor.h"

namespace qs::nnref {

using Values = std::vector<double>;

// NHWC pooling with a kh x kw window, strides sh, sw. SAME pads so that out = ceil(in / s), the
// smaller half of the padding before; VALID keeps whole windows, out = floor((in - k) / s) + 1.
// Max takes the largest element of the window, Avg the mean of the elements inside the input.
struct PoolSpec {
  bool max = true;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1;
  bool same = false;
};

inline int64_t poolOut(int64_t in, int64_t k, int64_t s, bool same) {
  if (same) return (in + s - 1) / s;
  return in >= k ? (in - k) / s + 1 : 0;
}

inline int64_t poolPadBefore(int64_t in, int64_t k, int64_t s, bool same) {
  if (!same) return 0;
  const int64_t total = (poolOut(in, k, s, true) - 1) * s + k - in;
  return total > 0 ? total / 2 : 0;
}

inline Shape poolShape(const Shape& in, const PoolSpec& p) {
  return {in[0], poolOut(in[1], p.kh, p.sh, p.same), poolOut(in[2], p.kw, p.sw, p.same), in[3]};
}

// Calls fn(outIndex, inIndex) for every input element inside each output's window.
template <typename Fn>
void forEachWindowElement(const Shape& in, const PoolSpec& p, Fn&& fn) {
  const Shape out = poolShape(in, p);
  const int64_t top = poolPadBefore(in[1], p.kh, p.sh, p.same);
  const int64_t left = poolPadBefore(in[2], p.kw, p.sw, p.same);
  for (int64_t b = 0; b < out[0]; ++b)
    for (int64_t oy = 0; oy < out[1]; ++oy)
      for (int64_t ox = 0; ox < out[2]; ++ox)
        for (int64_t c = 0; c < out[3]; ++c)
          for (int64_t dy = 0; dy < p.kh; ++dy)
            for (int64_t dx = 0; dx < p.kw; ++dx) {
              const int64_t y = oy * p.sh - top + dy, x = ox * p.sw - left + dx;
              if (y < 0 || y >= in[1] || x < 0 || x >= in[2]) continue;
              fn(((b * out[1] + oy) * out[2] + ox) * out[3] + c,
                 ((b * in[1] + y) * in[2] + x) * in[3] + c);
            }
}

inline Values pool(const Values& x, const Shape& in, const PoolSpec& p) {
  const Shape out = poolShape(in, p);
  const int64_t n = out[0] * out[1] * out[2] * out[3];
  Values y(n, p.max ? -std::numeric_limits<double>::infinity() : 0.0);
  std::vector<int64_t> count(n, 0);
  forEachWindowElement(in, p, [&](int64_t o, int64_t i) {
    y[o] = p.max ? std::max(y[o], x[i]) : y[o] + x[i];
    ++count[o];
  });
  if (!p.max)
    for (int64_t o = 0; o < n; ++o) y[o] /= static_cast<double>(count[o]);
  return y;
}

// Softmax over the last dimension of length `cols`.
inline Values softmax(const Values& x, int64_t cols) {
  Values y(x.size());
  for (size_t r = 0; r * cols < x.size(); ++r) {
    double sum = 0;
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(x[r * cols + j]);
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = std::exp(x[r * cols + j]) / sum;
  }
  return y;
}

// -log(softmax(x)[label]) per row.
inline Values xentLoss(const Values& x, const std::vector<int64_t>& labels, int64_t cols) {
  Values loss(labels.size());
  for (size_t r = 0; r < labels.size(); ++r) {
    double sum = 0;
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(x[r * cols + j]);
    loss[r] = std::log(sum) - x[r * cols + labels[r]];
  }
  return loss;
}

// Row-major coordinates of flat index i in `s`.
inline std::vector<int64_t> coordsOf(int64_t i, const Shape& s) {
  std::vector<int64_t> c(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    c[k] = i % s[k];
    i /= s[k];
  }
  return c;
}

// y[i_0, ..., i_k] = x at index i_m along dimension perm[m].
template <typename T>
std::vector<T> transpose(const std::vector<T>& x, const Shape& in,
                         const std::vector<int64_t>& perm) {
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[perm[i]];
  std::vector<T> y(x.size());
  for (size_t o = 0; o < y.size(); ++o) {
    const std::vector<int64_t> oc = coordsOf(static_cast<int64_t>(o), out);
    std::vector<int64_t> ic(in.size());
    for (size_t m = 0; m < in.size(); ++m) ic[perm[m]] = oc[m];
    int64_t flat = 0;
    for (size_t k = 0; k < in.size(); ++k) flat = flat * in[k] + ic[k];
    y[o] = x[flat];
  }
  return y;
}

}  // namespace qs::nnref
