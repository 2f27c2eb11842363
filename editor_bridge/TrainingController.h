#pragma once

#include <QObject>
#include <QPointer>
#include <QStringList>
#include <QVector>
#include <filesystem>
#include <functional>
#include <memory>

#include "editor_bridge/EvalService.h"

class QAction;
class QLabel;
class QMenu;
class QSpinBox;
class QToolBar;
class QWidget;

namespace qs::editor {

class PageModel;

// The scalar results of the steps taken since the previous report, one row per step.
struct StepSamples {
  QStringList names;      // the watched results ("B.result_P"): the columns
  QVector<qint64> steps;  // each row's step number (the first step after a reset is 1)
  // values[row][column]: as computed in that step, before its updates (the runner's --log);
  // NaN where the result was not computed or does not hold exactly one number.
  QVector<QVector<double>> values;
  // tensors[row][column]: the whole result (per-channel ranges too); empty where not computed.
  QVector<QVector<Tensor>> tensors;
};

// Drives the steps of a page that learns (one with Variables or optimizer slots): Step, Train
// (N steps or until paused), Pause, Reset, and the state files. Steps run on the evaluation
// worker in slices of about 50 ms, so that checks asked for by edits take their turn between
// them; each step evaluates the page as it stands then, so an edit applies from the next step.
// The held values live in the worker's Evaluator, not in the page: undo never touches them.
// While a run goes on, results are reported to the UI thread at most ten times a second, and a
// report is never posted while the previous one waits, so a slow window cannot fall behind.
class TrainingController : public QObject {
  Q_OBJECT
 public:
  TrainingController(const BlockRegistry& registry, EvalService* eval, PageModel* model,
                     QWidget* window);
  ~TrainingController() override;

  // Step (F10), Train (F6), Pause (F7), Reset (Ctrl+Shift+F5) and the step-count box.
  void addRunActions(QMenu* runMenu, QToolBar* toolbar);
  // File > Save State... and Load State...
  void addStateActions(QMenu* fileMenu);
  // Says on `undo` (its tooltip, and a status note when it is used after steps) that undo
  // changes the page only.
  void explainUndo(QAction* undo);
  QLabel* statusLabel() const { return status_; }

  void step();
  // `steps` steps; 0: until paused.
  void train(qint64 steps);
  // Stops after the step under way.
  void pause();
  // Every Variable and optimizer slot back to its initial value, read at the next step.
  void resetState();
  // The runner's state files (--save-state, --load-state). They wait for the worker.
  bool saveState(const QString& path, QString* error = nullptr);
  bool loadState(const QString& path, QString* error = nullptr);
  // Another page replaces this one: stops and drops the state without asking.
  void forgetState();
  // Offers to save a state that changed since it was last saved or loaded. False: the user
  // cancelled. QS_STATE_PROMPT=discard answers Discard without asking (scripts).
  bool maybeSaveState();
  void setSaveStatePrompt(std::function<int()> prompt) { prompt_ = std::move(prompt); }

  // The results reported with each step in stepsDone (scalars such as a loss).
  void setWatched(const QStringList& results);
  const QStringList& watched() const { return watched_; }

  bool running() const { return run_ != nullptr; }
  bool pageLearns() const { return learns_; }
  qint64 stepCount() const { return steps_; }
  double stepsPerSecond() const { return rate_; }
  bool stateModified() const { return modified_; }
  // Waits (processing events) until no run or state job is pending (tests, scripts).
  bool waitIdle(int timeoutMs);

  QAction* stepAction() const { return stepA_; }
  QAction* trainAction() const { return trainA_; }
  QAction* pauseAction() const { return pauseA_; }
  QAction* resetAction() const { return resetA_; }
  QSpinBox* stepsBox() const { return stepsBox_; }

 signals:
  // Steps were taken: `step` is the count now; `samples` holds every step since the previous
  // report, with the watched results. At most ten a second while a run goes on, and one when it
  // ends.
  void stepsDone(qint64 step, const qs::editor::StepSamples& samples);
  // New results of every block, for the canvas and the viewer (same throttle).
  void resultsReady(std::shared_ptr<const qs::editor::ResultMap> results);
  void runningChanged(bool running);
  // After Reset (or a new page): the step count is 0, plots should start over.
  void stateReset();
  // After Load State: the count is the file's.
  void stateLoaded(qint64 step);
  // A note for the status bar.
  void message(const QString& text);

 private:
  struct Run;
  struct JobOutcome;
  void onContentChanged();
  void updateActions();
  void updateStatus();
  void takeReport(const std::shared_ptr<Run>& run);
  bool runJob(std::function<void(Evaluator&, JobOutcome&)> job, JobOutcome* outcome, int timeoutMs);
  static void slice(Evaluator& ev, EvalService* eval, const std::shared_ptr<Run>& run);
  static void report(Evaluator& ev, const std::shared_ptr<Run>& run, bool last);

  const BlockRegistry& registry_;
  EvalService* eval_;
  PageModel* model_;
  QWidget* window_;
  QLabel* status_;
  QAction* stepA_ = nullptr;
  QAction* trainA_ = nullptr;
  QAction* pauseA_ = nullptr;
  QAction* resetA_ = nullptr;
  QAction* saveStateA_ = nullptr;
  QAction* loadStateA_ = nullptr;
  QSpinBox* stepsBox_ = nullptr;
  std::function<int()> prompt_;

  std::shared_ptr<Run> run_;  // the run under way
  QStringList watched_;
  bool learns_ = false;
  qint64 steps_ = 0;
  double rate_ = 0;
  bool modified_ = false;  // steps taken since the state was last saved or loaded
  int jobs_ = 0;           // state jobs posted and not yet answered
};

}  // namespace qs::editor
