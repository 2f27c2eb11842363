#include "editor_bridge/Minimap.h"

#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QTimer>
#include <algorithm>

#include "editor_bridge/EditorStyle.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/PageView.h"

namespace qs::editor {

namespace {
constexpr int kMaxWidth = 220;
constexpr int kMaxHeight = 150;
constexpr int kMargin = 10;  // from the viewport's corner
constexpr int kInset = 4;    // inside the minimap's frame
}  // namespace

Minimap::Minimap(PageView* view) : QWidget(view), view_(view) {
  setCursor(Qt::PointingHandCursor);
  setToolTip(tr("Page overview: click or drag to move the view"));
  setAttribute(Qt::WA_OpaquePaintEvent);
  PageScene* scene = view->pageScene();
  PageModel* model = scene->model();
  for (auto signal : {&PageModel::blockAdded, &PageModel::blockRemoved, &PageModel::blockMoved})
    connect(model, signal, this, &Minimap::pageChanged);
  connect(model, &PageModel::pageReset, this, &Minimap::pageChanged);
  connect(scene, &PageScene::statusesChanged, this, &Minimap::pageChanged);
  connect(view->horizontalScrollBar(), &QScrollBar::valueChanged, this, &Minimap::viewChanged);
  connect(view->verticalScrollBar(), &QScrollBar::valueChanged, this, &Minimap::viewChanged);
  hide();
}

void Minimap::setEnabledByUser(bool on) {
  enabledByUser_ = on;
  viewChanged();
}

void Minimap::pageChanged() {
  // Loading a page adds thousands of blocks one by one: redraw once, after the last of them.
  if (dirty_ && pending_) return;
  dirty_ = true;
  pending_ = true;
  QTimer::singleShot(0, this, [this] {
    pending_ = false;
    viewChanged();
  });
}

QPointF Minimap::toScene(QPointF p) const {
  return world_.topLeft() + (p - offset_) / scale_;
}

QPointF Minimap::fromScene(QPointF s) const {
  return offset_ + (s - world_.topLeft()) * scale_;
}

void Minimap::rebuildPixmap() {
  dirty_ = false;
  ++builds_;
  PageScene* scene = view_->pageScene();
  const QRectF blocks = scene->blocksBoundingRect();
  blocks_ = blocks;
  world_ = blocks.isEmpty() ? QRectF(0, 0, 1000, 700) : blocks.adjusted(-80, -80, 80, 80);
  scale_ = std::min((kMaxWidth - 2 * kInset) / world_.width(),
                    (kMaxHeight - 2 * kInset) / world_.height());
  const QSize size(static_cast<int>(world_.width() * scale_) + 2 * kInset,
                   static_cast<int>(world_.height() * scale_) + 2 * kInset);
  offset_ = QPointF(kInset, kInset);
  resize(size);
  pixmap_ = QPixmap(size * devicePixelRatioF());
  pixmap_.setDevicePixelRatio(devicePixelRatioF());
  pixmap_.fill(style::kCanvas.darker(130));
  QPainter p(&pixmap_);
  p.setPen(Qt::NoPen);
  // One pixel at least, so that a block never vanishes from the overview.
  const QSizeF blockSize(std::max(1.5, BlockItem::kWidth * scale_),
                         std::max(1.5, BlockItem::kMinHeight * scale_));
  const QColor ok = style::kBlockOutline.darker(140);
  const QColor error = style::statusColor(BlockStatus::Error);
  std::vector<QRectF> errors;
  for (const Block& b : scene->model()->page().blocks()) {
    const BlockItem* item = scene->blockItem(b.id);
    if (!item) continue;
    const QRectF r(fromScene(item->pos()), blockSize);
    if (item->status() == BlockStatus::Error) {
      errors.push_back(r);
      continue;
    }
    p.fillRect(r, ok);
  }
  // Errors last and a little larger, so that they stay visible among thousands of blocks.
  for (const QRectF& r : errors) p.fillRect(r.adjusted(-1, -1, 1, 1), error);
  p.setPen(QColor(90, 90, 90));
  p.setBrush(Qt::NoBrush);
  p.drawRect(QRectF(0.5, 0.5, size.width() - 1, size.height() - 1));
}

void Minimap::viewChanged() {
  // While the scene is being destroyed the view lets go of it and moves its scroll bars, which
  // lands here: the scene is then no longer a PageScene to draw from.
  if (view_->scene() != view_->pageScene()) {
    hide();
    return;
  }
  const QRect vp = view_->viewport()->geometry();
  const QRectF visible = view_->mapToScene(view_->viewport()->rect()).boundingRect();
  if (dirty_) rebuildPixmap();
  // Hidden while nearly all of the page is in view (a fitted page can miss a few pixels).
  const QRectF seen = visible.intersected(blocks_);
  const bool wanted =
      enabledByUser_ && !blocks_.isEmpty() &&
      (dragging_ || seen.width() * seen.height() < 0.9 * blocks_.width() * blocks_.height());
  if (!wanted) {
    if (isVisible()) hide();
    return;
  }
  move(vp.right() - width() - kMargin + 1, vp.bottom() - height() - kMargin + 1);
  if (!isVisible()) {
    show();
    raise();
  }
  update();
}

void Minimap::paintEvent(QPaintEvent*) {
  if (dirty_) rebuildPixmap();
  QPainter p(this);
  p.drawPixmap(0, 0, pixmap_);
  const QRectF visible = view_->mapToScene(view_->viewport()->rect()).boundingRect();
  QRectF frame(fromScene(visible.topLeft()), fromScene(visible.bottomRight()));
  frame = frame.intersected(QRectF(rect()).adjusted(1, 1, -1, -1));
  p.setPen(QPen(style::kHighlight, 1.5));
  p.setBrush(QColor(0, 230, 255, 30));
  p.drawRect(frame);
}

void Minimap::panTo(QPointF minimapPos) {
  view_->centerOn(toScene(minimapPos));
}

void Minimap::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return QWidget::mousePressEvent(event);
  dragging_ = true;
  panTo(event->position());
  event->accept();
}

void Minimap::mouseMoveEvent(QMouseEvent* event) {
  if (!dragging_) return QWidget::mouseMoveEvent(event);
  panTo(event->position());
  event->accept();
}

void Minimap::mouseReleaseEvent(QMouseEvent* event) {
  if (!dragging_) return QWidget::mouseReleaseEvent(event);
  dragging_ = false;
  event->accept();
  viewChanged();
}

}  // namespace qs::editor
