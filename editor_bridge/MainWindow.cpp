#include "editor_bridge/MainWindow.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QScrollArea>
#include <QSettings>
#include <QStatusBar>
#include <QToolBar>
#include <QUndoStack>
#include <unordered_map>
#include <unordered_set>

#include "editor_bridge/AttributeEditor.h"
#include "editor_bridge/BlockItem.h"
#include "editor_bridge/CanvasTools.h"
#include "editor_bridge/ImportWeightsDialog.h"
#include "editor_bridge/Minimap.h"
#include "editor_bridge/OnnxExportAction.h"
#include "editor_bridge/PageModel.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/PageView.h"
#include "editor_bridge/PaletteWidget.h"
#include "editor_bridge/viewer/BakeOffPanel.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "onnx/OnnxImport.h"
#include "runtime/AttrJson.h"
#include "runtime/Error.h"
#include "runtime/PageJson.h"
#include "runtime/ResultNames.h"

namespace qs::editor {

namespace {
// A scroll area that asks for its widget's minimum height, so that the dock gives the attribute
// fields their room when the window has it, and scrolls them, whole, when it has not.
class FitScrollArea : public QScrollArea {
 public:
  using QScrollArea::QScrollArea;
  QSize minimumSizeHint() const override {
    QSize s = QScrollArea::minimumSizeHint();
    if (widget())
      s.setHeight(std::max(s.height(), widget()->minimumSizeHint().height() + 2 * frameWidth()));
    return s;
  }

