#include "editor_bridge/WireItem.h"

#include <QPainter>
#include <QPainterPathStroker>
#include <QStyleOptionGraphicsItem>
#include <cmath>

#include "editor_bridge/BlockItem.h"
#include "editor_bridge/EditorStyle.h"

namespace qs::editor {

namespace {
constexpr qreal kLineLod = 0.45;
}

WireItem::WireItem(Link link, BlockItem* from, BlockItem* to)
    : link_(std::move(link)), from_(from), to_(to) {
  setFlags(ItemIsSelectable | ItemUsesExtendedStyleOption);
  setZValue(0);
  updateEnds();
}

QPainterPath WireItem::curve(QPointF a, QPointF b) {
  const qreal dx = std::max(40.0, std::abs(b.x() - a.x()) * 0.5);
  QPainterPath path(a);
  path.cubicTo(a + QPointF(dx, 0), b - QPointF(dx, 0), b);
  return path;
}

void WireItem::updateEnds() {
  const QPointF a = from_->portScenePos(link_.from.port.str());
  const QPointF b = to_->portScenePos(link_.to.port.str());
  if (a == a_ && b == b_ && !bounds_.isNull()) return;
  prepareGeometryChange();
  a_ = a;
  b_ = b;
  const QPointF c1 = a + QPointF(std::max(40.0, std::abs(b.x() - a.x()) * 0.5), 0);
  const QPointF c2 = b - QPointF(std::max(40.0, std::abs(b.x() - a.x()) * 0.5), 0);
  for (int i = 0; i < kSegments + 1; ++i) {
    const qreal t = qreal(i) / kSegments, u = 1 - t;
    points_[i] = u * u * u * a + 3 * u * u * t * c1 + 3 * u * t * t * c2 + t * t * t * b;
  }
  // The curve stays inside the box of its end and control points.
  const qreal dx = std::max(40.0, std::abs(b.x() - a.x()) * 0.5);
  bounds_ = QRectF(QPointF(std::min(a.x(), b.x() - dx), std::min(a.y(), b.y())),
                   QPointF(std::max(a.x() + dx, b.x()), std::max(a.y(), b.y())))
                .adjusted(-3, -3, 3, 3);
}

QPainterPath WireItem::shape() const {
  QPainterPathStroker stroker;
  stroker.setWidth(8);
  return stroker.createStroke(curve(a_, b_));
}

void WireItem::paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) {
  const qreal lod = option->levelOfDetailFromTransform(p->worldTransform());
  const QColor c = isSelected() ? style::kWireSelected : style::kWire;
  p->setBrush(Qt::NoBrush);
  if (lod < kLineLod) {
    p->setRenderHint(QPainter::Antialiasing, false);
    p->setPen(QPen(c, 0));
    p->drawLine(a_, b_);
    return;
  }
  p->setRenderHint(QPainter::Antialiasing, true);
  p->setPen(QPen(c, isSelected() ? 3 : 1.8));
  // A fixed polyline instead of the curve: Qt flattens a curve by its length, so a wire across
  // a large page would cost hundreds of segments per frame even when mostly off screen.
  // Only the run of segments that crosses the exposed area: antialiased stroking costs by length,
  // and a wire across a large page is mostly off screen.
  const QRectF visible = option->exposedRect.adjusted(-4, -4, 4, 4);
  int first = -1;
  for (int i = 0; i < kSegments; ++i) {
    const bool in =
        visible.intersects(QRectF(points_[i], points_[i + 1]).normalized().adjusted(-1, -1, 1, 1));
    if (in && first < 0) first = i;
    if (!in && first >= 0) {
      p->drawPolyline(points_.data() + first, i - first + 1);
      first = -1;
    }
  }
  if (first >= 0) p->drawPolyline(points_.data() + first, kSegments - first + 1);
}

}  // namespace qs::editor
