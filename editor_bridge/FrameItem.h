#pragma once

#include <QGraphicsObject>
#include <QPointer>
#include <vector>

namespace qs::editor {

class PageScene;

// A comment frame (Page::frames): a titled, coloured box drawn behind its blocks. It has no
// position of its own: it always surrounds its blocks, so it moves with them. Dragging its title
// bar moves its blocks (one undo step, as any block drag); the title bar is its only part that
// takes the mouse, so a rubber band can start inside the frame.
class FrameItem : public QGraphicsObject {
  Q_OBJECT
 public:
  enum { Type = UserType + 3 };
  static constexpr qreal kMargin = 16;
  static constexpr qreal kTitleHeight = 24;

  FrameItem(PageScene* scene, int index);
  int type() const override { return Type; }
  int index() const { return index_; }
  // Recomputes the box from the blocks' places; cheap when nothing moved.
  void updateGeometry();
  // The title bar (scene coordinates).
  QRectF titleRect() const;

  QRectF boundingRect() const override { return rect_; }
  QPainterPath shape() const override;
  void paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

 protected:
  void mousePressEvent(QGraphicsSceneMouseEvent* event) override;
  void mouseMoveEvent(QGraphicsSceneMouseEvent* event) override;

 private:
  PageScene* scene_;
  int index_;
  QRectF rect_;  // item coordinates = scene coordinates (the item stays at 0,0)
  QPointF lastDrag_;
};

// Keeps one FrameItem per frame of the page in the scene, rebuilt when the frames change and
// re-fitted when blocks move.
class FrameLayer : public QObject {
  Q_OBJECT
 public:
  explicit FrameLayer(PageScene* scene);
  // The frame whose title bar is under `scenePos`, or nullptr.
  FrameItem* frameAt(QPointF scenePos) const;
  FrameItem* frame(int index) const;
  void refresh();

 private:
  void rebuild();
  // One refresh after a burst of moves (a drag moves every selected block on each mouse move).
  void scheduleRefresh();

  PageScene* scene_;
  // The scene deletes every item when it rebuilds for a new page.
  std::vector<QPointer<FrameItem>> items_;
  bool refreshPending_ = false;
};

}  // namespace qs::editor
