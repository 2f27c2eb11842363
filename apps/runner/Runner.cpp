#include "apps/runner/Runner.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <new>
#include <ostream>
#include <set>

#include "apps/runner/RunnerCalibrate.h"
#include "apps/runner/RunnerOnnx.h"
#include "apps/runner/RunnerSteps.h"
#include "onnx/OnnxExport.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/PageJson.h"
#include "runtime/Provenance.h"
#include "runtime/ResultNames.h"
#include "runtime/TensorStats.h"

namespace qs {

namespace {

const char* kUsage =
    "usage: quantspace-run PAGE [--json] [--save-npy DIR] [--fetch B.result_P]... "
    "[--feed B=FILE.npy]... [--set B.ATTR=VALUE]...\n"
    "                      [--threads N]"
    "                      [--steps N] [--log FILE.csv [--log-every K]] [--save-state FILE.npz]\n"
    "                      [--load-state FILE.npz | --load-state-partial FILE.npz]\n"
    "                      [--calibrate B.result_P [--num-bits N] [--narrow-range]]\n"
    "                      [--export-onnx OUT.onnx]\n";

const char* kHelp =
    "\n"
    "Evaluates PAGE and prints its results (or only the --fetch'ed ones).\n"
    "  --json                one JSON object: {\"results\": {...}, \"errors\": {...}}\n"
    "  --save-npy DIR        each result as DIR/B.result_P.npy\n"
    "  --feed B=FILE.npy     the value of Const or Placeholder B\n"
    "  --set B.ATTR=VALUE    attribute ATTR of block B (VALUE as JSON, else a string)\n"
    "  --threads N           worker threads per op\n"
    "Pages that learn (Variables and their updates):\n"
    "  --steps N             take N steps (default 1), then evaluate once more without\n"
    "                        updating: the results printed are the values after N steps\n"
    "                        (0: no step, the page as it stands or as --load-state left it)\n"
    "  --log FILE.csv        \"step,<fetched results>\": each fetched result (one number each;\n"
    "                        --log needs --fetch) as computed in the step, before its update\n"
    "  --log-every K         a row every K-th step (default 1), and one for the last step\n"
    "  --save-state FILE.npz every Variable and slot, and __step__, written after the steps\n"
    "  --load-state FILE.npz start from a saved state instead of the initial values\n"
    "  --load-state-partial FILE.npz\n"
    "                        the same, but the Variables and slots the file lacks start from\n"
    "                        their initial values (a state saved by a page with fewer of them)\n"
    "  --calibrate B.result_P  every calibrator's per-channel range for that result, with\n"
    "                        its MSE, SQNR and % clipped at --num-bits (default 8) and\n"
    "                        --narrow-range; --json for one JSON object (docs/calibration.md)\n"
    "  --export-onnx OUT     also write the page (the --fetch'ed results, or every result of a\n"
    "                        block that feeds nothing) as an ONNX model (docs/onnx.md)\n"
    "Steps are numbered from 1, continuing from a loaded __step__. Ctrl-C stops after the\n"
    "current step, prints the results, writes --save-state and exits 130.\n"
    "Exit status: 0 ok, 1 a block failed, 2 the page, a state file or the command line is bad.\n";

struct Args {
  std::string page;
  bool json = false;
  std::string saveNpy;
  std::vector<std::string> fetch;
  std::vector<std::pair<std::string, std::string>> feeds;
  std::vector<std::pair<std::string, std::string>> sets;  // "B.ATTR", VALUE
  int threads = 0;
  bool help = false;
  StepArgs steps;
  bool logEveryGiven = false;
  CalibrateArgs calibrate;
  std::string exportOnnx;
};

Args parseArgs(const std::vector<std::string>& args) {
  Args a;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    auto value = [&](const std::string& flag) -> std::string {
      const std::string prefix = flag + "=";
      if (s.rfind(prefix, 0) == 0) return s.substr(prefix.size());
      if (i + 1 >= args.size()) throw Error(flag + " needs a value");
      return args[++i];
    };
    auto is = [&](const std::string& flag) { return s == flag || s.rfind(flag + "=", 0) == 0; };
    if (parseCalibrateFlag(args, i, a.calibrate)) {
    } else if (s == "--help" || s == "-h") {
      a.help = true;
    } else if (s == "--json") {
      a.json = true;
    } else if (is("--save-npy")) {
      a.saveNpy = value("--save-npy");
    } else if (is("--fetch")) {
      a.fetch.push_back(value("--fetch"));
    } else if (is("--feed")) {
      std::string f = value("--feed");
      size_t eq = f.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == f.size())
        throw Error("--feed takes B=FILE.npy, not '" + f + "'");
      a.feeds.emplace_back(f.substr(0, eq), f.substr(eq + 1));
    } else if (is("--set")) {
      const std::string f = value("--set");
      const size_t eq = f.find('=');
      const size_t dot = f.find('.');
      if (eq == std::string::npos || dot == 0 || dot == std::string::npos || dot + 1 >= eq)
        throw Error("--set takes B.ATTR=VALUE, not '" + f + "'");
      a.sets.emplace_back(f.substr(0, eq), f.substr(eq + 1));
    } else if (is("--threads")) {
      const std::string v = value("--threads");
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), a.threads);
      if (ec != std::errc() || end != v.data() + v.size() || a.threads < 1 || a.threads > 1024)
        throw Error("--threads takes a whole number from 1 to 1024, not '" + v + "'");
    } else if (is("--steps")) {
      a.steps.steps = parseStepCount("--steps", value("--steps"), 0);
    } else if (is("--log-every")) {
      a.steps.logEvery = parseStepCount("--log-every", value("--log-every"));
      a.logEveryGiven = true;
    } else if (is("--log")) {
      a.steps.log = value("--log");
    } else if (is("--save-state")) {
      a.steps.saveState = value("--save-state");
    } else if (is("--load-state")) {
      a.steps.loadState = value("--load-state");
      a.steps.loadStatePartial = false;
    } else if (is("--load-state-partial")) {
      a.steps.loadState = value("--load-state-partial");
      a.steps.loadStatePartial = true;
    } else if (is("--export-onnx")) {
      a.exportOnnx = value("--export-onnx");
    } else if (!s.empty() && s[0] == '-') {
      throw Error("unknown option '" + s + "'");
    } else if (a.page.empty()) {
      a.page = s;
    } else {
      throw Error("only one PAGE may be given (got '" + a.page + "' and '" + s + "')");
    }
  }
  if (!a.help && a.page.empty()) throw Error("no PAGE given");
  if (!a.steps.log.empty() && a.fetch.empty())
    throw Error("--log needs at least one --fetch: the log's columns are the fetched results");
  if (a.logEveryGiven && a.steps.log.empty()) throw Error("--log-every needs --log");
  if (!a.calibrate.result.empty()) a.fetch.push_back(a.calibrate.result);
  return a;
}

