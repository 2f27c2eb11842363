#include "runtime/TensorStats.h"

#include <cmath>
#include <limits>

namespace qs {

TensorStats computeStats(const Tensor& t) {
  TensorStats s;
  s.count = t.size();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  // Welford's update keeps the variance accurate for large tensors with a large mean.
  double mean = 0, m2 = 0;
  for (float v : t.values()) {
    if (std::isnan(v)) {
      ++s.nan;
    } else if (std::isinf(v)) {
      ++(v > 0 ? s.posInf : s.negInf);
    } else {
      ++s.finite;
      const double d = v;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      const double delta = d - mean;
      mean += delta / static_cast<double>(s.finite);
      m2 += delta * (d - mean);
    }
  }
  if (s.finite) {
    s.min = lo;
    s.max = hi;
    s.mean = mean;
    s.stddev = std::sqrt(m2 / static_cast<double>(s.finite));
  }
  return s;
}

}  // namespace qs
