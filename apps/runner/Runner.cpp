#include "apps/runner/Runner.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <new>
#include <ostream>
#include <set>

#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/PageJson.h"
#include "runtime/ResultNames.h"
#include "runtime/TensorStats.h"

namespace qs {

namespace {

const char* kUsage =
    "usage: quantspace-run PAGE [--json] [--save-npy DIR] [--fetch B.result_P]... "
    "[--feed B=FILE.npy]... [--threads N]\n";

struct Args {
  std::string page;
  bool json = false;
  std::string saveNpy;
  std::vector<std::string> fetch;
  std::vector<std::pair<std::string, std::string>> feeds;
  int threads = 0;
  bool help = false;
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
    if (s == "--help" || s == "-h") {
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
    } else if (is("--threads")) {
      const std::string v = value("--threads");
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), a.threads);
      if (ec != std::errc() || end != v.data() + v.size() || a.threads < 1 || a.threads > 1024)
        throw Error("--threads takes a whole number from 1 to 1024, not '" + v + "'");
    } else if (!s.empty() && s[0] == '-') {
      throw Error("unknown option '" + s + "'");
    } else if (a.page.empty()) {
      a.page = s;
    } else {
      throw Error("only one PAGE may be given (got '" + a.page + "' and '" + s + "')");
    }
  }
  if (!a.help && a.page.empty()) throw Error("no PAGE given");
  return a;
}

std::string summaryLine(const std::string& name, const Tensor& t) {
  std::string line = name + "  " + shapeToString(t.shape()) + "  [";
  const int64_t shown = std::min<int64_t>(t.size(), 8);
  for (int64_t i = 0; i < shown; ++i) line += (i ? ", " : "") + formatFloat(t.data()[i]);
  if (t.size() > shown) line += ", ...";
  line += "]";
  const TensorStats s = computeStats(t);
  if (s.finite) {
    // printf's "%.6g" without the C locale's decimal separator.
    char mean[32];
    const auto end =
        std::to_chars(mean, mean + sizeof mean, s.mean, std::chars_format::general, 6).ptr;
    line += "  min " + formatFloat(float(s.min)) + "  max " + formatFloat(float(s.max)) +
            "  mean " + std::string(mean, end);
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
  out << "], \"dtype\": \"float32\", \"values\": [";
  std::string chunk;
  for (int64_t i = 0; i < t.size(); ++i) {
    if (i) chunk += ", ";
    const float v = t.data()[i];
    if (std::isfinite(v))
      chunk += formatFloat(v);
    else {
      chunk += '"';
      chunk += formatFloat(v);
      chunk += '"';
    }
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

// Writes each result to DIR/NAME.npy; false if any could not be written (after its message).
bool saveNpyFiles(const std::string& dir,
                  const std::vector<std::pair<std::string, Tensor>>& results, std::ostream& err) {
  bool ok = true;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
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
    out << kUsage;
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
  const Page& page = loaded.page;

  Evaluator evaluator(registry);
  if (!applyFeeds(args, page, evaluator, err)) return 2;
  if (!checkFetches(args, page, registry, err)) return 2;

  EvalOptions options;
  options.fetch = args.fetch;
  options.releaseIntermediates = !args.fetch.empty();
  options.threads = args.threads;
  options.pageDir = loaded.dir;
  EvalReport report;
  try {
    report = evaluator.evaluate(page, options);
  } catch (const Error& e) {
    err << "error: " << e.what() << "\n";
    return 1;
  }

  const auto results = collectResults(args, page, registry, evaluator);

  std::vector<std::pair<std::string, std::string>> errors;  // block id, message
  for (const BlockId& id : report.failed) {
    const BlockState* st = evaluator.state(id);
    errors.emplace_back(id.str(), st ? st->error : "failed");
    err << errorLine(id, page.find(id)->type, st ? st->error : "failed") << "\n";
  }
  int status = errors.empty() ? 0 : 1;

  if (!args.saveNpy.empty() && !saveNpyFiles(args.saveNpy, results, err)) status = 1;

  if (args.json) {
    writeJsonReport(out, results, errors);
  } else {
    for (const auto& [name, t] : results) out << summaryLine(name, t) << "\n";
  }
  out.flush();
  return status;
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
