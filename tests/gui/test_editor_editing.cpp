// Editing gestures: move (one undo step per drag), delete, copy/paste/duplicate, quick add,
// and the --screenshot command line.

#include <QHelpEvent>
#include <QImage>
#include <QLineEdit>
#include <QListWidget>
#include <QProcess>
#include <QTemporaryDir>
#include <QToolTip>
#include <QWheelEvent>
#include <cmath>

#include "GuiTestUtil.h"
#include "editor_bridge/QuickAddPopup.h"
#include "editor_bridge/WireItem.h"
#include "runtime/Npy.h"
#include "runtime/PageJson.h"

namespace test_editor_editing {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {
void openUsingMethod(EditorFixture& f) {
  test::openUsingMethod(f, QPointF(300, 300));
}
}  // namespace

TEST_CASE("editor: a mouse drag moves blocks in one undo step and the wires follow",
          "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  WireItem* wire = f.w().scene()->wireItem(
      {{BlockId("x"), PortName("output")}, {BlockId("fq"), PortName("inputs")}});
  REQUIRE(wire != nullptr);
  const QRectF wireBefore = wire->boundingRect();
  const QPoint from = bodyPoint(f, "fq");
  mouseDrag(f.viewport(), from, from + QPoint(100, 40), 12);
  QUndoStack* undo = f.w().model()->undoStack();
  REQUIRE(undo->count() == 1);
  const Block* fq = f.w().model()->page().find(BlockId("fq"));
  CHECK((*fq->position)[0] == Approx(420));
  CHECK((*fq->position)[1] == Approx(240));
  CHECK(wire->boundingRect() != wireBefore);
  undo->undo();
  CHECK((*f.w().model()->page().find(BlockId("fq"))->position)[0] == Approx(320));
  CHECK(f.w().scene()->blockItem(BlockId("fq"))->pos() == QPointF(320, 200));
  CHECK(wire->boundingRect() == wireBefore);
}

TEST_CASE("editor: rubber band, delete, copy, paste and duplicate by keyboard", "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  QUndoStack* undo = f.w().model()->undoStack();
  // A rubber band around x and lo (not hi, not fq).
  const QPoint a = f.toViewport(QPointF(20, 20));
  const QPoint b = f.toViewport(QPointF(200, 380));
  mouseDrag(f.viewport(), a, b);
  CHECK(f.w().scene()->selectedBlocks() == std::vector<BlockId>{BlockId("x"), BlockId("lo")});
  f.w().view()->setFocus();
  QTest::keyClick(f.w().view(), Qt::Key_C, Qt::ControlModifier);
  QTest::keyClick(f.w().view(), Qt::Key_V, Qt::ControlModifier);
  CHECK(f.w().model()->page().blockCount() == 6);
  CHECK(f.w().model()->page().contains(BlockId("x_2")));
  CHECK(f.w().model()->page().contains(BlockId("lo_2")));
  CHECK(f.w().scene()->selectedBlocks() == std::vector<BlockId>{BlockId("x_2"), BlockId("lo_2")});
  CHECK(f.w().model()->page().find(BlockId("x_2"))->attrs ==
        f.w().model()->page().find(BlockId("x"))->attrs);
  // Duplicate the PerChannel block: its wires to outside blocks are not copied.
  clickBlock(f, "fq");
  QTest::keyClick(f.w().view(), Qt::Key_D, Qt::ControlModifier);
  CHECK(f.w().model()->page().contains(BlockId("fq_2")));
  CHECK(f.w().model()->page().links().size() == 3);
  // Delete fq: it goes with its three wires; undo brings all back.
  clickBlock(f, "fq");
  QTest::keyClick(f.w().view(), Qt::Key_Delete);
  CHECK_FALSE(f.w().model()->page().contains(BlockId("fq")));
  CHECK(f.w().model()->page().links().empty());
  CHECK(f.w().scene()->wireItem(
            {{BlockId("x"), PortName("output")}, {BlockId("fq"), PortName("inputs")}}) == nullptr);
  undo->undo();
  CHECK(f.w().model()->page().links().size() == 3);
  CHECK(f.w().scene()->blockItem(BlockId("fq")) != nullptr);
  CHECK(undo->count() == 3);  // paste, duplicate, delete
  // Typing in a field does not delete blocks: Delete there edits text.
  clickBlock(f, "x");
  QWidget* values = f.w().attributeEditor()->field("values");
  values->setFocus();
  QTest::keyClick(values, Qt::Key_Delete);
  CHECK(f.w().model()->page().contains(BlockId("x")));
}

