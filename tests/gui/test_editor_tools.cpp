// The everyday tools of the canvas, driven by mouse and key events: context menus, port tooltips,
// frame selected, find, rename, nudge, snap, align and distribute, comment frames, a wire dragged
// into empty canvas, a block dropped on a wire.

#include <QContextMenuEvent>
#include <QDesktopServices>
#include <QInputDialog>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QSet>
#include <QStatusBar>
#include <QToolTip>
#include <QUrl>

#include "GuiTestUtil.h"
#include "editor_bridge/CanvasTools.h"
#include "editor_bridge/FindDialog.h"
#include "editor_bridge/FrameItem.h"
#include "editor_bridge/QuickAddPopup.h"
#include "editor_bridge/WireItem.h"
#include "runtime/PageJson.h"

namespace test_editor_tools {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {
void openUsingMethod(EditorFixture& f) {
  test::openUsingMethod(f, QPointF(400, 300));
}
const Link kXToFq{{BlockId("x"), PortName("output")}, {BlockId("fq"), PortName("inputs")}};
const Link kLoToMin{{BlockId("lo"), PortName("output")}, {BlockId("fq"), PortName("min")}};

CanvasTools* tools(EditorFixture& f) {
  return f.w().canvasTools();
}

QPointF posOf(EditorFixture& f, const char* id) {
  return f.w().scene()->blockItem(BlockId(id))->pos();
}

// A point of the wire (viewport coordinates) away from every block, found along the wire itself
// so that it holds however the wire is routed.
QPoint pointOnWire(EditorFixture& f, const Link& link) {
  const WireItem* wire = f.w().scene()->wireItem(link);
  REQUIRE(wire != nullptr);
  const QRectF r = wire->boundingRect();
  for (qreal y = r.top(); y <= r.bottom(); y += 2)
    for (qreal x = r.left(); x <= r.right(); x += 2) {
      const QPointF p(x, y);
      if (wire->hit(p, 1) && !f.w().scene()->blockAt(p, nullptr)) return f.toViewport(p);
    }
  FAIL("no free point on the wire " << linkText(link));
  return {};
}

QMenu* openMenuAt(EditorFixture& f, QPoint viewportPos) {
  QContextMenuEvent event(QContextMenuEvent::Mouse, viewportPos,
                          f.viewport()->mapToGlobal(viewportPos));
  QApplication::sendEvent(f.viewport(), &event);
  QMenu* menu = tools(f)->lastMenu();
  REQUIRE(menu != nullptr);
  REQUIRE(menu->isVisible());
  return menu;
}

QStringList entries(QMenu* menu) {
  QStringList texts;
  for (QAction* a : menu->actions())
    if (!a->isSeparator()) texts << a->text();
  return texts;
}

// Clicks the entry whose text starts with `text`.
void clickEntry(QMenu* menu, const QString& text) {
  for (QAction* a : menu->actions())
    if (a->text().startsWith(text)) {
      QTest::mouseClick(menu, Qt::LeftButton, {}, menu->actionGeometry(a).center());
      return;
    }
  FAIL("no entry " << text.toStdString() << " in " << entries(menu).join(" | ").toStdString());
}

QStringList visibleTypes(QuickAddPopup* popup) {
  QStringList types;
  for (int i = 0; i < popup->list()->count(); ++i)
    if (!popup->list()->item(i)->isHidden()) types << popup->list()->item(i)->text();
  return types;
}

QInputDialog* dialogNamed(EditorFixture& f, const char* name) {
  // A dialog answered before is closed and waits for deletion: take the open one.
  for (QInputDialog* d : f.w().findChildren<QInputDialog*>(name))
    if (d->isVisible()) return d;
  FAIL("no open dialog " << name);
  return nullptr;
}

void answer(QInputDialog* d, const QString& text) {
  auto* edit = d->findChild<QLineEdit*>();
  REQUIRE(edit != nullptr);
  edit->selectAll();
  QTest::keyClicks(edit, text);
  QTest::keyClick(edit, Qt::Key_Return);
}
}  // namespace

// Stands in for the desktop's file opener.
class UrlCatcher : public QObject {
  Q_OBJECT
 public:
  QUrl url;
 public slots:
  void open(const QUrl& u) { url = u; }
};

TEST_CASE("tools: the canvas's context menu adds a block there, selects all and fits",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  const QPoint empty = f.toViewport(QPointF(600, 560));
  QMenu* menu = openMenuAt(f, empty);
  CHECK(menu->objectName() == "canvasContextMenu");
  CHECK(entries(menu) == QStringList{"Add Block Here...", "Paste", "Select All", "Fit to View"});
  clickEntry(menu, "Select All");
  CHECK(f.w().scene()->selectedBlocks().size() == 4);

  clickEntry(openMenuAt(f, empty), "Add Block Here...");
  QuickAddPopup* popup = f.w().view()->quickAddPopup();
  REQUIRE(popup->isVisible());
  QTest::keyClicks(popup->searchField(), "Abs");
  QTest::keyClick(popup->searchField(), Qt::Key_Return);
  const Block* added = f.w().model()->page().find(BlockId("a1"));
  REQUIRE(added != nullptr);
  CHECK((*added->position)[0] == 600);
  CHECK((*added->position)[1] == 560);

  f.w().view()->centerOn(QPointF(9000, 9000));
  clickEntry(openMenuAt(f, QPoint(20, 20)), "Fit to View");
  CHECK(f.w().view()->viewport()->rect().contains(f.toViewport(QPointF(380, 260))));
}

TEST_CASE("tools: a block's context menu renames, disconnects, has a hook and opens its page",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  const Page& page = f.w().model()->page();
  QUndoStack* undo = f.w().model()->undoStack();
  BlockId hooked;
  tools(f)->addBlockMenuHook([&hooked](QMenu* menu, const BlockId& id) {
    menu->addAction("Hooked entry", [&hooked, id] { hooked = id; });
  });
  QMenu* menu = openMenuAt(f, bodyPoint(f, "fq"));
  CHECK(menu->objectName() == "blockContextMenu");
  CHECK(f.w().scene()->selectedBlocks() == std::vector<BlockId>{BlockId("fq")});
  CHECK(entries(menu) == QStringList{"Rename...", "Duplicate", "Delete", "Disconnect All",
                                     "Add result to Training panel", "Hooked entry",
                                     "Open Reference Page (FakeQuantWithMinMaxVarsPerChannel)"});
  clickEntry(menu, "Hooked entry");
  CHECK(hooked == BlockId("fq"));

  clickEntry(openMenuAt(f, bodyPoint(f, "fq")), "Disconnect All");
  CHECK(page.links().empty());
  CHECK(undo->count() == 1);
  undo->undo();
  CHECK(page.links().size() == 3);

  clickEntry(openMenuAt(f, bodyPoint(f, "fq")), "Duplicate");
  CHECK(page.blockCount() == 5);
  undo->undo();

  UrlCatcher catcher;
  QDesktopServices::setUrlHandler("file", &catcher, "open");
  clickEntry(openMenuAt(f, bodyPoint(f, "fq")), "Open Reference Page");
  QDesktopServices::unsetUrlHandler("file");
  const QString opened = catcher.url.toLocalFile();
  CHECK(opened.endsWith("/docs/blocks/FakeQuantWithMinMaxVarsPerChannel.md"));
  CHECK(QFileInfo::exists(opened));

  clickEntry(openMenuAt(f, bodyPoint(f, "lo")), "Rename...");
  answer(dialogNamed(f, "renameBlockDialog"), "low");
  CHECK_FALSE(page.contains(BlockId("lo")));
  CHECK(page.hasLink({{BlockId("low"), PortName("output")}, kLoToMin.to}));
  clickEntry(openMenuAt(f, bodyPoint(f, "fq")), "Delete");
  CHECK_FALSE(page.contains(BlockId("fq")));
}

TEST_CASE("tools: a wire's context menu deletes it or inserts a block into it",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  const Page& page = f.w().model()->page();
  QUndoStack* undo = f.w().model()->undoStack();
  QMenu* menu = openMenuAt(f, pointOnWire(f, kXToFq));
  CHECK(menu->objectName() == "wireContextMenu");
  CHECK(entries(menu) == QStringList{"Delete Wire", "Insert Block..."});
  clickEntry(menu, "Delete Wire");
  CHECK_FALSE(page.hasLink(kXToFq));
  undo->undo();
  REQUIRE(page.hasLink(kXToFq));

  clickEntry(openMenuAt(f, pointOnWire(f, kXToFq)), "Insert Block...");
  QuickAddPopup* popup = f.w().view()->quickAddPopup();
  REQUIRE(popup->isVisible());
  // Only blocks with an input and an output can go in the middle of a wire.
  CHECK_FALSE(visibleTypes(popup).contains("Const"));
  CHECK(visibleTypes(popup).contains("Abs"));
  QTest::keyClicks(popup->searchField(), "Abs");
  QTest::keyClick(popup->searchField(), Qt::Key_Return);
  CHECK_FALSE(page.hasLink(kXToFq));
  CHECK(page.hasLink({kXToFq.from, {BlockId("a1"), PortName("x")}}));
  CHECK(page.hasLink({{BlockId("a1"), PortName("y")}, kXToFq.to}));
  CHECK(undo->count() == 1);  // the undone delete gave way to the insertion
  undo->undo();
  CHECK(page.hasLink(kXToFq));
  CHECK_FALSE(page.contains(BlockId("a1")));
}

TEST_CASE("tools: a pin's tooltip gives its doc, dtypes and the shape of its last result",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  REQUIRE(f.w().waitForEvaluation());
  REQUIRE(f.w().scene()->outputShape({BlockId("hi"), PortName("output")}).has_value());
  auto tipAt = [&f](QPoint p) {
    QHelpEvent help(QEvent::ToolTip, p, f.viewport()->mapToGlobal(p));
    QApplication::sendEvent(f.viewport(), &help);
    return QToolTip::text();
  };
  const QString out = tipAt(portPoint(f, "fq", "output"));
  CHECK(out.startsWith("fq.output (output)"));
  CHECK(out.contains("gives float32"));
  CHECK(out.contains("Last result: float32 [4]"));
  const QString in = tipAt(portPoint(f, "fq", "max"));
  CHECK(in.startsWith("fq.max (input)"));
  CHECK(in.contains("takes float32"));
  const PortDescriptor* max = f.w()
                                  .model()
                                  ->registry()
                                  .find("FakeQuantWithMinMaxVarsPerChannel")
                                  ->findPort("max", PortDirection::Input);
  CHECK(in.contains(QString::fromStdString(max->doc)));
  CHECK(in.contains("Last result: float32 [4]"));  // from hi, the Const of four values
  // Away from the pins the block's own tooltip stays.
  CHECK(tipAt(bodyPoint(f, "fq")).startsWith("fq (FakeQuantWithMinMaxVarsPerChannel)"));
}

TEST_CASE("tools: F frames the selection; Ctrl+F finds a block by id or type and flies to it",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  PageView* view = f.w().view();
  clickBlock(f, "hi");
  view->centerOn(QPointF(6000, 6000));
  view->setFocus();
  QTest::keyClick(view, Qt::Key_F);
  const QRectF hi = f.w().scene()->blockItem(BlockId("hi"))->sceneBoundingRect();
  CHECK(view->viewport()->rect().contains(view->mapFromScene(hi).boundingRect()));
  CHECK(view->zoom() == Approx(1.0));  // one block is never blown up beyond 100%

  QTest::keyClick(view, Qt::Key_F, Qt::ControlModifier);
  FindDialog* find = tools(f)->findDialog();
  REQUIRE(find->isVisible());
  QTest::keyClicks(find->searchField(), "const");  // by type: the three Consts
  CHECK(find->list()->count() == 3);
  find->searchField()->clear();
  QTest::keyClicks(find->searchField(), "fq");
  REQUIRE(find->list()->count() == 1);
  QTest::keyClick(find->searchField(), Qt::Key_Return);
  CHECK_FALSE(find->isVisible());
  CHECK(f.w().scene()->selectedBlocks() == std::vector<BlockId>{BlockId("fq")});
  CHECK(tools(f)->flying());
  const QPointF fq = f.w().scene()->blockItem(BlockId("fq"))->sceneBoundingRect().center();
  QTRY_VERIFY(!tools(f)->flying());
  const QPointF off = view->mapFromScene(fq) - view->viewport()->rect().center();
  CHECK(std::abs(off.x()) <= 2);
  CHECK(std::abs(off.y()) <= 2);
}

TEST_CASE("tools: F2 renames a block and keeps every link and frame; a taken id is refused",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  const Page& page = f.w().model()->page();
  QUndoStack* undo = f.w().model()->undoStack();
  f.w().model()->setFrames(
      {Frame{"inputs", "#4a6fa5", {BlockId("x"), BlockId("lo")}, Json::object()}}, "frame");
  clickBlock(f, "lo");
  QTest::keyClick(f.w().view(), Qt::Key_F2);
  answer(dialogNamed(f, "renameBlockDialog"), "low");
  CHECK_FALSE(page.contains(BlockId("lo")));
  CHECK(page.indexOf(BlockId("low")) == 1);  // keeps its place in the page order
  CHECK(page.hasLink({{BlockId("low"), PortName("output")}, kLoToMin.to}));
  CHECK(page.links().size() == 3);
  CHECK(page.frames[0].blocks == std::vector<BlockId>{BlockId("x"), BlockId("low")});
  CHECK(f.w().scene()->selectedBlocks() == std::vector<BlockId>{BlockId("low")});
  CHECK(undo->count() == 2);
  undo->undo();
  CHECK(page.hasLink(kLoToMin));
  CHECK(page.frames[0].blocks == std::vector<BlockId>{BlockId("x"), BlockId("lo")});
  CHECK(f.w().scene()->wireItem(kLoToMin) != nullptr);

  clickBlock(f, "lo");
  QTest::keyClick(f.w().view(), Qt::Key_F2);
  answer(dialogNamed(f, "renameBlockDialog"), "hi");
  CHECK(page.contains(BlockId("lo")));
  CHECK(undo->index() == 1);
  CHECK(f.w().statusBar()->currentMessage() == "Not renamed: the id 'hi' is already taken");
}

TEST_CASE("tools: arrow keys nudge the selection, Shift by a bigger step, one undo step each",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  QUndoStack* undo = f.w().model()->undoStack();
  clickBlock(f, "x");
  QTest::keyClick(f.w().view(), Qt::Key_Right);
  CHECK(posOf(f, "x") == QPointF(50, 40));
  QTest::keyClick(f.w().view(), Qt::Key_Down, Qt::ShiftModifier);
  CHECK(posOf(f, "x") == QPointF(50, 90));
  const Block* x = f.w().model()->page().find(BlockId("x"));
  CHECK((*x->position)[1] == 90);
  CHECK(undo->count() == 2);
  undo->undo();
  CHECK(posOf(f, "x") == QPointF(50, 40));
}

TEST_CASE("tools: with snap to grid on, a dragged block lands on the grid",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  struct SnapOff {
    CanvasTools* t;
    ~SnapOff() { t->setSnap(false); }
  } restore{tools(f)};
  QAction* snap = tools(f)->snapAction();
  CHECK(f.w().menuBar()->findChild<QMenu*>("viewMenu")->actions().contains(snap));
  snap->trigger();
  REQUIRE(snap->isChecked());
  const QPoint from = bodyPoint(f, "x");
  mouseDrag(f.viewport(), from, from + QPoint(33, 47));
  // 40 + 33 = 73 -> 80; 40 + 47 = 87 -> 80 (grid of 20)
  CHECK(posOf(f, "x") == QPointF(80, 80));
  snap->trigger();
  mouseDrag(f.viewport(), bodyPoint(f, "x"), bodyPoint(f, "x") + QPoint(33, 47));
  CHECK(posOf(f, "x") == QPointF(113, 127));

  // The choice is remembered: a window opened after it starts with snap on.
  snap->trigger();
  EditorFixture next;
  CHECK(tools(next)->snapAction()->isChecked());
}

TEST_CASE("tools: align and distribute the selected blocks", "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  QUndoStack* undo = f.w().model()->undoStack();
  QMenu* arrange = f.w().menuBar()->findChild<QMenu*>("arrangeMenu");
  REQUIRE(arrange != nullptr);
  auto run = [arrange](const QString& text) {
    for (QAction* a : arrange->actions())
      if (a->text().remove('&').startsWith(text)) return a->trigger();
    FAIL("no " << text.toStdString());
  };
  // x (40,40), lo (40,220), hi (40,400): three Consts of the same size.
  mouseDrag(f.viewport(), bodyPoint(f, "lo"), bodyPoint(f, "lo") + QPoint(100, -60));
  REQUIRE(posOf(f, "lo") == QPointF(140, 160));
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, bodyPoint(f, "x"));
  QTest::mouseClick(f.viewport(), Qt::LeftButton, Qt::ControlModifier, bodyPoint(f, "lo"));
  QTest::mouseClick(f.viewport(), Qt::LeftButton, Qt::ControlModifier, bodyPoint(f, "hi"));
  REQUIRE(f.w().scene()->selectedBlocks().size() == 3);
  const int before = undo->count();
  run("Align Left");
  CHECK(posOf(f, "lo") == QPointF(40, 160));
  run("Align Right");  // lo is back at 40 and all have one width: nothing moves
  CHECK(posOf(f, "lo") == QPointF(40, 160));
  CHECK(undo->count() == before + 1);
  // Tops 40, 160, 400 with equal heights: the middle one goes to 220.
  run("Distribute Vertically");
  CHECK(posOf(f, "lo") == QPointF(40, 220));
  CHECK(posOf(f, "x") == QPointF(40, 40));
  CHECK(posOf(f, "hi") == QPointF(40, 400));
  run("Align Top");
  CHECK(posOf(f, "lo") == QPointF(40, 40));
  CHECK(posOf(f, "hi") == QPointF(40, 40));
  CHECK(undo->count() == before + 3);
  undo->undo();
  CHECK(posOf(f, "hi") == QPointF(40, 400));
}

