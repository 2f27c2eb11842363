// Typed tensors in the editor: a wire whose dtype the input does not take is refused while it is
// dragged, with the reason; the viewer shows every dtype as it is; the inspector says it is for
// float32 only.

#include <QLabel>
#include <QStatusBar>
#include <QTableView>
#include <QTemporaryDir>
#include <cstring>

#include "GuiTestUtil.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/Npy.h"
#include "test_viewer_helpers.h"

namespace test_editor_dtypes {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

// An int32 Const, a Cast to float32 and two Abs blocks (which take float32 only), unwired.
QString writeTypedPage(const QTemporaryDir& dir) {
  const QString path = dir.filePath("typed.page.json");
  QFile f(path);
  REQUIRE(f.open(QIODevice::WriteOnly));
  f.write(R"({"format": "quantspace-page", "version": 1, "blocks": [
    {"id": "labels", "type": "Const", "position": [100, 100],
     "attrs": {"dtype": "int32", "values": [3, -1, 7]}},
    {"id": "abs", "type": "Abs", "position": [500, 100]},
    {"id": "cast", "type": "Cast", "position": [500, 400], "attrs": {"DstT": "float32"}}
  ], "links": []})");
  return path;
}

Tensor int32s(std::vector<int32_t> v) {
  Tensor t = Tensor::uninitialized({static_cast<int64_t>(v.size())}, DType::Int32);
  std::memcpy(t.mutableRawData(), v.data(), v.size() * 4);
  return t;
}

QString cellText(const TensorViewer& viewer, int row, int col) {
  QAbstractItemModel* m = viewer.valueTable()->model();
  return m->data(m->index(row, col)).toString();
}

}  // namespace

TEST_CASE("editor: a wire of the wrong dtype is refused while dragged, with the reason",
          "[gui][editor][dtype]") {
  QTemporaryDir dir;
  EditorFixture f;
  REQUIRE(f.w().openPage(writeTypedPage(dir)));
  REQUIRE(f.w().waitForEvaluation(60000));
  PageScene* scene = f.w().scene();
  const QString why = "'abs' input 'x' takes float32, not int32 (from labels.output)";
  CHECK(scene->dtypeRefusal({BlockId("labels"), PortName("output")},
                            {BlockId("abs"), PortName("x")}) == why);

  // Hovering the float32-only input while dragging says why, before anything is dropped.
  const QPoint from = portPoint(f, "labels", "output");
  const QPoint to = portPoint(f, "abs", "x");
  QTest::mouseMove(f.viewport(), from);
  QTest::mousePress(f.viewport(), Qt::LeftButton, {}, from);
  for (int i = 1; i <= 8; ++i) QTest::mouseMove(f.viewport(), from + (to - from) * i / 8);
  REQUIRE(scene->wireDragActive());
  CHECK(f.w().statusBar()->currentMessage() == "Wire refused: " + why);
  // The input is not lit as a place to drop.
  BlockItem* abs = scene->blockItem(BlockId("abs"));
  const BlockItem::Port* x = nullptr;
  for (const BlockItem::Port& p : abs->ports())
    if (p.desc->name == "x" && !p.result) x = &p;
  REQUIRE(x);
  CHECK_FALSE(scene->acceptsDrop(abs, *x));
  QTest::mouseRelease(f.viewport(), Qt::LeftButton, {}, to);
  CHECK(scene->lastRefusal() == why);
  CHECK(f.w().model()->page().links().empty());

  // Cast takes every dtype: that wire is made.
  mouseDrag(f.viewport(), from, portPoint(f, "cast", "x"));
  CHECK(f.w().model()->page().links().size() == 1);
  CHECK(scene->lastRefusal().isEmpty());
}

TEST_CASE("viewer: integers as integers, bools as true/false, the dtype in the header",
          "[gui][viewer][dtype]") {
  TensorViewer viewer;
  viewer.resize(900, 600);
  viewer.show();
  BlockResultsView v;
  v.blockId = QStringLiteral("x");
  v.type = QStringLiteral("Const");
  v.status = BlockStatus::Ok;
  v.outputs["output"] = int32s({3, -1, 2147483647});
  viewer.showBlock(v);
  REQUIRE(testing::waitIdle(viewer));
  auto* stats = viewer.findChild<QLabel*>("statsLabel");
  REQUIRE(stats);
  CHECK(stats->text().contains("shape [3] · int32 · 3 elements"));
  CHECK(stats->text().contains("max 2147483647"));
  CHECK(cellText(viewer, 0, 0) == "3");
  CHECK(cellText(viewer, 1, 0) == "-1");
  CHECK(cellText(viewer, 2, 0) == "2147483647");

  Tensor b = Tensor::uninitialized({2}, DType::Bool);
  b.mutableAs<bool>()[0] = true;
  b.mutableAs<bool>()[1] = false;
  v.outputs["output"] = b;
  viewer.showBlock(v);
  REQUIRE(testing::waitIdle(viewer));
  CHECK(stats->text().contains("· bool ·"));
  CHECK(cellText(viewer, 0, 0) == "true");
  CHECK(cellText(viewer, 1, 0) == "false");

  Tensor h = Tensor::uninitialized({1}, DType::Float16);
  h.mutableAs<Half>()[0] = Half{0x3555};  // 0.333251953125
  v.outputs["output"] = h;
  viewer.showBlock(v);
  REQUIRE(testing::waitIdle(viewer));
  CHECK(stats->text().contains("· float16 ·"));
  CHECK(cellText(viewer, 0, 0) == "0.33325195");

  QTemporaryDir dir;
  const QString npy = dir.filePath("h.npy");
  QString error;
  REQUIRE(viewer.saveNpy(npy, &error));
  CHECK(bitwiseEqual(readNpy(npy.toStdString()), h));
}

TEST_CASE("inspector: a non-float32 input is named, not crashed on", "[gui][viewer][dtype]") {
  TensorViewer viewer;
  viewer.resize(900, 600);
  viewer.show();
  BlockResultsView v = testing::perChannelBlock(Tensor::fromValues({2}, {0.5f, 1}), {0}, {1}, 8);
  v.inputs["inputs"] = int32s({1, 2});
  viewer.showBlock(v);
  REQUIRE(testing::waitIdle(viewer));
  CHECK_FALSE(viewer.inspectorShown());
  const QString why =
      "The quantization inspector works on float32 tensors only; input `inputs` "
      "is int32.";
  CHECK(viewer.findChild<QLabel*>("viewerHeader")->text().contains(why));
  QString error;
  CHECK_FALSE(viewer.showView("quantization", &error));
  CHECK(error == "the view 'quantization' is not available: " + why);
  CHECK(viewer.currentResultName() == "fq.result_output");  // the values are still shown
}

}  // namespace test_editor_dtypes
