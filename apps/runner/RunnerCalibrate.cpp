#include "apps/runner/RunnerCalibrate.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <vector>

#include "blocks/quant/CalibrationBakeOff.h"
#include "runtime/Error.h"
#include "runtime/Json.h"

namespace qs {

namespace {

using calib::bestOf;
using calib::clippedPercent;
using calib::Scored;

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return formatFloat(static_cast<float>(v));
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals).ptr;
  return std::string(buf, end);
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

void printTable(const std::vector<Scored>& all, int64_t channels, std::ostream& out) {
  for (int64_t c = 0; c < channels; ++c) {
    out << "channel " << c << "\n  calibrator " << pad("min", 14) << pad("max", 14)
        << pad("MSE", 14) << pad("SQNR dB", 10) << pad("clipped %", 11) << "\n";
    const size_t best = bestOf(all, c);
    for (size_t m = 0; m < all.size(); ++m) {
      const auto& s = all[m].stats[c];
      std::string name = calib::methodName(all[m].method);
      name += std::string(11 - name.size(), ' ');
      out << "  " << name << pad(formatFloat(all[m].ranges[c].min), 14)
          << pad(formatFloat(all[m].ranges[c].max), 14)
          << pad(formatFloat(static_cast<float>(s.mse)), 14) << pad(fixed(s.sqnrDb, 2), 10)
          << pad(fixed(clippedPercent(s), 3), 11) << (m == best ? "  best" : "") << "\n";
    }
  }
}

template <typename Fn>
std::string list(int64_t n, Fn&& text) {
  std::string s = "[";
  for (int64_t c = 0; c < n; ++c) s += (c ? ", " : "") + text(c);
  return s + "]";
}

// Non-finite floats as the page format's strings.
std::string number(double v) {
  const std::string t = formatFloat(static_cast<float>(v));
  return std::isfinite(v) ? t : "\"" + t + "\"";
}

void printJson(const std::vector<Scored>& all, int64_t channels, std::ostream& out) {
  out << "{\"calibrate\": {";
  for (size_t m = 0; m < all.size(); ++m) {
    const Scored& s = all[m];
    out << (m ? ", " : "") << "\"" << calib::methodName(s.method) << "\": {"
        << "\"min\": " << list(channels, [&](int64_t c) { return number(s.ranges[c].min); })
        << ", \"max\": " << list(channels, [&](int64_t c) { return number(s.ranges[c].max); })
        << ", \"mse\": " << list(channels, [&](int64_t c) { return number(s.stats[c].mse); })
        << ", \"sqnr_db\": " << list(channels, [&](int64_t c) { return number(s.stats[c].sqnrDb); })
        << ", \"clipped\": "
        << list(channels, [&](int64_t c) { return number(clippedPercent(s.stats[c])); }) << "}";
  }
  out << "}, \"best\": " << list(channels, [&](int64_t c) {
    return std::string("\"") + calib::methodName(all[bestOf(all, c)].method) + "\"";
  }) << "}\n";
}

}  // namespace

bool parseCalibrateFlag(const std::vector<std::string>& args, size_t& i, CalibrateArgs& a) {
  const std::string& s = args[i];
  auto value = [&](const std::string& flag) -> std::string {
    if (s.rfind(flag + "=", 0) == 0) return s.substr(flag.size() + 1);
    if (i + 1 >= args.size()) throw Error(flag + " needs a value");
    return args[++i];
  };
  auto is = [&](const std::string& flag) { return s == flag || s.rfind(flag + "=", 0) == 0; };
  if (is("--calibrate")) {
    a.result = value("--calibrate");
  } else if (is("--num-bits")) {
    const std::string v = value("--num-bits");
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), a.numBits);
    if (ec != std::errc() || end != v.data() + v.size() || a.numBits < 2 || a.numBits > 16)
      throw Error("--num-bits takes a whole number from 2 to 16, not '" + v + "'");
  } else if (s == "--narrow-range") {
    a.narrowRange = true;
  } else {
    return false;
  }
  return true;
}

int printCalibration(const CalibrateArgs& args, bool json, const Tensor& t, std::ostream& out,
                     std::ostream& err) {
  if (t.dtype() != DType::Float32 || t.rank() == 0) {
    err << "error: --calibrate " << args.result << ": needs a float32 tensor of rank >= 1 (the "
        << "last axis is the channel), not " << dtypeName(t.dtype()) << " "
        << shapeToString(t.shape()) << "\n";
    return 1;
  }
  const int64_t d = t.shape().back();
  const int64_t outer = d == 0 ? 0 : t.size() / d;
  std::vector<Scored> all;
  try {
    all = calib::bakeOff(t.data(), outer, d, args.numBits, args.narrowRange);
  } catch (const Error& e) {
    err << "error: --calibrate " << args.result << ": " << e.what() << "\n";
    return 1;
  }
  if (json)
    printJson(all, d, out);
  else
    printTable(all, d, out);
  return 0;
}

}  // namespace qs