 protected:
  // Another block's fields: the dock asks for their height again.
  bool eventFilter(QObject* o, QEvent* e) override {
    if (o == widget() && e->type() == QEvent::LayoutRequest) updateGeometry();
    return QScrollArea::eventFilter(o, e);
  }
};

constexpr int kEvalDebounceMs = 150;
constexpr int kAutosaveDelayMs = 1000;
constexpr int kMaxRecentFiles = 8;
constexpr const char* kPageMimeType = "application/x-quantspace-page";

// A menu entry (with its shortcut unless key is empty) that calls slot on owner.
template <typename Slot>
QAction* addMenuAction(QObject* owner, QMenu* menu, const QString& text, QKeySequence key,
                       Slot slot) {
  auto* a = new QAction(text, owner);
  if (!key.isEmpty()) a->setShortcut(key);
  QObject::connect(a, &QAction::triggered, owner, slot);
  menu->addAction(a);
  return a;
}
}  // namespace

MainWindow::MainWindow(const BlockRegistry& registry, QWidget* parent)
    : QMainWindow(parent), registry_(registry) {
  setObjectName("QuantSpaceMainWindow");
  model_ = new PageModel(registry, this);
  scene_ = new PageScene(model_, this);
  view_ = new PageView(scene_, this);
  connect(view_, &PageView::filesDropped, this, &MainWindow::openDroppedFiles);
  setAcceptDrops(true);  // files dropped anywhere else in the window (MainWindowDrop.cpp)
  setCentralWidget(view_);

  palette_ = new PaletteWidget(registry, this);
  auto* paletteDock = new QDockWidget(tr("Blocks"), this);
  paletteDock->setObjectName("paletteDock");
  paletteDock->setWidget(palette_);
  addDockWidget(Qt::LeftDockWidgetArea, paletteDock);

  attrEditor_ = new AttributeEditor(model_, this);
  auto* attrDock = new QDockWidget(tr("Attributes"), this);
  attrDock->setObjectName("attributeDock");
  // Scrolled rather than squeezed: a long error above the fields would otherwise press their
  // rows below their height in the short dock.
  auto* attrScroll = new FitScrollArea(attrDock);
  attrScroll->setWidget(attrEditor_);
  attrScroll->setWidgetResizable(true);
  attrScroll->setFrameShape(QFrame::NoFrame);
  attrDock->setWidget(attrScroll);
  addDockWidget(Qt::RightDockWidgetArea, attrDock);

  viewer_ = new TensorViewer(this);
  viewer_->bakeOff()->setPageModel(model_);
  auto* viewerDock = new QDockWidget(tr("Result viewer"), this);
  viewerDock->setObjectName("viewerDock");
  viewerDock->setWidget(viewer_);
  addDockWidget(Qt::RightDockWidgetArea, viewerDock);

  eval_ = new EvalService(registry, this);
  evalStatus_ = new QLabel(this);
  statusBar()->addPermanentWidget(evalStatus_);
  training_ = new TrainingController(registry, eval_, model_, this);
  statusBar()->addPermanentWidget(training_->statusLabel());

  evalTimer_.setSingleShot(true);
  evalTimer_.setInterval(kEvalDebounceMs);
  connect(&evalTimer_, &QTimer::timeout, this, &MainWindow::runNow);
  autosaveTimer_.setSingleShot(true);
  autosaveTimer_.setInterval(kAutosaveDelayMs);
  connect(&autosaveTimer_, &QTimer::timeout, this, &MainWindow::autosave);

  connect(model_, &PageModel::contentChanged, this, &MainWindow::onContentChanged);
  connect(model_, &PageModel::changed, this, [this] {
    autosaveTimer_.start();
    updateTitle();
  });
  connect(model_->undoStack(), &QUndoStack::cleanChanged, this, &MainWindow::updateTitle);
  connect(scene_, &QGraphicsScene::selectionChanged, this, &MainWindow::onSelectionChanged);
  connect(scene_, &PageScene::message, this,
          [this](const QString& m) { statusBar()->showMessage(m, 8000); });
  connect(scene_, &PageScene::resultPinClicked, this, [this](const BlockId& id, const QString& p) {
    viewedBlock_ = id;
    viewedPort_ = p.toStdString();
    refreshViewer();
  });
  connect(palette_, &PaletteWidget::activated, this, [this](const QString& type) {
    const QPointF at = view_->mapToScene(view_->viewport()->rect().center());
    scene_->selectBlocks({model_->addBlock(type.toStdString(), at)});
  });

  connect(eval_, &EvalService::checked, this, [this](std::shared_ptr<const ResultMap> r) {
    for (const auto& [id, res] : *r) {
      // A check knows errors and which results are still valid; it never has newer values
      // than the last run, so it only updates badges.
      scene_->setBlockStatus(id, res.status, res.error);
      // The badge's status: it also knows about wires to missing blocks.
      const BlockItem* item = scene_->blockItem(id);
      if (item && viewedBlock_ && *viewedBlock_ == id)
        attrEditor_->setBlockStatus(item->status(), item->error());
    }
  });
  connect(eval_, &EvalService::blockStarted, this,
          [this](const BlockId& id) { scene_->setBlockStatus(id, BlockStatus::Running, {}); });
  connect(eval_, &EvalService::blockFinished, this,
          [this](const BlockId& id, const BlockResult& r) {
            scene_->setBlockStatus(id, r.status, r.error);
          });
  connect(eval_, &EvalService::finished, this,
          [this](std::shared_ptr<const ResultMap> r, bool cancelled) {
            results_ = *r;
            scene_->applyResults(results_);
            int errors = 0;
            for (const auto& [id, res] : results_) errors += res.status == BlockStatus::Error;
            evalStatus_->setText(cancelled ? tr("Cancelled")
                                 : errors  ? tr("%n block(s) in error", nullptr, errors)
                                           : tr("Evaluated"));
            refreshViewer();
          });
  connect(eval_, &EvalService::runningChanged, this, [this](bool running) {
    cancelAction_->setEnabled(running || training_->running());
    if (running) evalStatus_->setText(tr("Evaluating..."));
  });
  connect(training_, &TrainingController::resultsReady, this,
          [this](std::shared_ptr<const ResultMap> r) {
            results_ = *r;
            scene_->applyResults(results_);
            refreshViewer();
          });
  connect(training_, &TrainingController::runningChanged, this,
          [this](bool running) { cancelAction_->setEnabled(running || eval_->running()); });
  connect(training_, &TrainingController::message, this,
          [this](const QString& m) { statusBar()->showMessage(m, 8000); });

  createActions();
  resize(1600, 1000);
  arrangeDocks();

  updateTitle();
  onContentChanged();
}

MainWindow::~MainWindow() {
  // Closing the window normally means the work was saved or deliberately dropped.
  recovery_.discardOwn();
  // The children outlive this destructor (QWidget's deletes them) and still emit while they go:
  // the scene's selectionChanged as it clears its items, the undo stack's cleanChanged. Those
  // would call our slots on a half-destroyed MainWindow (UBSan: "downcast ... does not point to
  // an object of type MainWindow"). Nothing they say is of interest any more.
  for (QObject* child : findChildren<QObject*>()) child->disconnect(this);
  model_->undoStack()->disconnect(this);  // a member of the model, not a child
  // The canvas tools filter the view's events and reach the view through this window; the view
  // still gets events (hide, child removal) while QWidget's destructor deletes it.
  delete canvasTools_;
  canvasTools_ = nullptr;
}

void MainWindow::arrangeDocks() {
  auto* palette = findChild<QDockWidget*>("paletteDock");
  auto* attrs = findChild<QDockWidget*>("attributeDock");
  auto* viewer = findChild<QDockWidget*>("viewerDock");
  // The canvas keeps about half the width; the viewer (tables, plots, the quantization
  // inspector) gets most of the right side.
  resizeDocks({palette, attrs}, {width() * 16 / 100, width() * 36 / 100}, Qt::Horizontal);
  resizeDocks({attrs, viewer}, {height() * 19 / 100, height() * 81 / 100}, Qt::Vertical);
}

// ---- Actions ------------------------------------------------------------------------------------

void MainWindow::createActions() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QToolBar* tb = addToolBar(tr("Main"));
  tb->setObjectName("mainToolbar");
  tb->setToolButtonStyle(Qt::ToolButtonTextOnly);