std::string summaryLine(const std::string& name, const Tensor& t) {
  std::string line = name + "  " + shapeToString(t.shape());
  if (t.dtype() != DType::Float32) line += std::string("  ") + dtypeName(t.dtype());
  line += "  [";
  const int64_t shown = std::min<int64_t>(t.size(), 8);
  for (int64_t i = 0; i < shown; ++i) line += (i ? ", " : "") + elementText(t, i);
  if (t.size() > shown) line += ", ...";
  line += "]";
  const TensorStats s = computeStats(t);
  if (t.dtype() == DType::Bool) {
    if (s.count)
      line += "  true " + std::to_string(static_cast<int64_t>(s.mean * s.count + 0.5)) + " of " +
              std::to_string(s.count);
    return line;
  }
  if (s.finite) {
    // printf's "%.6g" without the C locale's decimal separator.
    char mean[32];
    const auto end =
        std::to_chars(mean, mean + sizeof mean, s.mean, std::chars_format::general, 6).ptr;
    const bool integer = isIntegerDType(t.dtype());
    auto bound = [&](double v, int64_t exact) {
      return integer ? std::to_string(exact) : formatFloat(float(v));
    };
    line += "  min " + bound(s.min, s.minInt) + "  max " + bound(s.max, s.maxInt) + "  mean " +
            std::string(mean, end);
  }
  if (s.nan) line += "  nan " + std::to_string(s.nan);
  if (s.posInf + s.negInf) line += "  inf " + std::to_string(s.posInf + s.negInf);
  return line;
}

