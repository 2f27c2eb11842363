#include "blocks/nn/SoftmaxRows.h"

#include <Eigen/Core>
#include <cmath>

namespace qs {

namespace {

// TensorFlow's row maximum (Eigen's MaxReducer): NaN is passed over unless it comes first.
float rowMax(const float* x, int64_t n) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = m < x[i] ? x[i] : m;
  return m;
}

// e = exp(x - m), returning the sum of e in double.
double shiftedExp(const float* x, float m, float* e, int64_t n) {
  Eigen::Map<Eigen::ArrayXf>(e, n) = (Eigen::Map<const Eigen::ArrayXf>(x, n) - m).exp();
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += e[i];
  return s;
}

}  // namespace

void softmaxRow(const float* x, float* y, int64_t n) {
  const double s = shiftedExp(x, rowMax(x, n), y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(y[i] / s);
}

void softmaxRowGrad(const float* y, const float* g, float* dx, int64_t n) {
  double dot = 0;
  for (int64_t i = 0; i < n; ++i) dot += static_cast<double>(g[i]) * y[i];
  for (int64_t i = 0; i < n; ++i) dx[i] = static_cast<float>((g[i] - dot) * y[i]);
}

float xentRow(const float* x, int64_t label, float* backprop, int64_t n) {
  const float m = rowMax(x, n);
  const float shiftedLabel = x[label] - m;
  const double s = shiftedExp(x, m, backprop, n);
  const double eLabel = backprop[label];
  for (int64_t i = 0; i < n; ++i) backprop[i] = static_cast<float>(backprop[i] / s);
  backprop[label] = static_cast<float>(eLabel / s - 1.0);
  return static_cast<float>(std::log(s) - shiftedLabel);
}

}  // namespace qs
