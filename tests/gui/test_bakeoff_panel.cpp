// GUI tests of the Calibrators tab: its numbers against a reference worked out here in double
// precision with plain loops, the best row, and "Apply" inserting and wiring a calibrator as one
// undo step.

#include <QFile>
#include <QHeaderView>
#include <QPushButton>
#include <QScrollBar>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "GuiTestUtil.h"
#include "editor_bridge/viewer/BakeOffPanel.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/Json.h"
#include "runtime/PageJson.h"

namespace test_bakeoff_panel {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

// x is [8, 2]. Channel 0 spans [-1.25, 2.5]: at 4 bits its MinMax range has scale 3.75 / 15 =
// 0.25 and zero point 5, both exact in float. Channel 1 lies in [5, 6]: a range that clips its
// top a little beats MinMax's [0, 6] there, so the best mark is not on the first row.
const std::vector<float> kX = {-1.25f, 5.0f, 2.5f,  5.1f, 0.3f,  5.3f, 1.1f,   5.5f,
                               -0.7f,  5.7f, 0.05f, 5.8f, 0.62f, 5.9f, 1.875f, 6.0f};

QString writePage(const QTemporaryDir& dir) {
  auto list = [](const std::vector<float>& v) {
    QStringList s;
    for (float f : v) s << QString::number(static_cast<double>(f), 'g', 9);
    return s.join(", ");
  };
  const QString page = QStringLiteral(
                           R"({"format": "quantspace-page", "version": 1, "blocks": [
  {"id": "x", "type": "Const", "position": [0, 0], "attrs": {"shape": [8, 2], "values": [%1]}},
  {"id": "lo", "type": "Const", "position": [0, 200], "attrs": {"shape": [2], "values": [-1, -1]}},
  {"id": "hi", "type": "Const", "position": [0, 400], "attrs": {"shape": [2], "values": [1, 1]}},
  {"id": "fq", "type": "FakeQuantWithMinMaxVarsPerChannel", "position": [300, 200],
   "attrs": {"num_bits": 4, "narrow_range": false}}],
 "links": [
  {"from": ["x", "output"], "to": ["fq", "inputs"]},
  {"from": ["lo", "output"], "to": ["fq", "min"]},
  {"from": ["hi", "output"], "to": ["fq", "max"]}]})")
                           .arg(list(kX));
  const QString path = dir.filePath(QStringLiteral("bakeoff.page.json"));
  QFile f(path);
  REQUIRE(f.open(QIODevice::WriteOnly));
  f.write(page.toUtf8());
  return path;
}

// What the FakeQuant op does with [lo, hi] at num_bits 4, in double: nudge, clamp, round.
struct Reference {
  double mse = 0, sqnrDb = 0, clippedPercent = 0;
};
Reference referenceCost(const std::vector<double>& x, double lo, double hi) {
  const double qmin = 0, qmax = 15;
  const double scale = (hi - lo) / (qmax - qmin);
  const double zpFromMin = qmin - lo / scale;
  const double zp = zpFromMin < qmin ? qmin : zpFromMin > qmax ? qmax : std::round(zpFromMin);
  const double nmin = (qmin - zp) * scale, nmax = (qmax - zp) * scale;
  double err = 0, signal = 0, clipped = 0;
  for (double v : x) {
    const double c = std::min(std::max(v, nmin), nmax);
    const double q = std::floor((c - nmin) / scale + 0.5) * scale + nmin;
    err += (q - v) * (q - v);
    signal += v * v;
    if (v < nmin || v > nmax) clipped += 1;
  }
  const double n = static_cast<double>(x.size());
  return {err / n, 10 * std::log10(signal / err), 100 * clipped / n};
}

std::vector<double> channel(int c) {
  std::vector<double> v;
  for (size_t i = static_cast<size_t>(c); i < kX.size(); i += 2) v.push_back(kX[i]);
  return v;
}

double cell(QTableWidget* t, int row, int col) {
  return t->item(row, col)->data(Qt::UserRole).toDouble();
}

