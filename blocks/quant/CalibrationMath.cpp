#include "blocks/quant/CalibrationMath.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>

#include "blocks/quant/CalibrationScan.h"
#include "runtime/BlockDescriptor.h"
#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/Tensor.h"
#include "runtime/ThreadPool.h"

namespace qs::calib {

// ---- Histograms -------------------------------------------------------------------------------

void Histograms::reset(int64_t n, bool sym) {
  symmetric = sym;
  channels = n;
  counts.assign(static_cast<size_t>(n) * kBins, 0.0f);
  for (std::vector<float>* v : {&lo, &hi, &min, &max}) v->assign(static_cast<size_t>(n), 0.0f);
}

void checkHistogramSize(int64_t channels, int threads) {
  const double counts = static_cast<double>(channels) * kBins * sizeof(float);
  const double copies = 2.0 + 1.5 * std::max(threads, 1);
  if (counts * copies <= static_cast<double>(maxTensorBytes())) return;
  // Past 2^64 bytes the size no longer converts to an integer.
  const std::string size =
      counts < 1.8e19 ? formatBytes(static_cast<uint64_t>(counts)) : "more than 18.4 EB";
  throw Error("histograms of " + std::to_string(channels) + " channels take " + size + " (" +
              std::to_string(kBins) + " bins each), and a step holds about " +
              formatFloat(static_cast<float>(copies)) + " times that: more than the limit of " +
              formatBytes(maxTensorBytes()) + "; calibrate fewer channels, or per tensor");
}

bool Histograms::empty(int64_t c) const {
  // An OR over the bins rather than a sum, which the compiler would have to add up in order: this
  // runs for every channel of every batch.
  const float* h = channelCounts(c);
  bool any = false;
  for (int i = 0; i < kBins; ++i) any |= h[i] != 0.0f;
  return !any;
}

namespace {

// Widens channel c of h to take [bLo, bHi]: the bin width grows by 2^k and the new lower edge lies
// a whole number of new bins below the old one, so old bin i falls into new bin j + (i >> k).
void widen(Histograms& h, int64_t c, double bLo, double bHi) {
  const double lo = h.lo[c], hi = h.hi[c];
  const double newLo = std::min(lo, bLo), newHi = std::max(hi, bHi);
  float* counts = h.counts.data() + c * kBins;
  if (hi == lo) {
    // Every value seen so far equals lo: they move to the bin that holds lo in the new layout.
    double all = 0;
    for (int i = 0; i < kBins; ++i) all += counts[i];
    std::fill(counts, counts + kBins, 0.0f);
    h.lo[c] = static_cast<float>(newLo);
    h.hi[c] = static_cast<float>(newHi);
    const int bin = static_cast<int>(
        std::min<double>(kBins - 1, std::floor((lo - newLo) * kBins / (newHi - newLo))));
    counts[bin] = static_cast<float>(all);
    return;
  }
  const double w = (hi - lo) / kBins;
  int k = 0;
  int64_t j = 0;
  double w2 = w, start = lo;
  do {
    ++k;
    w2 = std::ldexp(w, k);
    j = static_cast<int64_t>(std::ceil((lo - newLo) / w2));
    start = lo - static_cast<double>(j) * w2;
  } while (start + kBins * w2 < newHi || j + ((kBins - 1) >> std::min(k, 11)) >= kBins);
  std::vector<float> merged(kBins, 0.0f);
  for (int i = 0; i < kBins; ++i) merged[j + (i >> std::min(k, 11))] += counts[i];
  std::copy(merged.begin(), merged.end(), counts);
  h.lo[c] = static_cast<float>(start);
  h.hi[c] = static_cast<float>(start + kBins * w2);
}

}  // namespace

namespace {
// The range a channel takes from its first batch: its extremes, with 0 inside; of |x| for a
// symmetric histogram.
void batchRange(bool symmetric, float min, float max, double& lo, double& hi) {
  const double bMin = std::min(min, 0.0f), bMax = std::max(max, 0.0f);
  lo = symmetric ? 0.0 : bMin;
  hi = symmetric ? std::max(-bMin, bMax) : bMax;
}
}  // namespace

void accumulate(Histograms& h, const float* x, int64_t outer, bool perTensor, fq::Exec exec) {
  const int64_t channels = h.channels;
  if (outer == 0 || channels == 0) return;
  const Extremes e = channelExtremes(x, outer, channels, perTensor, exec);
  for (int64_t c = 0; c < channels; ++c) {
    double bLo, bHi;
    batchRange(h.symmetric, e.min[c], e.max[c], bLo, bHi);
    if (h.empty(c)) {
      h.lo[c] = static_cast<float>(bLo);
      h.hi[c] = static_cast<float>(bHi);
      h.min[c] = e.min[c];
      h.max[c] = e.max[c];
      continue;
    }
    if (bLo < h.lo[c] || bHi > h.hi[c]) widen(h, c, bLo, bHi);
    h.min[c] = std::min(h.min[c], e.min[c]);
    h.max[c] = std::max(h.max[c], e.max[c]);
  }
  binValues(h, x, outer, exec, false);
}

void fromBatch(Histograms& h, int64_t channels, bool symmetric, const float* x, int64_t outer,
               bool perTensor, fq::Exec exec) {
  checkHistogramSize(channels, exec.threads);
  if (outer == 0 || channels == 0) return h.reset(channels, symmetric);
  const Extremes e = channelExtremes(x, outer, channels, perTensor, exec);
  h.symmetric = symmetric;
  h.channels = channels;
  h.counts.resize(static_cast<size_t>(channels) * kBins);  // written whole by binValues()
  h.lo.resize(static_cast<size_t>(channels));
  h.hi.resize(h.lo.size());
  h.min = e.min;
  h.max = e.max;
  for (int64_t c = 0; c < channels; ++c) {
    double bLo, bHi;
    batchRange(symmetric, e.min[c], e.max[c], bLo, bHi);
    h.lo[c] = static_cast<float>(bLo);
    h.hi[c] = static_cast<float>(bHi);
  }
  binValues(h, x, outer, exec, true);
}

// ---- One channel's histogram in double, with the sums the searches need -------------------------

namespace {

// Copies a channel's counts into h and returns their sum. Not inlined: inside the searches GCC kept
// the running sum on the stack, and the loop waited on a store and a load at every bin (a third
// of the entropy search). Four running sums, so that the adds do not wait on each other: counts
// are whole numbers, whose sum in double is exact in any order.
[[gnu::noinline]] double widen(const float* counts, double* h) {
  static_assert(kBins % 4 == 0);
  double s[4] = {};
  for (int i = 0; i < kBins; i += 4)
    for (int l = 0; l < 4; ++l) s[l] += (h[i + l] = counts[i + l]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Channel c of a histogram, in bin units: position u = (x - lo) / w, bin i spans [i, i + 1).
struct Channel {
  std::vector<double> h;  // counts
  double lo = 0, w = 0, n = 0;
  float seenMin = 0, seenMax = 0;
  bool symmetric = true;
  // Sign weights of a symmetric histogram: the share of each bin taken as positive / negative.
  double wPos = 1, wNeg = 0;

  Channel(const Histograms& hist, int64_t c) : h(kBins) {
    n = widen(hist.channelCounts(c), h.data());
    lo = hist.lo[c];
    w = (static_cast<double>(hist.hi[c]) - lo) / kBins;
    seenMin = hist.min[c];
    seenMax = hist.max[c];
    symmetric = hist.symmetric;
    const bool neg = seenMin<0, pos = seenMax> 0;
    wPos = neg && pos ? 0.5 : pos ? 1.0 : 0.0;
    wNeg = neg && pos ? 0.5 : neg ? 1.0 : 0.0;
  }
  // Nothing to search: no value, or every value 0 (the histogram's range always holds 0).
  bool degenerate() const { return n == 0 || w == 0; }
  Range trivial() const { return {std::min(seenMin, 0.0f), std::max(seenMax, 0.0f)}; }
  double edge(int k) const { return lo + k * w; }
  // Largest |x| seen.
  double amax() const { return std::max(-static_cast<double>(seenMin), double{seenMax}); }
};

Range candidate(const Channel& ch, int k) {
  return detail::candidateRange(ch.symmetric, ch.lo, ch.w, ch.seenMin, ch.seenMax, k);
}

}  // namespace

Range signedRange(double t, float seenMin, float seenMax) {
  const float tf = static_cast<float>(t);
  return {seenMin < 0 ? -tf : 0.0f, seenMax > 0 ? tf : 0.0f};
}

Range detail::candidateRange(bool symmetric, double lo, double w, float seenMin, float seenMax,
                             int k) {
  if (symmetric) return signedRange(k * w, seenMin, seenMax);
  const double s = static_cast<double>(k) / kBins;
  const double hi = lo + kBins * w;
  return {static_cast<float>(s * lo), static_cast<float>(s * hi)};
}

// ---- Percentile -------------------------------------------------------------------------------

Range percentileRange(const Histograms& hist, int64_t c, double percentile) {
  const Channel ch(hist, c);
  if (ch.degenerate()) return ch.trivial();
  const double target = percentile / 100.0 * ch.n;
  // Upper end: the right edge of the first bin at which the count from the left reaches target.
  double cum = 0;
  int k = 0;
  for (; k < kBins - 1; ++k)
    if ((cum += ch.h[k]) >= target) break;
  const double upper = ch.edge(k + 1);
  if (ch.symmetric) return signedRange(std::min(upper, ch.amax()), ch.seenMin, ch.seenMax);
  // Lower end: the left edge of the last bin at which the count from the right reaches target.
  cum = 0;
  int j = kBins - 1;
  for (; j > 0; --j)
    if ((cum += ch.h[j]) >= target) break;
  const double lower = ch.edge(j);
  const double a = std::max(lower, double{ch.seenMin}), b = std::min(upper, double{ch.seenMax});
  return {std::min(static_cast<float>(a), 0.0f), std::max(static_cast<float>(b), 0.0f)};
}

// ---- MSE: the expected noise of a range, from prefix sums ------------------------------------

namespace detail {

MseChannel::MseChannel(const double* counts, double lo_, double w_, double n_, float seenMin_,
                       float seenMax_, bool symmetric_, double wPos_, double wNeg_,
                       fq::QuantRange q_)
    : h(counts),
      p0(kBins + 1),
      p1(kBins + 1),
      p2(kBins + 1),
      lo(lo_),
      w(w_),
      n(n_),
      seenMin(seenMin_),
      seenMax(seenMax_),
      symmetric(symmetric_),
      wPos(wPos_),
      wNeg(wNeg_),
      q(q_) {
  // Running sums in locals: stored through three vectors that might alias, they were reloaded
  // from memory every bin.
  double s0 = 0, s1 = 0, s2 = 0;
  for (int i = 0; i < kBins; ++i) {
    const double c = h[i], u = i + 0.5;
    p0[i + 1] = s0 += c;
    p1[i + 1] = s1 += c * u;
    p2[i + 1] = s2 += c * (u * u + 1.0 / 12.0);
  }
}

namespace {

// The expected squared error of a range over one channel, one candidate at a time.
class NoiseModel {
 public:
  explicit NoiseModel(const MseChannel& ch) : ch_(ch) {}

  double noise(Range r) const {
    const fq::Nudged nd = fq::nudge(r.min, r.max, ch_.q);
    const double step2 = static_cast<double>(nd.scale) * nd.scale / 12.0;
    const double w2 = ch_.w * ch_.w;
    if (ch_.symmetric) {
      // |x| clipped at nudgedMax for the positive share, at -nudgedMin for the negative one.
      auto side = [&](double t) {
        const double u = t / ch_.w;
        return w2 * sqAbove(u) + countBelow(u) * step2;
      };
      return ch_.wPos * side(nd.nudgedMax) + ch_.wNeg * side(-double{nd.nudgedMin});
    }
    const double uLo = (nd.nudgedMin - ch_.lo) / ch_.w, uHi = (nd.nudgedMax - ch_.lo) / ch_.w;
    return w2 * (sqBelow(uLo) + sqAbove(uHi)) + (countBelow(uHi) - countBelow(uLo)) * step2;
  }

  // A bound below noise() of every range whose nudged ends lie in [minLo, minHi] and
  // [maxLo, maxHi] and whose scale is at least sMin, less a margin far above the rounding error
  // of noise() (whose squares() subtract terms of up to `magnitude`). Each part of noise() is
  // monotonic in its end: the clipped integrals shrink as the range widens, the counts inside
  // grow.
  double lowerBound(double minLo, double minHi, double maxLo, double maxHi, double sMin) const {
    const double step2 = sMin * sMin / 12.0, w2 = ch_.w * ch_.w;
    double bound = 0, uMax = 0;
    if (ch_.symmetric) {
      auto side = [&](double tLo, double tHi) {
        const double uLo = tLo / ch_.w, uHi = tHi / ch_.w;
        uMax = std::max({uMax, std::fabs(uLo), std::fabs(uHi)});
        return w2 * sqAbove(uHi) + countBelow(uLo) * step2;
      };
      if (ch_.wPos > 0) bound += ch_.wPos * side(maxLo, maxHi);
      if (ch_.wNeg > 0) bound += ch_.wNeg * side(-minHi, -minLo);
    } else {
      auto u = [&](double v) {
        const double r = (v - ch_.lo) / ch_.w;
        uMax = std::max(uMax, std::fabs(r));
        return r;
      };
      const double uMinLo = u(minLo), uMinHi = u(minHi), uMaxLo = u(maxLo), uMaxHi = u(maxHi);
      bound = w2 * (sqBelow(uMinLo) + sqAbove(uMaxHi)) +
              std::max(0.0, countBelow(uMaxLo) - countBelow(uMinHi)) * step2;
    }
    const double magnitude =
        w2 * (ch_.p2[kBins] + 2 * uMax * ch_.p1[kBins] + uMax * uMax * ch_.n + ch_.n);
    return bound - 1e-9 * magnitude;
  }

 private:
  // Values below position u.
  double countBelow(double u) const {
    if (u <= 0) return 0;
    if (u >= kBins) return ch_.n;
    const int m = static_cast<int>(u);
    return ch_.p0[m] + ch_.h[m] * (u - m);
  }
  // Sum over bins [a, b) of count * ((centre - u)^2 + 1/12).
  double squares(int a, int b, double u) const {
    const double s0 = ch_.p0[b] - ch_.p0[a], s1 = ch_.p1[b] - ch_.p1[a];
    const double s2 = ch_.p2[b] - ch_.p2[a];
    return s2 - 2 * u * s1 + u * u * s0;
  }
  // Integral of (x - u)^2 over the values below u.
  double sqBelow(double u) const {
    if (u <= 0) return 0;
    if (u >= kBins) return squares(0, kBins, u);
    const int m = static_cast<int>(u);
    const double f = u - m;
    return squares(0, m, u) + ch_.h[m] * f * f * f / 3.0;
  }
  // Integral of (x - u)^2 over the values above u.
  double sqAbove(double u) const {
    if (u >= kBins) return 0;
    if (u <= 0) return squares(0, kBins, u);
    const int m = static_cast<int>(u);
    const double f = 1.0 - (u - m);
    return squares(m + 1, kBins, u) + ch_.h[m] * f * f * f / 3.0;
  }

  const MseChannel& ch_;
};

}  // namespace

void mseNoisesPortable(const MseChannel& ch, int first, int count, double* noise) {
  const NoiseModel model(ch);
  for (int k = first; k < first + count; ++k)
    noise[k - first] =
        model.noise(candidateRange(ch.symmetric, ch.lo, ch.w, ch.seenMin, ch.seenMax, k));
}

}  // namespace detail

namespace {

// Candidates whose noise mseRange() bounds together.
constexpr int kMseBlock = 64;
static_assert(kBins % kMseBlock == 0 && kMseBlock % 8 == 0);

// A bound below the noise of candidates first .. first + kMseBlock - 1: their ends move
// monotonically with k, and nudging moves an end by at most half a scale.
double mseBlockBound(const detail::NoiseModel& model, const detail::MseChannel& m, int first) {
  const Range a = detail::candidateRange(m.symmetric, m.lo, m.w, m.seenMin, m.seenMax, first);
  const Range b =
      detail::candidateRange(m.symmetric, m.lo, m.w, m.seenMin, m.seenMax, first + kMseBlock - 1);
  const double span = m.q.quantMax - m.q.quantMin;
  const double sA = (double{a.max} - a.min) / span, sB = (double{b.max} - b.min) / span;
  return model.lowerBound(b.min - sB, a.min + sB, a.max - sB, b.max + sB, sA * (1 - 1e-6));
}

}  // namespace

Range mseRange(const Histograms& hist, int64_t c, fq::QuantRange q) {
  const Channel ch(hist, c);
  if (ch.degenerate()) return ch.trivial();
  const detail::MseChannel m(ch.h.data(), ch.lo, ch.w, ch.n, ch.seenMin, ch.seenMax, ch.symmetric,
                             ch.wPos, ch.wNeg, q);
  // The first candidate of least noise. Blocks of candidates are scored in the order of their
  // bounds, and a block whose bound exceeds the best noise so far cannot hold the answer: most
  // channels score a few blocks of the 32 (docs/calibration.md).
  const detail::NoiseModel model(m);
  std::array<std::pair<double, int>, kBins / kMseBlock> blocks;
  for (int b = 0; b < kBins / kMseBlock; ++b) {
    const int first = 1 + b * kMseBlock;
    blocks[b] = {mseBlockBound(model, m, first), first};
  }
  std::sort(blocks.begin(), blocks.end());
  int best = kBins;
  double bestNoise = std::numeric_limits<double>::infinity();
  double noise[kMseBlock];
  for (const auto& [bound, first] : blocks) {
    if (bound > bestNoise) break;
#ifdef QS_FQ_HAVE_X86
    if (fq::avx2Active())
      detail::mseNoisesAvx2(m, first, kMseBlock, noise);
    else
#endif
      detail::mseNoisesPortable(m, first, kMseBlock, noise);
    for (int j = 0; j < kMseBlock; ++j)
      if (noise[j] < bestNoise || (noise[j] == bestNoise && first + j < best)) {
        bestNoise = noise[j];
        best = first + j;
      }
  }
  return candidate(ch, best);
}

// ---- Entropy: TensorRT's KL-divergence threshold ----------------------------------------------

namespace {

// logOf(k) for the whole numbers k below kWholeLogs: counts are whole numbers, mostly small, and
// a load costs less than the logarithm.
constexpr int kWholeLogs = 4096;
const double* wholeLogs() {
  static const std::vector<double> table = [] {
    std::vector<double> t(kWholeLogs, 0.0);
    for (int k = 1; k < kWholeLogs; ++k) t[k] = detail::logOf(k);
    return t;
  }();
  return table.data();
}

// lg[i] = log(h[i]) for the non-empty bins and 0 for the empty ones: from wholeLogs() where it
// has the count, the others together by detail::logs().
void countLogs(const double* h, double* lg) {
  thread_local std::vector<double> arg(kBins), out(kBins);
  thread_local std::vector<int> at(kBins);
  // An empty bin is the whole number 0, whose entry is 0.
  const int rest = detail::tableLogs(h, kBins, wholeLogs(), kWholeLogs, lg, at.data());
  for (int j = 0; j < rest; ++j) arg[j] = h[at[j]] > 0 ? h[at[j]] : 1.0;
  detail::logs(arg.data(), out.data(), static_cast<size_t>(rest));
  for (int j = 0; j < rest; ++j) lg[at[j]] = out[j];
}

// Prefix sums over bins of count, count * log(count) and the number of non-empty bins; and the
// scale of their rounding, for the search's bounds. Left uninitialised until written.
struct KlSums {
  std::unique_ptr<double[]> h0, hl;
  std::unique_ptr<int[]> nz;
  double hlAbs = 0;      // sum of |count * log(count)|
  double maxAbsLog = 0;  // the largest |log(count)| of a non-empty bin
  explicit KlSums(const std::vector<double>& h)
      : h0(std::make_unique_for_overwrite<double[]>(kBins + 1)),
        hl(std::make_unique_for_overwrite<double[]>(kBins + 1)),
        nz(std::make_unique_for_overwrite<int[]>(kBins + 1)) {
    double lg[kBins];
    countLogs(h.data(), lg);
    double s0 = 0, sl = 0, sa = 0, ml = 0;  // running sums in locals, as in MseChannel
    int n = 0;
    h0[0] = hl[0] = 0;
    nz[0] = 0;
    for (int i = 0; i < kBins; ++i) {
      const double v = h[i], t = v > 0 ? v * lg[i] : 0.0;
      h0[i + 1] = s0 += v;
      hl[i + 1] = sl += t;
      sa += std::fabs(t);
      ml = std::max(ml, std::fabs(lg[i]));
      nz[i + 1] = n += v > 0;
    }
    hlAbs = sa;
    maxAbsLog = ml;
  }
};

// For group size m, the sum over the groups [g m, (g + 1) m), g < levels - 1, of
// P log P - S log(S / n): their share of N * KL before normalisation, which depends on m only.
double headSum(const KlSums& s, int levels, int m) {
  const int groups = levels - 1;
  // Kept by each thread between calls, as countLogs()'s.
  thread_local std::vector<double> arg, lg;
  arg.assign(static_cast<size_t>(groups), 1.0);
  lg.resize(arg.size());
  for (int g = 0; g < groups; ++g) {
    const double sum = s.h0[(g + 1) * m] - s.h0[g * m];
    if (sum > 0) arg[g] = sum / (s.nz[(g + 1) * m] - s.nz[g * m]);
  }
  detail::logs(arg.data(), lg.data(), arg.size());
  double head = 0;
  for (int g = 0; g < groups; ++g) {
    const int a = g * m, b = (g + 1) * m;
    const double sum = s.h0[b] - s.h0[a];
    head += sum > 0 ? (s.hl[b] - s.hl[a]) - sum * lg[g] : 0.0;
  }
  return head;
}

// Candidates scored together, and bounded together (docs/calibration.md): all of a block share
// their group size m = i / levels, as levels is a power of two at least the block's size.
constexpr int kKlBlock = 16;

// KL(P || Q) for candidates i = levels .. kBins kept bins, merged into `levels` groups of
// m = i / levels bins (the last group runs to i); a block of them at a time, their logarithms
// taken together first.
class KlCandidates {
 public:
  KlCandidates(const Channel& ch, const KlSums& s, int levels)
      : ch_(ch),
        s_(s),
        levels_(levels),
        shift_(std::countr_zero(static_cast<unsigned>(levels))),
        heads_(kBins / levels + 1, std::numeric_limits<double>::quiet_NaN()),
        logN_(detail::logOf(ch.n)) {
    // i / levels as a shift: an integer division at every use cost 4% of the search.
    if (levels != 1 << shift_) throw Error("KL levels must be a power of two");
  }

  // The size of a block: kKlBlock, or levels if fewer, so that a block never spans two m.
  int block() const { return std::min(kKlBlock, levels_); }

  // kl(i) into out[i - a] for i in [a, e), a block or part of one.
  void score(int a, int e, double* out) {
    double arg[3 * kKlBlock], lg[3 * kKlBlock];
    for (int i = a; i < e; ++i) {
      const Terms t = terms(i);
      double* x = arg + 3 * (i - a);
      x[0] = t.lastP > 0 ? t.lastP : 1.0;
      x[1] = t.sum > 0 ? t.sum / t.n : 1.0;
      x[2] = t.tq > 0 ? t.tq : 1.0;
    }
    detail::logs(arg, lg, 3 * static_cast<size_t>(e - a));
    const double head = headOf(a);
    for (int i = a; i < e; ++i) out[i - a] = kl(terms(i), lg + 3 * (i - a), i, head);
  }

  // The head sum of candidate i's group size, computed the first time it is asked for: blocks
  // that the bound without it rules out never need theirs.
  double headOf(int i) {
    const int m = i >> shift_;
    if (std::isnan(heads_[m])) heads_[m] = headSum(s_, levels_, m);
    return heads_[m];
  }

  // Below the kl() of every candidate of block [a, e), from two logarithms given by the caller:
  // lgTq = log(h0[a]) and lgRatio = log(pGroup / (h0[e - 1] - h0[first])) (ratioArg() gives the
  // argument). Over a block, m and so heads[m], first and P's share of the last group are fixed
  // while h0[i] and Q's share of the last group only grow. By the log sum inequality the last
  // group's term is at least pGroup * log(pGroup / sum), so
  //   kl(i) >= (heads[m] + pGroup * log(pGroup / sum(e - 1))) / n - log n + log h0[a],
  // less a margin far beyond the rounding of either side. `head` is heads[m], or 0 (each group's
  // term is at least 0, by the same inequality) for a bound that does not need it.
  double lowerBound(int a, int e, double lgTq, double lgRatio, double head) const {
    const LastGroup g = lastGroup(a, e);
    // P has mass where Q has none, at every candidate of the block.
    if (g.p > 0 && g.qMax == 0) return std::numeric_limits<double>::infinity();
    const double tail = g.p > 0 ? std::max(0.0, g.p * lgRatio) : 0.0;
    const double margin = 1e-9 * (1 + logN_ + std::fabs(lgTq) + s_.maxAbsLog +
                                  (std::fabs(head) + tail + s_.hlAbs) / ch_.n);
    return (head + tail) / ch_.n - logN_ + lgTq - margin;
  }
  // lowerBound()'s argument of lgRatio for block [a, e) (1 where the term is not used).
  double ratioArg(int a, int e) const {
    const LastGroup g = lastGroup(a, e);
    return g.p > 0 && g.qMax > 0 ? g.p / g.qMax : 1.0;
  }

 private:
  // The last group over block [a, e): P's share (fixed over the block) and Q's at its last
  // candidate (its largest).
  struct LastGroup {
    double p, qMax;
  };
  LastGroup lastGroup(int a, int e) const {
    const int first = (levels_ - 1) * (a >> shift_);
    return {ch_.n - s_.h0[first], s_.h0[e - 1] - s_.h0[first]};
  }
  struct Terms {
    int first;          // the last group: bins [first, i)
    double sum;         // Q's share of it, without the outliers
    double lastP;       // the last kept bin with the outliers
    double pGroup, tq;  // P's share of the last group; Q's total
    int n;              // the last group's non-empty bins of P
  };
  Terms terms(int i) const {
    Terms t;
    t.first = (levels_ - 1) * (i >> shift_);
    const double outliers = ch_.n - s_.h0[i];
    t.sum = s_.h0[i] - s_.h0[t.first];
    t.lastP = ch_.h[i - 1] + outliers;
    t.pGroup = t.sum + outliers;
    t.tq = s_.h0[i];
    t.n = (s_.nz[i - 1] - s_.nz[t.first]) + (t.lastP > 0);
    return t;
  }
  // lg: the logarithms of lastP, sum / n and tq (of 1 where they are not used).
  double kl(const Terms& t, const double* lg, int i, double head) const {
    // P has mass where Q has none: the divergence is infinite.
    if (t.tq == 0 || (t.sum == 0 && t.pGroup > 0)) return std::numeric_limits<double>::infinity();
    double tail = 0;
    if (t.pGroup > 0) {
      const double xlogx = t.lastP > 0 ? t.lastP * lg[0] : 0.0;
      tail = (s_.hl[i - 1] - s_.hl[t.first]) + xlogx - t.pGroup * lg[1];
    }
    return (head + tail) / ch_.n - logN_ + lg[2];
  }

  const Channel& ch_;
  const KlSums& s_;
  int levels_;
  int shift_;                  // log2 of levels_
  std::vector<double> heads_;  // by m; NaN until computed
  double logN_;
};

int klLevels(int numBits) {
  return numBits - 1 >= 11 ? kBins : 1 << (numBits - 1);
}

}  // namespace

namespace detail {
std::vector<double> klDivergences(const Histograms& hist, int64_t c, int numBits) {
  const Channel ch(hist, c);
  if (ch.degenerate()) return {};
  const int levels = klLevels(numBits);
  const KlSums sums(ch.h);
  KlCandidates candidates(ch, sums, levels);
  std::vector<double> kl(kBins - levels + 1);
  for (int a = levels; a <= kBins; a += candidates.block())
    candidates.score(a, std::min(a + candidates.block(), kBins + 1), kl.data() + (a - levels));
  return kl;
}
}  // namespace detail

Range entropyRange(const Histograms& hist, int64_t c, int numBits) {
  Channel ch(hist, c);
  if (ch.degenerate()) return ch.trivial();
  const int levels = klLevels(numBits);
  const KlSums sums(ch.h);
  KlCandidates candidates(ch, sums, levels);
  // Every block's bound without its head sum, the logarithms of all of them taken together.
  struct Block {
    double below;
    int a, e;
    double lgTq, lgRatio;
  };
  const int size = candidates.block();
  thread_local std::vector<Block> blocks;
  thread_local std::vector<double> arg, lg;
  blocks.clear();
  arg.clear();
  for (int a = levels; a <= kBins; a += size) {
    const int e = std::min(a + size, kBins + 1);
    blocks.push_back({0.0, a, e, 0.0, 0.0});
    arg.push_back(sums.h0[a]);
    arg.push_back(candidates.ratioArg(a, e));
  }
  lg.resize(arg.size());
  detail::logs(arg.data(), lg.data(), arg.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    Block& k = blocks[b];
    k.lgTq = lg[2 * b];
    k.lgRatio = lg[2 * b + 1];
    k.below = candidates.lowerBound(k.a, k.e, k.lgTq, k.lgRatio, 0.0);
  }
  std::sort(blocks.begin(), blocks.end(), [](const Block& x, const Block& y) {
    return x.below < y.below || (x.below == y.below && x.a < y.a);
  });
  // Blocks in the order of their bounds until a bound passes the best, each bounded again with its
  // head sum before it is scored: the first candidate of least divergence, as scoring all of them
  // in order finds.
  int bestI = kBins;
  double bestKl = std::numeric_limits<double>::infinity();
  double kl[kKlBlock];
  for (const Block& b : blocks) {
    if (b.below > bestKl) break;
    if (candidates.lowerBound(b.a, b.e, b.lgTq, b.lgRatio, candidates.headOf(b.a)) > bestKl)
      continue;
    candidates.score(b.a, b.e, kl);
    for (int i = b.a; i < b.e; ++i)
      if (kl[i - b.a] < bestKl || (kl[i - b.a] == bestKl && i < bestI)) {
        bestKl = kl[i - b.a];
        bestI = i;
      }
  }
  return signedRange(std::min(ch.edge(bestI), ch.amax()), ch.seenMin, ch.seenMax);
}

// ---- SQNR: fake-quantized bin centres ----------------------------------------------------------

namespace {

// A bound below sqnrNoise() from the clipped bins alone, each taken at its distance beyond the
// nudged end (every other term is at least 0), from prefix sums of count, count * centre and
// count * centre^2 over the non-empty bins: O(1) a candidate.
class SqnrBound {
 public:
  SqnrBound(const std::vector<float>& centre, const std::vector<float>& count, bool symmetric,
            double wPos, double wNeg, double clippingWeight)
      : c_(centre),
        symmetric_(symmetric),
        wPos_(symmetric ? wPos : 1.0),
        wNeg_(wNeg),
        cw_(clippingWeight) {
    const size_t n = centre.size();
    p0_.assign(n + 1, 0.0);
    p1_.assign(n + 1, 0.0);
    p2_.assign(n + 1, 0.0);
    // Running sums in locals: read back from the arrays, each bin waited on its store (half of
    // the search's own time).
    double s0 = 0, s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; ++i) {
      const double k = count[i], v = centre[i];
      p0_[i + 1] = s0 += k;
      p1_[i + 1] = s1 += k * v;
      p2_[i + 1] = s2 += k * v * v;
    }
  }

  double below(const fq::Nudged& nd) const {
    // The op's clamp lands within a few ulps of the nudged end; the float sums of the noise lose
    // at most about 2048 ulps: a margin far beyond both.
    const double slack =
        1e-6 * (std::fabs(double{nd.nudgedMin}) + std::fabs(double{nd.nudgedMax})) +
        1e-3 * nd.scale;
    double sum = wPos_ * above(nd.nudgedMax + slack);
    if (symmetric_ && wNeg_ > 0) sum += wNeg_ * above(-double{nd.nudgedMin} + slack);
    if (!symmetric_) sum += underneath(nd.nudgedMin - slack);
    return cw_ * sum * (1 - 1e-3);
  }

 private:
  // Sum of count * (v - t)^2 over the bins with centre v > t, less its rounding error.
  double above(double t) const {
    const size_t i = std::upper_bound(c_.begin(), c_.end(), t) - c_.begin(), n = c_.size();
    return squares(p0_[n] - p0_[i], p1_[n] - p1_[i], p2_[n] - p2_[i], t);
  }
  // The same over the bins with centre v < t.
  double underneath(double t) const {
    const size_t i = std::lower_bound(c_.begin(), c_.end(), t) - c_.begin();
    return squares(p0_[i], p1_[i], p2_[i], t);
  }
  static double squares(double s0, double s1, double s2, double t) {
    const double exact = s2 - 2 * t * s1 + t * t * s0;
    return std::max(0.0, exact - 1e-12 * (std::fabs(s2) + 2 * std::fabs(t * s1) + t * t * s0));
  }

  const std::vector<float>& c_;
  bool symmetric_;
  double wPos_, wNeg_, cw_;
  std::vector<double> p0_, p1_, p2_;
};

}  // namespace

Range sqnrRange(const Histograms& hist, int64_t c, fq::QuantRange q, double clippingWeight) {
  const Channel ch(hist, c);
  if (ch.degenerate()) return ch.trivial();
  // The non-empty bins, each taken to hold its values at its centre.
  // Written at every bin and kept by advancing past the non-empty ones: a branch per bin
  // mispredicted where counts thin out.
  std::vector<float> centre(kBins), count(kBins);
  size_t kept = 0;
  for (int i = 0; i < kBins; ++i) {
    centre[kept] = static_cast<float>(ch.lo + (i + 0.5) * ch.w);
    count[kept] = static_cast<float>(ch.h[i]);
    kept += ch.h[i] > 0;
  }
  centre.resize(kept);
  count.resize(kept);
  const SqnrBound bound(centre, count, ch.symmetric, static_cast<float>(ch.wPos),
                        static_cast<float>(ch.wNeg), static_cast<float>(clippingWeight));
  int bestK = 0;
  double bestNoise = std::numeric_limits<double>::infinity();
  // Scores candidates in the order of their bounds, keeping the first of least noise; once a
  // bound passes the best noise, no candidate left can win (docs/calibration.md).
  struct Scored {
    double below;
    int k;
    fq::Nudged nd;
  };
  auto consider = [&](const std::vector<int>& ks) {
    std::vector<Scored> order;
    for (int k : ks) {
      const Range r = candidate(ch, k);
      const fq::Nudged nd = fq::nudge(r.min, r.max, q);
      order.push_back({bound.below(nd), k, nd});
    }
    std::sort(order.begin(), order.end(), [](const Scored& a, const Scored& b) {
      return a.below < b.below || (a.below == b.below && a.k < b.k);
    });
    for (const auto& [below, k, nd] : order) {
      if (below > bestNoise) break;
      const double noise =
          sqnrNoise(centre, count, nd, ch.symmetric, static_cast<float>(ch.wPos),
                    static_cast<float>(ch.wNeg), static_cast<float>(clippingWeight));
      if (noise < bestNoise || (noise == bestNoise && k < bestK)) {
        bestNoise = noise;
        bestK = k;
      }
    }
  };
  // Every kSqnrCoarse-th candidate, then every kSqnrFine-th within one coarse step of the best.
  std::vector<int> ks;
  for (int k = kSqnrCoarse; k <= kBins; k += kSqnrCoarse) ks.push_back(k);
  consider(ks);
  const int coarse = bestK;
  ks.clear();
  for (int k = std::max(kSqnrFine, coarse - kSqnrCoarse + kSqnrFine);
       k < std::min(kBins + 1, coarse + kSqnrCoarse); k += kSqnrFine)
    if (k != coarse) ks.push_back(k);
  consider(ks);
  return candidate(ch, bestK);
}

// ---- The five with their defaults --------------------------------------------------------------

namespace {
struct MethodNames {
  Method method;
  const char* name;
  const char* blockType;
};
constexpr MethodNames kMethodNames[] = {{Method::MinMax, "minmax", "MinMaxCalibrator"},
                                        {Method::Percentile, "percentile", "PercentileCalibrator"},
                                        {Method::Mse, "mse", "MseCalibrator"},
                                        {Method::Entropy, "entropy", "EntropyCalibrator"},
                                        {Method::Sqnr, "sqnr", "SqnrCalibrator"}};
const MethodNames& namesOf(Method m) {
  for (const MethodNames& n : kMethodNames)
    if (n.method == m) return n;
  throw Error("unknown calibration method " + std::to_string(static_cast<int>(m)));
}
}  // namespace

const std::vector<Method>& allMethods() {
  static const std::vector<Method> all = [] {
    std::vector<Method> v;
    for (const MethodNames& n : kMethodNames) v.push_back(n.method);
    return v;
  }();
  return all;
}

const char* methodName(Method m) {
  return namesOf(m).name;
}

const char* blockType(Method m) {
  return namesOf(m).blockType;
}

std::vector<Range> searchChannels(Method m, const Histograms& h, const SearchSettings& s,
                                  fq::Exec exec) {
  const fq::QuantRange q = fq::quantRange(s.numBits, s.narrowRange);
  auto one = [&](int64_t c) {
    switch (m) {
      case Method::Percentile:
        return percentileRange(h, c, s.percentile);
      case Method::Mse:
        return mseRange(h, c, q);
      case Method::Entropy:
        return entropyRange(h, c, s.numBits);
      case Method::Sqnr:
        return sqnrRange(h, c, q, s.clippingWeight);
      case Method::MinMax:
        break;
    }
    throw Error(std::string("no histogram search for ") + methodName(m));
  };
  std::vector<Range> r(static_cast<size_t>(h.channels));
  // The channels' searches are independent: split across the threads.
  auto search = [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      if (exec.ctx && exec.ctx->cancelled()) throw Cancelled();
      r[c] = one(c);
    }
  };
  if (exec.pool && exec.threads > 1 && h.channels > 1)
    exec.pool->parallelFor(h.channels, 1, exec.threads, search);
  else
    search(0, h.channels);
  return r;
}

namespace {
// MinMax's range: the extremes widened to hold 0.
std::vector<Range> minMaxRanges(const std::vector<float>& min, const std::vector<float>& max) {
  std::vector<Range> r(min.size());
  for (size_t c = 0; c < r.size(); ++c) r[c] = {std::min(min[c], 0.0f), std::max(max[c], 0.0f)};
  return r;
}
}  // namespace

std::vector<Range> calibrate(Method m, const Histograms& h, int numBits, bool narrowRange,
                             fq::Exec exec) {
  if (m == Method::MinMax) return minMaxRanges(h.min, h.max);
  return searchChannels(m, h, {.numBits = numBits, .narrowRange = narrowRange}, exec);
}

std::vector<Range> calibrate(Method m, const float* x, int64_t outer, int64_t channels, int numBits,
                             bool narrowRange, fq::Exec exec) {
  if (m == Method::MinMax) {
    const Extremes e = channelExtremes(x, outer, channels, false, exec);
    return minMaxRanges(e.min, e.max);
  }
  // Kept by the calling thread between calls, like the binning pass's buffers (1 MB at 128
  // channels), unless a call made it large.
  // (A reference: the search below runs on the pool's threads, which name their own instance.)
  thread_local Histograms kept;
  Histograms& h = kept;
  fromBatch(h, channels, true, x, outer, false, exec);
  std::vector<Range> r = calibrate(m, h, numBits, narrowRange, exec);
  if (h.counts.capacity() * sizeof(float) > detail::kKeepScratchBytes) h = Histograms();
  return r;
}

}  // namespace qs::calib
