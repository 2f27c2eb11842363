// The Training panel and the inspector's learned range, driven with input events: the values
// plotted equal the runner's --log for the same page and steps, log axis, smoothing, hover
// read-out, CSV and PNG export, the repaint throttle, and the min/max trace over the steps.

#include <QCheckBox>
#include <QContextMenuEvent>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QPainter>
#include <QProcess>
#include <QPushButton>
#include <QTimer>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>

#include "GuiTestUtil.h"
#include "editor_bridge/CanvasTools.h"
#include "editor_bridge/TrainingPanel.h"
#include "editor_bridge/TrainingSeries.h"
#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/Evaluator.h"

namespace test_training_panel {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

// Steps as the runner's --steps does, numbering each from the evaluator's count (as its --log
// does) and appending it to the series.
void takeSteps(const Page& page, const std::filesystem::path& pageDir, Evaluator& evaluator,
               int steps, TrainingSeries& series) {
  EvalOptions options;
  options.fetch = series.wantedResults();
  options.pageDir = pageDir;
  options.step = true;
  for (int i = 0; i < steps; ++i) {
    const EvalReport report = evaluator.evaluate(page, options);
    REQUIRE(report.failed.empty());
    series.appendFrom(evaluator.stepCount(), evaluator);
  }
}

const QString kLearnRanges =
    QStringLiteral(QS_SOURCE_DIR "/assets/examples/learn_ranges.page.json");

// A CSV of numbers with a header line, read the plain way: the header's names and each row's
// fields as float32 (as the runner wrote them).
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<float>> rows;
};

Csv readCsv(const QString& path) {
  QFile f(path);
  REQUIRE(f.open(QIODevice::ReadOnly));
  Csv csv;
  bool first = true;
  for (const QByteArray& line : f.readAll().split('\n')) {
    if (line.isEmpty()) continue;
    std::vector<std::string> fields;
    for (const QByteArray& field : line.split(',')) fields.push_back(field.toStdString());
    if (first) {
      csv.header = fields;
      first = false;
      continue;
    }
    std::vector<float> row;
    for (const std::string& s : fields) {
      float v = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      REQUIRE(ec == std::errc());
      REQUIRE(end == s.data() + s.size());
      row.push_back(v);
    }
    csv.rows.push_back(row);
  }
  return csv;
}

QString runnerPath() {
  return QFileInfo(QStringLiteral(QS_EDITOR_PATH)).absoluteDir().filePath("quantspace-run");
}

// Right-clicks the block on the canvas and triggers the menu entry named `actionName`.
void chooseFromBlockMenu(EditorFixture& f, const BlockId& id, const QString& actionName) {
  BlockItem* item = f.w().scene()->blockItem(id);
  REQUIRE(item != nullptr);
  f.w().view()->centerOn(item);
  const QPoint at = f.toViewport(item->sceneBoundingRect().center());
  QContextMenuEvent event(QContextMenuEvent::Mouse, at, f.viewport()->mapToGlobal(at));
  QApplication::sendEvent(f.viewport(), &event);
  QMenu* menu = f.w().canvasTools()->lastMenu();
  REQUIRE(menu != nullptr);
  CHECK(menu->objectName() == QStringLiteral("blockContextMenu"));
  bool triggered = false;
  for (QAction* a : menu->actions()) {
    if (a->objectName() == actionName && a->isEnabled()) {
      a->trigger();
      triggered = true;
    }
  }
  menu->close();
  REQUIRE(triggered);
}

// A series with three steps whose values fall tenfold: 100, 10, 1.
void fillDecades(TrainingSeries& s) {
  s.addResult(QStringLiteral("loss.result_output"));
  s.appendStep(1, std::map<std::string, double>{{"loss.result_output", 100.0}});
  s.appendStep(2, std::map<std::string, double>{{"loss.result_output", 10.0}});
  s.appendStep(3, std::map<std::string, double>{{"loss.result_output", 1.0}});
}