void showChannel(QuantInspector* in, int c) {
  QTableView* table = in->table();
  const QModelIndex row = in->proxy()->mapFromSource(in->model()->index(c, 0));
  QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(row).center());
  REQUIRE(in->currentChannel() == c);
}

struct Opened {
  QTemporaryDir dir;
  EditorFixture f;
  BakeOffPanel* panel = nullptr;
  Opened() {
    REQUIRE(f.w().openPage(writePage(dir)));
    REQUIRE(f.w().waitForEvaluation(20000));
    REQUIRE(f.w().inspect(QStringLiteral("fq.result_output")));
    TensorViewer* viewer = f.w().viewer();
    REQUIRE(viewer->showView(QStringLiteral("calibrators")));
    REQUIRE(viewer->waitForIdle(20000));
    panel = viewer->bakeOff();
  }
};

}  // namespace

TEST_CASE("calibrators tab: the MinMax row and the best mark match a hand computation",
          "[gui][viewer][inspector][calibrators]") {
  Opened o;
  showChannel(o.f.w().viewer()->inspector(), 0);
  REQUIRE(!o.panel->busy());
  QTableWidget* t = o.panel->table();
  REQUIRE(t->rowCount() == 5);
  REQUIRE(t->item(0, BakeOffPanel::Name)->text().startsWith(QStringLiteral("minmax")));
  // MinMax: [min(x, 0), max(x, 0)] of channel 0.
  const std::vector<double> x0 = channel(0);
  CHECK(cell(t, 0, BakeOffPanel::Min) == -1.25);
  CHECK(cell(t, 0, BakeOffPanel::Max) == 2.5);
  const Reference r = referenceCost(x0, -1.25, 2.5);
  CHECK(cell(t, 0, BakeOffPanel::Mse) == Approx(r.mse).epsilon(1e-5));
  CHECK(cell(t, 0, BakeOffPanel::SqnrDb) == Approx(r.sqnrDb).margin(1e-4));
  CHECK(cell(t, 0, BakeOffPanel::Clipped) == r.clippedPercent);
  CHECK(r.clippedPercent == 0);
  // Every row's cost is what its own range costs.
  for (int row = 0; row < 5; ++row) {
    INFO("row " << row);
    const Reference rr =
        referenceCost(x0, cell(t, row, BakeOffPanel::Min), cell(t, row, BakeOffPanel::Max));
    CHECK(cell(t, row, BakeOffPanel::Mse) == Approx(rr.mse).epsilon(1e-4));
    CHECK(cell(t, row, BakeOffPanel::Clipped) == rr.clippedPercent);
  }

  // On channel 1 exactly one row is marked best: the highest SQNR, the first on a tie.
  showChannel(o.f.w().viewer()->inspector(), 1);
  REQUIRE(QTest::qWaitFor([&] { return !o.panel->busy(); }, 5000));
  int marked = -1, count = 0, highest = 0;
  for (int row = 0; row < 5; ++row) {
    if (t->item(row, BakeOffPanel::Name)->text().contains(QStringLiteral("best"))) {
      marked = row;
      ++count;
    }
    if (cell(t, row, BakeOffPanel::SqnrDb) > cell(t, highest, BakeOffPanel::SqnrDb)) highest = row;
  }
  REQUIRE(count == 1);
  CHECK(marked == highest);
  CHECK(t->item(marked, BakeOffPanel::Min)->font().bold());
  CHECK(cell(t, 0, BakeOffPanel::Max) == 6.0);
  CHECK(marked != 0);
}

