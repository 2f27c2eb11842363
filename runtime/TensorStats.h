#pragma once

#include <cstdint>

#include "runtime/Tensor.h"

namespace qs {

// Summary statistics of a tensor over its finite values; NaN and infinities are counted apart.
struct TensorStats {
  int64_t count = 0;   // all elements
  int64_t finite = 0;  // elements the statistics are over
  int64_t nan = 0;
  int64_t posInf = 0;
  int64_t negInf = 0;
  double min = 0;  // of the finite values; 0 when there are none
  double max = 0;
  double mean = 0;
  double stddev = 0;  // population standard deviation
};

TensorStats computeStats(const Tensor& t);

}  // namespace qs