void writeTensorJson(std::ostream& out, const Tensor& t) {
  out << "{\"shape\": [";
  // Written as text, not with operator<<, which would follow the stream's locale.
  for (size_t i = 0; i < t.shape().size(); ++i)
    out << (i ? ", " : "") << std::to_string(t.shape()[i]);
  out << "], \"dtype\": \"" << dtypeName(t.dtype()) << "\", \"values\": [";
  std::string chunk;
  for (int64_t i = 0; i < t.size(); ++i) {
    if (i) chunk += ", ";
    chunk += elementJson(t, i);
    if (chunk.size() > 65536) {
      out << chunk;
      chunk.clear();
    }
  }
  out << chunk << "]}";
}

}  // namespace

namespace {

// Applies the --feed files to their blocks. A file that cannot be read fails its block, not the
// run. Returns false (after the message) when a --feed names a block that is not on the page.
bool applyFeeds(const Args& args, const Page& page, Evaluator& evaluator, std::ostream& err) {
  for (const auto& [block, file] : args.feeds) {
    const Block* b = page.find(BlockId(block));
    if (!b) {
      err << "error: --feed " << block << "=" << file << ": no block '" << block
          << "' on the page\n";
      return false;
    }
    try {
      std::string note;
      evaluator.setFeed(b->id, readNpy(file, &note));
      if (!note.empty()) err << "note: --feed " << block << "=" << file << ": " << note << "\n";
    } catch (const Error& e) {
      evaluator.setFeedError(b->id, std::string("cannot use --feed: ") + e.what());
    }
  }
  return true;
}

// Applies the --set attributes to the page: VALUE is read as JSON (4, true, [1,2], "SAME"), or
// taken as a string when it is not JSON (SAME). The block checks the value as it checks the page
// file's. Returns false (after the message) when a --set names a block that is not on the page.
bool applySets(const Args& args, Page& page, std::ostream& err) {
  for (const auto& [target, text] : args.sets) {
    const size_t dot = target.find('.');  // block ids have no dots
    const BlockId id(target.substr(0, dot));
    const Block* b = page.find(id);
    if (!b) {
      err << "error: --set " << target << "=" << text << ": no block '" << id.str()
          << "' on the page\n";
      return false;
    }
    Json value = Json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;
    Json attrs = b->attrs;
    attrs[target.substr(dot + 1)] = std::move(value);
    page.setAttrs(id, std::move(attrs));
  }
  return true;
}

// A --fetch that names no result of the page is a mistake on the command line: say so before
// anything runs. Returns false after the message.
bool checkFetches(const Args& args, const Page& page, const BlockRegistry& registry,
                  std::ostream& err) {
  for (const std::string& name : args.fetch) {
    const std::string problem = resultNameProblem(page, registry, name);
    if (!problem.empty()) {
      err << "error: --fetch " << name << ": " << problem << "\n";
      return false;
    }
  }
  return true;
}

// Results to report: the fetched ones, or every output of every block that ran.
std::vector<std::pair<std::string, Tensor>> collectResults(const Args& args, const Page& page,
                                                           const BlockRegistry& registry,
                                                           const Evaluator& evaluator) {
  std::vector<std::pair<std::string, Tensor>> results;
  if (!args.fetch.empty()) {
    std::set<std::string> seen;
    for (const std::string& name : args.fetch) {
      if (!seen.insert(name).second) continue;
      if (auto t = evaluator.result(name)) results.emplace_back(name, *t);
    }
  } else {
    for (const Block& b : page.blocks()) {
      const BlockState* st = evaluator.state(b.id);
      const BlockDescriptor* d = registry.find(b.type);
      if (!st || st->status != BlockStatus::Ok || !d) continue;
      for (const PortDescriptor* p : d->outputs()) {
        auto it = st->outputs.find(p->name);
        if (it != st->outputs.end())
          results.emplace_back(b.id.str() + "." + resultName(p->name), it->second);
      }
    }
  }
  return results;
}

// Writes each result to DIR/NAME.npy, and the page they came from beside them (Provenance.h);
// false if any could not be written (after its message).
bool saveNpyFiles(const std::string& dir,
                  const std::vector<std::pair<std::string, Tensor>>& results,
                  const std::string& pageJson, std::ostream& err) {
  bool ok = true;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  try {
    writeNpyFolderProvenance(dir, pageJson);
  } catch (const Error& e) {
    err << "error: " << e.what() << "\n";
    ok = false;
  }
  for (const auto& [name, t] : results) {
    try {
      writeNpy(std::filesystem::path(dir) / (name + ".npy"), t);
    } catch (const Error& e) {
      err << "error: " << e.what() << "\n";
      ok = false;
    }
  }
  return ok;
}

// --json: {"results": {NAME: TENSOR, ...}, "errors": {BLOCK: MESSAGE, ...}}
void writeJsonReport(std::ostream& out, const std::vector<std::pair<std::string, Tensor>>& results,
                     const std::vector<std::pair<std::string, std::string>>& errors) {
  out << "{\"results\": {";
  for (size_t i = 0; i < results.size(); ++i) {
    out << (i ? ", " : "") << Json(results[i].first).dump() << ": ";
    writeTensorJson(out, results[i].second);
  }
  out << "}, \"errors\": {";
  for (size_t i = 0; i < errors.size(); ++i)
    out << (i ? ", " : "")
        << Json(errors[i].first).dump(-1, ' ', false, Json::error_handler_t::replace) << ": "
        << Json(errors[i].second).dump(-1, ' ', false, Json::error_handler_t::replace);
  out << "}}\n";
}

// What the steps left to say on stderr: the failed step, Ctrl-C. Only pages with state have steps
// to speak of; a page without state reads as it always did.
void reportSteps(const StepArgs& args, const StepsOutcome& steps, const Evaluator& evaluator,
                 std::ostream& err) {
  // Steps are numbered from 1, continuing the count of a loaded state.
  const int64_t taken = evaluator.stepCount();
  const std::string inRun = std::to_string(steps.done + (steps.failed ? 1 : 0)) + " of " +
                            std::to_string(args.steps) + " in this run";
  if (steps.failed)
    err << "error: stopped at step " << std::to_string(taken + 1) << " (" << inRun
        << "): a block failed, so that step's updates were not applied\n";
  if (steps.interrupted)
    err << "interrupted: stopped after step " << std::to_string(taken) << " (" << inRun << ")\n";
}

// Writes --save-state unless the run failed; with no step taken and nothing loaded there is no
// state to write. False after the message.
bool saveState(const StepArgs& args, const StepsOutcome& steps, const Page& page,
               const Evaluator& evaluator, std::ostream& err) {
  if (args.saveState.empty()) return true;
  if (steps.done == 0 && args.loadState.empty()) {
    err << "note: --save-state " << args.saveState << " not written: no step was taken\n";
    return true;
  }
  return saveStateFile(args.saveState, evaluator, pageToText(page), err);
}

// Prints (or writes as JSON and .npy) the results of the last evaluation and its errors, and
// writes the state. Returns the exit status.
int reportRun(const Args& args, const Page& page, const BlockRegistry& registry,
              const Evaluator& evaluator, const EvalReport& report, const StepsOutcome& steps,
              std::ostream& out, std::ostream& err) {
  if (!args.calibrate.result.empty() && report.failed.empty() && !steps.failed) {
    const auto t = evaluator.result(args.calibrate.result);
    return t ? printCalibration(args.calibrate, args.json, *t, out, err) : 1;
  }
  const auto results = collectResults(args, page, registry, evaluator);

  std::vector<std::pair<std::string, std::string>> errors;  // block id, message
  for (const BlockId& id : report.failed) {
    const BlockState* st = evaluator.state(id);
    errors.emplace_back(id.str(), st ? st->error : "failed");
    err << errorLine(id, page.find(id)->type, st ? st->error : "failed") << "\n";
  }
  if (pageHasState(page, registry)) reportSteps(args.steps, steps, evaluator, err);
  int status = errors.empty() ? 0 : 1;

  if (!args.saveNpy.empty() && !saveNpyFiles(args.saveNpy, results, pageToText(page), err))
    status = 1;
  if (status == 0 && !saveState(args.steps, steps, page, evaluator, err)) status = 1;

  if (args.json) {
    writeJsonReport(out, results, errors);
  } else {
    for (const auto& [name, t] : results) out << summaryLine(name, t) << "\n";
  }
  out.flush();
  return steps.interrupted ? 130 : status;
}

int run(const std::vector<std::string>& argList, const BlockRegistry& registry, std::ostream& out,
        std::ostream& err) {
  Args args;
  try {
    args = parseArgs(argList);
  } catch (const Error& e) {
    err << "quantspace-run: " << e.what() << "\n" << kUsage;
    return 2;
  }
  if (args.help) {
    out << kUsage << kHelp;
    return 0;
  }

  LoadedPage loaded;
  try {
    loaded = loadPage(args.page);
  } catch (const std::bad_alloc&) {
    err << "error: " << args.page << ": out of memory reading the page\n";
    return 2;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return 2;
  }
  for (const auto& w : loaded.warnings) err << "warning: " << w << "\n";
  if (!applySets(args, loaded.page, err)) return 2;
  const Page& page = loaded.page;

  Evaluator evaluator(registry);
  if (!args.exportOnnx.empty()) feedPlaceholderStandIns(page, evaluator);
  if (!applyFeeds(args, page, evaluator, err)) return 2;
  if (!checkFetches(args, page, registry, err)) return 2;
  if (int s = prepareSteps(args.steps, args.fetch, page, loaded.dir, evaluator, err)) return s;

  EvalOptions options;
  options.fetch = args.fetch;
  // An export reads the ranges and constants it needs from the intermediate results.
  options.releaseIntermediates = !args.fetch.empty() && args.exportOnnx.empty();
  options.threads = args.threads;
  options.pageDir = loaded.dir;
  // Ctrl-C from here on stops after the current step; the results and the state are still written.
  SigintGuard sigint;
  StepsOutcome steps;
  EvalReport report;
  try {
    steps = runSteps(args.steps, page, evaluator, options, err);
    if (steps.status) return steps.status;
    // The results come from one more evaluation that applies nothing, unless a step failed.
    report = steps.failed ? std::move(steps.report) : evaluator.evaluate(page, options);
  } catch (const Error& e) {
    err << "error: " << e.what() << "\n";
    return 1;
  }
  if (!args.exportOnnx.empty() && report.failed.empty() && !steps.interrupted)
    if (int s = writeOnnxExport(args.exportOnnx, page, evaluator, args.fetch, err)) return s;
  return reportRun(args, page, registry, evaluator, report, steps, out, err);
}

}  // namespace

int runCli(const std::vector<std::string>& argList, const BlockRegistry& registry,
           std::ostream& out, std::ostream& err) {
  // "Never a crash, whatever the input": whatever slipped past the specific handlers is still a
  // message and an exit status, not an abort.
  try {
    return run(argList, registry, out, err);
  } catch (const std::bad_alloc&) {
    err << "error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    err << "error: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace qs
