#pragma once

// The calibrators' passes over whole tensors and their one hot search loop: internal to
// CalibrationMath.cpp and the benchmarks. Each pass reads the tensor once in memory order and
// splits it across the op's threads; every thread count gives the same result.

#include <cstdint>
#include <vector>

#include "blocks/array_ops/FakeQuantLanes.h"  // QS_FQ_HAVE_X86
#include "blocks/quant/CalibrationMath.h"

namespace qs::calib {

// Adds every value of a row-major [outer, h.channels] view to its channel's counts, with the
// channels' current edges (accumulate() has widened them to take the batch).
void binValues(Histograms& h, const float* x, int64_t outer, fq::Exec exec);

// Sum over the non-empty bins of count * (quantizeMul(centre) - centre)^2 with range nd, each
// term whose centre the range clips weighted by clippingWeight. A symmetric histogram's centres
// count wPos times as positive and wNeg times as negative values.
double sqnrNoise(const std::vector<float>& centre, const std::vector<float>& count,
                 const fq::Nudged& nd, bool symmetric, float wPos, float wNeg,
                 float clippingWeight);

namespace detail {
// sqnrNoise()'s sum over n bins for a symmetric-or-not histogram already resolved to `both` (count
// each centre as negative too) and the positive share wp: the portable loop and the AVX2 one.
double sqnrNoiseSumPortable(const float* centre, const float* count, size_t n, const fq::Nudged& nd,
                            bool both, float wp, float wNeg, float clippingWeight);
#ifdef QS_FQ_HAVE_X86
double sqnrNoiseSumAvx2(const float* centre, const float* count, size_t n, const fq::Nudged& nd,
                        bool both, float wp, float wNeg, float clippingWeight);
#endif
}  // namespace detail

}  // namespace qs::calib
