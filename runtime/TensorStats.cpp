#include "runtime/TensorStats.h"

#include <cmath>
#include <limits>

#include "runtime/Json.h"

namespace qs {

double elementValue(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::Float32:
      return t.as<float>()[i];
    case DType::Int32:
      return t.as<int32_t>()[i];
    case DType::Int64:
      return static_cast<double>(t.as<int64_t>()[i]);
    case DType::Bool:
      return t.as<bool>()[i] ? 1 : 0;
    case DType::Float16:
      return halfToFloat(t.as<Half>()[i]);
    case DType::UInt8:
      return t.as<uint8_t>()[i];
  }
  return 0;
}

std::string elementText(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::Int32:
      return std::to_string(t.as<int32_t>()[i]);
    case DType::Int64:
      return std::to_string(t.as<int64_t>()[i]);
    case DType::Bool:
      return t.as<bool>()[i] ? "true" : "false";
    case DType::UInt8:
      return std::to_string(t.as<uint8_t>()[i]);
    default:
      return formatFloat(static_cast<float>(elementValue(t, i)));
  }
}

std::string elementJson(const Tensor& t, int64_t i) {
  std::string s = elementText(t, i);
  const bool isFloat = t.dtype() == DType::Float32 || t.dtype() == DType::Float16;
  if (isFloat && !std::isfinite(elementValue(t, i))) return '"' + s + '"';
  return s;
}

namespace {

// Welford's update keeps the variance accurate for large tensors with a large mean.
struct StatsAccumulator {
  TensorStats s;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, mean = 0, m2 = 0;
  void add(double v) {
    if (std::isnan(v)) {
      ++s.nan;
    } else if (std::isinf(v)) {
      ++(v > 0 ? s.posInf : s.negInf);
    } else {
      ++s.finite;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      const double delta = v - mean;
      mean += delta / static_cast<double>(s.finite);
      m2 += delta * (v - mean);
    }
  }
};

}  // namespace

TensorStats computeStats(const Tensor& t) {
  StatsAccumulator acc;
  acc.s.count = t.size();
  if (t.dtype() == DType::Float32)
    for (float v : t.values()) acc.add(v);
  else
    for (int64_t i = 0; i < t.size(); ++i) acc.add(elementValue(t, i));
  TensorStats s = acc.s;
  const bool integer = isIntegerDType(t.dtype());
  for (int64_t i = 0; integer && i < t.size(); ++i) {
    const int64_t v =
        t.dtype() == DType::Int64 ? t.as<int64_t>()[i] : static_cast<int64_t>(elementValue(t, i));
    s.minInt = i ? std::min(s.minInt, v) : v;
    s.maxInt = i ? std::max(s.maxInt, v) : v;
  }
  if (s.finite) {
    s.min = acc.lo;
    s.max = acc.hi;
    s.mean = acc.mean;
    s.stddev = std::sqrt(acc.m2 / static_cast<double>(s.finite));
  }
  return s;
}

}  // namespace qs