TEST_CASE("tools: a comment frame moves with its blocks, is saved, and its title drags them",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  const Page& page = f.w().model()->page();
  QUndoStack* undo = f.w().model()->undoStack();
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, bodyPoint(f, "x"));
  QTest::mouseClick(f.viewport(), Qt::LeftButton, Qt::ControlModifier, bodyPoint(f, "lo"));
  QTest::keyClick(f.w().view(), Qt::Key_G, Qt::ControlModifier);
  REQUIRE(page.frames.size() == 1);
  CHECK(page.frames[0].blocks == std::vector<BlockId>{BlockId("x"), BlockId("lo")});
  // Looked up each time: an edit of the page's frames makes their items anew.
  auto frame = [&f] {
    FrameItem* item = tools(f)->frameLayer()->frame(0);
    REQUIRE(item != nullptr);
    return item;
  };
  auto box = [&f](const char* id) {
    const BlockItem* b = f.w().scene()->blockItem(BlockId(id));
    return b->mapRectToScene(b->boxRect());
  };
  CHECK(frame()->boundingRect().contains(box("x") | box("lo")));
  CHECK_FALSE(frame()->boundingRect().intersects(box("hi")));

  // Its title, through the context menu.
  const QPoint title = f.toViewport(frame()->titleRect().center());
  QMenu* menu = openMenuAt(f, title);
  CHECK(menu->objectName() == "frameContextMenu");
  clickEntry(menu, "Rename Frame...");
  answer(dialogNamed(f, "frameTitleDialog"), "Inputs");
  CHECK(page.frames[0].title == "Inputs");

  // Dragging the title moves the frame's blocks, in one undo step.
  const int steps = undo->count();
  mouseDrag(f.viewport(), title, title + QPoint(200, 30));
  CHECK(posOf(f, "x") == QPointF(240, 70));
  CHECK(posOf(f, "lo") == QPointF(240, 250));
  CHECK(posOf(f, "hi") == QPointF(40, 400));
  CHECK(undo->count() == steps + 1);
  // Moving one of its blocks stretches the frame, while the block is dragged too.
  const QPoint grip = bodyPoint(f, "lo");
  QTest::mouseMove(f.viewport(), grip);
  QTest::mousePress(f.viewport(), Qt::LeftButton, {}, grip);
  for (int dy = 50; dy <= 300; dy += 50) QTest::mouseMove(f.viewport(), grip + QPoint(0, dy));
  QCoreApplication::processEvents();
  CHECK(posOf(f, "lo") == QPointF(240, 550));
  CHECK(frame()->boundingRect().contains(box("x") | box("lo")));
  QTest::mouseRelease(f.viewport(), Qt::LeftButton, {}, grip + QPoint(0, 300));
  CHECK(frame()->boundingRect().contains(box("x") | box("lo")));

  QTemporaryDir dir;
  const QString path = dir.filePath("framed.page.json");
  REQUIRE(f.w().savePageAs(path));
  const LoadedPage loaded = loadPage(path.toStdString());
  CHECK(loaded.warnings.empty());
  REQUIRE(loaded.page.frames.size() == 1);
  CHECK(loaded.page.frames[0].title == "Inputs");
  CHECK(loaded.page.frames[0].blocks == std::vector<BlockId>{BlockId("x"), BlockId("lo")});
  REQUIRE(f.w().openPage(path));
  REQUIRE(tools(f)->frameLayer()->frame(0) != nullptr);
  CHECK(tools(f)->frameLayer()->frame(0)->boundingRect().contains(box("x") | box("lo")));
}

