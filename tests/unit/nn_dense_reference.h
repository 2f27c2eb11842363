#pragma once

// Double-precision references for MatMul, Conv2D, DepthwiseConv2dNative and BiasAdd, written as
// plain loops from the definitions and sharing nothing with the blocks. Each result also carries,
// per element, the sum of the magnitudes of its terms, from which the tests bound the rounding
// error of a float32 result.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "runtime/Tensor.h"

namespace qs::testing::nnref {

struct Ref {
  Shape shape;
  std::vector<double> v;    // the exact result (to double rounding)
  std::vector<double> mag;  // sum of |term| of each element
};

struct Conv {
  int64_t strideRows = 1, strideCols = 1, dilationRows = 1, dilationCols = 1;
  bool same = false;
};

// Output size of one spatial dimension and the padding before it: SAME covers ceil(in / stride)
// windows with the total padding split evenly, the odd one after; VALID only whole windows.
inline int64_t outputSize(int64_t in, int64_t k, int64_t stride, int64_t dilation, bool same,
                          int64_t& padBefore) {
  const int64_t span = dilation * (k - 1) + 1;
  if (same) {
    const int64_t out = (in + stride - 1) / stride;
    padBefore = std::max<int64_t>(0, (out - 1) * stride + span - in) / 2;
    return out;
  }
  padBefore = 0;
  return in >= span ? (in - span) / stride + 1 : 0;
}

// a [r, c] (or its transpose) times b.
inline Ref matMul(const std::vector<double>& a, const Shape& as, const std::vector<double>& b,
                  const Shape& bs, bool ta, bool tb) {
  const int64_t m = ta ? as[1] : as[0], k = ta ? as[0] : as[1], n = tb ? bs[0] : bs[1];
  Ref r{{m, n}, std::vector<double>(m * n, 0.0), std::vector<double>(m * n, 0.0)};
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) {
        const double x = ta ? a[p * as[1] + i] : a[i * as[1] + p];
        const double y = tb ? b[j * bs[1] + p] : b[p * bs[1] + j];
        r.v[i * n + j] += x * y;
        r.mag[i * n + j] += std::abs(x * y);
      }
  return r;
}

// Conv2D (multiplier 0) or DepthwiseConv2dNative (multiplier = the filter's last dimension).
inline Ref conv(const std::vector<double>& x, const Shape& xs, const std::vector<double>& w,
                const Shape& ws, const Conv& c, bool depthwise) {
  int64_t padTop = 0, padLeft = 0;
  const int64_t oh = outputSize(xs[1], ws[0], c.strideRows, c.dilationRows, c.same, padTop);
  const int64_t ow = outputSize(xs[2], ws[1], c.strideCols, c.dilationCols, c.same, padLeft);
  const int64_t cin = xs[3], cout = depthwise ? cin * ws[3] : ws[3];
  Ref r{{xs[0], oh, ow, cout}, {}, {}};
  r.v.assign(xs[0] * oh * ow * cout, 0.0);
  r.mag = r.v;
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t o = 0; o < cout; ++o) {
          const int64_t out = ((n * oh + i) * ow + j) * cout + o;
          for (int64_t di = 0; di < ws[0]; ++di)
            for (int64_t dj = 0; dj < ws[1]; ++dj) {
              const int64_t row = i * c.strideRows + di * c.dilationRows - padTop;
              const int64_t col = j * c.strideCols + dj * c.dilationCols - padLeft;
              if (row < 0 || row >= xs[1] || col < 0 || col >= xs[2]) continue;
              for (int64_t q = 0; q < cin; ++q) {
                if (depthwise && q != o / ws[3]) continue;
                const double xv = x[((n * xs[1] + row) * xs[2] + col) * cin + q];
                const double wv = depthwise ? w[((di * ws[1] + dj) * cin + q) * ws[3] + o % ws[3]]
                                            : w[((di * ws[1] + dj) * cin + q) * cout + o];
                r.v[out] += xv * wv;
                r.mag[out] += std::abs(xv * wv);
              }
            }
        }
  return r;
}

inline Ref biasAdd(const std::vector<double>& value, const Shape& vs,
                   const std::vector<double>& bias) {
  Ref r{vs, value, {}};
  for (size_t i = 0; i < r.v.size(); ++i) r.v[i] += bias[i % bias.size()];
  for (size_t i = 0; i < r.v.size(); ++i)
    r.mag.push_back(std::abs(value[i]) + std::abs(bias[i % bias.size()]));
  return r;
}

}  // namespace qs::testing::nnref
