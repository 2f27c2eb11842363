#pragma once

#include <QPainterPath>
#include <QRectF>
#include <array>

#include "runtime/Page.h"

class QPainter;

namespace qs::editor {

class BlockItem;
class WireLayer;

// A wire from an output (right edge) to an input (left edge). Not a QGraphicsItem of its own:
// all wires are drawn by one WireLayer, because Qt's graphics view keeps about 1.3 KB of
// bookkeeping per painted item, which for the 7,500 wires of a 5,000-block page was 10 MB.
class WireItem {
 public:
  WireItem(Link link, BlockItem* from, BlockItem* to, WireLayer* layer);

  const Link& link() const { return link_; }
  BlockItem* fromItem() const { return from_; }
  BlockItem* toItem() const { return to_; }
  // Follows the blocks after either moved (repaints the old and the new area).
  void updateEnds();
  // Scene coordinates.
  QRectF boundingRect() const { return bounds_; }
  bool isSelected() const { return selected_; }
  void setSelected(bool selected);
  // True if `scenePos` is within `tolerance` of the drawn wire.
  bool hit(QPointF scenePos, qreal tolerance) const;
  // Draws the segments that cross `exposed`, as a polyline (Qt flattens a curve by its length,
  // so a wire across a large page would cost hundreds of segments per frame).
  void paint(QPainter* p, const QRectF& exposed) const;
  QPointF start() const { return a_; }
  QPointF end() const { return b_; }

  static QPainterPath curve(QPointF a, QPointF b);

  int slot = -1;  // index in WireLayer's flat arrays

 private:
  static constexpr int kSegments = 24;
  Link link_;
  BlockItem* from_;
  BlockItem* to_;
  WireLayer* layer_;
  QPointF a_, b_;
  QRectF bounds_;
  std::array<QPointF, kSegments + 1> points_;
  bool selected_ = false;
};

}  // namespace qs::editor