TEST_CASE("tools: a wire let go on empty canvas offers the blocks that take it, wired",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  const Page& page = f.w().model()->page();
  REQUIRE(f.w().waitForEvaluation());
  const QPointF drop(520, 560);
  mouseDrag(f.viewport(), portPoint(f, "x", "output"), f.toViewport(drop));
  QuickAddPopup* popup = f.w().view()->quickAddPopup();
  REQUIRE(popup->isVisible());
  const QStringList offered = visibleTypes(popup);
  CHECK(offered.contains("Abs"));
  CHECK(offered.contains("FakeQuantWithMinMaxVarsPerChannel"));
  CHECK_FALSE(offered.contains("Const"));  // no input at all
  QTest::keyClicks(popup->searchField(), "Abs");
  QTest::keyClick(popup->searchField(), Qt::Key_Return);
  REQUIRE(page.contains(BlockId("a1")));
  CHECK(page.hasLink({{BlockId("x"), PortName("output")}, {BlockId("a1"), PortName("x")}}));
  // Its input pin is where the wire was let go (positions are whole units).
  const QPointF pin = f.w().scene()->blockItem(BlockId("a1"))->portScenePos("x");
  CHECK(QLineF(pin, drop).length() < 1);
  CHECK(f.w().model()->undoStack()->count() == 1);
  f.w().model()->undoStack()->undo();
  CHECK_FALSE(page.contains(BlockId("a1")));
  CHECK(page.links().size() == 3);
}