TEST_CASE("calibrators tab: Apply inserts and wires the calibrator in one undo step",
          "[gui][viewer][calibrators]") {
  Opened o;
  PageModel* model = o.f.w().model();
  const std::string before = pageToJson(model->page()).dump();
  const int steps = model->undoStack()->count();
  auto* button = o.panel->table()->findChild<QPushButton*>(QStringLiteral("apply_mse"));
  REQUIRE(button != nullptr);
  REQUIRE(button->isEnabled());
  QuantInspector* inspector = o.f.w().viewer()->inspector();
  const int c = inspector->currentChannel();
  QTableWidget* t = o.panel->table();
  const double shownMin = cell(t, 2, BakeOffPanel::Min), shownMax = cell(t, 2, BakeOffPanel::Max);
  QTest::mouseClick(button, Qt::LeftButton);

  CHECK(model->undoStack()->count() == steps + 1);
  const Page& page = model->page();
  REQUIRE(page.blockCount() == 5);
  const Block* cal = page.find(BlockId("mse"));
  REQUIRE(cal != nullptr);
  CHECK(cal->type == "MseCalibrator");
  CHECK(cal->attrs.at("num_bits") == 4);
  CHECK(cal->attrs.at("narrow_range") == false);
  CHECK(cal->attrs.at("per_channel") == true);
  auto wired = [&](const char* from, const char* fromPort, const char* to, const char* toPort) {
    return page.hasLink(Link{{BlockId(from), PortName(fromPort)}, {BlockId(to), PortName(toPort)}});
  };
  CHECK(wired("x", "output", "mse", "inputs"));
  CHECK(wired("mse", "min", "fq", "min"));
  CHECK(wired("mse", "max", "fq", "max"));
  CHECK(!wired("lo", "output", "fq", "min"));
  CHECK(!wired("hi", "output", "fq", "max"));
  CHECK(page.links().size() == 4);
  const std::string after = pageToJson(page).dump();
  // Run, the FakeQuant block quantizes with the range the table showed for the channel.
  REQUIRE(o.f.w().waitForEvaluation(20000));
  REQUIRE(o.f.w().viewer()->waitForIdle(20000));
  REQUIRE(inspector->currentChannel() == c);
  REQUIRE(inspector->currentStats() != nullptr);
  CHECK(shownMin != -1.0);  // the range the page had before
  CHECK(inspector->currentStats()->min() == shownMin);
  CHECK(inspector->currentStats()->max() == shownMax);

  model->undoStack()->undo();
  CHECK(pageToJson(model->page()).dump() == before);
  model->undoStack()->redo();
  CHECK(pageToJson(model->page()).dump() == after);
}

TEST_CASE("calibrators tab: scores nothing while hidden and catches up on the channel shown",
          "[gui][viewer][calibrators]") {
  QTemporaryDir dir;
  EditorFixture f;
  REQUIRE(f.w().openPage(writePage(dir)));
  REQUIRE(f.w().waitForEvaluation(20000));
  REQUIRE(f.w().inspect(QStringLiteral("fq.result_output")));
  TensorViewer* viewer = f.w().viewer();
  REQUIRE(viewer->waitForIdle(20000));
  BakeOffPanel* panel = viewer->bakeOff();
  // The Quantization tab is in front: choosing a channel there leaves the bake-off unscored.
  showChannel(viewer->inspector(), 1);
  CHECK(!panel->busy());
  CHECK(panel->rows().empty());
  // Shown, it scores the channel chosen meanwhile: MinMax of channel 1 is [0, 6].
  REQUIRE(viewer->showView(QStringLiteral("calibrators")));
  REQUIRE(viewer->waitForIdle(20000));
  REQUIRE(panel->rows().size() == 5);
  CHECK(panel->channel() == 1);
  CHECK(cell(panel->table(), 0, BakeOffPanel::Min) == 0.0);
  CHECK(cell(panel->table(), 0, BakeOffPanel::Max) == 6.0);
  // Hidden again, a new channel clears the table instead of scoring it.
  REQUIRE(viewer->showView(QStringLiteral("quantization")));
  showChannel(viewer->inspector(), 0);
  CHECK(panel->rows().empty());
  REQUIRE(viewer->showView(QStringLiteral("calibrators")));
  REQUIRE(viewer->waitForIdle(20000));
  REQUIRE(panel->rows().size() == 5);
  CHECK(cell(panel->table(), 0, BakeOffPanel::Min) == -1.25);
}

