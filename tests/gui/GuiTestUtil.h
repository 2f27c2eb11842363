#pragma once

// Helpers that drive the editor through real widgets and real mouse and key events.

#include <QDropEvent>
#include <QLineEdit>
#include <QMessageBox>
#include <QMimeData>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>
#include <catch2/catch.hpp>
#include <memory>

#include "blocks/RegisterBlocks.h"
#include "editor_bridge/AttributeEditor.h"
#include "editor_bridge/BlockItem.h"
#include "editor_bridge/MainWindow.h"
#include "editor_bridge/PageModel.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/PageView.h"
#include "editor_bridge/PaletteWidget.h"

namespace qs::editor::test {

// A shown main window whose recovery copies go to a private folder and whose "save changes?"
// prompt answers Discard.
struct EditorFixture {
  QTemporaryDir recoveryDir;
  std::unique_ptr<MainWindow> window;

  // privateRecovery=false keeps the QS_RECOVERY_DIR the environment gives.
  explicit EditorFixture(bool privateRecovery = true) {
    if (privateRecovery) qputenv("QS_RECOVERY_DIR", recoveryDir.path().toUtf8());
    window = std::make_unique<MainWindow>(builtinRegistry());
    window->setDiscardPrompt([] { return int(QMessageBox::Discard); });
    window->resize(1600, 1000);
    window->show();
    (void)QTest::qWaitForWindowExposed(window.get());
    window->view()->resetTransform();
    window->view()->centerOn(QPointF(500, 350));
  }
  MainWindow& w() { return *window; }
  QWidget* viewport() { return window->view()->viewport(); }
  QPoint toViewport(QPointF scenePos) { return window->view()->mapFromScene(scenePos); }
};

// Opens the bundled using_method example unzoomed, with `centre` in the middle of the view.
inline void openUsingMethod(EditorFixture& f, QPointF centre) {
  REQUIRE(f.w().openPage(QS_SOURCE_DIR "/assets/examples/using_method.page.json"));
  f.w().view()->resetTransform();
  f.w().view()->centerOn(centre);
}

// Presses on the palette entry with the mouse (as a drag starts), then delivers the drag's own
// payload (PaletteTree::mimeData of the pressed item) to the canvas as drag-enter, drag-move and
// drop events at `at`. The offscreen platform has no drag-and-drop loop (QDrag::exec returns at
// once), so the drop half is sent as the events the platform would send.
inline BlockId dropFromPalette(EditorFixture& f, const QString& type, QPoint at) {
  PaletteWidget* palette = f.w().palette();
  QTreeWidgetItem* item = palette->itemFor(type);
  REQUIRE(item != nullptr);
  QTreeWidget* tree = palette->tree();
  tree->scrollToItem(item);
  const QPoint p = tree->visualItemRect(item).center();
  QTest::mousePress(tree->viewport(), Qt::LeftButton, {}, p);
  QTest::mouseMove(tree->viewport(), p + QPoint(30, 0));
  REQUIRE(tree->selectedItems().contains(item));
  std::unique_ptr<QMimeData> mime(static_cast<PaletteTree*>(tree)->dragData(tree->selectedItems()));
  QTest::mouseRelease(tree->viewport(), Qt::LeftButton, {}, p + QPoint(30, 0));
  REQUIRE(mime);
  const size_t before = f.w().model()->page().blockCount();
  QWidget* vp = f.viewport();
  QDragEnterEvent enter(at, Qt::CopyAction, mime.get(), Qt::LeftButton, {});
  QApplication::sendEvent(vp, &enter);
  REQUIRE(enter.isAccepted());
  QDragMoveEvent move(at, Qt::CopyAction, mime.get(), Qt::LeftButton, {});
  QApplication::sendEvent(vp, &move);
  QDropEvent drop(at, Qt::CopyAction, mime.get(), Qt::LeftButton, {});
  QApplication::sendEvent(vp, &drop);
  REQUIRE(f.w().model()->page().blockCount() == before + 1);
  return f.w().model()->page().blocks().back().id;
}

// Press, move in steps, release: a real mouse drag inside one widget.
inline void mouseDrag(QWidget* w, QPoint from, QPoint to, int steps = 8) {
  QTest::mouseMove(w, from);
  QTest::mousePress(w, Qt::LeftButton, {}, from);
  for (int i = 1; i <= steps; ++i) QTest::mouseMove(w, from + (to - from) * i / steps);
  QTest::mouseRelease(w, Qt::LeftButton, {}, to);
}

inline QPoint portPoint(EditorFixture& f, const std::string& block, const std::string& port,
                        bool result = false) {
  BlockItem* item = f.w().scene()->blockItem(BlockId(block));
  REQUIRE(item != nullptr);
  return f.toViewport(item->portScenePos(port, result));
}

// A point on the block's title, away from every pin.
inline QPoint bodyPoint(EditorFixture& f, const std::string& block) {
  BlockItem* item = f.w().scene()->blockItem(BlockId(block));
  REQUIRE(item != nullptr);
  return f.toViewport(item->mapToScene(QPointF(BlockItem::kWidth / 2, 12)));
}

inline void clickBlock(EditorFixture& f, const std::string& block) {
  const QPoint p = bodyPoint(f, block);
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, p);
  REQUIRE(f.w().scene()->selectedBlocks() == std::vector<BlockId>{BlockId(block)});
}

// Types `text` into an attribute field of the selected block and presses Enter.
inline void typeAttr(EditorFixture& f, const std::string& attr, const QString& text) {
  QWidget* field = f.w().attributeEditor()->field(attr);
  REQUIRE(field != nullptr);
  field->setFocus();
  if (auto* spin = qobject_cast<QAbstractSpinBox*>(field)) {
    spin->selectAll();
    QTest::keyClicks(spin, text);
    QTest::keyClick(spin, Qt::Key_Return);
  } else {
    auto* edit = qobject_cast<QLineEdit*>(field);
    REQUIRE(edit != nullptr);
    edit->selectAll();
    if (text.isEmpty()) QTest::keyClick(edit, Qt::Key_Delete);
    QTest::keyClicks(edit, text);
    QTest::keyClick(edit, Qt::Key_Return);
  }
}

inline Json attrOf(EditorFixture& f, const std::string& block, const std::string& attr) {
  const Block* b = f.w().model()->page().find(BlockId(block));
  REQUIRE(b != nullptr);
  auto it = b->attrs.find(attr);
  return it == b->attrs.end() ? Json() : *it;
}

}  // namespace qs::editor::test