TEST_CASE("tools: a block dropped on a wire from the palette, or dragged onto it, goes into it",
          "[gui][editor][tools]") {
  EditorFixture f;
  openUsingMethod(f);
  const Page& page = f.w().model()->page();
  QUndoStack* undo = f.w().model()->undoStack();
  const BlockId a1 = dropFromPalette(f, "Abs", pointOnWire(f, kXToFq));
  CHECK_FALSE(page.hasLink(kXToFq));
  CHECK(page.hasLink({kXToFq.from, {a1, PortName("x")}}));
  CHECK(page.hasLink({{a1, PortName("y")}, kXToFq.to}));
  CHECK(undo->count() == 1);

  // An unwired block dragged by its title until the cursor is on a wire.
  const BlockId a2 = f.w().model()->addBlock("Abs", {600, 620});
  const QPointF startPos = posOf(f, a2.str().c_str());
  const QPoint grip = bodyPoint(f, a2.str());
  mouseDrag(f.viewport(), grip, pointOnWire(f, kLoToMin));
  CHECK_FALSE(page.hasLink(kLoToMin));
  CHECK(page.hasLink({kLoToMin.from, {a2, PortName("x")}}));
  CHECK(page.hasLink({{a2, PortName("y")}, kLoToMin.to}));
  CHECK(undo->count() == 3);  // the drop, the add, then move-and-insert as one step
  undo->undo();
  CHECK(page.hasLink(kLoToMin));
  CHECK(posOf(f, a2.str().c_str()) == startPos);

  // A wired block dragged over a wire just moves.
  mouseDrag(f.viewport(), bodyPoint(f, a1.str()), pointOnWire(f, kLoToMin));
  CHECK(page.hasLink(kLoToMin));
}

TEST_CASE("tools: palette entries stay distinct however narrow the dock", "[gui][editor][tools]") {
  EditorFixture f;
  QTreeWidget* tree = f.w().palette()->tree();
  const QFontMetrics metrics(tree->font());
  QStringList types;
  for (int g = 0; g < tree->topLevelItemCount(); ++g)
    for (int i = 0; i < tree->topLevelItem(g)->childCount(); ++i)
      types << tree->topLevelItem(g)->child(i)->text(0);
  REQUIRE(types.size() > 40);
  // From the room a 1024-wide window leaves the palette's entries up to the full names.
  for (int width = 110; width <= 320; width += 5) {
    QSet<QString> shown;
    for (const QString& type : types) {
      const QString text = elidedTypeName(type, metrics, width);
      INFO("width " << width << ": " << type.toStdString() << " shown as " << text.toStdString());
      CHECK(metrics.horizontalAdvance(text) <= width);
      CHECK_FALSE(shown.contains(text));
      shown.insert(text);
    }
  }
}

}  // namespace test_editor_tools

#include "test_editor_tools.moc"
