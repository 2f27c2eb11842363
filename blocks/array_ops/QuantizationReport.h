#pragma once

// Per-channel statistics of FakeQuantWithMinMaxVarsPerChannel: what the QuantizationReport block
// outputs and what the editor's quantization inspector shows. Qt-free, and built on the kernel's
// own nudge() and quantizeMul(), so the numbers agree with the op's output to the bit.

#include <cstdint>
#include <vector>

#include "blocks/array_ops/FakeQuantChecks.h"  // checkPerChannelShapes()
#include "blocks/array_ops/FakeQuantLanes.h"   // QS_FQ_HAVE_X86
#include "blocks/array_ops/FakeQuantMath.h"
#include "runtime/Tensor.h"

namespace qs::fq {

struct QuantChannelStats {
  float min = 0;  // the channel's range as given
  float max = 0;
  float nudgedMin = 0;
  float nudgedMax = 0;
  float scale = 0;
  uint16_t zeroPoint = 0;
  int64_t count = 0;        // values in the channel (the product of the batch dimensions)
  int64_t below = 0;        // values x < nudgedMin (NaN is neither below nor above)
  int64_t above = 0;        // values x > nudgedMax
  double clippedBelow = 0;  // below / count; NaN when count == 0
  double clippedAbove = 0;  // above / count; NaN when count == 0
  double signalPower = 0;   // mean of x^2, in double
  double mse = 0;           // mean of (quantizeMul(x) - x)^2, in double (the noise power)
  double sqnrDb = 0;        // see sqnrDb() below
};

// 10 * log10(signal / noise) in dB, with the edge cases defined:
//   noise == 0 (the channel is represented exactly, zero signal included) -> +inf
//   signal == 0 and noise > 0                                             -> -inf
//   a NaN in either (NaN inputs, or an empty channel: 0 / 0)              -> NaN
// An infinite input makes both powers infinite, which also gives NaN.
double sqnrDb(double signalPower, double noisePower);

// Which forward arithmetic the statistics describe: PerChannel and Args multiply by the inverse
// scale (quantizeMul), Vars divides by the scale (quantizeDiv); near a midpoint the two can round
// to neighbouring levels.
enum class Quantize { Mul, Div };

// Statistics of every channel of a row-major [outer, channels] view of `inputs`, with the
// per-channel ranges min[c], max[c] (num_bits/narrow_range in q). The default is the PerChannel
// op's arithmetic (and Args'); Quantize::Div describes FakeQuantWithMinMaxVars (channels = 1).
std::vector<QuantChannelStats> computeChannelReport(const float* inputs, int64_t outer,
                                                    int64_t channels, const float* min,
                                                    const float* max, QuantRange q,
                                                    Quantize op = Quantize::Mul);

// The same for one channel only (e.g. the inspector's bit-width sweep): channel c of the view.
QuantChannelStats computeOneChannel(const float* inputs, int64_t outer, int64_t channels, int64_t c,
                                    float min, float max, QuantRange q,
                                    Quantize op = Quantize::Mul);

namespace detail {
#ifdef QS_FQ_HAVE_X86
// The nudged constants of each channel, as the FakeQuant kernels' lanes take them (keep: all one
// bits, or zero for a [0, 0] range).
struct ReportLanes {
  const float *lo, *hi, *mul, *scale, *qz, *keep;
};
// Each channel's running sums: sum of x^2 and of (forward(x) - x)^2 in double, counts below and
// above the nudged range.
struct ReportSums {
  double *signal, *noise;
  int64_t *below, *above;
};
// Adds rows [0, outer) of channels [0, lanes) (lanes a multiple of 8) to their sums, eight
// channels at a time: each channel's sums in row order, as one value at a time, so the same bits.
void reportRowsAvx2(const float* inputs, int64_t outer, int64_t channels, int64_t lanes,
                    const ReportLanes& p, bool divide, ReportSums& s);
#endif
}  // namespace detail

// Over tensors, with the PerChannel op's arithmetic: inputs [..., d], min [d], max [d]. Throws
// qs::Error with the op's message when the shapes do not fit (checkPerChannelShapes()).
std::vector<QuantChannelStats> computeChannelReport(const Tensor& inputs, const Tensor& min,
                                                    const Tensor& max, QuantRange q);

}  // namespace qs::fq
