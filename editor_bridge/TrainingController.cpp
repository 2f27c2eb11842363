#include "editor_bridge/TrainingController.h"

#include <QAction>
#include <QApplication>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QLocale>
#include <QMenu>
#include <QMessageBox>
#include <QSpinBox>
#include <QThread>
#include <QToolBar>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <mutex>

#include "editor_bridge/PageModel.h"
#include "runtime/Error.h"
#include "runtime/PageJson.h"
#include "runtime/ResultNames.h"
#include "runtime/StateFile.h"

namespace qs::editor {

namespace {
using Clock = std::chrono::steady_clock;
// A slice of steps on the worker: long enough that re-posting costs nothing, short enough that
// a check asked for by an edit shows its badges at once.
constexpr auto kSlice = std::chrono::milliseconds(50);
// At most ten reports a second reach the window, fewer when showing them costs the window more
// than kUiShare of a core (a large result in the viewer), so that training keeps its pace.
constexpr auto kReportEvery = std::chrono::milliseconds(100);
constexpr auto kReportEveryMost = std::chrono::milliseconds(1000);
constexpr double kUiShare = 0.05;

// CPU seconds of the calling thread: all the window's work, painting included.
double threadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// The first block in error of a failed step, as the runner names it.
std::string failureText(const Evaluator& ev, const Page& page, const EvalReport& report) {
  for (const BlockId& id : report.failed) {
    const BlockState* st = ev.state(id);
    const Block* b = page.find(id);
    if (st && b && !st->error.empty()) return errorLine(id, b->type, st->error);
  }
  return "a block is in error";
}
}  // namespace

// One Train or Step: what the worker and the window share about it.
struct TrainingController::Run {
  QPointer<TrainingController> owner;  // read on the UI thread only
  int64_t target = 0;                  // steps wanted; 0: until stopped
  std::atomic<bool> stop{false};
  std::atomic<bool> abandoned{false};  // the page was replaced: report nothing more
  std::atomic<int64_t> reportEveryMs{kReportEvery.count()};
  double uiCpuAtReport = -1;  // the window's CPU time when it took the last report (UI thread)
  std::filesystem::path dir;
  std::vector<std::string> watched;
  QStringList names;

  // The worker's own.
  Clock::time_point start, lastReport;
  int64_t done = 0;
  StepSamples batch;

