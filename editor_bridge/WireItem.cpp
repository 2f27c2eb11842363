#include "editor_bridge/WireItem.h"

#include <QFontMetricsF>
#include <QPainter>
#include <algorithm>
#include <cmath>

#include "editor_bridge/BlockItem.h"
#include "editor_bridge/EditorStyle.h"
#include "editor_bridge/WireLayer.h"
#include "editor_bridge/WireRouter.h"

namespace qs::editor {

WireItem::WireItem(Link link, BlockItem* from, BlockItem* to, WireLayer* layer,
                   QString brokenReason)
    : link_(std::move(link)),
      from_(from),
      to_(to),
      layer_(layer),
      brokenReason_(std::move(brokenReason)) {
  if (!from_ || !to_) {
    loose_ = !from_ ? End::From : End::To;
    stub_ = true;
    const PortRef& missing = !from_ ? link_.from : link_.to;
    looseLabel_ = QString::fromStdString(missing.block.str() + "." + missing.port.str() + "?");
  } else if (broken()) {
    // Only a block of known type can lack a port (an unknown type is the block's own error).
    if (from_->descriptor() && !from_->hasPort(link_.from.port.str(), PortDirection::Output))
      loose_ = End::From;
    else if (to_->descriptor() && !to_->hasPort(link_.to.port.str(), PortDirection::Input))
      loose_ = End::To;
    if (loose_ != End::None)
      looseLabel_ =
          QString::fromStdString((loose_ == End::From ? link_.from : link_.to).port.str() + "?");
  }
  updateEnds();
}

QRectF WireItem::looseLabelRect() const {
  if (looseLabel_.isEmpty()) return {};
  const QFontMetricsF m(style::boldFont());
  const QSizeF size(m.horizontalAdvance(looseLabel_) + 4, m.height());
  const qreal w = size.width(), h = size.height();
  // Away from the wire: beyond a stub's end, or above the wire beside the block's edge.
  QPointF at;
  if (loose_ == End::From)
    at = stub_ ? a_ - QPointF(w + 6, h / 2) : a_ + QPointF(6, -h - 2);
  else
    at = stub_ ? b_ + QPointF(6, -h / 2) : b_ - QPointF(w + 6, h + 2);
  return QRectF(at, size);
}

void WireItem::paintLooseEnd(QPainter* p) const {
  if (looseLabel_.isEmpty()) return;
  const QPointF end = loose_ == End::From ? a_ : b_;
  p->save();
  p->setPen(QPen(style::kWireBroken, 2));
  p->drawLine(end + QPointF(-4, -4), end + QPointF(4, 4));
  p->drawLine(end + QPointF(-4, 4), end + QPointF(4, -4));
  p->setFont(style::boldFont());
  p->drawText(looseLabelRect(), Qt::AlignCenter, looseLabel_);
  p->restore();
}

QPainterPath WireItem::curve(QPointF a, QPointF b) {
  const qreal dx = std::max(40.0, std::abs(b.x() - a.x()) * 0.5);
  QPainterPath path(a);
  path.cubicTo(a + QPointF(dx, 0), b - QPointF(dx, 0), b);
  return path;
}

void WireItem::updateEnds(bool reroute) {
  const QPointF b0 = to_ ? to_->portScenePos(link_.to.port.str()) : QPointF();
  // A missing output leaves from the top of the right edge, beside no pin.
  const QPointF a = !from_                ? b0 - QPointF(kStub, 0)
                    : loose_ == End::From ? from_->mapToScene(QPointF(BlockItem::kWidth, 14))
                                          : from_->portScenePos(link_.from.port.str());
  const QPointF b = to_ ? b0 : a + QPointF(kStub, 0);
  if (a == a_ && b == b_ && !bounds_.isNull() && !reroute) return;
  const QRectF old = bounds_;
  a_ = a;
  b_ = b;
  // A stub to a missing block stays a plain curve: it has no block at its other end to reach.
  if (layer_ && from_ && to_)
    points_ = routeWire(a, b, layer_->obstacles(), &routed_);
  else
    points_ = wireCurve(a, b);
  qreal x0 = a.x(), x1 = a.x(), y0 = a.y(), y1 = a.y();
  for (const QPointF& q : points_) {
    x0 = std::min(x0, q.x());
    x1 = std::max(x1, q.x());
    y0 = std::min(y0, q.y());
    y1 = std::max(y1, q.y());
  }
  bounds_ =
      QRectF(QPointF(x0, y0), QPointF(x1, y1)).adjusted(-5, -5, 5, 5).united(looseLabelRect());
  if (layer_ && slot >= 0) layer_->wireMoved(this, old);
}

void WireItem::setSelected(bool selected) {
  if (selected == selected_) return;
  selected_ = selected;
  if (layer_) layer_->update(bounds_);
}

void WireItem::setCyclic(bool cyclic) {
  if (cyclic == cyclic_) return;
  cyclic_ = cyclic;
  if (layer_) layer_->update(bounds_);
}

bool WireItem::hit(QPointF pos, qreal tolerance) const {
  if (!bounds_.adjusted(-tolerance, -tolerance, tolerance, tolerance).contains(pos)) return false;
  const int segments = static_cast<int>(points_.size()) - 1;
  for (int i = 0; i < segments; ++i) {
    const QPointF d = points_[i + 1] - points_[i];
    const qreal len2 = QPointF::dotProduct(d, d);
    const qreal t =
        len2 > 0 ? std::clamp(QPointF::dotProduct(pos - points_[i], d) / len2, 0.0, 1.0) : 0;
    const QPointF q = points_[i] + t * d - pos;
    if (QPointF::dotProduct(q, q) <= tolerance * tolerance) return true;
  }
  return false;
}

void WireItem::paint(QPainter* p, const QRectF& exposed) const {
  const QRectF visible = exposed.adjusted(-4, -4, 4, 4);
  int first = -1;
  const int segments = static_cast<int>(points_.size()) - 1;
  for (int i = 0; i < segments; ++i) {
    const bool in =
        visible.intersects(QRectF(points_[i], points_[i + 1]).normalized().adjusted(-1, -1, 1, 1));
    if (in && first < 0) first = i;
    if (!in && first >= 0) {
      p->drawPolyline(points_.data() + first, i - first + 1);
      first = -1;
    }
  }
  if (first >= 0) p->drawPolyline(points_.data() + first, segments - first + 1);
}

}  // namespace qs::editor
