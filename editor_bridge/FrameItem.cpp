#include "editor_bridge/FrameItem.h"

#include <QGraphicsSceneMouseEvent>
#include <QPainter>
#include <QTimer>

#include "editor_bridge/BlockItem.h"
#include "editor_bridge/PageScene.h"

namespace qs::editor {

FrameItem::FrameItem(PageScene* scene, int index) : scene_(scene), index_(index) {
  setZValue(-1);  // behind wires and blocks
  setAcceptedMouseButtons(Qt::LeftButton);
  updateGeometry();
}

void FrameItem::updateGeometry() {
  const auto& frames = scene_->model()->page().frames;
  QRectF r;
  if (index_ < static_cast<int>(frames.size()))
    for (const BlockId& id : frames[index_].blocks)
      if (const BlockItem* b = scene_->blockItem(id)) r |= b->mapRectToScene(b->boxRect());
  if (!r.isNull()) r.adjust(-kMargin, -kMargin - kTitleHeight, kMargin, kMargin);
  if (r == rect_) return;
  prepareGeometryChange();
  rect_ = r;
  setVisible(!r.isNull());
}

QRectF FrameItem::titleRect() const {
  return QRectF(rect_.topLeft(), QSizeF(rect_.width(), kTitleHeight));
}

QPainterPath FrameItem::shape() const {
  QPainterPath path;
  path.addRect(titleRect());
  return path;
}

void FrameItem::paint(QPainter* p, const QStyleOptionGraphicsItem*, QWidget*) {
  const auto& frames = scene_->model()->page().frames;
  if (index_ >= static_cast<int>(frames.size()) || rect_.isNull()) return;
  const Frame& f = frames[index_];
  QColor colour(QString::fromStdString(f.color));
  if (!colour.isValid()) colour = Qt::gray;
  p->setRenderHint(QPainter::Antialiasing, true);
  QColor fill = colour;
  fill.setAlpha(45);
  p->setPen(QPen(colour, 1.5));
  p->setBrush(fill);
  p->drawRoundedRect(rect_, 6, 6);
  p->setPen(Qt::NoPen);
  p->setBrush(colour);
  p->drawRoundedRect(titleRect(), 6, 6);
  p->setPen(colour.lightness() > 150 ? Qt::black : Qt::white);
  QFont font = p->font();
  font.setBold(true);
  p->setFont(font);
  const QRectF text = titleRect().adjusted(8, 0, -8, 0);
  p->drawText(text, Qt::AlignVCenter | Qt::AlignLeft,
              p->fontMetrics().elidedText(QString::fromStdString(f.title), Qt::ElideRight,
                                          static_cast<int>(text.width())));
}

void FrameItem::mousePressEvent(QGraphicsSceneMouseEvent* event) {
  // Selecting the blocks makes the scene record where they started, so that the drag becomes
  // one move on the undo stack.
  const auto& frames = scene_->model()->page().frames;
  if (index_ >= static_cast<int>(frames.size())) return event->ignore();
  scene_->selectBlocks(frames[index_].blocks);
  lastDrag_ = event->scenePos();
  event->accept();
}

void FrameItem::mouseMoveEvent(QGraphicsSceneMouseEvent* event) {
  const QPointF delta = event->scenePos() - lastDrag_;
  lastDrag_ = event->scenePos();
  for (const BlockId& id : scene_->selectedBlocks())
    if (BlockItem* b = scene_->blockItem(id)) b->setPos(b->pos() + delta);
  updateGeometry();
}

FrameLayer::FrameLayer(PageScene* scene) : QObject(scene), scene_(scene) {
  PageModel* model = scene->model();
  connect(model, &PageModel::pageReset, this, &FrameLayer::rebuild);
  connect(model, &PageModel::framesChanged, this, &FrameLayer::rebuild);
  connect(model, &PageModel::blockMoved, this, &FrameLayer::refresh);
  connect(model, &PageModel::blockAdded, this, &FrameLayer::refresh);
  connect(model, &PageModel::blockRemoved, this, &FrameLayer::refresh);
  connect(scene, &PageScene::blockItemMoved, this, &FrameLayer::scheduleRefresh);
  rebuild();
}

void FrameLayer::rebuild() {
  for (const QPointer<FrameItem>& item : items_) delete item.data();
  items_.clear();
  const int n = static_cast<int>(scene_->model()->page().frames.size());
  for (int i = 0; i < n; ++i) {
    auto* item = new FrameItem(scene_, i);
    scene_->addItem(item);
    items_.emplace_back(item);
  }
}

void FrameLayer::scheduleRefresh() {
  if (refreshPending_ || items_.empty()) return;
  refreshPending_ = true;
  QTimer::singleShot(0, this, [this] {
    refreshPending_ = false;
    refresh();
  });
}

void FrameLayer::refresh() {
  for (const QPointer<FrameItem>& item : items_)
    if (item) item->updateGeometry();
}

FrameItem* FrameLayer::frameAt(QPointF scenePos) const {
  for (auto it = items_.rbegin(); it != items_.rend(); ++it)
    if (*it && (*it)->isVisible() && (*it)->titleRect().contains(scenePos)) return it->data();
  return nullptr;
}

FrameItem* FrameLayer::frame(int index) const {
  return index >= 0 && index < static_cast<int>(items_.size()) ? items_[index].data() : nullptr;
}

}  // namespace qs::editor
