// File > Export ONNX: the menu entry, and the export it runs (an exported page reads back as
// weights; a page with a block that has no ONNX form is refused naming it, and nothing is written).

#include <QAction>
#include <QFile>
#include <QTemporaryDir>
#include <catch2/catch.hpp>

#include "GuiTestUtil.h"
#include "blocks/RegisterBlocks.h"
#include "editor_bridge/OnnxExportAction.h"
#include "runtime/PageJson.h"
#include "runtime/WeightFiles.h"

namespace test_editor_onnx {

using namespace qs;
using qs::editor::test::EditorFixture;

TEST_CASE(
    "editor: File > Export ONNX writes the page as an ONNX model, or says which block stops it",
    "[editor][onnx]") {
  EditorFixture f;
  CHECK(f.w().findChild<QAction*>("exportOnnxAction") != nullptr);
  QTemporaryDir dir;
  const QString examples = QString(QS_SOURCE_DIR) + "/assets/examples/";
  const QString out = dir.filePath("m.onnx");
  QString error;
  const QString good = examples + "using_method.page.json";
  REQUIRE(
      exportPageToOnnx(loadPage(good.toStdString()).page, good, builtinRegistry(), out, &error));
  bool hasX = false;
  for (const NamedTensor& t : readWeightFile(out.toStdString())) hasX |= t.name == "x";
  CHECK(hasX);
  const QString bad = examples + "calibration.page.json";
  const QString out2 = dir.filePath("c.onnx");
  CHECK_FALSE(
      exportPageToOnnx(loadPage(bad.toStdString()).page, bad, builtinRegistry(), out2, &error));
  CHECK(error.contains("block 'report' (QuantizationReport)"));
  CHECK_FALSE(QFile::exists(out2));
}

TEST_CASE("editor: opening an exported .onnx opens the page it came from, as a new unsaved page",
          "[editor][onnx]") {
  EditorFixture f;
  QTemporaryDir dir;
  const QString page = QString(QS_SOURCE_DIR) + "/assets/examples/using_method.page.json";
  const QString out = dir.filePath("m.onnx");
  QString error;
  REQUIRE(
      exportPageToOnnx(loadPage(page.toStdString()).page, page, builtinRegistry(), out, &error));
  REQUIRE(f.w().openPage(out, &error));
  INFO(error.toStdString());
  const Page& opened = f.w().model()->page();
  CHECK(opened.blockCount() == 4);
  CHECK(opened.find(BlockId("fq")) != nullptr);
  CHECK(opened.find(BlockId("lo")) != nullptr);  // the page's own blocks, not an import's
  CHECK(f.w().filePath().isEmpty());  // Save asks for a name: the model is not overwritten
}

}  // namespace test_editor_onnx