  const QList<QAction*> fileActions = createFileMenu(file);
  const QList<QAction*> undoRedo = createEditMenu();
  QAction* fitA = createViewMenu();
  QMenu* runMenu = createRunMenu();
  canvasTools_ = new CanvasTools(this, menuBar()->findChild<QMenu*>("editMenu"),
                                 menuBar()->findChild<QMenu*>("viewMenu"));
  addTrainingBlockMenu();

  for (QAction* a : fileActions) tb->addAction(a);
  tb->addSeparator();
  for (QAction* a : undoRedo) tb->addAction(a);
  tb->addSeparator();
  tb->addAction(runAction_);
  tb->addAction(cancelAction_);
  tb->addAction(fitA);
  training_->addRunActions(runMenu, tb);
  rebuildRecentMenu();
}

QList<QAction*> MainWindow::createFileMenu(QMenu* file) {
  QAction* newA = addMenuAction(this, file, tr("&New"), QKeySequence::New, [this] {
    if (maybeSave()) newPage();
  });
  QAction* openA = addMenuAction(this, file, tr("&Open..."), QKeySequence::Open, [this] {
    if (!maybeSave()) return;
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open page"), {},
        tr("Quant Space pages (*.page.json *.json);;ONNX models (*.onnx)"));
    QString error;
    if (!path.isEmpty() && !openPage(path, &error))
      QMessageBox::warning(this, tr("Open page"), error);
  });
  newA->setObjectName("newAction");
  openA->setObjectName("openAction");
  recentMenu_ = file->addMenu(tr("Open &Recent"));
  recentMenu_->setObjectName("recentMenu");
  QAction* saveA = addMenuAction(this, file, tr("&Save"), QKeySequence::Save, [this] { save(); });
  addMenuAction(this, file, tr("Save &As..."), QKeySequence::SaveAs, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save page as"), filePath_,
                                                      tr("Quant Space pages (*.page.json)"));
    QString error;
    if (!path.isEmpty() && !savePageAs(path, &error))
      QMessageBox::warning(this, tr("Save page"), error);
  });
  file->addSeparator();
  QAction* importA = addMenuAction(this, file, tr("Import &weights..."), {}, [this] {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Import weights"), {},
        tr("Weight files (*.npy *.npz *.safetensors *.onnx *.json);;All files (*)"));
    QString error;
    if (!path.isEmpty() && !importWeights(path, &error))
      QMessageBox::warning(this, tr("Import weights"), error);
  });
  importA->setObjectName("importWeightsAction");
  addMenuAction(this, file, tr("E&xport ONNX..."), {}, [this] {
    const QString path =
        QFileDialog::getSaveFileName(this, tr("Export ONNX"), {}, tr("ONNX models (*.onnx)"));
    QString error;
    if (!path.isEmpty() && !exportPageToOnnx(model_->page(), filePath_, registry_, path, &error))
      QMessageBox::warning(this, tr("Export ONNX"), error);
  })->setObjectName("exportOnnxAction");
  file->addSeparator();
  training_->addStateActions(file);
  file->addSeparator();
  addMenuAction(this, file, tr("&Quit"), QKeySequence::Quit, [this] { close(); });
  return {newA, openA, saveA};
}