// The y of the plotted line in pixel column x: the middle of the line's strongly blue pixels.
double lineY(const QImage& img, int x) {
  int sum = 0, n = 0;
  for (int y = 0; y < img.height(); ++y) {
    const QColor c = img.pixelColor(x, y);
    if (c.blue() > 140 && c.red() < 90 && c.green() < 150 && c.blue() - c.red() > 90) sum += y, ++n;
  }
  REQUIRE(n > 0);
  return static_cast<double>(sum) / n;
}

}  // namespace

TEST_CASE("training panel: the plotted values are the runner's --log", "[gui][training]") {
  constexpr int kSteps = 25;
  QTemporaryDir dir;
  const QString runnerLog = dir.filePath("runner.csv");
  QProcess runner;
  runner.start(runnerPath(), {"--steps", QString::number(kSteps), "--fetch", "loss.result_output",
                              "--log", runnerLog, kLearnRanges});
  REQUIRE(runner.waitForFinished(60000));
  REQUIRE(runner.exitCode() == 0);

  EditorFixture f;
  REQUIRE(f.w().openPage(kLearnRanges));
  REQUIRE(f.w().waitForEvaluation(60000));
  // Added from the block's context menu, as a user does.
  chooseFromBlockMenu(f, BlockId("loss"), QStringLiteral("addToTrainingAction"));
  TrainingSeries& series = *f.w().trainingSeries();
  REQUIRE(series.results() == QStringList{"loss.result_output"});
  REQUIRE(f.w().findChild<QDockWidget*>("trainingDock")->isVisible());

  Evaluator evaluator(builtinRegistry());
  takeSteps(f.w().model()->page(), QS_SOURCE_DIR "/assets/examples", evaluator, kSteps, series);

  const Csv expected = readCsv(runnerLog);
  REQUIRE(expected.rows.size() == static_cast<size_t>(kSteps));
  const std::vector<double>& plotted = series.values("loss.result_output");
  REQUIRE(plotted.size() == static_cast<size_t>(kSteps));
  for (int i = 0; i < kSteps; ++i) {
    CHECK(series.steps()[i] == static_cast<int64_t>(expected.rows[i][0]));
    CHECK(static_cast<float>(plotted[i]) == expected.rows[i][1]);
  }
  // The exported CSV has the runner's layout and numbers, byte for byte.
  const QString exported = dir.filePath("panel.csv");
  REQUIRE(f.w().trainingPanel()->saveCsv(exported));
  QFile a(runnerLog), b(exported);
  REQUIRE(a.open(QIODevice::ReadOnly));
  REQUIRE(b.open(QIODevice::ReadOnly));
  CHECK(b.readAll() == a.readAll());

  // The inspector of the FakeQuant block traces its learned range over the same steps.
  const RangeTrace* trace = series.rangeTrace("fq");
  REQUIRE(trace != nullptr);
  CHECK(trace->steps.size() == static_cast<size_t>(kSteps));
  CHECK(trace->channels() == 8u);
  // The viewer shows the last step's results: the range that step used is the trace's last.
  f.w().showResults(*EvalService::collectResults(evaluator, f.w().model()->page()));
  REQUIRE(f.w().inspect(QStringLiteral("fq.result_output")));
  REQUIRE(f.w().viewer()->waitForIdle(60000));
  QuantInspector* inspector = f.w().viewer()->inspector();
  REQUIRE(inspector->rangeTrace().has_value());
  CHECK(inspector->rangeTrace()->mins.size() == static_cast<size_t>(kSteps));
  CHECK(inspector->rangeTrace()->maxs.size() == static_cast<size_t>(kSteps));
  CHECK(inspector->rangeTracePlot()->isVisible());
  // The trace's last range is the range the inspector's table shows (min = data_min * lo_scale).
  const int c = inspector->currentChannel();
  REQUIRE(c >= 0);
  CHECK(inspector->channelStats()[c].min() == inspector->rangeTrace()->mins.back()[c]);
  CHECK(inspector->channelStats()[c].max() == inspector->rangeTrace()->maxs.back()[c]);
}

