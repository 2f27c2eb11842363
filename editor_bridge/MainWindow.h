#pragma once

#include <QMainWindow>
#include <QTimer>
#include <functional>
#include <optional>

#include "editor_bridge/EvalService.h"
#include "editor_bridge/RecoveryStore.h"
#include "editor_bridge/TrainingController.h"
#include "runtime/BlockRegistry.h"
#include "runtime/Evaluator.h"
#include "runtime/PageJson.h"

class QAction;
class QDragEnterEvent;
class QDropEvent;
class QLabel;
class QMenu;
class QDockWidget;

namespace qs::editor {

class PageModel;
class PageScene;
class PageView;
class PaletteWidget;
class AttributeEditor;
class CanvasTools;
class TensorViewer;
class TrainingSeries;
class TrainingPanel;

// The editor window: canvas in the centre, palette, attribute editor and result viewer docked,
// menus and toolbar, files, automatic evaluation off the UI thread, autosave and recovery.
class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(const BlockRegistry& registry, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Sizes the docks in proportion to the window (start-up, --screenshot --size).
  void arrangeDocks();

  // ---- Files ----
  void newPage();
  bool openPage(const QString& path, QString* error = nullptr);
  bool savePageAs(const QString& path, QString* error = nullptr);
  // Files dropped on the window (MainWindowDrop.cpp): opens the page the first one carries (a
  // page, an exported .onnx, a state file, a --save-npy folder or one of its .npy files), after
  // asking to save changes; says so in the status bar when it carries none, and names the other
  // files dropped with it, which are not opened. True if opened.
  bool openDroppedFiles(const QList<QUrl>& urls);
  bool save();
  // File > Import weights: lists the tensors of `path` in a dialog and adds a Const block for each
  // one picked, in one undo step, beside the page's blocks. False (and nothing added) when the
  // file cannot be read; true when blocks were added or the dialog was cancelled.
  bool importWeights(const QString& path, QString* error = nullptr);
  const QString& filePath() const { return filePath_; }
  bool isModified() const;

  // Offers the recovery copies a crashed editor left. QS_RECOVERY=accept or =discard answers
  // without asking (tests, scripts). Returns true if a copy was restored.
  bool offerRecovery();

  // ---- Evaluation ----
  void runNow();
  void cancelRun();
  // Waits for pending edits to be evaluated and the worker to be idle (tests, --screenshot).
  bool waitForEvaluation(int timeoutMs = 30000);
  const ResultMap& results() const { return results_; }

  // Selects the block of `result` ("B.result_P") and shows that result in the viewer.
  bool inspect(const QString& result, QString* error = nullptr);

  // Answers "save changes?" prompts without a dialog (tests); nullptr restores the dialog.
  void setDiscardPrompt(std::function<int()> prompt) { discardPrompt_ = std::move(prompt); }

  // ---- Edit commands on the selection ----
  void deleteSelection();
  void copySelection();
  void cutSelection();
  void paste();
  void duplicateSelection();

  PageModel* model() const { return model_; }
  PageScene* scene() const { return scene_; }
  PageView* view() const { return view_; }
  PaletteWidget* palette() const { return palette_; }
  AttributeEditor* attributeEditor() const { return attrEditor_; }
  TensorViewer* viewer() const { return viewer_; }
  EvalService* evaluation() const { return eval_; }
  TrainingController* training() const { return training_; }
  RecoveryStore& recovery() { return recovery_; }
  // Context menus (with a hook for other features' block entries), find, rename, frames, ...
  CanvasTools* canvasTools() const { return canvasTools_; }

  // ---- Training panel (MainWindowTraining.cpp) ----
  // What the steps of a run recorded; whoever takes the steps feeds it (appendStep, clear).
  TrainingSeries* trainingSeries() const { return series_; }
  TrainingPanel* trainingPanel() const { return trainingPanel_; }
  // Plots a one-element result ("loss.result_output") and shows the panel. False (why in `error`)
  // for a name the page does not have.
  bool addToTraining(const QString& result, QString* error = nullptr);
  // Shows results computed elsewhere (steps taken outside the evaluation service) as if the
  // service had computed them.
  void showResults(const ResultMap& results);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void createActions();
  // Each fills its menu; they return the actions that the toolbar also shows.
  QList<QAction*> createFileMenu(QMenu* file);
  QList<QAction*> createEditMenu();
  QAction* createViewMenu();
  QMenu* createRunMenu();
  void createTrainingPanel(QMenu* viewMenu);
  void addTrainingBlockMenu();
  void updateTitle();
  bool maybeSave();
  // One dropped file or folder: openDroppedFiles() without the others.
  bool openDroppedFile(const QString& path);
  // Replaces the page with `loaded`; `filePath` is where Save writes (empty: a new, unsaved page).
  void showLoadedPage(LoadedPage loaded, const QString& filePath);
  void onContentChanged();
  void onSelectionChanged();
  void refreshViewer();
  void autosave();
  void addRecentFile(const QString& path);
  void rebuildRecentMenu();
  std::string selectionText() const;
  void pasteText(const std::string& text, QPointF offset);

  const BlockRegistry& registry_;
  PageModel* model_;
  PageScene* scene_;
  PageView* view_;
  PaletteWidget* palette_;
  AttributeEditor* attrEditor_;
  TensorViewer* viewer_;
  TrainingSeries* series_ = nullptr;
  TrainingPanel* trainingPanel_ = nullptr;
  CanvasTools* canvasTools_ = nullptr;
  EvalService* eval_;
  TrainingController* training_;
  QLabel* evalStatus_;
  QMenu* recentMenu_ = nullptr;
  QAction* runAction_ = nullptr;
  QAction* cancelAction_ = nullptr;

  QString filePath_;
  bool restoredUnsaved_ = false;
  QTimer evalTimer_;
  QTimer autosaveTimer_;
  RecoveryStore recovery_;
  ResultMap results_;
  std::optional<BlockId> viewedBlock_;
  std::string viewedPort_;
  std::function<int()> discardPrompt_;
  int pasteCount_ = 0;
};

}  // namespace qs::editor
