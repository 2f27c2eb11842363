#pragma once

// Small helpers for the blocks' registered gradients (runtime/Gradient.h).

#include <string>

#include "runtime/Gradient.h"

namespace qs {

// The gradient flowing into output `port`, or zeros of the output's shape when none does.
inline Tensor outputGradOrZeros(const GradientContext& ctx, const std::string& port) {
  const Tensor* g = ctx.outputGrad(port);
  return g ? *g : Tensor::zeros(ctx.output(port).shape());
}

}  // namespace qs
