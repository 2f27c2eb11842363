#pragma once
// The runner's part for pages that learn: --steps, --log, --save-state, --load-state, the progress
// line and Ctrl-C between steps (docs/formats.md, "Steps, logs and state files").

#include <signal.h>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "runtime/Evaluator.h"
#include "runtime/StateFile.h"

namespace qs {

struct StepArgs {
  int64_t steps = 1;
  std::string log;  // CSV file, "" for none
  int64_t logEvery = 1;
  std::string saveState;          // .npz written after the steps
  std::string loadState;          // .npz read before the first step
  bool loadStatePartial = false;  // what loadState lacks starts from its initial value
};

// A whole number of at least `least` for `flag`; throws qs::Error naming the flag and the text.
int64_t parseStepCount(const std::string& flag, const std::string& text, int64_t least = 1);

// Checks what can be checked before any step and loads --load-state. Returns 0, or the exit
// status after the message (2: a bad state file, a log that cannot hold a fetched result, a path
// that cannot be written; 1: a stateful block in error).
int prepareSteps(const StepArgs& args, const std::vector<std::string>& fetch, const Page& page,
                 const std::filesystem::path& pageDir, Evaluator& evaluator, std::ostream& err);

struct StepsOutcome {
  int64_t done = 0;          // steps applied in this run
  bool interrupted = false;  // Ctrl-C: stopped after `done` steps
  bool failed = false;       // a block failed in step done + 1; `report` is that step's
  int status = 0;            // 2 when the log could not be written (after the message)
  EvalReport report;
};

// Runs the steps. `options` is the plain evaluation's; each step sets `step`. Between steps it
// watches for Ctrl-C (SigintGuard) and shows the progress line on a terminal.
StepsOutcome runSteps(const StepArgs& args, const Page& page, Evaluator& evaluator,
                      EvalOptions options, std::ostream& err);

// Writes --save-state: each held value as "<name>.npy", "__step__.npy", and the page (its JSON)
// the state belongs to. False after the message.
bool saveStateFile(const std::filesystem::path& path, const Evaluator& evaluator,
                   const std::string& pageJson, std::ostream& err);

// While alive, the first SIGINT (Ctrl-C) only sets interrupted(); the handler then resets itself,
// so that a second Ctrl-C ends the process as usual. Does nothing where SIGINT is ignored (a job
// started in the background).
class SigintGuard {
 public:
  SigintGuard();
  ~SigintGuard();
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
  static bool interrupted();

 private:
  bool installed_ = false;
  struct sigaction old_ {};
};

}  // namespace qs