QList<QAction*> MainWindow::createEditMenu() {
  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  edit->setObjectName("editMenu");
  QAction* undoA = model_->undoStack()->createUndoAction(this, tr("&Undo"));
  undoA->setShortcut(QKeySequence::Undo);
  QAction* redoA = model_->undoStack()->createRedoAction(this, tr("&Redo"));
  // Both common redo keys, whatever the platform theme's own binding is.
  QList<QKeySequence> redoKeys = QKeySequence::keyBindings(QKeySequence::Redo);
  for (QKeySequence k :
       {QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), QKeySequence(Qt::CTRL | Qt::Key_Y)})
    if (!redoKeys.contains(k)) redoKeys << k;
  redoA->setShortcuts(redoKeys);
  training_->explainUndo(undoA);
  edit->addAction(undoA);
  edit->addAction(redoA);
  edit->addSeparator();
  // Editing shortcuts act on the canvas only, so that Delete or Ctrl+C in a text field edit text.
  auto canvas = [this](QAction* a) {
    a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    view_->addAction(a);
    return a;
  };
  auto add = [this, edit](const QString& text, QKeySequence key, auto slot) {
    return addMenuAction(this, edit, text, key, slot);
  };
  canvas(add(tr("Cu&t"), QKeySequence::Cut, [this] { cutSelection(); }));
  canvas(add(tr("&Copy"), QKeySequence::Copy, [this] { copySelection(); }));
  canvas(add(tr("&Paste"), QKeySequence::Paste, [this] { paste(); }));
  canvas(
      add(tr("D&uplicate"), QKeySequence(Qt::CTRL | Qt::Key_D), [this] { duplicateSelection(); }));
  QAction* del = canvas(add(tr("&Delete"), QKeySequence::Delete, [this] { deleteSelection(); }));
  del->setShortcuts({QKeySequence::Delete, QKeySequence(Qt::Key_Backspace)});
  canvas(add(tr("Select &All"), QKeySequence::SelectAll, [this] {
    for (QGraphicsItem* i : scene_->items()) i->setSelected(true);
    scene_->selectWiresBetweenSelectedBlocks();
  }));
  edit->addSeparator();
  canvas(add(tr("Add &Block..."), QKeySequence(Qt::Key_Tab), [this] {
    view_->openQuickAdd(view_->mapToScene(view_->viewport()->rect().center()));
  }));
  return {undoA, redoA};
}

QAction* MainWindow::createViewMenu() {
  QMenu* viewMenu = menuBar()->addMenu(tr("&View"));
  viewMenu->setObjectName("viewMenu");
  QAction* fitA = addMenuAction(this, viewMenu, tr("&Fit to View"),
                                QKeySequence(Qt::CTRL | Qt::Key_0), [this] { view_->fitPage(); });
  addMenuAction(this, viewMenu, tr("Zoom &In"), QKeySequence::ZoomIn,
                [this] { view_->zoomBy(1.25, view_->viewport()->rect().center()); });
  addMenuAction(this, viewMenu, tr("Zoom &Out"), QKeySequence::ZoomOut,
                [this] { view_->zoomBy(0.8, view_->viewport()->rect().center()); });
  addMenuAction(this, viewMenu, tr("&Actual Size"), QKeySequence(Qt::CTRL | Qt::Key_1),
                [this] { view_->resetTransform(); });
  viewMenu->addSeparator();
  QAction* minimapA = viewMenu->addAction(tr("&Minimap"));
  minimapA->setObjectName("minimapAction");
  minimapA->setCheckable(true);
  minimapA->setChecked(true);
  minimapA->setToolTip(
      tr("An overview of the page in the canvas's corner, while the page does not fit"));
  connect(minimapA, &QAction::toggled, view_->minimap(), &Minimap::setEnabledByUser);
  createTrainingPanel(viewMenu);
  return fitA;
}

