// GUI tests of the result viewer: statistics, table, slices, messages, exports.

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QProcess>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "editor_bridge/viewer/BakeOffPanel.h"
#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "editor_bridge/viewer/QuantPlots.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/Npy.h"
#include "test_viewer_helpers.h"

namespace test_viewer {

using namespace qs;
using namespace qs::editor;

namespace {

BlockResultsView constBlock(const Tensor& t) {
  BlockResultsView v;
  v.blockId = QStringLiteral("x");
  v.type = QStringLiteral("Const");
  v.status = BlockStatus::Ok;
  v.outputs["output"] = t;
  return v;
}

// [2, 3, 4] holding 0 .. 21, then +inf, then NaN.
Tensor knownTensor() {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  v[22] = std::numeric_limits<float>::infinity();
  v[23] = std::numeric_limits<float>::quiet_NaN();
  return Tensor::fromValues({2, 3, 4}, v);
}

}  // namespace

TEST_CASE("viewer shows the statistics of a known tensor", "[viewer]") {
  TensorViewer viewer;
  viewer.resize(900, 600);
  viewer.show();
  viewer.showBlock(constBlock(knownTensor()));
  REQUIRE(testing::waitIdle(viewer));
  CHECK(viewer.currentResultName() == "x.result_output");
  CHECK_FALSE(viewer.showsMessage());
  CHECK_FALSE(viewer.inspectorShown());  // not a FakeQuant block
  // By hand: the finite values are 0..21: min 0, max 21, mean 10.5, population variance
  // (22^2 - 1) / 12 = 40.25, std 6.3443; one NaN, one +inf.
  const TensorStats& s = viewer.shownStats();
  CHECK(s.count == 24);
  CHECK(s.finite == 22);
  CHECK(s.nan == 1);
  CHECK(s.posInf == 1);
  CHECK(s.negInf == 0);
  CHECK(s.min == 0.0);
  CHECK(s.max == 21.0);
  CHECK(s.mean == Approx(10.5));
  CHECK(s.stddev == Approx(std::sqrt(40.25)));
  const QString label = viewer.statsLabel()->text();
  CHECK(label.contains("shape [2, 3, 4]"));
  CHECK(label.contains("float32"));
  CHECK(label.contains("min 0 "));
  CHECK(label.contains("max 21 "));
  CHECK(label.contains("mean 10.5 "));
  CHECK(label.contains("NaN 1"));
  CHECK(label.contains("+inf 1"));
  CHECK(viewer.histogram()->hasPlot());
  CHECK(viewer.heatmap()->hasPlot());
}

TEST_CASE("viewer table shows the slice picked in the spin boxes", "[viewer]") {
  TensorViewer viewer;
  viewer.resize(900, 600);
  viewer.show();
  viewer.showBlock(constBlock(knownTensor()));
  REQUIRE(viewer.sliceSpins().size() == 1);
  std::vector<float> first = viewer.shownValues();
  REQUIRE(first.size() == 12);
  for (int i = 0; i < 12; ++i) CHECK(first[i] == static_cast<float>(i));
  CHECK(viewer.valueTable()->model()->rowCount() == 3);
  CHECK(viewer.valueTable()->model()->columnCount() == 4);
  // The table shows the shortest exact text.
  CHECK(viewer.valueTable()->model()->index(2, 3).data().toString() == "11");

  // Type the index as a user would.
  QSpinBox* spin = viewer.sliceSpins()[0];
  spin->setFocus();
  spin->selectAll();
  QTest::keyClicks(spin, "1");
  QTest::keyClick(spin, Qt::Key_Return);
  const std::vector<float> second = viewer.shownValues();
  REQUIRE(second.size() == 12);
  for (int i = 0; i < 10; ++i) CHECK(second[i] == static_cast<float>(12 + i));
  CHECK(std::isinf(second[10]));
  CHECK(std::isnan(second[11]));
  CHECK(viewer.valueTable()->model()->index(2, 3).data().toString() == "nan");
  // The spin box cannot leave the tensor.
  CHECK(spin->maximum() == 1);
}

TEST_CASE("viewer shows a rank-1 result as a column of values", "[viewer]") {
  TensorViewer viewer;
  viewer.showBlock(testing::perChannelBlock(Tensor::fromValues({4}, {-1, 0, 5, 6}), {0, 0, 0, 0},
                                            {5, 5, 5, 5}, 8));
  CHECK(viewer.currentResultName() == "fq.result_output");
  // The enuSpace Using Method example: [-1, 0, 5, 6] in [0, 5] gives [0, 0, 5, 5].
  CHECK(viewer.shownValues() == std::vector<float>{0, 0, 5, 5});
  CHECK(viewer.sliceSpins().empty());
}

TEST_CASE("viewer shows a message for a block in error or not evaluated", "[viewer]") {
  TensorViewer viewer;
  CHECK(viewer.showsMessage());
  CHECK(viewer.currentResultName().isEmpty());

  BlockResultsView bad;
  bad.blockId = QStringLiteral("fq");
  bad.type = QStringLiteral("FakeQuantWithMinMaxVarsPerChannel");
  bad.status = BlockStatus::Error;
  bad.error = QStringLiteral("min has incorrect size, expected 4 was 3");
  viewer.showBlock(bad);
  CHECK(viewer.showsMessage());
  CHECK(viewer.messageText().contains("min has incorrect size, expected 4 was 3"));
  CHECK(viewer.messageText().contains("fq"));
  CHECK(viewer.currentResultName().isEmpty());
  CHECK(viewer.shownValues().empty());

  BlockResultsView stale = bad;
  stale.status = BlockStatus::Stale;
  stale.error.clear();
  viewer.showBlock(stale);
  CHECK(viewer.showsMessage());
  CHECK(viewer.messageText().contains("no results yet"));

  // Results of a previous run stay visible while the block is stale, marked as such.
  BlockResultsView old = constBlock(Tensor::fromValues({2}, {1, 2}));
  old.status = BlockStatus::Stale;
  viewer.showBlock(old);
  CHECK_FALSE(viewer.showsMessage());
  CHECK(viewer.shownValues() == std::vector<float>{1, 2});
  CHECK(viewer.findChild<QLabel*>("viewerHeader")->text().contains("previous results"));
}

TEST_CASE("viewer selects among several outputs", "[viewer]") {
  TensorViewer viewer;
  BlockResultsView v;
  v.blockId = QStringLiteral("g");
  v.type = QStringLiteral("Identity2");
  v.status = BlockStatus::Ok;
  v.outputs["backprop_wrt_min"] = Tensor::fromValues({2}, {7, 8});
  v.outputs["backprops_wrt_input"] = Tensor::fromValues({3}, {1, 2, 3});
  viewer.showBlock(v, "backprops_wrt_input");
  CHECK(viewer.currentResultName() == "g.result_backprops_wrt_input");
  CHECK(viewer.shownValues() == std::vector<float>{1, 2, 3});
  QComboBox* combo = viewer.outputSelector();
  REQUIRE(combo->count() == 2);
  // Choose the other output with the keyboard, as a user would.
  combo->setFocus();
  QTest::keyClick(combo, Qt::Key_Up);
  CHECK(viewer.currentResultName() == "g.result_backprop_wrt_min");
  CHECK(viewer.shownValues() == std::vector<float>{7, 8});
  // An empty port means the first output.
  viewer.clear();
  viewer.showBlock(v);
  CHECK(viewer.currentResultName() == "g.result_backprop_wrt_min");
}

TEST_CASE("viewer exports the tensor to .npy and the picture to PNG", "[viewer]") {
  QTemporaryDir dir;
  REQUIRE(dir.isValid());
  TensorViewer viewer;
  viewer.resize(800, 500);
  viewer.show();
  const Tensor t = knownTensor();
  viewer.showBlock(constBlock(t));
  REQUIRE(testing::waitIdle(viewer));
  const QString npy = dir.filePath("x.npy");
  QString error;
  REQUIRE(viewer.saveNpy(npy, &error));
  CHECK(bitwiseEqual(readNpy(npy.toStdString()), t));
  for (int tab = 0; tab < viewer.tabs()->count(); ++tab) {
    viewer.tabs()->setCurrentIndex(tab);
    const QString png = dir.filePath(QStringLiteral("x%1.png").arg(tab));
    REQUIRE(viewer.savePicture(png, &error));
    QImage img(png);
    CHECK_FALSE(img.isNull());
    CHECK(img.width() >= 640);
  }
  // Nothing to export when nothing is shown: a message, not a crash.
  viewer.clear();
  CHECK_FALSE(viewer.saveNpy(dir.filePath("none.npy"), &error));
  CHECK(error.contains("No result"));
}

TEST_CASE("viewer keeps big tensors off the UI thread", "[viewer]") {
  // 4096 x 1024 (16 MB): the table reads only the visible cells; the statistics run on a worker.
  Tensor t = Tensor::uninitialized({4096, 1024});
  float* p = t.mutableData();
  for (int64_t i = 0; i < t.size(); ++i) p[i] = static_cast<float>(i % 1000) * 0.001f;
  TensorViewer viewer;
  viewer.resize(900, 600);
  viewer.show();
  QElapsedTimer clock;
  clock.start();
  viewer.showBlock(constBlock(t));
  const qint64 blocked = clock.elapsed();
  CHECK(viewer.statsLabel()->text().contains("computing"));
  REQUIRE(testing::waitIdle(viewer));
  WARN("showBlock of a 4096x1024 tensor kept the UI thread for " << blocked << " ms; stats after "
                                                                 << clock.elapsed() << " ms");
  CHECK(viewer.shownStats().count == 4096 * 1024);
  CHECK(viewer.shownStats().max == Approx(0.999));
  CHECK(viewer.valueTable()->model()->rowCount() == 4096);
}

TEST_CASE("viewer shows the tab --view names", "[viewer]") {
  TensorViewer viewer;
  viewer.resize(900, 700);
  viewer.show();
  viewer.showBlock(
      testing::perChannelBlock(Tensor::fromValues({2, 2}, {-1, 0.5f, 2, 3}), {-1, 0}, {1, 2}, 8));
  REQUIRE(testing::waitIdle(viewer));
  const QStringList names = TensorViewer::viewNames();
  REQUIRE(names == QStringList{"quantization", "values", "heatmap", "histogram", "calibrators"});
  QWidget* const expected[] = {viewer.inspector(), viewer.valueTable()->parentWidget(),
                               viewer.heatmap(), viewer.histogram(), viewer.bakeOff()};
  // Backwards, so that no step can pass by staying on the tab that was already current.
  for (int k = 4; k >= 0; --k) {
    INFO(names[k].toStdString());
    QString error;
    REQUIRE(viewer.showView(names[k], &error));
    CHECK(error.isEmpty());
    CHECK(viewer.tabs()->currentWidget() == expected[k]);
  }
  QString error;
  CHECK_FALSE(viewer.showView("table", &error));
  CHECK(error.contains("table"));
  CHECK(error.contains("heatmap"));
  CHECK(viewer.tabs()->currentWidget() == viewer.inspector());  // unchanged

  // A block that is not a FakeQuant op has no quantization tab.
  BlockResultsView c;
  c.blockId = "x";
  c.type = "Const";
  c.status = BlockStatus::Ok;
  c.outputs["output"] = knownTensor();
  viewer.showBlock(c);
  CHECK_FALSE(viewer.showView("quantization", &error));
  CHECK(error.contains("FakeQuant"));
  CHECK_FALSE(viewer.showView("calibrators"));
  CHECK(viewer.showView("histogram"));
  CHECK(viewer.tabs()->currentWidget() == viewer.histogram());
}

TEST_CASE("quantspace --screenshot --view renders the named viewer tab", "[viewer][cli]") {
  QTemporaryDir dir;
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("QT_QPA_PLATFORM", "offscreen");
  env.insert("QS_RECOVERY_DIR", dir.filePath("recovery"));
  p.setProcessEnvironment(env);
  const QString page = QS_SOURCE_DIR "/assets/examples/calibration.page.json";
  auto shoot = [&](const QStringList& extra) {
    p.start(QS_EDITOR_PATH, extra + QStringList{page});
    REQUIRE(p.waitForFinished(120000));
    return p.exitCode();
  };
  // Each tab is recognised by colours only it paints (run-to-run timings in the inspector's
  // status line rule out comparing whole pictures): the green of the output histogram's bars,
  // the top colour of the heatmap's scale (the slice's maximum), the blue of histogram bars.
  auto count = [](const QImage& img, QRgb colour) {
    int64_t n = 0;
    for (int y = 0; y < img.height(); ++y)
      for (int x = 0; x < img.width(); ++x)
        n += (img.pixel(x, y) & 0xffffff) == (colour & 0xffffff);
    return n;
  };
  const QRgb green = qRgb(40, 140, 90), yellow = colourScale(1.0), blue = qRgb(70, 120, 180);
  struct Expect {
    QString view;
    bool green, yellow, blue;
  };
  const Expect expects[] = {{"", true, false, true},
                            {"quantization", true, false, true},
                            {"values", false, false, false},
                            {"heatmap", false, true, false},
                            {"histogram", false, false, true}};
  for (const Expect& e : expects) {
    const QString out = dir.filePath((e.view.isEmpty() ? "default" : e.view) + ".png");
    QStringList args{"--screenshot", out, "--inspect", "fq.result_output"};
    if (!e.view.isEmpty()) args << "--view" << e.view;
    const int rc = shoot(args);
    INFO(e.view.toStdString() << ": " << p.readAllStandardError().toStdString());
    REQUIRE(rc == 0);
    const QImage img(out);
    REQUIRE(img.size() == QSize(1600, 1000));
    CHECK((count(img, green) > 100) == e.green);
    CHECK((count(img, yellow) > 100) == e.yellow);
    CHECK((count(img, blue) > 100) == e.blue);
  }

  // Bad values are refused with a message and no picture.
  const QString none = dir.filePath("none.png");
  CHECK(shoot({"--screenshot", none, "--view", "table"}) == 2);
  CHECK(p.readAllStandardError().contains("--view must be one of"));
  CHECK(shoot({"--screenshot", none, "--inspect", "x.result_z", "--view", "quantization"}) != 0);
  CHECK(p.readAllStandardError().contains("only for the results of FakeQuant blocks"));
  CHECK(shoot({"--view", "values"}) == 2);
  CHECK(p.readAllStandardError().contains("--view is an option of --screenshot"));
  CHECK_FALSE(QFile::exists(none));
}

}  // namespace test_viewer
