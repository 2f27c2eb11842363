#pragma once

#include <QPixmap>
#include <QWidget>

namespace qs::editor {

class PageView;

// An overview of the whole page in the canvas's bottom-right corner: every block as a small
// rectangle (red when in error), the view's visible area as a frame; a click or drag pans the view
// there. Shown while the page does not fit in the view. The blocks are drawn into a pixmap that is
// redrawn only after the page's structure, layout or statuses change, so that panning and zooming
// the canvas cost the minimap one blit.
class Minimap : public QWidget {
  Q_OBJECT
 public:
  explicit Minimap(PageView* view);

  // Turns the minimap off altogether (View > Minimap); on, it still hides while the page fits.
 public slots:
  void setEnabledByUser(bool on);

 public:
  bool enabledByUser() const { return enabledByUser_; }
  // Where a point of the minimap is on the page, and back.
  QPointF toScene(QPointF minimapPos) const;
  QPointF fromScene(QPointF scenePos) const;
  // How many times the block pixmap has been redrawn (for tests: not once per frame).
  int pixmapBuilds() const { return builds_; }

 public slots:
  // Follows the view: place in the corner, show or hide, redraw the visible frame.
  void viewChanged();
  void pageChanged();

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;

 private:
  void rebuildPixmap();
  void panTo(QPointF minimapPos);

  PageView* view_;
  QPixmap pixmap_;
  bool dirty_ = true;
  bool pending_ = false;
  QRectF blocks_;  // every block's rectangle, as of the last redraw
  bool enabledByUser_ = true;
  bool dragging_ = false;
  QRectF world_;     // the page area shown (scene coordinates)
  qreal scale_ = 1;  // minimap pixels per scene unit
  QPointF offset_;   // minimap position of world_.topLeft()
  int builds_ = 0;
};

}  // namespace qs::editor
