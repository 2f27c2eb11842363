#include "editor_bridge/WireLayer.h"

#include <QPainter>
#include <QStyleOptionGraphicsItem>
#include <QVector>

#include "editor_bridge/EditorStyle.h"

namespace qs::editor {

namespace {
// The layer spans any page the editor can hold; it is one item, so its size costs nothing.
constexpr qreal kExtent = 1e7;
}  // namespace

WireLayer::WireLayer() {
  setFlags(ItemUsesExtendedStyleOption);
  setZValue(0);
}

QRectF WireLayer::boundingRect() const {
  return {-kExtent, -kExtent, 2 * kExtent, 2 * kExtent};
}

WireItem* WireLayer::add(const Link& link, BlockItem* from, BlockItem* to,
                         const QString& brokenReason) {
  auto wire = std::make_unique<WireItem>(link, from, to, this, brokenReason);
  WireItem* raw = wire.get();
  wires_[link] = std::move(wire);
  raw->slot = static_cast<int>(list_.size());
  list_.push_back(raw);
  rects_.push_back(raw->boundingRect());
  update(raw->boundingRect());
  return raw;
}

void WireLayer::remove(const Link& link) {
  auto it = wires_.find(link);
  if (it == wires_.end()) return;
  WireItem* w = it->second.get();
  update(w->boundingRect());
  if (w == hidden_) hidden_ = nullptr;
  const int slot = w->slot;
  list_[slot] = list_.back();
  rects_[slot] = rects_.back();
  list_[slot]->slot = slot;
  list_.pop_back();
  rects_.pop_back();
  wires_.erase(it);
}

void WireLayer::wireMoved(WireItem* wire, const QRectF& oldBounds) {
  rects_[wire->slot] = wire->boundingRect();
  update(oldBounds);
  update(wire->boundingRect());
}

void WireLayer::obstacleChanged(const void* block, const QRectF& rect) {
  const QRectF old = obstacles_.rectOf(block);
  if (old == rect) return;
  obstacles_.set(block, rect);
  for (size_t i = 0; i < list_.size(); ++i)
    if (rects_[i].intersects(old) || rects_[i].intersects(rect)) list_[i]->updateEnds(true);
}

WireItem* WireLayer::find(const Link& link) const {
  auto it = wires_.find(link);
  return it == wires_.end() ? nullptr : it->second.get();
}

WireItem* WireLayer::wireAt(QPointF scenePos, qreal lod) const {
  const qreal tolerance = 5.0 / std::max(lod, 0.01);
  for (size_t i = 0; i < rects_.size(); ++i)
    if (list_[i]->hit(scenePos, tolerance)) return list_[i];
  return nullptr;
}

void WireLayer::clearSelection() {
  for (const auto& [link, wire] : wires_) wire->setSelected(false);
}

void WireLayer::setHidden(const WireItem* wire) {
  if (wire == hidden_) return;
  for (const WireItem* w : {hidden_, wire})
    if (w) update(w->boundingRect());
  hidden_ = wire;
}

void WireLayer::paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) {
  const qreal lod = option->levelOfDetailFromTransform(p->worldTransform());
  const QRectF exposed = option->exposedRect;
  p->setBrush(Qt::NoBrush);
  if (lod < kLineLod) {
    QVector<QLineF> lines, selected, broken, cyclic;
    lines.reserve(static_cast<qsizetype>(wires_.size()));
    for (size_t i = 0; i < rects_.size(); ++i) {
      const WireItem* w = list_[i];
      if (!exposed.intersects(rects_[i]) || w == hidden_) continue;
      QVector<QLineF>& batch = w->isSelected() ? selected
                               : w->broken()   ? broken
                               : w->cyclic()   ? cyclic
                                               : lines;
      // A routed wire keeps its route (a straight line would cross the blocks it goes around).
      if (w->routed()) {
        const std::vector<QPointF>& pts = w->points();
        for (size_t k = 1; k < pts.size(); ++k) batch.append(QLineF(pts[k - 1], pts[k]));
      } else {
        batch.append(QLineF(w->start(), w->end()));
      }
    }
    p->setRenderHint(QPainter::Antialiasing, false);
    p->setPen(QPen(style::kWire, 0));
    p->drawLines(lines);
    p->setPen(QPen(style::kWireBroken, 0, Qt::DashLine));
    p->drawLines(broken);
    p->setPen(QPen(style::kWireCycle, 0, Qt::DashDotLine));
    p->drawLines(cyclic);
    p->setPen(QPen(style::kWireSelected, 0));
    p->drawLines(selected);
    return;
  }
  p->setRenderHint(QPainter::Antialiasing, true);
  // A broken wire is red and dashed, and stays dashed when selected, so that it reads as broken.
  const QPen normal(style::kWire, 1.8), chosen(style::kWireSelected, 3);
  const QPen broken(style::kWireBroken, 2.2, Qt::DashLine),
      brokenChosen(style::kWireSelected, 3, Qt::DashLine);
  // A link on a cycle: dash-dot in its own colour, selected or not.
  const QPen cyclic(style::kWireCycle, 2.2, Qt::DashDotLine),
      cyclicChosen(style::kWireSelected, 3, Qt::DashDotLine);
  p->setPen(normal);
  for (size_t i = 0; i < rects_.size(); ++i) {
    if (!exposed.intersects(rects_[i])) continue;
    const WireItem* wire = list_[i];
    if (wire == hidden_) continue;
    if (wire->isSelected() || wire->broken() || wire->cyclic()) {
      const bool sel = wire->isSelected();
      p->setPen(wire->broken()   ? (sel ? brokenChosen : broken)
                : wire->cyclic() ? (sel ? cyclicChosen : cyclic)
                                 : chosen);
      wire->paint(p, exposed);
      wire->paintLooseEnd(p);
      p->setPen(normal);
    } else {
      wire->paint(p, exposed);
    }
  }
}

}  // namespace qs::editor
