#include "apps/runner/RunnerSteps.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/Npy.h"
#include "runtime/StateFile.h"

namespace qs {

namespace {

// Set by the SIGINT handler: lock-free, so safe to store from a signal handler.
std::atomic<bool> gInterrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void onSigint(int) {
  gInterrupted.store(true);
}

}  // namespace

SigintGuard::SigintGuard() {
  gInterrupted.store(false);
  if (sigaction(SIGINT, nullptr, &old_) != 0 || old_.sa_handler == SIG_IGN) return;
  struct sigaction sa {};
  sa.sa_handler = onSigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  installed_ = sigaction(SIGINT, &sa, nullptr) == 0;
}

SigintGuard::~SigintGuard() {
  if (installed_) sigaction(SIGINT, &old_, nullptr);
}

bool SigintGuard::interrupted() {
  return gInterrupted.load();
}

int64_t parseStepCount(const std::string& flag, const std::string& text, int64_t least) {
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < least)
    throw Error(flag + " takes a whole number of at least " + std::to_string(least) + ", not '" +
                text + "'");
  return n;
}

namespace {

// Every fetched result must be one number to be a column of the log. Shapes come from a check of
// the page; a block in error is left to fail in the first step.
bool checkLoggable(const std::vector<std::string>& fetch, const Page& page, Evaluator& evaluator,
                   const std::filesystem::path& pageDir, std::ostream& err) {
  evaluator.check(page, pageDir);
  for (const std::string& name : fetch) {
    const std::optional<ResultRef> ref = parseResultName(name);
    const BlockState* st = ref ? evaluator.state(ref->block) : nullptr;
    if (!st || st->status == BlockStatus::Error) continue;
    auto it = st->outputShapes.find(ref->port);
    if (it == st->outputShapes.end()) continue;
    int64_t count = 1;
    for (int64_t d : it->second) count *= d;
    if (count != 1) {
      err << "error: --log: " << name << " has shape " << shapeToString(it->second)
          << "; a logged result must be a scalar or hold one element (fetch a Sum or Mean of "
             "it instead)\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int prepareSteps(const StepArgs& args, const std::vector<std::string>& fetch, const Page& page,
                 const std::filesystem::path& pageDir, Evaluator& evaluator, std::ostream& err) {
  if (!args.saveState.empty()) {
    const std::filesystem::path dir =
        std::filesystem::absolute(std::filesystem::path(args.saveState)).parent_path();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      err << "error: --save-state " << args.saveState << ": the folder " << dir.string()
          << " does not exist\n";
      return 2;
    }
  }
  if (!args.log.empty() && !checkLoggable(fetch, page, evaluator, pageDir, err)) return 2;
  if (args.loadState.empty()) return 0;
  try {
    evaluator.stateLayout(page, pageDir);
  } catch (const Error& e) {
    // A stateful block in error: its shape, and so the state's, is unknown.
    err << e.what() << "\n";
    return 1;
  }
  // Notes on the members read come before the error that stopped the loading, as they were found.
  std::vector<std::string> notes;
  std::string problem;
  try {
    loadStateFile(args.loadState, page, evaluator, pageDir, &notes, args.loadStatePartial);
  } catch (const std::bad_alloc&) {
    problem = args.loadState + ": out of memory";
  } catch (const Error& e) {
    problem = e.what();
  }
  for (const std::string& n : notes) err << "note: " << n << "\n";
  if (problem.empty()) return 0;
  err << "error: --load-state " << problem << "\n";
  return 2;
}

bool saveStateFile(const std::filesystem::path& path, const Evaluator& evaluator,
                   const std::string& pageJson, std::ostream& err) {
  try {
    writeStateFile(path, evaluator, pageJson);
  } catch (const Error& e) {
    err << "error: --save-state: " << e.what() << "\n";
    return false;
  }
  return true;
}

namespace {

// The progress line on a terminal: "step 120/1000  850 steps/s  1s left", redrawn in place at
// most ten times a second, and cleared at the end.
class Progress {
 public:
  Progress(std::ostream& err, int64_t total)
      : err_(err),
        total_(total),
        enabled_(err.rdbuf() == std::cerr.rdbuf() && ::isatty(STDERR_FILENO)),
        start_(Clock::now()),
        last_(start_) {}
  ~Progress() { clear(); }

  void update(int64_t done) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = done / seconds;
    err_ << "\r\x1b[Kstep " << std::to_string(done) << "/" << std::to_string(total_) << "  "
         << fixed1(rate) << " steps/s  " << duration(rate > 0 ? (total_ - done) / rate : 0)
         << " left" << std::flush;
    shown_ = true;
  }
  void clear() {
    if (shown_) err_ << "\r\x1b[K" << std::flush;
    shown_ = false;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static std::string fixed1(double v) {
    char buf[32];
    const auto end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 1).ptr;
    return std::string(buf, end);
  }
  static std::string duration(double seconds) {
    const int64_t s = static_cast<int64_t>(seconds + 0.5);
    auto two = [](int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return std::to_string(s / 60) + "m" + two(s % 60) + "s";
    return std::to_string(s / 3600) + "h" + two(s / 60 % 60) + "m";
  }
  std::ostream& err_;
  int64_t total_;
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_, last_;
};

// A problem with the log file, told apart from the evaluator's errors.
class LogError : public Error {
 public:
  using Error::Error;
};

// --log: "step,<names>", then a row per K-th step and one for the last step taken.
class StepLog {
 public:
  StepLog(const std::string& path, const std::vector<std::string>& names, int64_t every)
      : path_(path), names_(names), every_(every) {
    if (path.empty()) return;
    out_.open(path, std::ios::binary | std::ios::trunc);
    if (!out_) throw LogError(path + ": cannot be written: " + std::strerror(errno));
    out_ << "step";
    for (const std::string& n : names_) out_ << "," << n;
    out_ << "\n";
  }

  // Step `step` computed (not yet written unless it is the K-th): its fetched values. Only the
  // numbers are kept; they are formatted when the row is written.
  void record(int64_t step, const Evaluator& evaluator) {
    if (path_.empty()) return;
    pendingStep_ = step;
    pending_.clear();
    for (const std::string& n : names_) {
      const std::optional<Tensor> t = evaluator.result(n);
      if (!t || t->size() != 1)
        throw LogError(n + (t ? " has shape " + shapeToString(t->shape()) : " was not computed") +
                       "; a logged result must be a scalar or hold one element");
      pending_.push_back(t->data()[0]);
    }
    if (step % every_ == 0) flushPending();
    // Flushed ten times a second, so that the log can be followed while the steps run.
    const auto now = std::chrono::steady_clock::now();
    if (now - lastFlush_ >= std::chrono::milliseconds(100)) {
      out_.flush();
      lastFlush_ = now;
    }
  }
  // Writes the last step's row if it was not a K-th one; throws if the file could not be written.
  void finish() {
    if (path_.empty()) return;
    flushPending();
    out_.flush();
    if (!out_) throw LogError(path_ + ": writing failed: " + std::strerror(errno));
  }

 private:
  void flushPending() {
    if (pendingStep_ < 0) return;
    std::string row = std::to_string(pendingStep_);
    for (float v : pending_) row += "," + formatFloat(v);
    out_ << row << "\n";
    pendingStep_ = -1;
  }
  std::string path_;
  std::vector<std::string> names_;
  int64_t every_;
  std::ofstream out_;
  int64_t pendingStep_ = -1;  // the step whose row is not written yet, -1 for none
  std::vector<float> pending_;
  std::chrono::steady_clock::time_point lastFlush_ = std::chrono::steady_clock::now();
};

}  // namespace

StepsOutcome runSteps(const StepArgs& args, const Page& page, Evaluator& evaluator,
                      EvalOptions options, std::ostream& err) {
  StepsOutcome outcome;
  std::optional<StepLog> log;
  try {
    log.emplace(args.log, options.fetch, args.logEvery);
  } catch (const LogError& e) {
    err << "error: --log " << e.what() << "\n";
    outcome.status = 2;
    return outcome;
  }
  options.step = true;
  const int64_t first = evaluator.stepCount();
  Progress progress(err, args.steps);
  try {
    while (outcome.done < args.steps && !SigintGuard::interrupted()) {
      EvalReport report = evaluator.evaluate(page, options);
      if (!report.failed.empty()) {
        outcome.failed = true;
        outcome.report = std::move(report);
        break;
      }
      ++outcome.done;
      log->record(first + outcome.done, evaluator);
      progress.update(outcome.done);
    }
    progress.clear();
    log->finish();
  } catch (const LogError& e) {
    progress.clear();
    err << "error: --log " << e.what() << "\n";
    outcome.status = 2;
  }
  outcome.interrupted = SigintGuard::interrupted() && outcome.done < args.steps;
  return outcome;
}

}  // namespace qs