TEST_CASE("editor: Tab on the canvas opens the quick-add popup; Enter adds the match",
          "[gui][editor]") {
  EditorFixture f;
  f.w().view()->setFocus();
  QTest::keyClick(f.w().view(), Qt::Key_Tab);
  QuickAddPopup* popup = f.w().view()->quickAddPopup();
  REQUIRE(popup->isVisible());
  QTest::keyClicks(popup->searchField(), "perchan");
  CHECK(popup->list()->currentItem()->text() == "FakeQuantWithMinMaxVarsPerChannel");
  QTest::keyClick(popup->searchField(), Qt::Key_Return);
  CHECK_FALSE(popup->isVisible());
  REQUIRE(f.w().model()->page().blockCount() == 1);
  CHECK(f.w().model()->page().blocks()[0].type == "FakeQuantWithMinMaxVarsPerChannel");
  // The palette's search hides what does not match.
  QTest::keyClicks(f.w().palette()->searchField(), "const");
  CHECK_FALSE(f.w().palette()->itemFor("Const")->isHidden());
  CHECK(f.w().palette()->itemFor("Placeholder")->isHidden());
}

TEST_CASE("quantspace --screenshot renders the window and exits 0; a bad page exits non-zero",
          "[gui][cli]") {
  QTemporaryDir dir;
  const QString out = dir.filePath("shot.png");
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("QT_QPA_PLATFORM", "offscreen");
  env.insert("QS_RECOVERY_DIR", dir.filePath("recovery"));
  p.setProcessEnvironment(env);
  p.start(QS_EDITOR_PATH, {"--screenshot", out, "--inspect", "fq.result_output",
                           QS_SOURCE_DIR "/assets/examples/using_method.page.json"});
  REQUIRE(p.waitForFinished(120000));
  CHECK(p.exitCode() == 0);
  QImage image(out);
  CHECK(image.size() == QSize(1600, 1000));

  p.start(QS_EDITOR_PATH, {"--screenshot", out, "--size", "800x600",
                           QS_SOURCE_DIR "/assets/examples/using_method.page.json"});
  REQUIRE(p.waitForFinished(120000));
  CHECK(p.exitCode() == 0);
  CHECK(QImage(out).size() == QSize(800, 600));

  const QString bad = dir.filePath("bad.page.json");
  QFile f(bad);
  REQUIRE(f.open(QIODevice::WriteOnly));
  f.write("{\"format\": \"quantspace-page\", \"version\": 1, \"blocks\": [");
  f.close();
  p.start(QS_EDITOR_PATH, {"--screenshot", dir.filePath("bad.png"), bad});
  REQUIRE(p.waitForFinished(120000));
  CHECK(p.exitCode() != 0);
  CHECK(p.readAllStandardError().contains("bad.page.json"));
  CHECK_FALSE(QFile::exists(dir.filePath("bad.png")));

  p.start(QS_EDITOR_PATH, {"--screenshot", out, "--inspect", "nosuch.result_output",
                           QS_SOURCE_DIR "/assets/examples/using_method.page.json"});
  REQUIRE(p.waitForFinished(120000));
  CHECK(p.exitCode() != 0);
  CHECK(p.readAllStandardError().contains("nosuch.result_output"));
}

TEST_CASE("editor: Load .npy sets a Const's shape and values in one undo step", "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  QTemporaryDir dir;
  const QString npy = dir.filePath("w.npy");
  writeNpy(npy.toStdString(), Tensor::fromValues({2, 2}, {1.5f, -2.0f, 0.25f, 8.0f}));
  clickBlock(f, "x");
  REQUIRE(f.w().attributeEditor()->loadNpy(npy));
  CHECK(attrOf(f, "x", "shape") == Json::parse("[2, 2]"));
  CHECK(attrOf(f, "x", "values") == Json::parse("[1.5, -2.0, 0.25, 8.0]"));
  CHECK(f.w().model()->undoStack()->count() == 1);
  // A file that is not an .npy is refused with the reader's message; nothing changes.
  const QString bad = dir.filePath("bad.npy");
  QFile b(bad);
  REQUIRE(b.open(QIODevice::WriteOnly));
  b.write("not numpy");
  b.close();
  CHECK_FALSE(f.w().attributeEditor()->loadNpy(bad));
  CHECK_FALSE(f.w().attributeEditor()->message().isEmpty());
  CHECK(f.w().model()->undoStack()->count() == 1);
}

TEST_CASE("editor: a text field's tooltip shows its whole value when the field cuts it",
          "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  clickBlock(f, "x");
  auto* npy = qobject_cast<QLineEdit*>(f.w().attributeEditor()->field("npy"));
  REQUIRE(npy != nullptr);
  REQUIRE(QTest::qWaitFor([&] { return npy->isVisible(); }, 5000));  // the form shows next loop
  auto tip = [&] {
    QHelpEvent help(QEvent::ToolTip, npy->rect().center(), npy->mapToGlobal(npy->rect().center()));
    QApplication::sendEvent(npy, &help);
    return QToolTip::text();
  };
  const QString doc = npy->toolTip();
  REQUIRE(!doc.isEmpty());
  npy->setText(QStringLiteral("w.npy"));
  CHECK(tip() == doc);  // fits: the description alone
  const QString path = QStringLiteral("../../data/some/long/folder/of/weights/") +
                       QString(npy->width() / 4, QLatin1Char('x')) + QStringLiteral(".npy");
  npy->setText(path);
  CHECK(tip() == doc + QStringLiteral("\n\n") + path);
}

