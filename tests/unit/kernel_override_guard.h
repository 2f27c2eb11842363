#pragma once

// For tests that force the FakeQuant kernels' path (and with it the calibrators'): the automatic
// choice comes back when the test ends, also when a check throws.

#include "blocks/array_ops/FakeQuantKernels.h"

namespace qs::testing {

struct KernelOverrideGuard {
  ~KernelOverrideGuard() { fq::setKernelOverride({}); }
};

}  // namespace qs::testing