TEST_CASE("training panel: exponential smoothing", "[gui][training]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Worked out by hand with weight 0.5: 1; 0.5*1 + 0.5*3 = 2; skipped; 0.5*2 + 0.5*2 = 2;
  // 0.5*2 + 0.5*10 = 6.
  const std::vector<double> s = smoothSeries({1, 3, nan, 2, 10}, 0.5);
  REQUIRE(s.size() == 5u);
  CHECK(s[0] == 1);
  CHECK(s[1] == 2);
  CHECK(std::isnan(s[2]));
  CHECK(s[3] == 2);
  CHECK(s[4] == 6);
  // weight 0.9 on 0, 10: 0.9*0 + 0.1*10 = 1.
  CHECK(smoothSeries({0, 10}, 0.9)[1] == Approx(1.0).epsilon(1e-12));
  CHECK(smoothSeries({4, 8}, 0) == std::vector<double>{4, 8});
}

TEST_CASE("training panel: log axis, smoothing box and hover read-out", "[gui][training]") {
  TrainingSeries series;
  fillDecades(series);
  TrainingPanel panel(&series);
  panel.resize(900, 500);
  panel.show();
  REQUIRE(QTest::qWaitForWindowExposed(&panel));

  // 100, 10, 1 at steps 1, 2, 3: on a log axis step 2 lies halfway between the others; on a
  // linear one it lies near the bottom.
  auto midOffset = [&] {
    QImage img(QSize(600, 400), QImage::Format_ARGB32);
    img.fill(Qt::white);
    QPainter p(&img);
    panel.plot()->render(p, QRectF(0, 0, 600, 400));
    p.end();
    const double left = lineY(img, 60), mid = lineY(img, 321), right = lineY(img, 582);
    return std::abs(mid - (lineY(img, 60) + right) / 2) / std::abs(right - left);
  };
  CHECK(midOffset() > 0.3);
  QTest::mouseClick(panel.logAxisBox(), Qt::LeftButton, {},
                    QPoint(8, panel.logAxisBox()->height() / 2));
  REQUIRE(panel.plot()->logY());
  CHECK(midOffset() < 0.03);

  // Hover: the read-out names the nearest step and its value.
  QWidget* plot = panel.plot();
  QTest::mouseMove(plot, QPoint(plot->width() * 54 / 100, plot->height() / 2));
  QTRY_VERIFY(panel.readout()->text().contains("step 2"));
  CHECK(panel.readout()->text().contains("loss.result_output = 10"));

  // Smoothing typed into its box: the read-out adds the smoothed value (0.5*100 + 0.5*10).
  panel.smoothingBox()->setFocus();
  panel.smoothingBox()->selectAll();
  QTest::keyClicks(panel.smoothingBox(), "0.5");
  QTest::keyClick(panel.smoothingBox(), Qt::Key_Enter);
  REQUIRE(panel.plot()->smoothing() == 0.5);
  QTest::mouseMove(plot, QPoint(plot->width() * 54 / 100 + 1, plot->height() / 2));
  QTRY_VERIFY(panel.readout()->text().contains("smoothed 55"));
}

TEST_CASE("training panel: CSV and PNG export", "[gui][training]") {
  TrainingSeries series;
  fillDecades(series);
  series.addResult(QStringLiteral("acc.result_output"));  // added late: no values before
  series.appendStep(
      4, std::map<std::string, double>{{"loss.result_output", 0.1}, {"acc.result_output", 0.25}});
  TrainingPanel panel(&series);
  QTemporaryDir dir;
  REQUIRE(panel.saveCsv(dir.filePath("t.csv")));
  QFile f(dir.filePath("t.csv"));
  REQUIRE(f.open(QIODevice::ReadOnly));
  CHECK(f.readAll().toStdString() ==
        "step,loss.result_output,acc.result_output\n"
        "1,100,nan\n2,10,nan\n3,1,nan\n4,0.1,0.25\n");
  REQUIRE(panel.savePng(dir.filePath("t.png"), QSize(800, 500)));
  QImage img(dir.filePath("t.png"));
  REQUIRE(img.size() == QSize(800, 500));
  int blue = 0;
  for (int y = 0; y < img.height(); ++y)
    for (int x = 0; x < img.width(); ++x) blue += img.pixelColor(x, y) == QColor(31, 119, 180);
  CHECK(blue > 50);
  CHECK_FALSE(panel.saveCsv(dir.filePath("no/such/folder/t.csv")));
}