TEST_CASE("editor: a block of an unknown type stays on the page as a visible placeholder",
          "[gui][editor]") {
  QTemporaryDir dir;
  const QString path = dir.filePath("u.page.json");
  QFile file(path);
  REQUIRE(file.open(QIODevice::WriteOnly));
  file.write(R"({"format": "quantspace-page", "version": 1, "name": "u",
    "blocks": [{"id": "x", "type": "Const", "attrs": {"values": [1, 2]}},
               {"id": "w", "type": "NoSuchOp", "attrs": {"foo": 1}}],
    "links": [{"from": ["x", "output"], "to": ["w", "in"]}]})");
  file.close();
  EditorFixture f;
  REQUIRE(f.w().openPage(path));
  REQUIRE(f.w().waitForEvaluation());
  BlockItem* w = f.w().scene()->blockItem(BlockId("w"));
  REQUIRE(w != nullptr);
  CHECK(w->status() == BlockStatus::Error);
  CHECK(w->error().find("NoSuchOp") != std::string::npos);
  CHECK(f.w().scene()->blockItem(BlockId("x"))->status() == BlockStatus::Ok);
  // Saved back unchanged, unknown attribute included.
  REQUIRE(f.w().savePageAs(path));
  CHECK(loadPage(path.toStdString()).page.find(BlockId("w"))->attrs ==
        Json::parse(R"({"foo": 1})"));
}

TEST_CASE("editor: the wheel zooms around the cursor; the middle button pans; Ctrl+0 fits",
          "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  PageView* view = f.w().view();
  const QPoint at = f.toViewport(QPointF(380, 260));  // on the PerChannel block
  const QPointF before = view->mapToScene(at);
  QWheelEvent wheel(at, view->viewport()->mapToGlobal(at), {}, QPoint(0, 240), Qt::NoButton,
                    Qt::NoModifier, Qt::NoScrollPhase, false);
  QApplication::sendEvent(view->viewport(), &wheel);
  CHECK(view->zoom() > 1.3);
  const QPointF after = view->mapToScene(at);
  CHECK(std::abs(after.x() - before.x()) < 2.0);
  CHECK(std::abs(after.y() - before.y()) < 2.0);
  // Pan: the scene point under the cursor moves with the mouse.
  const QPoint from(400, 400), to(300, 350);
  const QPointF grabbed = view->mapToScene(from);
  QTest::mousePress(view->viewport(), Qt::MiddleButton, {}, from);
  QMouseEvent move(QEvent::MouseMove, to, view->viewport()->mapToGlobal(to), Qt::NoButton,
                   Qt::MiddleButton, Qt::NoModifier);
  QApplication::sendEvent(view->viewport(), &move);
  QTest::mouseRelease(view->viewport(), Qt::MiddleButton, {}, to);
  const QPointF moved = view->mapToScene(to);
  CHECK(std::abs(moved.x() - grabbed.x()) < 2.0);
  CHECK(std::abs(moved.y() - grabbed.y()) < 2.0);
  // Fit: every block in view.
  view->setFocus();
  QTest::keyClick(view, Qt::Key_0, Qt::ControlModifier);
  for (const char* id : {"x", "lo", "hi", "fq"}) {
    const QRect r = view->mapFromScene(f.w().scene()->blockItem(BlockId(id))->sceneBoundingRect())
                        .boundingRect();
    CHECK(view->viewport()->rect().contains(r));
  }
}

TEST_CASE("editor: a click selects a wire and Delete removes it (one undo step)", "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  const Link link{{BlockId("hi"), PortName("output")}, {BlockId("fq"), PortName("max")}};
  WireItem* wire = f.w().scene()->wireItem(link);
  REQUIRE(wire != nullptr);
  // The middle of the curve: both ends' midpoint lies on it (the curve is point-symmetric).
  const QPointF mid = (wire->start() + wire->end()) / 2;
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, f.toViewport(mid));
  CHECK(f.w().scene()->selectedLinks() == std::vector<Link>{link});
  CHECK(f.w().scene()->selectedBlocks().empty());
  f.w().view()->setFocus();
  QTest::keyClick(f.w().view(), Qt::Key_Delete);
  CHECK_FALSE(f.w().model()->page().hasLink(link));
  CHECK(f.w().model()->page().links().size() == 2);
  CHECK(f.w().scene()->wireItem(link) == nullptr);
  f.w().model()->undoStack()->undo();
  CHECK(f.w().model()->page().hasLink(link));
  // A click on empty canvas clears the wire selection.
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, f.toViewport(QPointF(900, 700)));
  CHECK(f.w().scene()->selectedLinks().empty());
}

}  // namespace test_editor_editing
