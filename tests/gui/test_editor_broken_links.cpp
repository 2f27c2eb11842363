// A page whose links name a missing block or port opens in the editor, with the wire drawn broken
// (red, dashed) and the block in error, so that it can be repaired: delete the wire, wire again.
#include <QFile>
#include <QLabel>
#include <QUndoStack>

#include "GuiTestUtil.h"
#include "editor_bridge/EditorStyle.h"
#include "editor_bridge/WireItem.h"
#include "runtime/PageJson.h"

namespace test_editor_broken_links {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

QString writePage(const QTemporaryDir& dir, const QString& name, const std::string& links) {
  const std::string text = R"({"format": "quantspace-page", "version": 1, "name": "broken",
  "blocks": [
    {"id": "x", "type": "Const", "position": [40, 40], "attrs": {"shape": [2], "values": [1, 2]}},
    {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "position": [340, 40], "attrs": {}}
  ],
  "links": [)" + links + "]}";
  const QString path = dir.filePath(name);
  QFile f(path);
  REQUIRE(f.open(QIODevice::WriteOnly));
  f.write(text.c_str());
  return path;
}

void openAt(EditorFixture& f, const QString& path) {
  QString error;
  REQUIRE(f.w().openPage(path, &error));
  f.w().view()->resetTransform();
  f.w().view()->centerOn(QPointF(300, 150));
  REQUIRE(f.w().waitForEvaluation(60000));
  QApplication::processEvents();
}

// Pixels of the broken-wire red in the canvas around the wire (the badge's red is another colour).
int brokenPixels(EditorFixture& f, const WireItem* wire) {
  const QRect area = f.w().view()->mapFromScene(wire->boundingRect()).boundingRect();
  const QImage img = f.viewport()->grab(area).toImage();
  int n = 0;
  for (int y = 0; y < img.height(); ++y)
    for (int x = 0; x < img.width(); ++x) {
      const QColor c = img.pixelColor(x, y);
      n += std::abs(c.red() - style::kWireBroken.red()) < 30 &&
           std::abs(c.green() - style::kWireBroken.green()) < 30 &&
           std::abs(c.blue() - style::kWireBroken.blue()) < 30;
    }
  return n;
}

// A point on the wire, away from its ends.
QPoint onWire(EditorFixture& f, const WireItem* wire) {
  return f.toViewport((wire->start() + wire->end()) / 2);
}

const Link kFromGhost{{BlockId("ghost"), PortName("output")}, {BlockId("fq"), PortName("inputs")}};
const Link kGood{{BlockId("x"), PortName("output")}, {BlockId("fq"), PortName("inputs")}};
const Link kBadPort{{BlockId("x"), PortName("output")}, {BlockId("fq"), PortName("nope")}};

}  // namespace

TEST_CASE("editor: a link from a missing block is drawn broken and can be deleted and rewired",
          "[gui][editor][broken]") {
  QTemporaryDir dir;
  const QString path =
      writePage(dir, "ghost.page.json", R"({"from": ["ghost", "output"], "to": ["fq", "inputs"]})");
  EditorFixture f;
  openAt(f, path);
  const Page& page = f.w().model()->page();
  QUndoStack* undo = f.w().model()->undoStack();
  REQUIRE(page.danglingLinks() == std::vector<Link>{kFromGhost});
  WireItem* wire = f.w().scene()->wireItem(kFromGhost);
  REQUIRE(wire);
  CHECK(wire->broken());
  CHECK(wire->brokenReason() == "no block 'ghost' on the page");
  CHECK(wire->fromItem() == nullptr);
  CHECK(wire->toItem() == f.w().scene()->blockItem(BlockId("fq")));
  CHECK(brokenPixels(f, wire) > 40);
  const BlockItem* fq = f.w().scene()->blockItem(BlockId("fq"));
  CHECK(fq->status() == BlockStatus::Error);
  CHECK_THAT(fq->error(), Catch::Contains("input 'inputs' is wired from ghost.output, but there "
                                          "is no block 'ghost'"));
  // The attribute editor shows the same error.
  clickBlock(f, "fq");
  auto* status = f.w().attributeEditor()->findChild<QLabel*>("blockStatus");
  REQUIRE(status);
  CHECK(status->text().contains("no block 'ghost'"));

  // Saving loses nothing: the broken link is in the file.
  const QString saved = dir.filePath("saved.page.json");
  REQUIRE(f.w().savePageAs(saved));
  const Page back = loadPage(saved.toStdString(), {.keepDanglingLinks = true}).page;
  CHECK(back.danglingLinks() == std::vector<Link>{kFromGhost});

  // While the broken wire is there, a new wire into the same input is refused with the reason.
  mouseDrag(f.viewport(), portPoint(f, "x", "output"), portPoint(f, "fq", "inputs"));
  CHECK(f.w().scene()->lastRefusal().contains("has a broken wire"));
  CHECK(page.links().empty());

  // Click the broken wire, Delete: gone in one undo step; undo brings it back, drawn broken.
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, onWire(f, wire));
  CHECK(f.w().scene()->selectedLinks() == std::vector<Link>{kFromGhost});
  f.w().view()->setFocus();
  QTest::keyClick(f.viewport(), Qt::Key_Delete);
  CHECK(page.danglingLinks().empty());
  CHECK(f.w().scene()->wireItem(kFromGhost) == nullptr);
  REQUIRE(f.w().waitForEvaluation(60000));
  CHECK_THAT(fq->error(), !Catch::Contains("ghost"));
  const int afterDelete = undo->index();
  undo->undo();
  CHECK(page.danglingLinks() == std::vector<Link>{kFromGhost});
  REQUIRE(f.w().scene()->wireItem(kFromGhost));
  CHECK(f.w().scene()->wireItem(kFromGhost)->broken());
  REQUIRE(f.w().waitForEvaluation(60000));
  CHECK_THAT(fq->error(), Catch::Contains("no block 'ghost'"));
  undo->redo();
  CHECK(undo->index() == afterDelete);
  CHECK(page.danglingLinks().empty());

  // Rewire: the block computes again.
  mouseDrag(f.viewport(), portPoint(f, "x", "output"), portPoint(f, "fq", "inputs"));
  CHECK(page.links() == std::vector<Link>{kGood});
  REQUIRE(f.w().waitForEvaluation(60000));
  QApplication::processEvents();
  CHECK(fq->status() == BlockStatus::Ok);
  REQUIRE(f.w().savePageAs(saved));
  const Page repaired = loadPage(saved.toStdString()).page;  // a strict read: nothing dangles
  CHECK(repaired.links() == std::vector<Link>{kGood});
}

