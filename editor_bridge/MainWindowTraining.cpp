// The Training panel's part of the main window: its dock, its View menu entry, the block context
// menu's "Add result to Training panel" and the viewer's "+ Training" button.

#include <QDockWidget>
#include <QMenu>

#include "editor_bridge/CanvasTools.h"
#include "editor_bridge/MainWindow.h"
#include "editor_bridge/PageModel.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/TrainingController.h"
#include "editor_bridge/TrainingPanel.h"
#include "editor_bridge/TrainingSeries.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/ResultNames.h"

namespace qs::editor {

void MainWindow::createTrainingPanel(QMenu* viewMenu) {
  series_ = new TrainingSeries(this);
  trainingPanel_ = new TrainingPanel(series_, this);
  viewer_->setTrainingSeries(series_);
  auto* dock = new QDockWidget(tr("Training"), this);
  dock->setObjectName("trainingDock");
  dock->setWidget(trainingPanel_);
  // Under the canvas only: the side docks keep their full height.
  setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
  setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
  addDockWidget(Qt::BottomDockWidgetArea, dock);
  dock->hide();
  QAction* toggle = dock->toggleViewAction();
  toggle->setObjectName("trainingPanelAction");
  toggle->setText(tr("&Training Panel"));
  viewMenu->addAction(toggle);

  // The steps the training controls take feed the series with what it watches.
  auto updateWatched = [this] {
    QStringList names;
    for (const std::string& n : series_->wantedResults()) names.push_back(QString::fromStdString(n));
    training_->setWatched(names);
  };
  connect(series_, &TrainingSeries::resultsChanged, this, updateWatched);
  connect(training_, &TrainingController::stepsDone, this,
          [this](qint64, const StepSamples& samples) {
            for (qsizetype row = 0; row < samples.steps.size(); ++row) {
              std::map<std::string, Tensor> fetched;
              const QVector<Tensor>& tensors = samples.tensors.value(row);
              for (qsizetype col = 0; col < samples.names.size() && col < tensors.size(); ++col)
                fetched[samples.names[col].toStdString()] = tensors[col];
              series_->appendStep(samples.steps[row], fetched);
            }
          });
  connect(training_, &TrainingController::stateReset, series_, &TrainingSeries::clear);
  connect(training_, &TrainingController::stateLoaded, series_, [this] { series_->clear(); });

  // The learned ranges follow the page's wiring.
  auto updateRanges = [this, updateWatched] {
    auto ranges = learnedRanges(model_->page(), registry_);
    if (ranges == series_->learnedRangeSources()) return;
    series_->setLearnedRanges(std::move(ranges));
    updateWatched();
  };
  connect(model_, &PageModel::contentChanged, this, updateRanges);
  connect(model_, &PageModel::pageReset, this, updateRanges);
  connect(viewer_, &TensorViewer::plotInTrainingRequested, this,
          [this](const QString& result) { addToTraining(result); });
}

// The block context menu's "Add result to Training panel".
void MainWindow::addTrainingBlockMenu() {
  canvasTools_->addBlockMenuHook([this](QMenu* menu, const BlockId& id) {
    // One entry per one-element output the last run computed (a scalar loss or accuracy).
    QStringList names;
    if (auto it = results_.find(id); it != results_.end())
      for (const auto& [port, t] : it->second.outputs)
        if (t.size() == 1)
          names.push_back(QString::fromStdString(id.str() + "." + resultName(port)));
    menu->addSeparator();
    if (names.isEmpty()) {
      QAction* none = menu->addAction(tr("Add result to Training panel"));
      none->setObjectName("addToTrainingAction");
      none->setEnabled(false);
      none->setToolTip(tr("Only a result of one element (a scalar) can be plotted over steps"));
      return;
    }
    for (const QString& name : names) {
      QAction* a = menu->addAction(names.size() == 1 ? tr("Add result to Training panel")
                                                    : tr("Add %1 to Training panel").arg(name));
      a->setObjectName("addToTrainingAction");
      a->setEnabled(!series_->results().contains(name));
      connect(a, &QAction::triggered, this, [this, name] { addToTraining(name); });
    }
  });
}

bool MainWindow::addToTraining(const QString& result, QString* error) {
  const std::string problem = resultNameProblem(model_->page(), registry_, result.toStdString());
  if (!problem.empty()) {
    if (error) *error = QString::fromStdString(problem);
    return false;
  }
  series_->addResult(result);
  auto* dock = findChild<QDockWidget*>("trainingDock");
  if (dock->isHidden()) {
    dock->show();
    resizeDocks({dock}, {height() * 30 / 100}, Qt::Vertical);
  }
  return true;
}

void MainWindow::showResults(const ResultMap& results) {
  results_ = results;
  scene_->applyResults(results_);
  refreshViewer();
}

}  // namespace qs::editor
