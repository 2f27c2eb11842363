#pragma once

#include <QMenu>
#include <QObject>
#include <QPointF>
#include <QPointer>
#include <QVariantAnimation>
#include <functional>
#include <optional>
#include <vector>

#include "editor_bridge/LayoutTools.h"
#include "runtime/Page.h"

class QAction;
class QDropEvent;
class QMouseEvent;

namespace qs::editor {

class MainWindow;
class FindDialog;
class FrameLayer;
class WireItem;

// The everyday tools of the canvas: context menus (canvas, block, wire, frame), frame selected,
// find, rename, nudge, snap, align and distribute, comment frames, a wire dragged into empty
// canvas, a block dropped on a wire. Each edit is one undo step through the PageModel.
class CanvasTools : public QObject {
  Q_OBJECT
 public:
  // Adds its entries to the window's Edit and View menus.
  CanvasTools(MainWindow* window, QMenu* editMenu, QMenu* viewMenu);

  // Other features add entries to a block's context menu (between the edits and the reference
  // page) with a hook; `block` is the block right-clicked.
  using BlockMenuHook = std::function<void(QMenu* menu, const BlockId& block)>;
  void addBlockMenuHook(BlockMenuHook hook) { blockMenuHooks_.push_back(std::move(hook)); }

  // Fits the selected blocks (the whole page when none) in the view.
  void frameSelection();
  // Selects the block and moves the view to it (animated).
  bool flyTo(const BlockId& id);
  bool flying() const { return fly_.state() == QAbstractAnimation::Running; }
  void openFind();
  // Asks for a new id of the selected block (one block selected).
  void renameSelected();
  void nudge(QPointF delta);
  void align(Align how);
  void distribute(Qt::Orientation direction);
  // A comment frame around the selected blocks.
  void addFrame();
  void setSnap(bool on);
  static constexpr qreal kSnapStep = 20;
  static constexpr qreal kNudgeStep = 10;
  static constexpr qreal kBigNudgeStep = 50;

  QMenu* lastMenu() const { return lastMenu_; }
  FindDialog* findDialog() const { return find_; }
  FrameLayer* frameLayer() const { return frames_; }
  QAction* snapAction() const { return snapAction_; }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void createActions(QMenu* editMenu, QMenu* viewMenu);
  // ContextMenus.cpp
  void showContextMenu(QPoint viewportPos, QPoint globalPos);
  void fillCanvasMenu(QMenu* menu, QPointF scenePos);
  void fillBlockMenu(QMenu* menu, const BlockId& id);
  void fillWireMenu(QMenu* menu, const Link& link);
  void fillFrameMenu(QMenu* menu, int frame);
  void openReference(const std::string& type);
  void editFrame(int frame, const std::function<void(Frame&)>& change, const QString& text);
  void askFrameTitle(int frame);
  void offerInsert(const Link& link);

  void onWireDroppedOnCanvas(const PortRef& from, QPointF scenePos);
  bool dropOnWire(QDropEvent* event);
  bool releaseOnWire(QMouseEvent* event);
  WireItem* wireUnder(QPointF scenePos) const;
  void message(const QString& text);

  MainWindow* window_;
  FrameLayer* frames_;
  FindDialog* find_ = nullptr;
  QAction* snapAction_ = nullptr;
  QPointer<QMenu> lastMenu_;
  QVariantAnimation fly_;
  std::vector<BlockMenuHook> blockMenuHooks_;
  bool resending_ = false;
};

}  // namespace qs::editor
