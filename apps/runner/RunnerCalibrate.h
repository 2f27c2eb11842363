#pragma once
// The runner's --calibrate: every calibrator's per-channel range for one result, and what each
// range costs when the FakeQuant op uses it (docs/calibration.md).

#include <iosfwd>
#include <string>

#include "runtime/Tensor.h"

namespace qs {

struct CalibrateArgs {
  std::string result;  // "B.result_P"; empty: no --calibrate
  int numBits = 8;
  bool narrowRange = false;
};

// Reads --calibrate, --num-bits and --narrow-range at args[i] (advancing i past a value). False
// when args[i] is none of them; throws qs::Error for a bad value.
bool parseCalibrateFlag(const std::vector<std::string>& args, size_t& i, CalibrateArgs& a);

// Prints the table (or with `json` the JSON object) for tensor t. Returns the exit status: 0, or
// 1 after a message when t cannot be calibrated (not float32, a scalar, non-finite values).
int printCalibration(const CalibrateArgs& args, bool json, const Tensor& t, std::ostream& out,
                     std::ostream& err);

}  // namespace qs
