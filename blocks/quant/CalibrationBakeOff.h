#pragma once

// The bake-off: every calibrator's range for each channel of one batch, and what that range
// costs when the FakeQuant op uses it (MSE, SQNR, share clipped). One computation for the
// runner's --calibrate table and the editor's Calibrators view; Qt-free.

#include <cstdint>
#include <vector>

#include "blocks/array_ops/QuantizationReport.h"
#include "blocks/quant/CalibrationMath.h"

namespace qs::calib {

// One calibrator's ranges and their cost, per channel.
struct Scored {
  Method method;
  std::vector<Range> ranges;
  std::vector<fq::QuantChannelStats> stats;
};

// allMethods() in order on a row-major [outer, channels] batch at the op's num_bits and
// narrow_range. Throws qs::Error as calibrate() does (a NaN or infinite value).
std::vector<Scored> bakeOff(const float* x, int64_t outer, int64_t channels, int numBits,
                            bool narrowRange);

// Percent of the channel's values outside the nudged range.
double clippedPercent(const fq::QuantChannelStats& s);

// The index in `all` of the method with the highest SQNR in channel c: the first on a tie, and
// NaN never wins over a number.
size_t bestOf(const std::vector<Scored>& all, int64_t c);

}  // namespace qs::calib
