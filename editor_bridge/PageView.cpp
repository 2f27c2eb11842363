#include "editor_bridge/PageView.h"

#include <QDragEnterEvent>
#include <QMimeData>
#include <QScrollBar>
#include <QTimer>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "editor_bridge/Minimap.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/QuickAddPopup.h"

namespace qs::editor {

namespace {
constexpr qreal kMinZoom = 0.01;
constexpr qreal kMaxZoom = 4.0;
}  // namespace

PageView::PageView(PageScene* scene, QWidget* parent)
    : QGraphicsView(scene, parent), scene_(scene) {
  setRenderHint(QPainter::Antialiasing, true);
  setRenderHint(QPainter::TextAntialiasing, true);
  setDragMode(QGraphicsView::RubberBandDrag);
  setRubberBandSelectionMode(Qt::IntersectsItemShape);
  setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
  setResizeAnchor(QGraphicsView::AnchorViewCenter);
  // Items set every painter state they use, and their bounding rects include the antialiasing
  // margin, so the view can skip saving state and adjusting exposed rects for each item.
  setOptimizationFlags(QGraphicsView::DontSavePainterState |
                       QGraphicsView::DontAdjustForAntialiasing);
  setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
  setCacheMode(QGraphicsView::CacheNone);
  setAcceptDrops(true);
  setFocusPolicy(Qt::StrongFocus);
  setMouseTracking(true);
  quickAdd_ = new QuickAddPopup(scene->model()->registry(), this);
  connect(quickAdd_, &QuickAddPopup::chosen, this, [this](const QString& type, QPointF pos) {
    const BlockId id = scene_->model()->addBlock(type.toStdString(), pos);
    scene_->selectBlocks({id});
  });
  minimap_ = new Minimap(this);
  // A rubber band ends with a null rectangle: then take the wires among the chosen blocks too.
  connect(this, &QGraphicsView::rubberBandChanged, this, [this](QRect band, QPointF, QPointF) {
    if (band.isNull()) scene_->selectWiresBetweenSelectedBlocks();
  });
}

bool PageView::blockAt(QPoint viewportPos) const {
  for (QGraphicsItem* item : items(viewportPos))
    if (item->type() == BlockItem::Type) return true;
  return false;
}

void PageView::fitPage() {
  QRectF r = scene_->blocksBoundingRect();
  if (r.isEmpty()) {
    resetTransform();
    centerOn(0, 0);
    return;
  }
  r.adjust(-40, -40, 40, 40);
  fitInView(r, Qt::KeepAspectRatio);
  // Fitting can show or hide the scroll bars, which changes the viewport: fit once more.
  fitInView(r, Qt::KeepAspectRatio);
  // Never magnify a small page beyond 100%: it would look like a different size of block.
  if (zoom() > 1.0) {
    resetTransform();
    centerOn(r.center());
  }
  minimap_->viewChanged();
}

void PageView::zoomBy(qreal factor, QPoint viewportAnchor) {
  const qreal target = std::clamp(zoom() * factor, kMinZoom, kMaxZoom);
  factor = target / zoom();
  const QPointF before = mapToScene(viewportAnchor);
  const ViewportAnchor old = transformationAnchor();
  setTransformationAnchor(QGraphicsView::NoAnchor);
  scale(factor, factor);
  // Keep the scene point under the anchor where it was.
  const QPoint shift = mapFromScene(before) - viewportAnchor;
  horizontalScrollBar()->setValue(horizontalScrollBar()->value() + shift.x());
  verticalScrollBar()->setValue(verticalScrollBar()->value() + shift.y());
  setTransformationAnchor(old);
  minimap_->viewChanged();
}

void PageView::paintEvent(QPaintEvent* event) {
  scene_->setZoomForCaching(zoom());
  QGraphicsView::paintEvent(event);
  // A zoom moves the minimap's frame without always moving a scroll bar; tell it after the frame.
  if (transform() != minimapTransform_) {
    minimapTransform_ = transform();
    QTimer::singleShot(0, minimap_, &Minimap::viewChanged);
  }
}

void PageView::resizeEvent(QResizeEvent* event) {
  QGraphicsView::resizeEvent(event);
  minimap_->viewChanged();
}

void PageView::wheelEvent(QWheelEvent* event) {
  const int delta = event->angleDelta().y();
  if (delta == 0) return QGraphicsView::wheelEvent(event);
  zoomBy(std::pow(1.0015, delta), event->position().toPoint());
  event->accept();
}

void PageView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::MiddleButton || (spaceDown_ && event->button() == Qt::LeftButton)) {
    panning_ = true;
    panLast_ = event->pos();
    viewport()->setCursor(Qt::ClosedHandCursor);
    event->accept();
    return;
  }
  QGraphicsView::mousePressEvent(event);
}