TEST_CASE("training panel: at most ten refreshes a second while steps pour in", "[gui][training]") {
  TrainingSeries series;
  series.addResult(QStringLiteral("loss.result_output"));
  TrainingPanel panel(&series);
  panel.show();
  QElapsedTimer clock;
  clock.start();
  int64_t step = 0;
  // Until a few refreshes were seen, not for a fixed time: on a loaded machine the throttle's
  // timer fires late, and fewer refreshes are right.
  while (panel.refreshCount() < 4 && clock.elapsed() < 20000) {
    for (int i = 0; i < 50; ++i) {
      ++step;
      series.appendStep(step, std::map<std::string, double>{{"loss.result_output", 1.0 / step}});
    }
    QApplication::processEvents();
  }
  const double seconds = static_cast<double>(clock.elapsed()) / 1000;
  REQUIRE(panel.refreshCount() >= 4);
  // Thousands of steps, a refresh each tenth of a second at most.
  CHECK(step > 50 * panel.refreshCount());
  CHECK(panel.refreshCount() <= static_cast<int>(seconds * 10) + 2);
}

TEST_CASE("training panel: a result added from the viewer's button", "[gui][training]") {
  EditorFixture f;
  REQUIRE(f.w().openPage(kLearnRanges));
  REQUIRE(f.w().waitForEvaluation(60000));
  QPushButton* button = f.w().viewer()->plotInTrainingButton();
  // A result of many elements cannot be plotted over steps.
  REQUIRE(f.w().inspect(QStringLiteral("fq.result_output")));
  CHECK_FALSE(button->isEnabled());
  REQUIRE(f.w().inspect(QStringLiteral("mse.result_output")));
  CHECK_FALSE(button->isEnabled());  // [8]: one per channel
  REQUIRE(f.w().inspect(QStringLiteral("loss.result_output")));
  REQUIRE(button->isEnabled());
  QTest::mouseClick(button, Qt::LeftButton);
  CHECK(f.w().trainingSeries()->results() == QStringList{"loss.result_output"});
  CHECK(f.w().findChild<QDockWidget*>("trainingDock")->isVisible());
  // A second click does not add it twice.
  QTest::mouseClick(button, Qt::LeftButton);
  CHECK(f.w().trainingSeries()->results().size() == 1);
}

TEST_CASE("editor command line: --train-steps and --show-training", "[gui][training]") {
  QTemporaryDir dir;
  QProcess p;
  p.start(QS_EDITOR_PATH,
          {"--screenshot", dir.filePath("t.png"), "--size", "1280x800", "--train-steps", "3",
           "--show-training", "loss.result_output", kLearnRanges});
  REQUIRE(p.waitForFinished(120000));
  CHECK(p.exitCode() == 0);
  CHECK(QImage(dir.filePath("t.png")).size() == QSize(1280, 800));
  p.start(QS_EDITOR_PATH, {"--screenshot", dir.filePath("u.png"), "--show-training",
                           "nope.result_output", kLearnRanges});
  REQUIRE(p.waitForFinished(120000));
  CHECK(p.exitCode() == 2);
  CHECK(p.readAllStandardError().contains("--show-training nope.result_output"));
  p.start(QS_EDITOR_PATH, {"--train-steps", "3", kLearnRanges});
  REQUIRE(p.waitForFinished(120000));
  CHECK(p.exitCode() == 2);
  CHECK(p.readAllStandardError().contains("--train-steps is an option of --screenshot"));
  p.start(QS_EDITOR_PATH,
          {"--screenshot", dir.filePath("v.png"), "--train-steps", "x", kLearnRanges});
  REQUIRE(p.waitForFinished(120000));
  CHECK(p.exitCode() == 2);
}

}  // namespace test_training_panel
