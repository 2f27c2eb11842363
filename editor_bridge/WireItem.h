#pragma once

#include <QGraphicsItem>
#include <QPainterPath>
#include <array>

#include "runtime/Page.h"

namespace qs::editor {

class BlockItem;

// A wire from an output (right edge) to an input (left edge): a cubic curve at readable zoom, a
// straight line when zoomed out (stroking thousands of curves is what makes fitted frames slow).
class WireItem : public QGraphicsItem {
 public:
  enum { Type = UserType + 2 };
  WireItem(Link link, BlockItem* from, BlockItem* to);
  int type() const override { return Type; }

  const Link& link() const { return link_; }
  BlockItem* fromItem() const { return from_; }
  BlockItem* toItem() const { return to_; }
  // Follows the blocks after either moved.
  void updateEnds();

  QRectF boundingRect() const override { return bounds_; }
  QPainterPath shape() const override;
  void paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

  static QPainterPath curve(QPointF a, QPointF b);

 private:
  Link link_;
  BlockItem* from_;
  BlockItem* to_;
  static constexpr int kSegments = 24;
  QPointF a_, b_;
  std::array<QPointF, kSegments + 1> points_;
  QRectF bounds_;
};

}  // namespace qs::editor
