#pragma once

// The calibrators' passes over whole tensors and the hot loops of their searches: internal to
// CalibrationMath.cpp, the benchmarks and the tests. Each pass reads the tensor once in memory
// order and splits it across the op's threads; every thread count gives the same result. The
// loops in detail:: have a portable form and an AVX2 one (CalibrationScan_avx2.cpp) that give the
// same bits; the FakeQuant kernels' choice of path (fq::activeSimdLevel()) picks between them.

#include <cstdint>
#include <vector>

#include "blocks/array_ops/FakeQuantLanes.h"  // QS_FQ_HAVE_X86
#include "blocks/quant/CalibrationMath.h"

namespace qs::calib {

// Adds every value of a row-major [outer, h.channels] view to its channel's counts, with the
// channels' current edges (accumulate() has widened them to take the batch); `replace`: the counts
// become the batch's, whatever they held.
void binValues(Histograms& h, const float* x, int64_t outer, fq::Exec exec, bool replace);

// Sum over the non-empty bins of count * (quantizeMul(centre) - centre)^2 with range nd, each
// term whose centre the range clips weighted by clippingWeight. A symmetric histogram's centres
// count wPos times as positive and wNeg times as negative values.
double sqnrNoise(const std::vector<float>& centre, const std::vector<float>& count,
                 const fq::Nudged& nd, bool symmetric, float wPos, float wNeg,
                 float clippingWeight);

namespace detail {

// Scratch memory the calibrators keep per thread between calls (the histogram, the binning
// pass's counts) up to this size; beyond it a call lets its buffers go.
inline constexpr size_t kKeepScratchBytes = size_t{16} << 20;

// Natural logarithms by our own reduction and polynomial: x = 2^k (1 + f) with 1 + f in
// [sqrt(1/2), sqrt(2)), then log(1 + f) from a rational approximation in s = f / (2 + f). Within an
// ulp of std::log, and the same bits one at a time and four at a time on AVX2. Values that are not
// positive, finite and normal get std::log's.
double logOf(double x);
void logsPortable(const double* x, double* out, size_t n);
#ifdef QS_FQ_HAVE_X86
void logsAvx2(const double* x, double* out, size_t n);
#endif
// On the path the FakeQuant kernels use.
void logs(const double* x, double* out, size_t n);

// lg[i] = table[h[i]] for each h[i] that is a whole number in [0, size); the indices of the
// others go to rest, in order, and their number is returned (their lg[i] is left to the caller).
// One at a time, four at a time on AVX2, and on the path the FakeQuant kernels use.
int tableLogsPortable(const double* h, int n, const double* table, int size, double* lg, int* rest);
#ifdef QS_FQ_HAVE_X86
int tableLogsAvx2(const double* h, int n, const double* table, int size, double* lg, int* rest);
#endif
int tableLogs(const double* h, int n, const double* table, int size, double* lg, int* rest);

// An unnamed namespace: each file compiles its own copy, for its own instruction set.
namespace {
// The bin of value v (|x| for a symmetric histogram) for a channel whose edges are lo and
// lo + kBins / inv: floor((v - lo) * inv), clamped to the bins.
inline uint16_t binOf(float v, float lo, float inv) {
  constexpr float kLast = static_cast<float>(kBins - 1);
  float f = (v - lo) * inv;
  f = f > 0.0f ? f : 0.0f;
  f = f < kLast ? f : kLast;
  return static_cast<uint16_t>(static_cast<int>(f));
}
}  // namespace

// The binning pass's tile of bin indices holds them by groups of this many channels: group j's
// rows one after another from idx + j * groupStride(rows), kGroupChannels indices a row (a last
// group of fewer channels keeps the stride). The counting then reads each group's indices in
// order, not one cache line a row (a fifth less time than a row-major tile). The 64 bytes after
// each group keep the groups' starts off one L1 set: the binning writes to all of them at once,
// and at a power-of-two stride they evicted each other (the pass took three times as long).
inline constexpr int64_t kGroupChannels = 4;
inline constexpr int64_t groupStride(int64_t rows) {
  return rows * kGroupChannels + 32;
}
inline uint16_t* groupedIndex(uint16_t* idx, int64_t rows, int64_t r, int64_t c) {
  return idx + c / kGroupChannels * groupStride(rows) + r * kGroupChannels + c % kGroupChannels;
}

#ifdef QS_FQ_HAVE_X86
// binOf() of every value of `rows` rows of `channels` values into idx (grouped as above), sixteen
// at a time.
void binIndicesAvx2(const float* x, int64_t rows, int64_t channels, const float* lo,
                    const float* inv, bool symmetric, uint16_t* idx);
#endif

// The reduction's constants: log 2 in two parts (the high one exact in few bits, so that k * it is
// exact) and the polynomial's coefficients.
inline constexpr double kLn2Hi = 6.93147180369123816490e-01;
inline constexpr double kLn2Lo = 1.90821492927058770002e-10;
inline constexpr double kLg[7] = {6.666666666666735130e-01, 3.999999999940941908e-01,
                                  2.857142874366239149e-01, 2.222219843214978396e-01,
                                  1.818357216161805012e-01, 1.531383769920937332e-01,
                                  1.479819860511658591e-01};
inline constexpr double kSqrt2 = 1.41421356237309504880;

// One channel's histogram for the MSE search, in bin units (u = (x - lo) / w), with the prefix
// sums of count, count * centre and count * (centre^2 + 1/12) over bins [0, i).
struct MseChannel {
  const double* h;  // the counts, kBins of them
  std::vector<double> p0, p1, p2;
  double lo, w, n;
  float seenMin, seenMax;
  bool symmetric;
  double wPos, wNeg;  // a symmetric histogram's shares of positive and negative values
  fq::QuantRange q;
  MseChannel(const double* counts, double lo, double w, double n, float seenMin, float seenMax,
             bool symmetric, double wPos, double wNeg, fq::QuantRange q);
};
// The entropy calibrator's KL divergence of every candidate i = levels .. kBins (element
// i - levels), as its search would score them one by one; empty for a channel with nothing to
// search. What the search's bounds must agree with (the tests).
std::vector<double> klDivergences(const Histograms& hist, int64_t c, int numBits);

// Candidate k (1..kBins) of the searches on a histogram with edges lo + i * w: threshold edge k
// of a symmetric histogram with the sign rule, or the two-tailed range scaled by k / kBins.
Range candidateRange(bool symmetric, double lo, double w, float seenMin, float seenMax, int k);
// noise[j] = the expected squared error of candidate first + j, for j < count (first >= 1,
// first + count - 1 <= kBins, count a multiple of 8): one candidate at a time, and eight at a time
// on AVX2, with the same bits.
void mseNoisesPortable(const MseChannel& ch, int first, int count, double* noise);
#ifdef QS_FQ_HAVE_X86
void mseNoisesAvx2(const MseChannel& ch, int first, int count, double* noise);
#endif

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
