#pragma once
// TensorFlow's CPU update functors (training_ops), float32, one rounding per operation in
// TensorFlow's order; the kernels are built with -ffp-contract=off, so no multiply-add is fused.
// docs/spec.md ("Optimizers") gives the formulas.

#include <cmath>
#include <cstddef>
#include <span>

namespace qs::optim {

// var = var - grad * alpha
inline void applyGradientDescent(std::span<float> var, float alpha, std::span<const float> delta) {
  for (size_t i = 0; i < var.size(); ++i) var[i] = var[i] - delta[i] * alpha;
}

// accum = accum * momentum + grad; var = var - accum * lr
// Nesterov: var = var - (grad * lr + accum * momentum * lr), with the new accum.
inline void applyMomentum(std::span<float> var, std::span<float> accum, float lr,
                          std::span<const float> grad, float momentum, bool nesterov) {
  for (size_t i = 0; i < var.size(); ++i) {
    accum[i] = accum[i] * momentum + grad[i];
    if (nesterov)
      var[i] = var[i] - (grad[i] * lr + accum[i] * momentum * lr);
    else
      var[i] = var[i] - accum[i] * lr;
  }
}

struct AdamParams {
  float lr, beta1, beta2, epsilon;
  float beta1Power, beta2Power;  // beta1^t and beta2^t for this step t (from 1)
  bool nesterov = false;
};

// alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
// m = m + (grad - m) * (1 - beta1); v = v + (grad * grad - v) * (1 - beta2)
// var = var - m * alpha / (sqrt(v) + epsilon)
// Nesterov: var = var - (grad * (1 - beta1) + beta1 * m) * alpha / (sqrt(v) + epsilon)
inline void applyAdam(std::span<float> var, std::span<float> m, std::span<float> v,
                      const AdamParams& p, std::span<const float> grad) {
  const float alpha = p.lr * std::sqrt(1.0f - p.beta2Power) / (1.0f - p.beta1Power);
  const float keep1 = 1.0f - p.beta1, keep2 = 1.0f - p.beta2;
  for (size_t i = 0; i < var.size(); ++i) {
    const float g = grad[i];
    m[i] = m[i] + (g - m[i]) * keep1;
    v[i] = v[i] + (g * g - v[i]) * keep2;
    const float step = p.nesterov ? (g * keep1 + p.beta1 * m[i]) * alpha : m[i] * alpha;
    var[i] = var[i] - step / (std::sqrt(v[i]) + p.epsilon);
  }
}

}  // namespace qs::optim
