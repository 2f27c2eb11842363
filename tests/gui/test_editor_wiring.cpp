// Moving and detaching a wire's input end; the rubber band takes the wires among its blocks.

#include "GuiTestUtil.h"

namespace test_editor_wiring {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {
void openUsingMethod(EditorFixture& f) {
  test::openUsingMethod(f, QPointF(400, 300));
}
const Link kHiToMax{{BlockId("hi"), PortName("output")}, {BlockId("fq"), PortName("max")}};
const Link kLoToMin{{BlockId("lo"), PortName("output")}, {BlockId("fq"), PortName("min")}};
}  // namespace

TEST_CASE("editor: dragging a wire's end off its input deletes the wire in one undo step",
          "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  const Page& page = f.w().model()->page();
  QUndoStack* undo = f.w().model()->undoStack();
  REQUIRE(page.hasLink(kHiToMax));
  // While the end is dragged, the dashed drag line replaces the wire.
  const QPoint maxPin = portPoint(f, "fq", "max");
  QTest::mouseMove(f.viewport(), maxPin);
  QTest::mousePress(f.viewport(), Qt::LeftButton, {}, maxPin);
  QTest::mouseMove(f.viewport(), maxPin + QPoint(-30, 60));
  CHECK(f.w().scene()->wireDragActive());
  CHECK(f.w().scene()->wireLayer()->hidden() == f.w().scene()->wireItem(kHiToMax));
  QTest::mouseRelease(f.viewport(), Qt::LeftButton, {}, maxPin);  // back where it was
  CHECK(f.w().scene()->wireLayer()->hidden() == nullptr);
  CHECK(page.hasLink(kHiToMax));
  CHECK(undo->count() == 0);
  // From fq's max pin to empty canvas below the blocks.
  mouseDrag(f.viewport(), portPoint(f, "fq", "max"), f.toViewport(QPointF(250, 620)));
  CHECK_FALSE(page.hasLink(kHiToMax));
  CHECK(page.links().size() == 2);
  CHECK(f.w().scene()->wireItem(kHiToMax) == nullptr);
  CHECK(undo->count() == 1);
  undo->undo();
  CHECK(page.hasLink(kHiToMax));
  CHECK(f.w().scene()->wireItem(kHiToMax) != nullptr);

  // A click on a wired input (press and release in place) leaves the wire alone.
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, portPoint(f, "fq", "max"));
  CHECK(page.hasLink(kHiToMax));
  CHECK(undo->index() == 0);
}

TEST_CASE("editor: a wire's end dropped on another free input moves there in one undo step",
          "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  const Page& page = f.w().model()->page();
  QUndoStack* undo = f.w().model()->undoStack();
  const BlockId fq2 = f.w().model()->addBlock("FakeQuantWithMinMaxVarsPerChannel", {560, 380});
  const Link moved{kHiToMax.from, {fq2, PortName("max")}};
  mouseDrag(f.viewport(), portPoint(f, "fq", "max"), portPoint(f, fq2.str(), "max"));
  CHECK_FALSE(page.hasLink(kHiToMax));
  CHECK(page.hasLink(moved));
  CHECK(f.w().scene()->wireItem(moved) != nullptr);
  CHECK(page.links().size() == 3);
  CHECK(undo->count() == 2);  // the add, then the move of the wire
  undo->undo();
  CHECK(page.hasLink(kHiToMax));
  CHECK_FALSE(page.hasLink(moved));
  undo->redo();
  CHECK(page.hasLink(moved));

  // Dropped on an input that is already wired: refused, and the wire stays where it was.
  mouseDrag(f.viewport(), portPoint(f, fq2.str(), "max"), portPoint(f, "fq", "min"));
  CHECK(f.w().scene()->lastRefusal().contains("already wired"));
  CHECK(page.hasLink(moved));
  CHECK(page.hasLink(kLoToMin));
  CHECK(undo->count() == 2);
}

TEST_CASE("editor: a rubber band selects the wires between the blocks it selects",
          "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  // Around lo, hi and fq (not x): the wires lo->fq and hi->fq, not x->fq.
  mouseDrag(f.viewport(), f.toViewport(QPointF(20, 200)), f.toViewport(QPointF(520, 600)));
  CHECK(f.w().scene()->selectedBlocks() ==
        std::vector<BlockId>{BlockId("lo"), BlockId("hi"), BlockId("fq")});
  CHECK(f.w().scene()->selectedLinks() == std::vector<Link>{kLoToMin, kHiToMax});
  // Delete takes the blocks and their wires in one step; undo brings all back.
  f.w().view()->setFocus();
  QTest::keyClick(f.viewport(), Qt::Key_Delete);
  CHECK(f.w().model()->page().blockCount() == 1);
  CHECK(f.w().model()->page().links().empty());
  f.w().model()->undoStack()->undo();
  CHECK(f.w().model()->page().links().size() == 3);

  // Around x and lo only: no wire has both ends inside.
  mouseDrag(f.viewport(), f.toViewport(QPointF(20, 20)), f.toViewport(QPointF(200, 380)));
  CHECK(f.w().scene()->selectedBlocks() == std::vector<BlockId>{BlockId("x"), BlockId("lo")});
  CHECK(f.w().scene()->selectedLinks().empty());
}

}  // namespace test_editor_wiring