void PageView::mouseMoveEvent(QMouseEvent* event) {
  if (panning_) {
    const QPoint d = event->pos() - panLast_;
    panLast_ = event->pos();
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() - d.x());
    verticalScrollBar()->setValue(verticalScrollBar()->value() - d.y());
    event->accept();
    return;
  }
  QGraphicsView::mouseMoveEvent(event);
}

void PageView::mouseReleaseEvent(QMouseEvent* event) {
  if (panning_) {
    panning_ = false;
    viewport()->unsetCursor();
    event->accept();
    return;
  }
  QGraphicsView::mouseReleaseEvent(event);
}

void PageView::mouseDoubleClickEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && !blockAt(event->pos())) {
    openQuickAdd(mapToScene(event->pos()));
    event->accept();
    return;
  }
  QGraphicsView::mouseDoubleClickEvent(event);
}

void PageView::openQuickAdd(QPointF scenePos) {
  quickAdd_->popup(mapToGlobal(mapFromScene(scenePos)), scenePos);
}

void PageView::keyPressEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
    spaceDown_ = true;
    event->accept();
    return;
  }
  QGraphicsView::keyPressEvent(event);
}

void PageView::keyReleaseEvent(QKeyEvent* event) {
  if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
    spaceDown_ = false;
    event->accept();
    return;
  }
  QGraphicsView::keyReleaseEvent(event);
}

bool PageView::focusNextPrevChild(bool next) {
  // Tab on the canvas opens the quick-add popup at the cursor (or the centre), as in Blender.
  if (next) {
    QPoint at = viewport()->mapFromGlobal(QCursor::pos());
    if (!viewport()->rect().contains(at) || blockAt(at)) at = viewport()->rect().center();
    openQuickAdd(mapToScene(at));
    return true;
  }
  return QGraphicsView::focusNextPrevChild(next);
}

void PageView::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasFormat(kBlockMimeType) || event->mimeData()->hasUrls())
    event->acceptProposedAction();
  else
    QGraphicsView::dragEnterEvent(event);
}

void PageView::dragMoveEvent(QDragMoveEvent* event) {
  if (event->mimeData()->hasFormat(kBlockMimeType) || event->mimeData()->hasUrls())
    event->acceptProposedAction();
  else
    QGraphicsView::dragMoveEvent(event);
}

void PageView::dropEvent(QDropEvent* event) {
  if (!event->mimeData()->hasFormat(kBlockMimeType) && event->mimeData()->hasUrls()) {
    event->acceptProposedAction();
    emit filesDropped(event->mimeData()->urls());
    return;
  }
  if (!event->mimeData()->hasFormat(kBlockMimeType)) return QGraphicsView::dropEvent(event);
  const QString type = QString::fromUtf8(event->mimeData()->data(kBlockMimeType));
  // The drop point is the block's top-left corner, a little up and left so the cursor is on it.
  const QPointF pos = mapToScene(event->position().toPoint()) - QPointF(20, 15);
  const BlockId id = scene_->model()->addBlock(type.toStdString(), pos);
  scene_->selectBlocks({id});
  event->acceptProposedAction();
  setFocus();
}

}  // namespace qs::editor
