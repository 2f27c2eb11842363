#pragma once

#include <QObject>
#include <QThread>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

#include "runtime/Evaluator.h"

namespace qs::editor {

// What the UI keeps of one block after a check or a run. Tensors share storage with the
// evaluator's cache, so copying a result is cheap.
struct BlockResult {
  BlockStatus status = BlockStatus::Stale;
  std::string error;
  std::map<std::string, Tensor> outputs;
  std::map<std::string, Shape> outputShapes;
  double milliseconds = 0;
  std::map<std::string, DType> outputDTypes;  // the outputs that are not float32
};
using ResultMap = std::unordered_map<BlockId, BlockResult>;

// What the UI keeps of every block of `page` that `evaluator` has a state for.
std::shared_ptr<ResultMap> collectResults(const Evaluator& evaluator, const Page& page);

// Evaluates snapshots of the page on a worker thread that owns the one Evaluator, so the window
// never waits for a kernel. Requests are queued to the worker; a request superseded by a newer
// one is skipped, and a run in progress is cancelled when a newer check or run is asked for (the
// kernels stop within milliseconds), so a new request never waits for a stale run to end.
// Everything the worker reports arrives through queued calls on the UI thread.
class EvalService : public QObject {
  Q_OBJECT
 public:
  explicit EvalService(const BlockRegistry& registry, QObject* parent = nullptr);
  ~EvalService() override;

  // Shape-only validation, for error badges before anything runs. The page has changed, so a run
  // in progress is cancelled (the caller asks for a new one).
  void check(const Page& page, const std::filesystem::path& dir);
  // Evaluates the page (only what is stale runs).
  void run(const Page& page, const std::filesystem::path& dir);
  void cancel();
  bool running() const { return running_; }
  // Waits (processing events) until the worker is idle; for tests and --screenshot.
  bool waitIdle(int timeoutMs);

  // Runs `job` on the worker with its Evaluator, after what was posted before it. Callable from
  // any thread while the service lives, so that a job can post its own continuation (a training
  // run goes in slices, letting checks and runs asked for meanwhile take their turn).
  void post(std::function<void(Evaluator&)> job);
  // What the UI keeps of each block of `page` after a run (call on the worker).
  static std::shared_ptr<ResultMap> collectResults(const Evaluator& evaluator, const Page& page);

 signals:
  void checked(std::shared_ptr<const qs::editor::ResultMap> results);
  void blockStarted(const qs::BlockId& id);
  void blockFinished(const qs::BlockId& id, const qs::editor::BlockResult& result);
  void finished(std::shared_ptr<const qs::editor::ResultMap> results, bool cancelled);
  void runningChanged(bool running);

 private:
  void setRunning(bool running);

  QThread thread_;
  QObject* worker_ = nullptr;             // lives on thread_
  std::unique_ptr<Evaluator> evaluator_;  // used only on thread_
  std::atomic<bool> closing_{false};  // set by the destructor: posted jobs no longer run
  std::atomic<uint64_t> latestCheck_{0};
  std::atomic<uint64_t> latestRun_{0};
  std::shared_ptr<std::atomic<bool>> currentCancel_;
  int pending_ = 0;  // requests posted and not yet answered
  bool running_ = false;
};

}  // namespace qs::editor
