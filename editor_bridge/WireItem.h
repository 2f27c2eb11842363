#pragma once

#include <QPainterPath>
#include <QRectF>
#include <QString>
#include <vector>

#include "runtime/Page.h"

class QPainter;

namespace qs::editor {

class BlockItem;
class WireLayer;

// A wire from an output (right edge) to an input (left edge). A broken wire (its link names a
// block that is not on the page, or a port its block does not have) is drawn red and dashed; where
// its block is missing, the wire ends in a short stub labelled with what it names. Not a
// QGraphicsItem of its own:
// all wires are drawn by one WireLayer, because Qt's graphics view keeps about 1.3 KB of
// bookkeeping per painted item, which for the 7,500 wires of a 5,000-block page was 10 MB.
class WireItem {
 public:
  // `from` or `to` (not both) is null for a link to a block that is not on the page.
  // `brokenReason` is empty for a sound wire.
  WireItem(Link link, BlockItem* from, BlockItem* to, WireLayer* layer, QString brokenReason = {});

  const Link& link() const { return link_; }
  BlockItem* fromItem() const { return from_; }
  BlockItem* toItem() const { return to_; }
  // Follows the blocks after either moved (repaints the old and the new area); `reroute` also
  // when the ends stayed, because a block moved into or out of the wire's way.
  void updateEnds(bool reroute = false);
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
  // The drawn path (scene coordinates): the S-curve, or a route around the blocks in its way.
  const std::vector<QPointF>& points() const { return points_; }
  bool routed() const { return routed_; }
  // A link on a cycle (its blocks feed each other): drawn in its own dash so that it is never
  // taken for a working wire.
  bool cyclic() const { return cyclic_; }
  void setCyclic(bool cyclic);
  bool broken() const { return !brokenReason_.isEmpty(); }
  const QString& brokenReason() const { return brokenReason_; }
  // Marks the end that names what is missing, with its label: "ghost.output?" at the stub of a
  // wire whose block is not on the page, "nope?" where a block lacks the port.
  void paintLooseEnd(QPainter* p) const;

  static QPainterPath curve(QPointF a, QPointF b);

  int slot = -1;  // index in WireLayer's flat arrays

 private:
  static constexpr qreal kStub = 90;  // length of a wire whose other block is missing
  QRectF looseLabelRect() const;
  Link link_;
  BlockItem* from_;
  BlockItem* to_;
  WireLayer* layer_;
  QPointF a_, b_;
  QRectF bounds_;
  std::vector<QPointF> points_;
  bool routed_ = false;
  bool cyclic_ = false;
  bool selected_ = false;
  QString brokenReason_;
  enum class End { None, From, To };
  End loose_ = End::None;  // the end naming what is missing
  bool stub_ = false;      // that end's block is missing: the wire ends in a short stub
  QString looseLabel_;
};

}  // namespace qs::editor
