// The whole editing loop through real widgets and mouse events.

#include <QTemporaryDir>

#include "GuiTestUtil.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/PageJson.h"

namespace test_editor_flow {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

TEST_CASE("editor: build the Using Method page by mouse, evaluate, inspect, undo, save, reopen",
          "[gui][editor]") {
  EditorFixture f;
  MainWindow& w = f.w();
  REQUIRE(w.model()->page().blockCount() == 0);

  // Three Consts and the PerChannel block, dragged from the palette.
  const BlockId x = dropFromPalette(f, "Const", QPoint(80, 60));
  const BlockId lo = dropFromPalette(f, "Const", QPoint(80, 260));
  const BlockId hi = dropFromPalette(f, "Const", QPoint(80, 460));
  const BlockId fq = dropFromPalette(f, "FakeQuantWithMinMaxVarsPerChannel", QPoint(400, 240));
  REQUIRE(w.model()->page().blockCount() == 4);
  CHECK(w.model()->page().find(fq)->type == "FakeQuantWithMinMaxVarsPerChannel");

  // Values typed into the attribute editor of each selected Const.
  const std::vector<std::pair<BlockId, QString>> values = {
      {x, "[-1, 0, 5, 6]"}, {lo, "[0, 0, 0, 0]"}, {hi, "[5, 5, 5, 5]"}};
  for (const auto& [id, text] : values) {
    clickBlock(f, id.str());
    typeAttr(f, "values", text);
    CHECK(w.attributeEditor()->message().isEmpty());
  }
  CHECK(attrOf(f, x.str(), "values") == Json::parse("[-1, 0, 5, 6]"));
  CHECK(attrOf(f, lo.str(), "values") == Json::parse("[0, 0, 0, 0]"));
  CHECK(attrOf(f, hi.str(), "values") == Json::parse("[5, 5, 5, 5]"));

  // Wires, each by a mouse drag from an output pin to an input pin.
  mouseDrag(f.viewport(), portPoint(f, x.str(), "output"), portPoint(f, fq.str(), "inputs"));
  mouseDrag(f.viewport(), portPoint(f, lo.str(), "output"), portPoint(f, fq.str(), "min"));
  mouseDrag(f.viewport(), portPoint(f, hi.str(), "output"), portPoint(f, fq.str(), "max"));
  INFO(w.scene()->lastRefusal().toStdString());
  REQUIRE(w.model()->page().links().size() == 3);
  CHECK(w.model()->page().hasLink({{x, PortName("output")}, {fq, PortName("inputs")}}));
  CHECK(w.model()->page().hasLink({{lo, PortName("output")}, {fq, PortName("min")}}));
  CHECK(w.model()->page().hasLink({{hi, PortName("output")}, {fq, PortName("max")}}));

  // Evaluation runs by itself after the edits (debounced, on the worker thread).
  QTest::qWait(200);
  REQUIRE(w.waitForEvaluation());
  CHECK(w.scene()->blockItem(fq)->status() == BlockStatus::Ok);

  // Select the block, then its result pin: the viewer shows fq.result_output.
  clickBlock(f, fq.str());
  QTest::mouseClick(f.viewport(), Qt::LeftButton, {}, portPoint(f, fq.str(), "output", true));
  CHECK(w.viewer()->currentResultName().toStdString() == fq.str() + ".result_output");
  CHECK(w.viewer()->shownValues() == std::vector<float>{0, 0, 5, 5});

  // Undo every step with Ctrl+Z on the canvas: 4 adds, 3 value edits, 3 wires.
  const std::string built = pageToText(w.model()->page());
  QUndoStack* undo = w.model()->undoStack();
  CHECK(undo->count() == 10);
  w.view()->setFocus();
  for (int i = 0; i < 10; ++i) QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier);
  CHECK(undo->index() == 0);
  CHECK(w.model()->page().blockCount() == 0);
  CHECK(w.model()->page().links().empty());
  CHECK(w.scene()->wireLayer()->wires().empty());
  for (QGraphicsItem* item : w.scene()->items()) CHECK(item->type() != BlockItem::Type);
  CHECK_FALSE(w.isModified());

  // Redo it all, save, reopen and compare.
  for (int i = 0; i < 10; ++i)
    QTest::keyClick(w.view(), Qt::Key_Z, Qt::ControlModifier | Qt::ShiftModifier);
  CHECK(pageToText(w.model()->page()) == built);
  QTemporaryDir dir;
  const QString path = dir.filePath("built.page.json");
  REQUIRE(w.savePageAs(path));
  CHECK_FALSE(w.isModified());
  CHECK(w.windowTitle().startsWith("built.page.json"));

  EditorFixture g;
  QString error;
  REQUIRE(g.w().openPage(path, &error));
  const Page& a = w.model()->page();
  const Page& b = g.w().model()->page();
  REQUIRE(a.blockCount() == b.blockCount());
  for (size_t i = 0; i < a.blockCount(); ++i) {
    CHECK(a.blocks()[i].id == b.blocks()[i].id);
    CHECK(a.blocks()[i].type == b.blocks()[i].type);
    CHECK(a.blocks()[i].attrs == b.blocks()[i].attrs);
    CHECK(a.blocks()[i].position == b.blocks()[i].position);
  }
  CHECK(a.links() == b.links());
  CHECK(pageToText(b) == built);
  REQUIRE(g.w().waitForEvaluation());
  auto r = g.w().results().find(fq);
  REQUIRE(r != g.w().results().end());
  CHECK(r->second.outputs.at("output").toVector() == std::vector<float>{0, 0, 5, 5});
}

}  // namespace test_editor_flow