TEST_CASE("calibrators tab: Apply is off, and says why, for a block whose range is attributes",
          "[gui][viewer][calibrators]") {
  QTemporaryDir dir;
  const QString path = dir.filePath(QStringLiteral("args.page.json"));
  QFile f(path);
  REQUIRE(f.open(QIODevice::WriteOnly));
  f.write(R"({"format": "quantspace-page", "version": 1, "blocks": [
  {"id": "x", "type": "Const", "position": [0, 0], "attrs": {"shape": [4], "values": [-1, 0.5, 2, 3]}},
  {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "position": [300, 0], "attrs": {"min": -1, "max": 3}}],
 "links": [{"from": ["x", "output"], "to": ["fq", "inputs"]}]})");
  f.close();
  EditorFixture e;
  REQUIRE(e.w().openPage(path));
  REQUIRE(e.w().waitForEvaluation(20000));
  REQUIRE(e.w().inspect(QStringLiteral("fq.result_output")));
  REQUIRE(e.w().viewer()->showView(QStringLiteral("calibrators")));
  REQUIRE(e.w().viewer()->waitForIdle(20000));
  BakeOffPanel* panel = e.w().viewer()->bakeOff();
  REQUIRE(panel->table()->rowCount() == 5);
  for (QPushButton* b : panel->table()->findChildren<QPushButton*>()) CHECK(!b->isEnabled());
  CHECK(panel->note()->text().contains(QStringLiteral("attributes")));
}

TEST_CASE("calibrators tab: Apply on a per-tensor FakeQuant block gives one range for the tensor",
          "[gui][viewer][calibrators]") {
  QTemporaryDir dir;
  const QString path = dir.filePath(QStringLiteral("vars.page.json"));
  QFile file(path);
  REQUIRE(file.open(QIODevice::WriteOnly));
  file.write(R"({"format": "quantspace-page", "version": 1, "blocks": [
  {"id": "x", "type": "Const", "position": [0, 0], "attrs": {"shape": [2, 2], "values": [-1, 0.5, 2, 3]}},
  {"id": "lo", "type": "Const", "position": [0, 200], "attrs": {"shape": [], "values": [0]}},
  {"id": "hi", "type": "Const", "position": [0, 400], "attrs": {"shape": [], "values": [1]}},
  {"id": "fq", "type": "FakeQuantWithMinMaxVars", "position": [300, 0], "attrs": {"num_bits": 8}}],
 "links": [{"from": ["x", "output"], "to": ["fq", "inputs"]},
  {"from": ["lo", "output"], "to": ["fq", "min"]}, {"from": ["hi", "output"], "to": ["fq", "max"]}]})");
  file.close();
  EditorFixture e;
  REQUIRE(e.w().openPage(path));
  REQUIRE(e.w().waitForEvaluation(20000));
  REQUIRE(e.w().inspect(QStringLiteral("fq.result_output")));
  REQUIRE(e.w().viewer()->showView(QStringLiteral("calibrators")));
  REQUIRE(e.w().viewer()->waitForIdle(20000));
  auto* button = e.w().viewer()->bakeOff()->findChild<QPushButton*>(QStringLiteral("apply_minmax"));
  REQUIRE(button != nullptr);
  QTest::mouseClick(button, Qt::LeftButton);
  const Block* cal = e.w().model()->page().find(BlockId("minmax"));
  REQUIRE(cal != nullptr);
  CHECK(cal->attrs.at("per_channel") == false);
  CHECK(cal->attrs.at("mode") == "last");
  REQUIRE(e.w().waitForEvaluation(20000));
  REQUIRE(e.w().viewer()->waitForIdle(20000));
  QuantInspector* inspector = e.w().viewer()->inspector();
  REQUIRE(inspector->currentStats() != nullptr);
  // MinMax of the whole tensor: [min(x, 0), max(x, 0)] = [-1, 3].
  CHECK(inspector->currentStats()->min() == -1.0f);
  CHECK(inspector->currentStats()->max() == 3.0f);
}