TEST_CASE(
    "editor: deleting the block at the end of a broken wire takes the wire; undo restores "
    "both",
    "[gui][editor][broken]") {
  QTemporaryDir dir;
  const QString path = writePage(
      dir, "ghost.page.json",
      R"({"from": ["ghost", "output"], "to": ["fq", "inputs"]}, {"from": ["a", "o"], "to": ["b", "i"]})");
  EditorFixture f;
  openAt(f, path);
  const Page& page = f.w().model()->page();
  CHECK(page.danglingLinks().size() == 2);
  // A new block never takes a name that a broken wire names.
  CHECK(f.w().model()->freshIdLike("ghost") == "ghost_2");
  clickBlock(f, "fq");
  f.w().view()->setFocus();
  QTest::keyClick(f.viewport(), Qt::Key_Delete);
  CHECK_FALSE(page.contains(BlockId("fq")));
  CHECK(page.danglingLinks().size() == 1);  // a -> b has no block on the page to go with
  f.w().model()->undoStack()->undo();
  CHECK(page.contains(BlockId("fq")));
  CHECK(page.danglingLinks().size() == 2);
  REQUIRE(f.w().scene()->wireItem(kFromGhost));
  CHECK(f.w().scene()->wireItem(kFromGhost)->toItem() == f.w().scene()->blockItem(BlockId("fq")));
}

TEST_CASE("editor: a link to a port the block does not have is drawn broken and can be repaired",
          "[gui][editor][broken]") {
  QTemporaryDir dir;
  const QString path =
      writePage(dir, "port.page.json", R"({"from": ["x", "output"], "to": ["fq", "nope"]})");
  EditorFixture f;
  openAt(f, path);
  const Page& page = f.w().model()->page();
  WireItem* wire = f.w().scene()->wireItem(kBadPort);
  REQUIRE(wire);
  CHECK(wire->broken());
  CHECK(wire->brokenReason() == "'fq' (FakeQuantWithMinMaxArgs) has no input 'nope'");
  CHECK(brokenPixels(f, wire) > 40);
  const BlockItem* fq = f.w().scene()->blockItem(BlockId("fq"));
  CHECK(fq->status() == BlockStatus::Error);
  CHECK_THAT(fq->error(), Catch::Contains("has no input 'nope'"));
  // A sound wire is not drawn broken.
  mouseDrag(f.viewport(), portPoint(f, "x", "output"), portPoint(f, "fq", "inputs"));
  REQUIRE(f.w().scene()->wireItem(kGood));
  CHECK_FALSE(f.w().scene()->wireItem(kGood)->broken());
  // Delete the broken one: the block computes.
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, onWire(f, wire));
  REQUIRE(f.w().scene()->selectedLinks() == std::vector<Link>{kBadPort});
  f.w().view()->setFocus();
  QTest::keyClick(f.viewport(), Qt::Key_Delete);
  CHECK(page.links() == std::vector<Link>{kGood});
  REQUIRE(f.w().waitForEvaluation(60000));
  QApplication::processEvents();
  CHECK(fq->status() == BlockStatus::Ok);
  f.w().model()->undoStack()->undo();
  CHECK(page.hasLink(kBadPort));
  REQUIRE(f.w().scene()->wireItem(kBadPort));
  CHECK(f.w().scene()->wireItem(kBadPort)->broken());
}

}  // namespace test_editor_broken_links
