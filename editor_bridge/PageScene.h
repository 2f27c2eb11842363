#pragma once

#include <QGraphicsScene>
#include <QHash>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "editor_bridge/BlockItem.h"
#include "editor_bridge/EvalService.h"
#include "editor_bridge/PageModel.h"
#include "editor_bridge/WireLayer.h"

class QGraphicsPathItem;
class QMenu;

namespace qs::editor {

// Draws a PageModel and turns gestures into the model's undoable edits: it never changes the
// page itself. Wiring: press on an output pin, drag (compatible inputs light up), release on an
// input; a refused drop says why (message() and a tooltip).
class PageScene : public QGraphicsScene {
  Q_OBJECT
 public:
  explicit PageScene(PageModel* model, QObject* parent = nullptr);

  PageModel* model() const { return model_; }
  BlockItem* blockItem(const BlockId& id) const;
  WireItem* wireItem(const Link& link) const;
  const WireLayer* wireLayer() const { return wires_; }
  std::vector<BlockId> selectedBlocks() const;
  std::vector<Link> selectedLinks() const;
  void selectBlocks(const std::vector<BlockId>& ids);
  // Selects one wire (as a click on it does); with `add`, keeps the current selection.
  void selectWire(const Link& link, bool add = false);
  // Adds to the selection every wire whose two blocks are selected (after a rubber band or
  // Select All), so that delete and copy take the wires among the blocks too.
  void selectWiresBetweenSelectedBlocks();

  // Status badges from a check or a run.
  void applyResults(const ResultMap& results);
  void setBlockStatus(const BlockId& id, BlockStatus status, const std::string& error);

  // Wire dragging state, read by BlockItem::paint to highlight compatible inputs. A drag starts
  // from an output pin (a new wire) or from a wired input pin (that wire's end, detached: dropped
  // on another input it moves there, dropped off any pin it is deleted).
  bool wireDragActive() const { return dragging_; }
  bool acceptsDrop(const BlockItem* item, const BlockItem::Port& port) const;
  // The reason the last drop was refused (for tests and the status bar).
  const QString& lastRefusal() const { return lastRefusal_; }
  // Why the dragged wire cannot go into `to`: its source's dtype, as the last check or run gave
  // it, is not one the input takes ("'b' input 'x' takes float32, not int32"). Empty when it fits
  // or the source's dtype is not known yet.
  QString dtypeRefusal(const PortRef& from, const PortRef& to) const;

  // The dtype and shape of an output as the last check or run gave them (nullopt: not known).
  std::optional<DType> outputDType(const PortRef& output) const;
  std::optional<Shape> outputShape(const PortRef& output) const;
  // Grid step that dragged blocks snap to; 0 = free movement.
  qreal snapStep() const { return snapStep_; }
  void setSnapStep(qreal step) { snapStep_ = step; }
  // The block (and its pin index, or -1) under a scene point.
  BlockItem* blockAt(QPointF scenePos, int* port) const;

  // Blocks are cached as device pixmaps when zoomed in (a pan or a repaint then blits them) and
  // painted directly when zoomed out (plain boxes are cheaper than thousands of tiny pixmaps,
  // which a zoom change would all have to redraw). The view calls this before each frame.
  void setZoomForCaching(qreal zoom);
  // Repaints every block (their cached pixmaps too), e.g. when wire-drag highlights change.
  void invalidateBlocks();

  // The union of every block's rectangle and of the stubs of wires to missing blocks (cheaper
  // than itemsBoundingRect: no other wires).
  QRectF blocksBoundingRect() const;
  // A block moved: the wires in its way (where it was or is now) are routed again.
  void blockGeometryChanged(BlockItem* item);


 signals:
  void message(const QString& text);
  void resultPinClicked(const qs::BlockId& block, const QString& port);
  // After applyResults: block statuses may have changed (the minimap shows errors).
  void statusesChanged();
  // A block's item moved: during a drag too, before the page records where it ended.
  void blockItemMoved();
  // A new wire from `from` was let go over empty canvas (not over a block or pin).
  void wireDroppedOnCanvas(const qs::PortRef& from, QPointF scenePos);

 protected:
  void mousePressEvent(QGraphicsSceneMouseEvent* event) override;
  void mouseMoveEvent(QGraphicsSceneMouseEvent* event) override;
  void mouseReleaseEvent(QGraphicsSceneMouseEvent* event) override;
  void drawBackground(QPainter* painter, const QRectF& rect) override;
  void helpEvent(QGraphicsSceneHelpEvent* event) override;

 private:
  void rebuild();
  void addBlockItem(const Block& block, int index);
  void updateSummary(const BlockId& id);
  void addWireItem(const Link& link);
  // Links whose blocks feed each other are drawn as such (WireItem::cyclic).
  bool closesCycle(const Link& link) const;
  void markCyclicWires();
  void removeBlockItem(const BlockId& id);
  void removeWireItem(const Link& link);
  void finishWireDrag(QPointF scenePos, QPointF screenPos);

  PageModel* model_;
  std::unordered_map<BlockId, BlockItem*> blocks_;
  WireLayer* wires_ = nullptr;  // owned by the scene
  std::unordered_map<BlockId, Shape> outputShapes_;
  // Known output dtypes: every output of each block the last check or run passed.
  std::unordered_map<BlockId, std::map<std::string, DType>> outputDTypes_;
  std::unordered_map<BlockId, std::map<std::string, Shape>> portShapes_;  // every output's shape
  qreal snapStep_ = 0;
  PortRef hoverRefused_;  // the input the drag last hovered with a dtype refusal shown

  bool cached_ = false;
  bool rebuilding_ = false;
  bool dragging_ = false;
  PortRef dragFrom_;
  std::optional<Link> detaching_;  // the wire whose input end is being dragged
  PortKind dragKind_ = PortKind::Tensor;
  std::vector<char> dragUpstream_;
  QGraphicsPathItem* dragPath_ = nullptr;
  QPointF dragStart_;
  QString lastRefusal_;

  // Positions of the selected blocks when a move drag began.
  std::vector<std::pair<BlockItem*, QPointF>> moveStart_;
};

}  // namespace qs::editor
