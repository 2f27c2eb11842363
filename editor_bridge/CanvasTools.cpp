#include "editor_bridge/CanvasTools.h"

#include <QAction>
#include <QApplication>
#include <QInputDialog>
#include <QKeyEvent>
#include <QMenu>
#include <QMimeData>
#include <QSettings>
#include <QStatusBar>
#include <QStyleOptionGraphicsItem>
#include <cmath>

#include "editor_bridge/BlockItem.h"
#include "editor_bridge/FindDialog.h"
#include "editor_bridge/FrameItem.h"
#include "editor_bridge/MainWindow.h"
#include "editor_bridge/Minimap.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/PageView.h"
#include "editor_bridge/QuickAddPopup.h"
#include "editor_bridge/WireItem.h"

namespace qs::editor {

namespace {
constexpr int kFlyMs = 300;
const char* kSnapSetting = "snapToGrid";

std::vector<const BlockItem*> selectedItems(PageScene* scene) {
  std::vector<const BlockItem*> items;
  for (const BlockId& id : scene->selectedBlocks())
    if (const BlockItem* item = scene->blockItem(id)) items.push_back(item);
  return items;
}
}  // namespace

CanvasTools::CanvasTools(MainWindow* window, QMenu* editMenu, QMenu* viewMenu)
    : QObject(window), window_(window) {
  frames_ = new FrameLayer(window->scene());
  find_ = new FindDialog(
      window->model(), [this](const BlockId& id) { flyTo(id); }, window);
  fly_.setDuration(kFlyMs);
  fly_.setEasingCurve(QEasingCurve::InOutQuad);
  connect(&fly_, &QVariantAnimation::valueChanged, this,
          [this](const QVariant& v) { window_->view()->centerOn(v.toPointF()); });
  connect(window->scene(), &PageScene::wireDroppedOnCanvas, this,
          &CanvasTools::onWireDroppedOnCanvas);
  createActions(editMenu, viewMenu);
  window->view()->installEventFilter(this);
  window->view()->viewport()->installEventFilter(this);
}

void CanvasTools::createActions(QMenu* editMenu, QMenu* viewMenu) {
  PageView* view = window_->view();
  // Canvas shortcuts act only while the canvas has the focus, as the other editing keys do.
  auto add = [this, view](QMenu* menu, const QString& text, QKeySequence key, auto slot) {
    auto* a = new QAction(text, this);
    if (!key.isEmpty()) {
      a->setShortcut(key);
      a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
      view->addAction(a);
    }
    connect(a, &QAction::triggered, this, slot);
    menu->addAction(a);
    return a;
  };
  editMenu->addSeparator();
  add(editMenu, tr("&Find Block..."), QKeySequence::Find, [this] { openFind(); });
  add(editMenu, tr("Re&name Block..."), QKeySequence(Qt::Key_F2), [this] { renameSelected(); });
  add(editMenu, tr("Add Comment &Frame"), QKeySequence(Qt::CTRL | Qt::Key_G),
      [this] { addFrame(); });
  QMenu* arrange = editMenu->addMenu(tr("&Arrange"));
  arrange->setObjectName("arrangeMenu");
  const std::pair<QString, Align> aligns[] = {
      {tr("Align &Left Edges"), Align::Left},
      {tr("Align &Right Edges"), Align::Right},
      {tr("Align &Top Edges"), Align::Top},
      {tr("Align &Bottom Edges"), Align::Bottom},
      {tr("Align Centres &Horizontally (one column)"), Align::HorizontalCentre},
      {tr("Align Centres &Vertically (one row)"), Align::VerticalCentre}};
  for (const auto& [text, how] : aligns) add(arrange, text, {}, [this, how = how] { align(how); });
  arrange->addSeparator();
  add(arrange, tr("Distribute &Horizontally"), {}, [this] { distribute(Qt::Horizontal); });
  add(arrange, tr("Distribute &Vertically"), {}, [this] { distribute(Qt::Vertical); });

  viewMenu->addSeparator();
  add(viewMenu, tr("Frame &Selected"), QKeySequence(Qt::Key_F), [this] { frameSelection(); });
  snapAction_ = viewMenu->addAction(tr("S&nap to Grid"));
  snapAction_->setObjectName("snapToGridAction");
  snapAction_->setCheckable(true);
  snapAction_->setToolTip(tr("Dragged blocks snap to a %1-unit grid").arg(kSnapStep));
  connect(snapAction_, &QAction::toggled, this, &CanvasTools::setSnap);
  snapAction_->setChecked(QSettings().value(kSnapSetting, false).toBool());
}

void CanvasTools::message(const QString& text) {
  window_->statusBar()->showMessage(text, 8000);
}

void CanvasTools::setSnap(bool on) {
  window_->scene()->setSnapStep(on ? kSnapStep : 0);
  if (snapAction_->isChecked() != on) snapAction_->setChecked(on);
  QSettings().setValue(kSnapSetting, on);
}

// ---- View ---------------------------------------------------------------------------------------

void CanvasTools::frameSelection() {
  PageView* view = window_->view();
  QRectF r;
  for (const BlockItem* item : selectedItems(window_->scene())) r |= item->sceneBoundingRect();
  if (r.isNull()) return view->fitPage();
  r.adjust(-60, -60, 60, 60);
  view->fitInView(r, Qt::KeepAspectRatio);
  // Never magnify beyond 100%: a single block would fill the canvas.
  if (view->zoom() > 1.0) {
    view->resetTransform();
    view->centerOn(r.center());
  }
  view->minimap()->viewChanged();
}

bool CanvasTools::flyTo(const BlockId& id) {
  PageScene* scene = window_->scene();
  BlockItem* item = scene->blockItem(id);
  if (!item) return false;
  scene->selectBlocks({id});
  PageView* view = window_->view();
  // Far out the block would be a speck: come close enough to read it.
  if (view->zoom() < BlockItem::kDetailLod) {
    const QPointF centre = view->mapToScene(view->viewport()->rect().center());
    view->resetTransform();
    view->centerOn(centre);
  }
  fly_.stop();
  fly_.setStartValue(view->mapToScene(view->viewport()->rect().center()));
  fly_.setEndValue(item->sceneBoundingRect().center());
  fly_.start();
  view->setFocus();
  return true;
}

void CanvasTools::openFind() {
  find_->start();
}

// ---- Edits --------------------------------------------------------------------------------------

void CanvasTools::renameSelected() {
  const auto ids = window_->scene()->selectedBlocks();
  if (ids.size() != 1) return message(tr("Select one block to rename it"));
  const BlockId id = ids.front();
  auto* dialog = new QInputDialog(window_);
  dialog->setObjectName("renameBlockDialog");
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(tr("Rename block"));
  dialog->setLabelText(
      tr("New id for '%1' (its wires follow):").arg(QString::fromStdString(id.str())));
  dialog->setTextValue(QString::fromStdString(id.str()));
  connect(dialog, &QInputDialog::textValueSelected, this, [this, id](const QString& text) {
    const std::string newId = text.trimmed().toStdString();
    const QString why = window_->model()->renameBlock(id, newId);
    if (!why.isEmpty()) return message(tr("Not renamed: %1").arg(why));
    window_->scene()->selectBlocks({BlockId(newId)});
  });
  dialog->open();
}

void CanvasTools::nudge(QPointF delta) {
  std::vector<PageModel::Move> moves;
  for (const BlockItem* item : selectedItems(window_->scene()))
    moves.push_back({item->blockId(), item->pos(), item->pos() + delta});
  window_->model()->moveBlocks(std::move(moves));
}

void CanvasTools::align(Align how) {
  const auto items = selectedItems(window_->scene());
  if (items.size() < 2) return message(tr("Select two or more blocks to align them"));
  window_->model()->moveBlocks(alignMoves(items, how));
}

void CanvasTools::distribute(Qt::Orientation direction) {
  const auto items = selectedItems(window_->scene());
  if (items.size() < 3) return message(tr("Select three or more blocks to distribute them"));
  window_->model()->moveBlocks(distributeMoves(items, direction));
}

void CanvasTools::addFrame() {
  const auto ids = window_->scene()->selectedBlocks();
  if (ids.empty()) return message(tr("Select the blocks to put in a comment frame"));
  std::vector<Frame> frames = window_->model()->page().frames;
  Frame f;
  f.title = tr("Comment").toStdString();
  f.blocks = ids;
  frames.push_back(std::move(f));
  window_->model()->setFrames(std::move(frames), tr("Add comment frame"));
}

// ---- Wires: dragged into empty canvas, blocks dropped on them -----------------------------------

WireItem* CanvasTools::wireUnder(QPointF scenePos) const {
  const qreal lod =
      QStyleOptionGraphicsItem::levelOfDetailFromTransform(window_->view()->transform());
  return window_->scene()->wireLayer()->wireAt(scenePos, lod);
}

void CanvasTools::onWireDroppedOnCanvas(const PortRef& from, QPointF scenePos) {
  PageView* view = window_->view();
  const std::optional<DType> dtype = window_->scene()->outputDType(from);
  const QStringList types = typesTaking(window_->model()->registry(), dtype, false);
  const QString title =
      tr("Add a block fed by %1.%2")
          .arg(QString::fromStdString(from.block.str()), QString::fromStdString(from.port.str()));
  view->quickAddPopup()->popupFor(
      view->mapToGlobal(view->mapFromScene(scenePos)), scenePos, types, title,
      [this, from, dtype, scenePos](const QString& type) {
        // The new block's wired pin lands where the wire was let go: a block drawn off the
        // scene says where that pin sits in the box.
        const std::string t = type.toStdString();
        const BlockDescriptor* d = window_->model()->registry().find(t);
        const PortDescriptor* in = d ? inputTaking(*d, dtype) : nullptr;
        const QPointF pin =
            in ? BlockItem(BlockId("probe"), t, d).portScenePos(in->name) : QPointF();
        const BlockId id = addWiredBlock(window_->model(), from, dtype, t, scenePos - pin);
        window_->scene()->selectBlocks({id});
      });
}

bool CanvasTools::dropOnWire(QDropEvent* event) {
  if (!event->mimeData()->hasFormat(kBlockMimeType)) return false;
  PageView* view = window_->view();
  const QPointF at = view->mapToScene(event->position().toPoint());
  WireItem* wire = wireUnder(at);
  if (!wire || wire->broken()) return false;
  PageModel* model = window_->model();
  const std::string type = QString::fromUtf8(event->mimeData()->data(kBlockMimeType)).toStdString();
  Block b;
  b.id = BlockId(model->freshId(type));
  b.type = type;
  // As a plain drop places it: the cursor on its title.
  b.position = std::array<double, 2>{std::round(at.x() - 20), std::round(at.y() - 15)};
  const BlockId id = b.id;
  const QString why =
      insertIntoWire(model, wire->link(), id, window_->scene()->outputDType(wire->link().from), b);
  if (!why.isEmpty()) {
    message(tr("Dropped beside the wire, not into it: %1").arg(why));
    return false;  // the ordinary drop adds it unwired
  }
  window_->scene()->selectBlocks({id});
  event->acceptProposedAction();
  view->setFocus();
  return true;
}

bool CanvasTools::releaseOnWire(QMouseEvent* event) {
  // A single unwired block let go with the cursor on a wire goes into that wire; the move and
  // the insertion are one undo step.
  PageScene* scene = window_->scene();
  if (event->button() != Qt::LeftButton || scene->wireDragActive()) return false;
  const auto ids = scene->selectedBlocks();
  if (ids.size() != 1) return false;
  const BlockItem* item = scene->blockItem(ids.front());
  const Page& page = window_->model()->page();
  const int index = page.indexOf(ids.front());
  if (!item || index < 0 || scene->mouseGrabberItem() != item) return false;
  if (!page.incomingLinks(index).empty() || !page.outgoingLinks(index).empty()) return false;
  const Block& b = page.blocks()[index];
  if (!b.position || QPointF((*b.position)[0], (*b.position)[1]) == item->pos()) return false;
  WireItem* wire = wireUnder(window_->view()->mapToScene(event->position().toPoint()));
  const BlockDescriptor* d = item->descriptor();
  if (!wire || wire->broken() || !d) return false;
  const std::optional<DType> dtype = scene->outputDType(wire->link().from);
  if (!inputTaking(*d, dtype) || !firstTensorOutput(*d)) return false;
  const Link link = wire->link();
  const BlockId id = ids.front();
  QUndoStack* undo = window_->model()->undoStack();
  undo->beginMacro(tr("Move %1 into a wire").arg(QString::fromStdString(id.str())));
  resending_ = true;
  QApplication::sendEvent(window_->view()->viewport(), event);
  resending_ = false;
  const QString why = insertIntoWire(window_->model(), link, id, dtype);
  undo->endMacro();
  if (!why.isEmpty()) message(tr("Not put into the wire: %1").arg(why));
  return true;
}

bool CanvasTools::eventFilter(QObject* watched, QEvent* event) {
  PageView* view = window_->view();
  if (watched == view && event->type() == QEvent::KeyPress) {
    auto* key = static_cast<QKeyEvent*>(event);
    const qreal step = key->modifiers() & Qt::ShiftModifier ? kBigNudgeStep
                       : snapAction_->isChecked()           ? kSnapStep
                                                            : kNudgeStep;
    const bool plain = !(key->modifiers() & (Qt::ControlModifier | Qt::AltModifier));
    QPointF delta;
    switch (key->key()) {
      case Qt::Key_Left:
        delta = {-step, 0};
        break;
      case Qt::Key_Right:
        delta = {step, 0};
        break;
      case Qt::Key_Up:
        delta = {0, -step};
        break;
      case Qt::Key_Down:
        delta = {0, step};
        break;
      default:
        break;
    }
    if (plain && !delta.isNull() && !window_->scene()->selectedBlocks().empty()) {
      nudge(delta);
      return true;
    }
    return false;
  }
  if (watched != view->viewport() || resending_) return false;
  switch (event->type()) {
    case QEvent::ContextMenu: {
      auto* menuEvent = static_cast<QContextMenuEvent*>(event);
      showContextMenu(menuEvent->pos(), menuEvent->globalPos());
      return true;
    }
    case QEvent::Drop:
      return dropOnWire(static_cast<QDropEvent*>(event));
    case QEvent::MouseButtonRelease:
      return releaseOnWire(static_cast<QMouseEvent*>(event));
    default:
      return false;
  }
}

}  // namespace qs::editor
