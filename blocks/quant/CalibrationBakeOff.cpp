#include "blocks/quant/CalibrationBakeOff.h"

#include <cmath>

namespace qs::calib {

std::vector<Scored> bakeOff(const float* x, int64_t outer, int64_t channels, int numBits,
                            bool narrowRange) {
  const fq::QuantRange q = fq::quantRange(numBits, narrowRange);
  // One histogram for every method: each calibrate() call would read the batch twice again.
  Histograms h;
  fromBatch(h, channels, true, x, outer, false, {});
  std::vector<Scored> all;
  for (Method m : allMethods()) {
    Scored s{m, calibrate(m, h, numBits, narrowRange, {}), {}};
    std::vector<float> lo, hi;
    for (const Range& r : s.ranges) {
      lo.push_back(r.min);
      hi.push_back(r.max);
    }
    s.stats = fq::computeChannelReport(x, outer, channels, lo.data(), hi.data(), q);
    all.push_back(std::move(s));
  }
  return all;
}

double clippedPercent(const fq::QuantChannelStats& s) {
  return 100.0 * static_cast<double>(s.below + s.above) / static_cast<double>(s.count);
}

size_t bestOf(const std::vector<Scored>& all, int64_t c) {
  size_t best = 0;
  for (size_t m = 1; m < all.size(); ++m)
    if (all[m].stats[c].sqnrDb > all[best].stats[c].sqnrDb || std::isnan(all[best].stats[c].sqnrDb))
      best = m;
  return best;
}

}  // namespace qs::calib