  std::mutex mutex;  // guards the rest
  std::shared_ptr<const Page> page;
  StepSamples pending;
  std::shared_ptr<const ResultMap> results;
  int64_t stepCount = 0;
  double rate = 0;
  bool posted = false;  // a report waits on the UI thread
  bool ended = false;
  std::string failure;
};

struct TrainingController::JobOutcome {
  std::shared_ptr<const ResultMap> results;
  int64_t steps = 0;
  std::string error;
  std::vector<std::string> notes;
};

TrainingController::TrainingController(const BlockRegistry& registry, EvalService* eval,
                                       PageModel* model, QWidget* window)
    : QObject(window), registry_(registry), eval_(eval), model_(model), window_(window) {
  status_ = new QLabel(window);
  status_->setObjectName("trainingStatus");
  connect(model_, &PageModel::contentChanged, this, &TrainingController::onContentChanged);
}

TrainingController::~TrainingController() {
  if (run_) {
    run_->abandoned.store(true);
    run_->stop.store(true);
  }
}

// ---- Actions ------------------------------------------------------------------------------------

void TrainingController::addRunActions(QMenu* runMenu, QToolBar* toolbar) {
  auto make = [this, runMenu](const char* name, const QString& text, QKeySequence key,
                              const QString& tip, auto slot) {
    auto* a = new QAction(text, this);
    a->setObjectName(name);
    a->setShortcut(key);
    a->setToolTip(tip + " (" + key.toString(QKeySequence::NativeText) + ")");
    connect(a, &QAction::triggered, this, slot);
    runMenu->addAction(a);
    return a;
  };
  runMenu->addSeparator();
  stepA_ = make("actionStep", tr("&Step"), QKeySequence(Qt::Key_F10), tr("Take one training step"),
                [this] { step(); });
  trainA_ = make("actionTrain", tr("&Train"), QKeySequence(Qt::Key_F6),
                 tr("Take the number of steps in the box, or train until paused when it is 0"),
                 [this] { train(stepsBox_->value()); });
  pauseA_ = make("actionPause", tr("&Pause"), QKeySequence(Qt::Key_F7),
                 tr("Stop training after the step under way"), [this] { pause(); });
  resetA_ =
      make("actionResetState", tr("Rese&t State"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_F5),
           tr("Return every Variable and optimizer slot to its initial value"),
           [this] { resetState(); });
  stepsBox_ = new QSpinBox(window_);
  stepsBox_->setObjectName("trainStepsBox");
  stepsBox_->setRange(0, std::numeric_limits<int>::max());
  stepsBox_->setSingleStep(100);
  stepsBox_->setValue(0);
  stepsBox_->setSpecialValueText(tr("until paused"));
  stepsBox_->setSuffix(tr(" steps"));
  stepsBox_->setToolTip(tr("Steps that Train takes (0: until paused)"));
  toolbar->addSeparator();
  for (QAction* a : {stepA_, trainA_}) toolbar->addAction(a);
  toolbar->addWidget(stepsBox_);
  for (QAction* a : {pauseA_, resetA_}) toolbar->addAction(a);
  updateActions();
}

void TrainingController::addStateActions(QMenu* fileMenu) {
  const QString filter = tr("State files (*.npz)");
  saveStateA_ = fileMenu->addAction(tr("Save S&tate..."), this, [this, filter] {
    const QString path = QFileDialog::getSaveFileName(window_, tr("Save state"), {}, filter);
    QString error;
    if (!path.isEmpty() && !saveState(path, &error))
      QMessageBox::warning(window_, tr("Save state"), error);
  });
  saveStateA_->setObjectName("actionSaveState");
  loadStateA_ = fileMenu->addAction(tr("&Load State..."), this, [this, filter] {
    const QString path = QFileDialog::getOpenFileName(window_, tr("Load state"), {}, filter);
    QString error;
    if (!path.isEmpty() && !loadState(path, &error))
      QMessageBox::warning(window_, tr("Load state"), error);
  });
  loadStateA_->setObjectName("actionLoadState");
  updateActions();
}

void TrainingController::explainUndo(QAction* undo) {
  undo->setToolTip(
      tr("Undo the last edit of the page. Training is not undone: the Variables "
         "keep their trained values until Reset State (Ctrl+Shift+F5)."));
  connect(undo, &QAction::triggered, this, [this] {
    if (steps_ > 0)
      emit message(tr("Undo changed the page only: the trained values of step %1 stay (Reset "
                      "State starts over)")
                       .arg(steps_));
  });
}

void TrainingController::updateActions() {
  const bool idle = !run_;
  if (stepA_) {
    stepA_->setEnabled(learns_ && idle);
    trainA_->setEnabled(learns_ && idle);
    pauseA_->setEnabled(!idle);
    resetA_->setEnabled(learns_);
  }
  if (saveStateA_) {
    saveStateA_->setEnabled(learns_);
    loadStateA_->setEnabled(learns_);
  }
}

void TrainingController::updateStatus() {
  if (!learns_ && steps_ == 0) {
    status_->clear();
    return;
  }
  const QString rate = QLocale::c().toString(rate_, 'f', rate_ < 10 ? 1 : 0);
  if (run_)
    status_->setText(tr("Training: step %1, %2 steps/s").arg(steps_).arg(rate));
  else if (steps_ > 0 && rate_ > 0)
    status_->setText(tr("Step %1 (%2 steps/s)").arg(steps_).arg(rate));
  else
    status_->setText(tr("Step %1").arg(steps_));
}

void TrainingController::onContentChanged() {
  const bool learns = pageHasState(model_->page(), registry_);
  if (learns != learns_) {
    learns_ = learns;
    updateActions();
    updateStatus();
  }
  if (!run_) return;
  if (!learns) {
    pause();
    return;
  }
  // Taken by the next step.
  auto page = std::make_shared<const Page>(model_->page());
  std::lock_guard lock(run_->mutex);
  run_->page = std::move(page);
  run_->dir = model_->pageDir();
}

void TrainingController::setWatched(const QStringList& results) {
  watched_ = results;
}

// ---- Steps --------------------------------------------------------------------------------------

void TrainingController::step() {
  train(1);
}

void TrainingController::train(qint64 steps) {
  if (run_ || !learns_ || steps < 0) return;
  auto run = std::make_shared<Run>();
  run->owner = this;
  run->target = steps;
  run->page = std::make_shared<const Page>(model_->page());
  run->dir = model_->pageDir();
  run->names = watched_;
  for (const QString& n : watched_) run->watched.push_back(n.toStdString());
  run->batch.names = watched_;
  run->pending.names = watched_;
  run_ = run;
  rate_ = 0;
  emit runningChanged(true);
  updateActions();
  updateStatus();
  EvalService* eval = eval_;
  eval_->post([eval, run](Evaluator& ev) {
    run->start = run->lastReport = Clock::now();
    slice(ev, eval, run);
  });
}

void TrainingController::pause() {
  if (run_) run_->stop.store(true);
}

// On the worker: steps until the slice is over, the run's target is reached, it is paused or a
// step fails; then either the next slice is posted or the run ends with a plain evaluation, so
// that the results shown are those of the page after the last update (as the runner prints).
void TrainingController::slice(Evaluator& ev, EvalService* eval, const std::shared_ptr<Run>& run) {
  if (run->abandoned.load()) return;
  const Clock::time_point sliceEnd = Clock::now() + kSlice;
  EvalOptions options;
  options.step = true;
  options.pageDir = run->dir;
  std::shared_ptr<const Page> page;
  std::string failure;
  bool over = false;
  for (;;) {
    // Read before the checks: a slice that ends the run at once (paused, or the previous slice's
    // last step reached the target) still evaluates the page for its final results.
    {
      std::lock_guard lock(run->mutex);
      page = run->page;
      options.pageDir = run->dir;
    }
    if (run->stop.load() || (run->target > 0 && run->done >= run->target)) {
      over = true;
      break;
    }
    const EvalReport stepped = ev.evaluate(*page, options);
    if (!stepped.failed.empty()) {
      failure = failureText(ev, *page, stepped);
      over = true;
      break;
    }
    ++run->done;
    run->batch.steps.push_back(ev.stepCount());
    QVector<double> row;
    QVector<Tensor> tensorRow;
    row.reserve(static_cast<int>(run->watched.size()));
    tensorRow.reserve(static_cast<int>(run->watched.size()));
    for (const std::string& name : run->watched) {
      std::optional<Tensor> t;
      try {
        t = ev.result(name);
      } catch (const Error&) {
      }
      row.push_back(t && t->size() == 1
                        ? static_cast<double>(castTensor(*t, DType::Float32).as<float>()[0])
                        : std::numeric_limits<double>::quiet_NaN());
      tensorRow.push_back(t ? std::move(*t) : Tensor());
    }
    run->batch.values.push_back(std::move(row));
    run->batch.tensors.push_back(std::move(tensorRow));
    const Clock::time_point now = Clock::now();
    if (now - run->lastReport >= std::chrono::milliseconds(run->reportEveryMs.load()))
      report(ev, run, false);
    if (now >= sliceEnd) break;
  }
  if (!over) {
    eval->post([eval, run](Evaluator& e) { slice(e, eval, run); });
    return;
  }
  if (run->abandoned.load()) return;
  if (failure.empty()) {
    EvalOptions plain;
    plain.pageDir = options.pageDir;
    ev.evaluate(*page, plain);
  } else {
    std::lock_guard lock(run->mutex);
    run->failure = failure;
  }
  report(ev, run, true);
}

// On the worker: hands the steps since the last report and the current results to the window.
// Posts only when no report is waiting there; a waiting one takes what is added meanwhile.
void TrainingController::report(Evaluator& ev, const std::shared_ptr<Run>& run, bool last) {
  std::shared_ptr<const Page> page;
  {
    std::lock_guard lock(run->mutex);
    page = run->page;
  }
  std::shared_ptr<const ResultMap> results = EvalService::collectResults(ev, *page);
  const Clock::time_point now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - run->start).count();
  bool post = false;
  {
    std::lock_guard lock(run->mutex);
    run->pending.steps += run->batch.steps;
    run->pending.values += run->batch.values;
    run->pending.tensors += run->batch.tensors;
    run->results = std::move(results);
    run->stepCount = ev.stepCount();
    run->rate = seconds > 0 ? run->done / seconds : 0;
    run->ended = run->ended || last;
    post = !run->posted;
    run->posted = true;
  }
  run->batch.steps.clear();
  run->batch.values.clear();
  run->batch.tensors.clear();
  run->lastReport = now;
  if (post)
    QMetaObject::invokeMethod(QCoreApplication::instance(), [run] {
      if (TrainingController* owner = run->owner.data()) owner->takeReport(run);
    });
}

