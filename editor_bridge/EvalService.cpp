#include "editor_bridge/EvalService.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QPointer>

namespace qs::editor {

namespace {
BlockResult resultOf(const BlockState& s) {
  return {s.status, s.error, s.outputs, s.outputShapes, s.milliseconds, s.outputDTypes};
}
}  // namespace

std::shared_ptr<ResultMap> EvalService::collectResults(const Evaluator& ev, const Page& page) {
  auto map = std::make_shared<ResultMap>();
  map->reserve(page.blockCount());
  for (const Block& b : page.blocks())
    if (const BlockState* s = ev.state(b.id)) map->emplace(b.id, resultOf(*s));
  return map;
}

void EvalService::post(std::function<void(Evaluator&)> job) {
  // The worker outlives every job it runs (the destructor waits for it). A job that posts its
  // continuation must not keep it from quitting: once closing, jobs are dropped. Always queued:
  // posted from the worker itself, an automatic connection would call the job at once, so a
  // training run's slices would nest one inside the other until the worker's stack overflowed.
  QMetaObject::invokeMethod(
      worker_,
      [this, job = std::move(job)] {
        if (!closing_.load()) job(*evaluator_);
      },
      Qt::QueuedConnection);
}

EvalService::EvalService(const BlockRegistry& registry, QObject* parent)
    : QObject(parent), evaluator_(std::make_unique<Evaluator>(registry)) {
  thread_.setObjectName("qs-eval");
  worker_ = new QObject;
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  thread_.start();
}

EvalService::~EvalService() {
  closing_.store(true);
  if (currentCancel_) currentCancel_->store(true);
  latestRun_ += 1;
  latestCheck_ += 1;
  thread_.quit();
  thread_.wait();
}

void EvalService::setRunning(bool running) {
  if (running_ == running) return;
  running_ = running;
  emit runningChanged(running);
}

void EvalService::check(const Page& page, const std::filesystem::path& dir) {
  auto snapshot = std::make_shared<Page>(page);
  const uint64_t gen = ++latestCheck_;
  // A check is asked for a changed page: a run in progress computes the old one, and the check
  // would otherwise wait for it on the worker. The caller asks for a new run.
  if (currentCancel_) currentCancel_->store(true);
  QPointer<EvalService> self(this);
  ++pending_;
  QMetaObject::invokeMethod(worker_, [this, self, snapshot, dir, gen] {
    std::shared_ptr<const ResultMap> results;
    if (gen == latestCheck_.load()) {
      evaluator_->check(*snapshot, dir);
      results = collectResults(*evaluator_, *snapshot);
    }
    QMetaObject::invokeMethod(self.data(), [self, results] {
      if (!self) return;
      --self->pending_;
      if (results) emit self->checked(results);
    });
  });
}

void EvalService::run(const Page& page, const std::filesystem::path& dir) {
  auto snapshot = std::make_shared<Page>(page);
  const uint64_t gen = ++latestRun_;
  if (currentCancel_) currentCancel_->store(true);  // the running evaluation is out of date
  auto cancelFlag = std::make_shared<std::atomic<bool>>(false);
  currentCancel_ = cancelFlag;
  QPointer<EvalService> self(this);
  ++pending_;
  setRunning(true);
  QMetaObject::invokeMethod(worker_, [this, self, snapshot, dir, gen, cancelFlag] {
    std::shared_ptr<const ResultMap> results;
    bool cancelled = cancelFlag->load();
    if (gen == latestRun_.load() && !cancelled) {
      EvalOptions options;
      options.cancel = cancelFlag.get();
      options.pageDir = dir;
      options.onBlockStarted = [self](const BlockId& id, const BlockState&) {
        QMetaObject::invokeMethod(self.data(), [self, id] {
          if (self) emit self->blockStarted(id);
        });
      };
      options.onBlockFinished = [self](const BlockId& id, const BlockState& s) {
        BlockResult r = resultOf(s);
        QMetaObject::invokeMethod(self.data(), [self, id, r] {
          if (self) emit self->blockFinished(id, r);
        });
      };
      EvalReport report = evaluator_->evaluate(*snapshot, options);
      cancelled = report.cancelled;
      results = collectResults(*evaluator_, *snapshot);
    }
    QMetaObject::invokeMethod(self.data(), [self, results, cancelled, gen] {
      if (!self) return;
      --self->pending_;
      if (gen == self->latestRun_.load()) self->setRunning(false);
      if (results) emit self->finished(results, cancelled);
    });
  });
}

void EvalService::cancel() {
  if (currentCancel_) currentCancel_->store(true);
}

bool EvalService::waitIdle(int timeoutMs) {
  QElapsedTimer t;
  t.start();
  while (pending_ > 0) {
    if (t.elapsed() > timeoutMs) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QThread::msleep(1);
  }
  QCoreApplication::processEvents();
  return true;
}

}  // namespace qs::editor
