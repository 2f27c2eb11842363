#pragma once

#include <QGraphicsView>
#include <QList>
#include <QUrl>

namespace qs::editor {

class Minimap;
class PageScene;
class QuickAddPopup;

// MIME type of a palette drag: the block type name.
inline constexpr const char* kBlockMimeType = "application/x-quantspace-block-type";

// The canvas: zoom on the wheel around the cursor, pan with the middle button (or Space + drag),
// fit to view, rubber-band selection, drop from the palette, and the quick-add popup on a
// double-click or Tab over empty canvas.
class PageView : public QGraphicsView {
  Q_OBJECT
 public:
  explicit PageView(PageScene* scene, QWidget* parent = nullptr);

  PageScene* pageScene() const { return scene_; }
  void fitPage();
  void zoomBy(qreal factor, QPoint viewportAnchor);
  qreal zoom() const { return transform().m11(); }
  // Opens the quick-add popup for a block at `scenePos`.
  void openQuickAdd(QPointF scenePos);
  QuickAddPopup* quickAddPopup() const { return quickAdd_; }
  Minimap* minimap() const { return minimap_; }

 signals:
  // Files dropped on the canvas (not a palette drag): the window opens the page they carry.
  void filesDropped(const QList<QUrl>& urls);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void keyReleaseEvent(QKeyEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dragMoveEvent(QDragMoveEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  bool focusNextPrevChild(bool next) override;

 private:
  // True if a block is under the viewport point (the wire layer spans everywhere).
  bool blockAt(QPoint viewportPos) const;

  PageScene* scene_;
  QuickAddPopup* quickAdd_ = nullptr;
  Minimap* minimap_ = nullptr;
  QTransform minimapTransform_;  // the zoom the minimap's frame was last drawn for
  bool panning_ = false;
  bool spaceDown_ = false;
  QPoint panLast_;
};

}  // namespace qs::editor