void TrainingController::takeReport(const std::shared_ptr<Run>& run) {
  StepSamples samples;
  std::shared_ptr<const ResultMap> results;
  bool ended;
  std::string failure;
  {
    std::lock_guard lock(run->mutex);
    samples.names = run->names;
    samples.steps.swap(run->pending.steps);
    samples.values.swap(run->pending.values);
    samples.tensors.swap(run->pending.tensors);
    results = std::move(run->results);
    ended = run->ended;
    failure = run->failure;
    run->posted = false;
    if (run == run_) {
      steps_ = run->stepCount;
      rate_ = run->rate;
    }
  }
  if (run != run_) return;  // abandoned for another page
  // What the window spent since the previous report (handling it, painting, anything else) sets
  // the pace of the next ones.
  const double uiCpu = threadCpuSeconds();
  if (run->uiCpuAtReport >= 0) {
    const double seconds = (uiCpu - run->uiCpuAtReport) / kUiShare;
    const auto every = std::clamp<int64_t>(static_cast<int64_t>(seconds * 1000),
                                           kReportEvery.count(), kReportEveryMost.count());
    run->reportEveryMs.store(every);
  }
  run->uiCpuAtReport = uiCpu;
  if (!samples.steps.isEmpty()) modified_ = true;
  if (results) emit resultsReady(results);
  if (!samples.steps.isEmpty()) emit stepsDone(steps_, samples);
  if (ended) {
    run_.reset();
    if (!failure.empty())
      emit message(tr("Step %1 failed, so nothing of it was applied: %2")
                       .arg(steps_ + 1)
                       .arg(QString::fromStdString(failure)));
    emit runningChanged(false);
    updateActions();
  }
  updateStatus();
}