QMenu* MainWindow::createRunMenu() {
  QMenu* run = menuBar()->addMenu(tr("&Run"));
  runAction_ = addMenuAction(this, run, tr("&Run"), QKeySequence(Qt::Key_F5), [this] { runNow(); });
  runAction_->setShortcuts({QKeySequence(Qt::Key_F5), QKeySequence(Qt::CTRL | Qt::Key_R)});
  cancelAction_ = addMenuAction(this, run, tr("&Cancel"), QKeySequence(Qt::SHIFT | Qt::Key_F5),
                                [this] { cancelRun(); });
  cancelAction_->setEnabled(false);
  return run;
}

void MainWindow::updateTitle() {
  const QString name = filePath_.isEmpty() ? tr("Untitled") : QFileInfo(filePath_).fileName();
  setWindowTitle(name + "[*] - Quant Space");
  setWindowModified(isModified());
}

bool MainWindow::isModified() const {
  return restoredUnsaved_ || !model_->undoStack()->isClean();
}

bool MainWindow::maybeSave() {
  if (!training_->maybeSaveState()) return false;
  if (!isModified()) return true;
  int answer;
  if (discardPrompt_) {
    answer = discardPrompt_();
  } else {
    answer = QMessageBox::warning(
        this, tr("Unsaved changes"),
        tr("%1 has unsaved changes. Save them?")
            .arg(filePath_.isEmpty() ? tr("The page") : QFileInfo(filePath_).fileName()),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
  }
  if (answer == QMessageBox::Save) return save();
  return answer == QMessageBox::Discard;
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (maybeSave()) {
    recovery_.discardOwn();
    event->accept();
  } else {
    event->ignore();
  }
}

// ---- Files --------------------------------------------------------------------------------------

void MainWindow::newPage() {
  cancelRun();
  training_->forgetState();
  filePath_.clear();
  restoredUnsaved_ = false;
  results_.clear();
  viewedBlock_.reset();
  model_->resetPage(Page{}, {});
  recovery_.discardOwn();
  viewer_->clear();
  updateTitle();
}

bool MainWindow::openPage(const QString& path, QString* error) {
  try {
    // A link to a block that is not on the page is kept and drawn broken, so that it can be
    // repaired here (the runner refuses such a page).
    // An .onnx model opens as the page it came from, or as its import: a new, unsaved page.
    const bool onnx = path.endsWith(".onnx", Qt::CaseInsensitive);
    LoadedPage loaded = onnx ? pageFromOnnx(path.toStdString())
                             : loadPage(path.toStdString(), {.keepDanglingLinks = true});
    showLoadedPage(std::move(loaded), onnx ? QString() : QFileInfo(path).absoluteFilePath());
    return true;
  } catch (const Error& e) {
    if (error) *error = QString::fromStdString(e.what());
    return false;
  }
}

void MainWindow::showLoadedPage(LoadedPage loaded, const QString& filePath) {
  cancelRun();
  training_->forgetState();
  results_.clear();
  viewedBlock_.reset();
  viewer_->clear();
  model_->resetPage(std::move(loaded.page), loaded.dir);
  filePath_ = filePath;
  restoredUnsaved_ = false;
  recovery_.discardOwn();
  if (!filePath_.isEmpty()) addRecentFile(filePath_);
  updateTitle();
  view_->fitPage();
  for (const std::string& w : loaded.warnings)
    statusBar()->showMessage(QString::fromStdString(w), 8000);
}

bool MainWindow::savePageAs(const QString& path, QString* error) {
  try {
    // Atomic (temporary file, flush, rename), keeping the previous version as <file>.bak.
    qs::savePage(model_->page(), path.toStdString(), /*keepBackup=*/true);
  } catch (const Error& e) {
    if (error) *error = QString::fromStdString(e.what());
    return false;
  }
  const QString abs = QFileInfo(path).absoluteFilePath();
  if (abs != filePath_) model_->setPageDir(QFileInfo(abs).absolutePath().toStdString());
  filePath_ = abs;
  restoredUnsaved_ = false;
  model_->undoStack()->setClean();
  recovery_.discardOwn();
  autosaveTimer_.stop();
  addRecentFile(filePath_);
  updateTitle();
  statusBar()->showMessage(tr("Saved %1").arg(filePath_), 4000);
  return true;
}

bool MainWindow::importWeights(const QString& path, QString* error) {
  const QString file = QFileInfo(path).absoluteFilePath();
  std::vector<NamedTensor> tensors;
  try {
    tensors = readWeightFile(file.toStdString());
  } catch (const Error& e) {
    if (error) *error = tr("Nothing imported: %1").arg(QString::fromStdString(e.what()));
    return false;
  }
  if (tensors.empty()) {
    if (error) *error = tr("Nothing imported: %1 holds no tensors.").arg(file);
    return false;
  }
  ImportWeightsDialog dialog(file, tensors, this);
  if (dialog.exec() != QDialog::Accepted) return true;
  // Right of everything on the page, so that no new block covers an old one.
  QRectF used;
  for (const Block& b : model_->page().blocks())
    if (const BlockItem* item = scene_->blockItem(b.id)) used |= item->sceneBoundingRect();
  const QPointF origin =
      used.isNull() ? view_->mapToScene(view_->viewport()->rect().topLeft() + QPoint(40, 40))
                    : QPointF(used.right() + 80, used.top());
  std::vector<Block> blocks =
      weightConstBlocks(model_->page(), model_->pageDir(), file, dialog.picked(), origin);
  std::vector<BlockId> ids;
  for (const Block& b : blocks) ids.push_back(b.id);
  model_->addBlocks(std::move(blocks), {}, tr("Import weights"));
  scene_->selectBlocks(ids);
  return true;
}

bool MainWindow::save() {
  QString path = filePath_;
  if (path.isEmpty()) {
    path = QFileDialog::getSaveFileName(this, tr("Save page"), {},
                                        tr("Quant Space pages (*.page.json)"));
    if (path.isEmpty()) return false;
  }
  QString error;
  if (!savePageAs(path, &error)) {
    QMessageBox::warning(this, tr("Save page"), error);
    return false;
  }
  return true;
}

void MainWindow::addRecentFile(const QString& path) {
  QSettings settings;
  QStringList files = settings.value("recentFiles").toStringList();
  files.removeAll(path);
  files.prepend(path);
  while (files.size() > kMaxRecentFiles) files.removeLast();
  settings.setValue("recentFiles", files);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  if (!recentMenu_) return;
  recentMenu_->clear();
  const QStringList files = QSettings().value("recentFiles").toStringList();
  for (const QString& f : files) {
    recentMenu_
        ->addAction(QFileInfo(f).fileName(), this,
                    [this, f] {
                      if (!maybeSave()) return;
                      QString error;
                      if (!openPage(f, &error)) QMessageBox::warning(this, tr("Open page"), error);
                    })
        ->setToolTip(f);
  }
  recentMenu_->setEnabled(!files.isEmpty());
}

// ---- Autosave and recovery ----------------------------------------------------------------------

void MainWindow::autosave() {
  if (!isModified()) {
    recovery_.discardOwn();
    return;
  }
  QString error;
  if (!recovery_.write(pageToText(model_->page()), filePath_, &error))
    statusBar()->showMessage(tr("Autosave failed: %1").arg(error), 8000);
}

bool MainWindow::offerRecovery() {
  const auto orphans = recovery_.orphans();
  if (orphans.empty()) return false;
  const RecoveryStore::Entry& e = orphans.front();
  const QByteArray mode = qgetenv("QS_RECOVERY");
  bool accept;
  if (mode == "accept") {
    accept = true;
  } else if (mode == "discard") {
    accept = false;
  } else {
    accept =
        QMessageBox::question(
            this, tr("Recover unsaved work"),
            tr("Quant Space did not close normally. Restore the unsaved changes to %1 "
               "(autosaved %2)?")
                .arg(e.originalFile.isEmpty() ? tr("an untitled page") : e.originalFile, e.savedAt),
            QMessageBox::Yes | QMessageBox::No) == QMessageBox::Yes;
  }
  bool restored = false;
  if (accept) {
    try {
      LoadedPage loaded = loadPage(e.pagePath.toStdString(), {.keepDanglingLinks = true});
      std::filesystem::path dir =
          e.originalFile.isEmpty()
              ? std::filesystem::path()
              : std::filesystem::path(e.originalFile.toStdString()).parent_path();
      cancelRun();
      training_->forgetState();
      results_.clear();
      model_->resetPage(std::move(loaded.page), dir);
      filePath_ = e.originalFile;
      restoredUnsaved_ = true;
      updateTitle();
      view_->fitPage();
      statusBar()->showMessage(tr("Restored unsaved work from %1").arg(e.savedAt), 8000);
      autosave();  // the restored work is now this editor's own recovery copy
      restored = true;
    } catch (const Error& err) {
      QMessageBox::warning(this, tr("Recover unsaved work"),
                           tr("The recovery copy could not be read: %1").arg(err.what()));
    }
  }
  // Every orphan has been answered: restored, or declined.
  for (const auto& o : orphans) RecoveryStore::remove(o);
  return restored;
}

// ---- Evaluation ---------------------------------------------------------------------------------

void MainWindow::onContentChanged() {
  // Errors show at once (a shape-only check); the values follow after a short pause, so that
  // typing or dragging several wires does not start a run per keystroke.
  eval_->check(model_->page(), model_->pageDir());
  evalTimer_.start();
}

void MainWindow::runNow() {
  evalTimer_.stop();
  eval_->run(model_->page(), model_->pageDir());
}

void MainWindow::cancelRun() {
  evalTimer_.stop();
  eval_->cancel();
  training_->pause();
}

bool MainWindow::waitForEvaluation(int timeoutMs) {
  if (evalTimer_.isActive()) runNow();
  return eval_->waitIdle(timeoutMs);
}

// ---- Selection and the viewer -------------------------------------------------------------------

void MainWindow::onSelectionChanged() {
  const auto blocks = scene_->selectedBlocks();
  std::optional<BlockId> one;
  if (blocks.size() == 1) one = blocks.front();
  if (one != viewedBlock_) viewedPort_.clear();
  viewedBlock_ = one;
  if (attrEditor_->block() != one) attrEditor_->showBlock(one);
  refreshViewer();
}

void MainWindow::refreshViewer() {
  if (!viewedBlock_ || !model_->page().contains(*viewedBlock_)) {
    viewer_->clear();
    return;
  }
  const Page& page = model_->page();
  const BlockId& id = *viewedBlock_;
  const Block* b = page.find(id);
  BlockResultsView v;
  v.blockId = QString::fromStdString(id.str());
  v.type = QString::fromStdString(b->type);
  if (const BlockDescriptor* d = registry_.find(b->type)) {
    try {
      v.attrs = resolveAttrs(*d, b->attrs);
    } catch (const Error&) {
    }
  }
  if (auto it = results_.find(id); it != results_.end()) {
    v.status = it->second.status;
    v.error = QString::fromStdString(it->second.error);
    v.outputs = it->second.outputs;
  }
  const BlockItem* item = scene_->blockItem(id);
  if (item && item->status() != v.status && v.outputs.empty()) {
    v.status = item->status();
    v.error = QString::fromStdString(item->error());
  }
  for (int li : page.incomingLinks(page.indexOf(id))) {
    const Link& l = page.links()[li];
    auto up = results_.find(l.from.block);
    if (up == results_.end()) continue;
    auto t = up->second.outputs.find(l.from.port.str());
    if (t != up->second.outputs.end()) v.inputs[l.to.port.str()] = t->second;
  }
  attrEditor_->setBlockStatus(item ? item->status() : v.status,
                              item ? item->error() : v.error.toStdString());
  viewer_->showBlock(v, viewedPort_);
}

bool MainWindow::inspect(const QString& result, QString* error) {
  const std::string problem = resultNameProblem(model_->page(), registry_, result.toStdString());
  if (!problem.empty()) {
    if (error) *error = QString::fromStdString(problem);
    return false;
  }
  const auto ref = parseResultName(result.toStdString());
  scene_->selectBlocks({ref->block});
  viewedBlock_ = ref->block;
  viewedPort_ = ref->port;
  refreshViewer();
  return true;
}

// ---- Clipboard ----------------------------------------------------------------------------------

std::string MainWindow::selectionText() const {
  const auto ids = scene_->selectedBlocks();
  if (ids.empty()) return {};
  Page sub;
  std::unordered_set<BlockId> chosen(ids.begin(), ids.end());
  const Page& page = model_->page();
  for (const BlockId& id : ids) {
    Block b = *page.find(id);
    if (const BlockItem* item = scene_->blockItem(id))
      b.position = std::array<double, 2>{item->pos().x(), item->pos().y()};
    sub.addBlock(std::move(b));
  }
  for (const Link& l : page.links())
    if (chosen.count(l.from.block) && chosen.count(l.to.block)) sub.addLink(l);
  return pageToText(sub);
}

void MainWindow::copySelection() {
  const std::string text = selectionText();
  if (text.empty()) return;
  auto* mime = new QMimeData;
  mime->setData(kPageMimeType, QByteArray::fromStdString(text));
  mime->setText(QString::fromStdString(text));
  QApplication::clipboard()->setMimeData(mime);
  pasteCount_ = 0;
}

void MainWindow::cutSelection() {
  copySelection();
  model_->removeItems(scene_->selectedBlocks(), {}, tr("Cut"));
}

void MainWindow::deleteSelection() {
  model_->removeItems(scene_->selectedBlocks(), scene_->selectedLinks(), tr("Delete"));
}

void MainWindow::paste() {
  const QMimeData* mime = QApplication::clipboard()->mimeData();
  if (!mime) return;
  std::string text = mime->hasFormat(kPageMimeType) ? mime->data(kPageMimeType).toStdString()
                                                    : mime->text().toStdString();
  ++pasteCount_;
  pasteText(text, QPointF(40, 40) * pasteCount_);
}

void MainWindow::duplicateSelection() {
  const std::string text = selectionText();
  if (!text.empty()) pasteText(text, QPointF(40, 40));
}

void MainWindow::pasteText(const std::string& text, QPointF offset) {
  LoadedPage loaded;
  try {
    loaded = parsePage(text, "clipboard");
  } catch (const Error& e) {
    statusBar()->showMessage(tr("Nothing to paste: %1").arg(e.what()), 6000);
    return;
  }
  // Pasted blocks get fresh ids where theirs are taken; links among them follow the renames.
  std::unordered_map<BlockId, BlockId> rename;
  std::vector<Block> blocks;
  Page probe = model_->page();
  int index = static_cast<int>(probe.blockCount());
  for (const Block& b0 : loaded.page.blocks()) {
    Block b = b0;
    std::string id = b.id.str();
    if (probe.idTaken(b.id)) {
      std::string stem = id;
      while (!stem.empty() && std::isdigit(static_cast<unsigned char>(stem.back())))
        stem.pop_back();
      if (!stem.empty() && stem.back() == '_') stem.pop_back();
      if (stem.empty()) stem = "b";
      for (int i = 2;; ++i) {
        id = stem + "_" + std::to_string(i);
        if (!probe.idTaken(BlockId(id))) break;
      }
    }
    rename[b.id] = BlockId(id);
    b.id = BlockId(id);
    const QPointF p = blockPosition(b0, index++) + offset;
    b.position = std::array<double, 2>{p.x(), p.y()};
    probe.addBlock(b);
    blocks.push_back(std::move(b));
  }
  std::vector<Link> links;
  for (Link l : loaded.page.links()) {
    l.from.block = rename.at(l.from.block);
    l.to.block = rename.at(l.to.block);
    links.push_back(std::move(l));
  }
  std::vector<BlockId> ids;
  for (const Block& b : blocks) ids.push_back(b.id);
  model_->addBlocks(std::move(blocks), std::move(links), tr("Paste"));
  scene_->selectBlocks(ids);
}

}  // namespace qs::editor
