#pragma once

#include <cstdint>
#include <string>

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
  // int32, int64 and uint8: the minimum and maximum exactly (int64 beyond 2^53 too).
  int64_t minInt = 0, maxInt = 0;
};

// Over any dtype: bool counts as 0 and 1; int64 beyond 2^53 is rounded to double, but for
// minInt/maxInt.
TensorStats computeStats(const Tensor& t);

// int32, int64 or uint8.
inline bool isIntegerDType(DType d) {
  return d == DType::Int32 || d == DType::Int64 || d == DType::UInt8;
}

// Element i of a tensor of any dtype as a double (exact but for int64 beyond 2^53).
double elementValue(const Tensor& t, int64_t i);
// Element i as text: integers as integers, bool as true/false, floats (float16 too) in the
// shortest form that reads back to the same value, non-finite ones as nan, inf, -inf.
std::string elementText(const Tensor& t, int64_t i);
// The same as a JSON value's text: non-finite floats quoted, as in the page format.
std::string elementJson(const Tensor& t, int64_t i);

}  // namespace qs