TEST_CASE("calibrators tab: Apply puts the calibrator where it covers no block",
          "[gui][viewer][calibrators]") {
  // In the example the spot left of and below fq holds the mse and entropy calibrators.
  EditorFixture e;
  REQUIRE(
      e.w().openPage(QString(QS_SOURCE_DIR) + "/assets/examples/calibration_bakeoff.page.json"));
  REQUIRE(e.w().waitForEvaluation(20000));
  REQUIRE(e.w().inspect(QStringLiteral("fq.result_output")));
  REQUIRE(e.w().viewer()->showView(QStringLiteral("calibrators")));
  REQUIRE(e.w().viewer()->waitForIdle(20000));
  for (const char* method : {"mse", "entropy"}) {
    INFO(method);
    const std::vector<BlockId> before = [&] {
      std::vector<BlockId> ids;
      for (const Block& b : e.w().model()->page().blocks()) ids.push_back(b.id);
      return ids;
    }();
    auto* button = e.w().viewer()->bakeOff()->findChild<QPushButton*>(
        QStringLiteral("apply_%1").arg(QLatin1String(method)));
    REQUIRE(button != nullptr);
    REQUIRE(button->isEnabled());
    QTest::mouseClick(button, Qt::LeftButton);
    REQUIRE(e.w().model()->page().blockCount() == before.size() + 1);
    const Block& added = e.w().model()->page().blocks().back();
    const QRectF box = e.w().scene()->blockItem(added.id)->sceneBodyRect();
    for (const BlockId& id : before) {
      INFO(id.str());
      CHECK(!box.intersects(e.w().scene()->blockItem(id)->sceneBodyRect()));
    }
    // Still beside the FakeQuant block: to its left.
    CHECK(box.right() < e.w().scene()->blockItem(BlockId("fq"))->sceneBodyRect().left());
    REQUIRE(e.w().waitForEvaluation(20000));
    REQUIRE(e.w().viewer()->waitForIdle(20000));
  }
}

TEST_CASE("calibrators tab: the table fits the dock at 1600x1000, the ranges at 1280x800",
          "[gui][viewer][calibrators]") {
  EditorFixture f;
  REQUIRE(f.w().openPage(QS_SOURCE_DIR "/assets/examples/calibration_bakeoff.page.json"));
  REQUIRE(f.w().waitForEvaluation(20000));
  REQUIRE(f.w().inspect(QStringLiteral("fq.result_output")));
  TensorViewer* viewer = f.w().viewer();
  REQUIRE(viewer->showView(QStringLiteral("calibrators")));
  showChannel(viewer->inspector(), 3);  // the outlier channel: ranges of five digits
  REQUIRE(QTest::qWaitFor([&] { return !viewer->bakeOff()->busy(); }, 20000));
  QTableWidget* t = viewer->bakeOff()->table();
  auto rightEdge = [&](int column) {
    return t->horizontalHeader()->sectionViewportPosition(column) +
           t->horizontalHeader()->sectionSize(column);
  };
  QTest::qWait(50);
  CHECK(t->horizontalScrollBar()->maximum() == 0);
  f.w().resize(1280, 800);
  QTest::qWait(50);
  CHECK(rightEdge(BakeOffPanel::Max) <= t->viewport()->width());

  // A shortened number keeps every digit in its tooltip.
  int shortened = 0;
  for (int row = 0; row < t->rowCount(); ++row)
    for (int column : {BakeOffPanel::Min, BakeOffPanel::Max}) {
      const QTableWidgetItem* it = t->item(row, column);
      const float v = static_cast<float>(cell(t, row, column));
      const QString full = QString::fromStdString(formatFloat(v));
      INFO("row " << row << ", column " << column << ": " << it->text().toStdString());
      CHECK(it->text().toDouble() == Approx(v).epsilon(1e-3));
      if (it->text() != full) {
        ++shortened;
        CHECK(it->toolTip() == full);
      }
    }
  CHECK(shortened > 0);
}

}  // namespace test_bakeoff_panel
