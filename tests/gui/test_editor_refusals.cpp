// Refused wires, a refused attribute value, a block in error.

#include <QLabel>
#include <QSpinBox>

#include "GuiTestUtil.h"

namespace test_editor_refusals {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {
void openUsingMethod(EditorFixture& f) {
  test::openUsingMethod(f, QPointF(300, 300));
  REQUIRE(f.w().waitForEvaluation());
}
}  // namespace

TEST_CASE("editor: a wire in the wrong direction is refused with the reason", "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  const size_t links = f.w().model()->page().links().size();
  mouseDrag(f.viewport(), portPoint(f, "x", "output"), portPoint(f, "lo", "output"));
  CHECK(f.w().model()->page().links().size() == links);
  CHECK(f.w().scene()->lastRefusal().contains("wrong direction"));
  CHECK(f.w().model()->undoStack()->count() == 0);
  // Starting from an input pin makes no wire either.
  mouseDrag(f.viewport(), portPoint(f, "fq", "inputs"), portPoint(f, "lo", "output"));
  CHECK(f.w().model()->page().links().size() == links);
}

TEST_CASE("editor: an input that is already wired refuses a second wire", "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  mouseDrag(f.viewport(), portPoint(f, "hi", "output"), portPoint(f, "fq", "min"));
  CHECK(f.w().scene()->lastRefusal().contains("already wired"));
  CHECK(f.w().scene()->lastRefusal().contains("lo.output"));
  CHECK(f.w().model()->page().links().size() == 3);
  CHECK(f.w().model()->undoStack()->count() == 0);
}

TEST_CASE("editor: the attrs pin refuses a wire and says what it stands for", "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  const size_t links = f.w().model()->page().links().size();
  mouseDrag(f.viewport(), portPoint(f, "x", "output"), portPoint(f, "fq", "attrs"));
  CHECK(f.w().model()->page().links().size() == links);
  const QString refusal = f.w().scene()->lastRefusal();
  CHECK(refusal.contains("the attrs pin of 'fq' takes no wire"));
  CHECK(refusal.contains("attribute editor"));
  // No block type drives the attrs pin, so the message must not send the user looking for one.
  CHECK_FALSE(refusal.contains("Attrs block"));
  CHECK(f.w().model()->undoStack()->count() == 0);
}

TEST_CASE("editor: a wire that would close a cycle is refused", "[gui][editor]") {
  EditorFixture f;
  const BlockId a = dropFromPalette(f, "FakeQuantWithMinMaxVarsPerChannel", QPoint(100, 100));
  const BlockId b = dropFromPalette(f, "FakeQuantWithMinMaxVarsPerChannel", QPoint(450, 100));
  const BlockId c = dropFromPalette(f, "FakeQuantWithMinMaxVarsPerChannel", QPoint(800, 100));
  mouseDrag(f.viewport(), portPoint(f, a.str(), "output"), portPoint(f, b.str(), "inputs"));
  mouseDrag(f.viewport(), portPoint(f, b.str(), "output"), portPoint(f, c.str(), "inputs"));
  REQUIRE(f.w().model()->page().links().size() == 2);
  // c -> a closes a -> b -> c -> a.
  mouseDrag(f.viewport(), portPoint(f, c.str(), "output"), portPoint(f, a.str(), "min"));
  CHECK(f.w().scene()->lastRefusal().contains("cycle"));
  CHECK(f.w().model()->page().links().size() == 2);
  // A block into itself.
  mouseDrag(f.viewport(), portPoint(f, b.str(), "output"), portPoint(f, b.str(), "max"));
  CHECK(f.w().scene()->lastRefusal().contains("cycle"));
  CHECK(f.w().model()->page().links().size() == 2);
  // Downstream the other way is fine: a -> c.min makes no cycle.
  mouseDrag(f.viewport(), portPoint(f, a.str(), "output"), portPoint(f, c.str(), "min"));
  CHECK(f.w().model()->page().links().size() == 3);
  // While a wire is dragged, compatible inputs are those that are free and not upstream.
  BlockItem* ai = f.w().scene()->blockItem(a);
  BlockItem* ci = f.w().scene()->blockItem(c);
  QTest::mousePress(f.viewport(), Qt::LeftButton, {}, portPoint(f, c.str(), "output"));
  REQUIRE(f.w().scene()->wireDragActive());
  for (const auto& port : ai->ports())
    if (port.desc->name == "max") CHECK_FALSE(f.w().scene()->acceptsDrop(ai, port));
  QTest::mouseRelease(f.viewport(), Qt::LeftButton, {}, portPoint(f, c.str(), "output"));
  QTest::mousePress(f.viewport(), Qt::LeftButton, {}, portPoint(f, a.str(), "output"));
  for (const auto& port : ci->ports()) {
    if (port.desc->name == "max") CHECK(f.w().scene()->acceptsDrop(ci, port));
    if (port.desc->name == "min") CHECK_FALSE(f.w().scene()->acceptsDrop(ci, port));  // wired
    if (port.desc->name == "scope") CHECK_FALSE(f.w().scene()->acceptsDrop(ci, port));
  }
  QTest::mouseRelease(f.viewport(), Qt::LeftButton, {}, QPoint(5, 5));
  CHECK_FALSE(f.w().scene()->wireDragActive());
}

TEST_CASE("editor: num_bits out of range is refused with a message, never clamped",
          "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  clickBlock(f, "fq");
  typeAttr(f, "num_bits", "17");
  CHECK(f.w().attributeEditor()->message().contains("num_bits must be between 2 and 16"));
  CHECK(attrOf(f, "fq", "num_bits") == Json(8));
  auto* spin = qobject_cast<QSpinBox*>(f.w().attributeEditor()->field("num_bits"));
  REQUIRE(spin != nullptr);
  CHECK(spin->value() == 8);
  typeAttr(f, "num_bits", "1");
  CHECK(f.w().attributeEditor()->message().contains("num_bits must be between 2 and 16"));
  CHECK(attrOf(f, "fq", "num_bits") == Json(8));
  CHECK(f.w().model()->undoStack()->count() == 0);
  // A value in range is taken, and the message goes away.
  typeAttr(f, "num_bits", "4");
  CHECK(attrOf(f, "fq", "num_bits") == Json(4));
  CHECK(f.w().attributeEditor()->message().isEmpty());
  // The arrows stop at the range instead of going past it.
  typeAttr(f, "num_bits", "16");
  spin->setFocus();
  QTest::keyClick(spin, Qt::Key_Up);
  CHECK(spin->value() == 16);
  CHECK(attrOf(f, "fq", "num_bits") == Json(16));
  // Text that is not a number in a list field is refused too.
  clickBlock(f, "x");
  typeAttr(f, "values", "[1, two, 3]");
  CHECK(f.w().attributeEditor()->message().contains("two"));
  CHECK(attrOf(f, "x", "values") == Json::parse("[-1, 0, 5, 6]"));
}

TEST_CASE("editor: a block in error shows its message on the badge, tooltip and editor",
          "[gui][editor]") {
  EditorFixture f;
  openUsingMethod(f);
  CHECK(f.w().scene()->blockItem(BlockId("fq"))->status() == BlockStatus::Ok);
  clickBlock(f, "lo");
  // Three values where lo's shape [4] wants four: lo fails, and so does fq, which needs it.
  typeAttr(f, "values", "[0, 0, 0]");
  REQUIRE(f.w().waitForEvaluation());
  BlockItem* lo = f.w().scene()->blockItem(BlockId("lo"));
  CHECK(lo->status() == BlockStatus::Error);
  CHECK(lo->error().find("needs 4 values") != std::string::npos);
  CHECK(f.w().scene()->blockItem(BlockId("x"))->status() == BlockStatus::Ok);
  BlockItem* fq = f.w().scene()->blockItem(BlockId("fq"));
  CHECK(fq->status() == BlockStatus::Error);
  INFO(fq->error());
  CHECK_FALSE(fq->error().empty());
  CHECK(fq->toolTipText().contains(QString::fromStdString(fq->error())));
  CHECK(fq->toolTipText().contains("Error"));
  clickBlock(f, "fq");
  auto* status = f.w().attributeEditor()->findChild<QLabel*>("blockStatus");
  REQUIRE(status != nullptr);
  CHECK(status->text().contains(QString::fromStdString(fq->error())));
  // An unset Const is an error of its own, shown before anything runs.
  clickBlock(f, "x");
  typeAttr(f, "values", "");
  REQUIRE(f.w().waitForEvaluation());
  CHECK(f.w().scene()->blockItem(BlockId("x"))->status() == BlockStatus::Error);
  CHECK(f.w().scene()->blockItem(BlockId("x"))->error().find("no value") != std::string::npos);
  // Undo brings the page back to health.
  f.w().model()->undoStack()->undo();
  f.w().model()->undoStack()->undo();
  REQUIRE(f.w().waitForEvaluation());
  CHECK(f.w().scene()->blockItem(BlockId("fq"))->status() == BlockStatus::Ok);
}

}  // namespace test_editor_refusals
