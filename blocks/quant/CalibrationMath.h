#pragma once

// The arithmetic of the calibrators (docs/calibration.md): per-channel extremes, histograms that
// accumulate across steps, and the range searches on them. Shared by the calibrator blocks, the
// runner's --calibrate table and the benchmarks; Qt-free. Candidate ranges are judged with the
// FakeQuant op's own nudge() and quantizeMul(), so a range is scored as the op will use it.

#include <cstdint>
#include <string>
#include <vector>

#include "blocks/array_ops/FakeQuantKernels.h"  // fq::Exec
#include "blocks/array_ops/FakeQuantMath.h"

namespace qs::calib {

// Bins of every calibration histogram.
constexpr int kBins = 2048;

struct Range {
  float min = 0;
  float max = 0;
};

// The smallest and largest value of each channel of a row-major [outer, channels] view. Throws
// qs::Error naming the channel (or "the tensor" when channels == 1 and `perTensor`) when a value
// is NaN or infinite. A channel with no values gets [0, 0].
struct Extremes {
  std::vector<float> min, max;
};
Extremes channelExtremes(const float* x, int64_t outer, int64_t channels, bool perTensor,
                         fq::Exec exec);

// Per-channel histograms of kBins equal bins. Symmetric ones count |x| over [0, hi] (lo is 0);
// the others count x over [lo, hi], which always contains 0. A channel whose counts are all zero
// has seen no value yet.
struct Histograms {
  bool symmetric = true;
  int64_t channels = 0;
  std::vector<float> counts;    // [channels, kBins]
  std::vector<float> lo, hi;    // each channel's histogram edges
  std::vector<float> min, max;  // the smallest and largest value seen (signed)

  Histograms() = default;
  Histograms(int64_t channels, bool symmetric) { reset(channels, symmetric); }
  // Empty again, for `channels` channels, keeping the memory the vectors hold.
  void reset(int64_t channels, bool symmetric);
  const float* channelCounts(int64_t c) const { return counts.data() + c * kBins; }
  // No value counted in channel c yet.
  bool empty(int64_t c) const;
};

// Throws qs::Error, before anything is allocated, when histograms of `channels` channels would
// pass the runtime's tensor limit (maxTensorBytes()) together with the copies a step makes: the
// held counts, the new ones and each of `threads` threads' binning counts, about 2 + 1.5 x threads
// times the counts. fromBatch() and the calibrator blocks' checks call it.
void checkHistogramSize(int64_t channels, int threads);

// Adds a batch (row-major [outer, h.channels]) to the histograms. A channel that has seen nothing
// takes the batch's range; one whose range the batch exceeds widens it by a power of two times,
// merging 2^k old bins into each new one exactly. Throws like channelExtremes().
void accumulate(Histograms& h, const float* x, int64_t outer, bool perTensor, fq::Exec exec);
// The histograms of one batch alone, as h.reset(channels, symmetric) then accumulate() give them,
// without first zeroing and scanning counts the batch overwrites. If it throws, h holds no
// meaningful counts until reset.
void fromBatch(Histograms& h, int64_t channels, bool symmetric, const float* x, int64_t outer,
               bool perTensor, fq::Exec exec);

// The sign rule of the symmetric calibrators: threshold t becomes [-t, t] when the channel has
// seen values of both signs, [0, t] when none below 0, [-t, 0] when none above 0, [0, 0] for an
// all-zero channel.
Range signedRange(double t, float seenMin, float seenMax);

// The searches, for channel c of h (docs/calibration.md gives each definition). A channel that
// has seen nothing, or only one value, gets [min(v, 0), max(v, 0)].
Range percentileRange(const Histograms& h, int64_t c, double percentile);
Range mseRange(const Histograms& h, int64_t c, fq::QuantRange q);
Range entropyRange(const Histograms& h, int64_t c, int numBits);
Range sqnrRange(const Histograms& h, int64_t c, fq::QuantRange q, double clippingWeight);

// The SQNR calibrator scores every kSqnrCoarse-th candidate, then every kSqnrFine-th one within
// kSqnrCoarse of the best (docs/calibration.md).
constexpr int kSqnrCoarse = 128;
constexpr int kSqnrFine = 16;
constexpr double kDefaultPercentile = 99.99;
constexpr double kDefaultClippingWeight = 1.0;

// The five calibrators with their default settings, named as --calibrate prints them.
enum class Method { MinMax, Percentile, Mse, Entropy, Sqnr };
const std::vector<Method>& allMethods();
const char* methodName(Method m);  // "minmax", "percentile", "mse", "entropy", "sqnr"
const char* blockType(Method m);   // the block that computes it: "MinMaxCalibrator", ...

// What a histogram search is judged at: the FakeQuant op's width and the methods' own settings.
struct SearchSettings {
  int numBits = 8;
  bool narrowRange = false;
  double percentile = kDefaultPercentile;
  double clippingWeight = kDefaultClippingWeight;
};
// Every channel's range by histogram method m (not MinMax), the channels split across exec's
// threads; throws Cancelled when exec's context is cancelled.
std::vector<Range> searchChannels(Method m, const Histograms& h, const SearchSettings& s,
                                  fq::Exec exec);

// Every channel's range by `m` with its defaults (MinMax: the batch's extremes; the others on a
// symmetric histogram: Percentile 99.99, Sqnr with clipping weight 1), from one batch.
std::vector<Range> calibrate(Method m, const float* x, int64_t outer, int64_t channels, int numBits,
                             bool narrowRange, fq::Exec exec);
// The same from the symmetric histogram h of that batch (MinMax from the extremes it keeps):
// what calibrate() gives, for several methods from one histogram.
std::vector<Range> calibrate(Method m, const Histograms& h, int numBits, bool narrowRange,
                             fq::Exec exec);

}  // namespace qs::calib
