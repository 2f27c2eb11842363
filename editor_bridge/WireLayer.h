#pragma once

#include <QGraphicsItem>
#include <memory>
#include <unordered_map>

#include "editor_bridge/WireItem.h"
#include "editor_bridge/WireRouter.h"

namespace qs::editor {

struct LinkHash {
  size_t operator()(const Link& l) const noexcept {
    std::hash<std::string> h;
    return h(l.from.block.str()) * 31 ^ h(l.from.port.str()) * 17 ^ h(l.to.block.str()) * 7 ^
           h(l.to.port.str());
  }
};

// Draws every wire of the page below the blocks, as one graphics item: zoomed out as one batch of
// straight lines, zoomed in as antialiased polylines for the wires that cross the exposed area.
class WireLayer : public QGraphicsItem {
 public:
  WireLayer();
  // Below this zoom wires are straight lines (routed ones: their route's runs), drawn in one batch.
  static constexpr qreal kLineLod = 0.45;

  // `from` or `to` is null for a link to a block that is not on the page (see WireItem).
  WireItem* add(const Link& link, BlockItem* from, BlockItem* to, const QString& brokenReason = {});
  void remove(const Link& link);
  WireItem* find(const Link& link) const;
  const std::unordered_map<Link, std::unique_ptr<WireItem>, LinkHash>& wires() const {
    return wires_;
  }
  // The wire nearest `scenePos` within a few pixels at zoom `lod`, or nullptr.
  WireItem* wireAt(QPointF scenePos, qreal lod) const;
  void clearSelection();
  // A wire left out of the drawing while its end is dragged elsewhere (nullptr: none).
  void setHidden(const WireItem* wire);
  const WireItem* hidden() const { return hidden_; }

  // Called by a wire whose geometry changed.
  void wireMoved(WireItem* wire, const QRectF& oldBounds);

  // The blocks the wires are routed around.
  const ObstacleIndex& obstacles() const { return obstacles_; }
  // A block was added, moved or (empty `rect`) removed: the wires that pass where it was or now
  // is find their way again.
  void obstacleChanged(const void* block, const QRectF& rect);

  QRectF boundingRect() const override;
  void paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

 private:
  std::unordered_map<Link, std::unique_ptr<WireItem>, LinkHash> wires_;
  // The same wires in flat arrays, so that a frame tests 7,500 rectangles in a tight loop instead
  // of walking the hash map (each wire knows its slot).
  std::vector<WireItem*> list_;
  std::vector<QRectF> rects_;
  const WireItem* hidden_ = nullptr;
  ObstacleIndex obstacles_;
};

}  // namespace qs::editor