// ---- State --------------------------------------------------------------------------------------

bool TrainingController::runJob(std::function<void(Evaluator&, JobOutcome&)> job,
                                JobOutcome* outcome, int timeoutMs) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto out = std::make_shared<JobOutcome>();
  ++jobs_;
  eval_->post([job = std::move(job), done, out](Evaluator& ev) {
    job(ev, *out);
    done->store(true);
  });
  QElapsedTimer clock;
  clock.start();
  while (!done->load()) {
    if (clock.elapsed() > timeoutMs) {
      --jobs_;
      return false;
    }
    QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    QThread::msleep(1);
  }
  --jobs_;
  *outcome = std::move(*out);
  return true;
}

void TrainingController::resetState() {
  if (!learns_ && steps_ == 0) return;
  pause();
  auto page = std::make_shared<const Page>(model_->page());
  const std::filesystem::path dir = model_->pageDir();
  QPointer<TrainingController> self(this);
  ++jobs_;
  eval_->post([self, page, dir](Evaluator& ev) {
    ev.resetState();
    EvalOptions plain;
    plain.pageDir = dir;
    ev.evaluate(*page, plain);
    std::shared_ptr<const ResultMap> results = EvalService::collectResults(ev, *page);
    QMetaObject::invokeMethod(QCoreApplication::instance(), [self, results] {
      if (!self) return;
      --self->jobs_;
      self->steps_ = 0;
      self->rate_ = 0;
      self->modified_ = false;
      emit self->resultsReady(results);
      emit self->stateReset();
      emit self->message(tr("State reset: every Variable and slot is back at its initial value"));
      self->updateStatus();
    });
  });
}

