#pragma once

// One row of Softmax and of SparseSoftmaxCrossEntropyWithLogits, shared by the two blocks. Each
// row's result depends only on that row (and its address, through the vector loop's alignment,
// which does not change with the thread count).

#include <cstdint>

namespace qs {

// y = softmax(x) over n > 0 elements: exp(x - max(x)) in float32, the sum in double, each quotient
// rounded once.
void softmaxRow(const float* x, float* y, int64_t n);

// dx = (g - sum(g * y)) * y, the sum in double: the gradient of softmax y with respect to its
// logits.
void softmaxRowGrad(const float* y, const float* g, float* dx, int64_t n);

// The cross entropy of logits x (n > 0) against class `label` (in [0, n)): returns
// log(sum(exp(x - max))) - (x[label] - max) and sets backprop = softmax(x) - onehot(label).
float xentRow(const float* x, int64_t label, float* backprop, int64_t n);

}  // namespace qs
