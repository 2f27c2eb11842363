#pragma once
// Shared by the ONNX tests: evaluate a page and export it, run a model in ONNX Runtime (npm
// onnxruntime-node through tools/onnx_run.js), and compare its outputs with Quant Space's,
// counting the elements that differ by one step at a rounding tie.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "onnx/OnnxExport.h"
#include "runtime/Evaluator.h"
#include "runtime/Npy.h"
#include "runtime/PageJson.h"
#include "test_runner_support.h"

namespace qs::test {

struct Exported {
  LoadedPage page;
  std::unique_ptr<Evaluator> evaluator;
  std::string bytes;
};

// Evaluates the page (only what `fetch` needs, intermediates kept), then exports it.
inline Exported evaluateAndExport(LoadedPage loaded, const std::vector<std::string>& fetch,
                                  const std::map<std::string, Tensor>& feeds = {}) {
  Exported x{std::move(loaded), std::make_unique<Evaluator>(builtinRegistry()), {}};
  for (const auto& [id, t] : feeds) x.evaluator->setFeed(BlockId(id), t);
  EvalOptions options;
  options.fetch = fetch;
  options.pageDir = x.page.dir;
  const EvalReport report = x.evaluator->evaluate(x.page.page, options);
  for (const BlockId& id : report.failed)
    FAIL_CHECK(id.str() << ": " << x.evaluator->state(id)->error);
  REQUIRE(report.failed.empty());
  x.bytes = exportOnnx(x.page.page, *x.evaluator, {.fetch = fetch});
  return x;
}

// Runs the model in ONNX Runtime; the outputs by name. Fails (does not skip) when node or
// onnxruntime-node is missing: scripts/install-deps.sh installs them.
inline std::map<std::string, Tensor> runOnnxRuntime(const std::string& modelBytes,
                                                    const std::map<std::string, Tensor>& inputs,
                                                    const std::vector<std::string>& outputs) {
  TempDir dir;
  const auto model = dir.write("model.onnx", modelBytes);
  std::vector<std::string> args = {
      (std::filesystem::path(QS_SOURCE_DIR) / "tools" / "onnx_run.js").string(), model.string(),
      (dir / "out").string()};
  for (const auto& [name, t] : inputs) {
    writeNpy(dir / (name + ".npy"), t);
    args.push_back(name + "=" + (dir / (name + ".npy")).string());
  }
  const RunResult r = runProgram("node", args);
  if (r.status != 0)
    FAIL("ONNX Runtime did not run the model (exit " << r.status << "): " << r.err
                                                     << "\nnode and npm onnxruntime-node 1.30.0 in "
                                                        ".npm-tools/ come from "
                                                        "scripts/install-deps.sh");
  std::map<std::string, Tensor> out;
  for (const auto& name : outputs) out[name] = readNpy(dir / "out" / (name + ".npy"));
  return out;
}

inline bool sameBits(const Tensor& a, const Tensor& b, int64_t i) {
  const size_t n = dtypeSize(a.dtype());
  return std::memcmp(a.rawData() + i * n, b.rawData() + i * n, n) == 0;
}

struct Agreement {
  int64_t equal = 0;  // bit for bit
  int64_t ties = 0;   // one step apart, the input at (or within a few ulps of) a midpoint
  int64_t other = 0;
  std::string firstOther;
};

// A FakeQuant block's range, input and width, for judging its output's ties. Worked out here in
// double precision from the op's definition (docs/spec.md), not with the exporter's code.
struct FqOracle {
  Tensor x;
  std::vector<double> mins, maxs;
  double qmin = 0, qmax = 255;
  // True if x[i] lies within `slack` steps of a midpoint between two levels of its channel, and
  // a and b are one step apart.
  bool isTie(int64_t i, float a, float b) const {
    const size_t c = static_cast<size_t>(i % static_cast<int64_t>(mins.size()));
    // The zero point as TensorFlow computes it, in float32 (in double, [-1, 1] at 8 bits would
    // give 128 instead of 127); the rest in double.
    const float lo32 = float(mins[c]), hi32 = float(maxs[c]), q0 = float(qmin), q1 = float(qmax);
    const float scale32 = (hi32 - lo32) / (q1 - q0);
    const float zpFromMin = q0 - lo32 / scale32;
    const double zp = zpFromMin < q0 ? qmin : zpFromMin > q1 ? qmax : std::round(zpFromMin);
    const double scale = scale32;
    const double lo = double(float((q0 - float(zp)) * scale32));
    const double hi = double(float((q1 - float(zp)) * scale32));
    const double t = (std::clamp(double(x.data()[i]), lo, hi) - lo) / scale;
    const double step = std::abs(double(a) - double(b)) / scale;
    return std::abs(t - std::floor(t) - 0.5) < 1e-3 && std::abs(step - 1) < 1e-3;
  }
};

inline const Tensor& wiredValue(const Page& page, const Evaluator& ev, const std::string& block,
                                const std::string& port) {
  for (const Link& l : page.links())
    if (l.to.block.str() == block && l.to.port.str() == port)
      return ev.state(l.from.block)->outputs.at(l.from.port.str());
  FAIL("block " << block << " has no wire into " << port);
  static Tensor none;
  return none;
}

// The oracle of a fetched FakeQuant result, or nullopt for another block's.
inline std::optional<FqOracle> fqOracle(const Page& page, const Evaluator& ev,
                                        const std::string& result) {
  const Block* b = page.find(BlockId(result.substr(0, result.find('.'))));
  if (!b || b->type.rfind("FakeQuantWithMinMax", 0) != 0) return std::nullopt;
  FqOracle o;
  o.x = wiredValue(page, ev, b->id.str(), "inputs");
  const int bits = b->attrs.value("num_bits", 8);
  o.qmin = b->attrs.value("narrow_range", false) ? 1 : 0;
  o.qmax = std::pow(2.0, bits) - 1;
  if (b->type == "FakeQuantWithMinMaxArgs") {
    o.mins = {b->attrs.value("min", -6.0)};
    o.maxs = {b->attrs.value("max", 6.0)};
  } else {
    for (float v : wiredValue(page, ev, b->id.str(), "min").values()) o.mins.push_back(v);
    for (float v : wiredValue(page, ev, b->id.str(), "max").values()) o.maxs.push_back(v);
  }
  return o;
}

// Every element bit-equal, except (for a FakeQuant result) the ties, which are counted.
inline Agreement compareWithOracle(const Tensor& ours, const Tensor& theirs,
                                   const std::optional<FqOracle>& oracle) {
  Agreement a;
  REQUIRE(ours.shape() == theirs.shape());
  REQUIRE(ours.dtype() == theirs.dtype());
  for (int64_t i = 0; i < ours.size(); ++i) {
    if (sameBits(ours, theirs, i)) {
      ++a.equal;
    } else if (oracle && oracle->isTie(i, ours.data()[i], theirs.data()[i])) {
      ++a.ties;
    } else if (a.other++ == 0) {
      a.firstOther = "element " + std::to_string(i);
      if (ours.dtype() == DType::Float32)
        a.firstOther += ": ours " + std::to_string(ours.data()[i]) + ", theirs " +
                        std::to_string(theirs.data()[i]);
    }
  }
  return a;
}

}  // namespace qs::test