void TrainingController::forgetState() {
  if (run_) {
    run_->abandoned.store(true);
    run_->stop.store(true);
    run_.reset();
    emit runningChanged(false);
  }
  eval_->post([](Evaluator& ev) { ev.resetState(); });
  steps_ = 0;
  rate_ = 0;
  modified_ = false;
  emit stateReset();
  updateActions();
  updateStatus();
}

bool TrainingController::saveState(const QString& path, QString* error) {
  const std::filesystem::path file = path.toStdString();
  const std::string pageJson = pageToText(model_->page());
  JobOutcome outcome;
  if (!runJob(
          [file, pageJson](Evaluator& ev, JobOutcome& out) {
            try {
              writeStateFile(file, ev, pageJson);
              out.steps = ev.stepCount();
            } catch (const Error& e) {
              out.error = e.what();
            }
          },
          &outcome, 60000))
    outcome.error = "the evaluation worker did not answer";
  if (!outcome.error.empty()) {
    if (error) *error = tr("State not saved: %1").arg(QString::fromStdString(outcome.error));
    return false;
  }
  // Steps reported after the ones saved keep it modified.
  modified_ = steps_ != outcome.steps;
  emit message(tr("Saved the state of step %1 to %2").arg(outcome.steps).arg(path));
  return true;
}

bool TrainingController::loadState(const QString& path, QString* error) {
  pause();
  auto page = std::make_shared<const Page>(model_->page());
  const std::filesystem::path dir = model_->pageDir();
  const std::filesystem::path file = path.toStdString();
  JobOutcome outcome;
  if (!runJob(
          [file, page, dir](Evaluator& ev, JobOutcome& out) {
            try {
              loadStateFile(file, *page, ev, dir, &out.notes);
            } catch (const std::bad_alloc&) {
              out.error = file.string() + ": out of memory";
              return;
            } catch (const Error& e) {
              out.error = e.what();
              return;
            }
            EvalOptions plain;
            plain.pageDir = dir;
            ev.evaluate(*page, plain);
            out.results = EvalService::collectResults(ev, *page);
            out.steps = ev.stepCount();
          },
          &outcome, 60000))
    outcome.error = "the evaluation worker did not answer";
  if (!outcome.error.empty()) {
    if (error) *error = tr("State not loaded: %1").arg(QString::fromStdString(outcome.error));
    return false;
  }
  steps_ = outcome.steps;
  rate_ = 0;
  modified_ = false;
  emit resultsReady(outcome.results);
  emit stateLoaded(steps_);
  QString note = tr("Loaded the state of step %1 from %2").arg(steps_).arg(path);
  for (const std::string& n : outcome.notes) note += "; " + QString::fromStdString(n);
  emit message(note);
  updateStatus();
  return true;
}

bool TrainingController::maybeSaveState() {
  if (!modified_ || steps_ == 0) return true;
  pause();
  int answer;
  if (prompt_) {
    answer = prompt_();
  } else if (qgetenv("QS_STATE_PROMPT") == "discard") {
    answer = QMessageBox::Discard;
  } else {
    answer = QMessageBox::question(
        window_, tr("Unsaved training"),
        tr("The trained state (step %1) has changed since it was last saved. Save it to a state "
           "file?")
            .arg(steps_),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
  }
  if (answer == QMessageBox::Discard) return true;
  if (answer != QMessageBox::Save) return false;
  const QString path =
      QFileDialog::getSaveFileName(window_, tr("Save state"), {}, tr("State files (*.npz)"));
  if (path.isEmpty()) return false;
  QString error;
  if (saveState(path, &error)) return true;
  QMessageBox::warning(window_, tr("Save state"), error);
  return false;
}

bool TrainingController::waitIdle(int timeoutMs) {
  QElapsedTimer clock;
  clock.start();
  while (run_ || jobs_ > 0) {
    if (clock.elapsed() > timeoutMs) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QThread::msleep(1);
  }
  QCoreApplication::processEvents();
  return true;
}

}  // namespace qs::editor
