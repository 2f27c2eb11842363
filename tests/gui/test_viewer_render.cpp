// Renders the viewer with realistic data to PNG files for looking at (hidden: run with
// `qs_gui_tests "[.render]"`; files go to $QS_VIEWER_RENDER_DIR or /tmp/qs-viewer-render), and
// measures the inspector's update times on a [32, 56, 56, 128] input (`"[.perf]"`).

#include <QDir>
#include <QElapsedTimer>
#include <QImage>
#include <QPainter>
#include <QTabWidget>
#include <QTest>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "test_viewer_helpers.h"

namespace test_viewer_render {

using namespace qs;
using namespace qs::editor;

namespace {

// Activations of 16 channels with different spreads, calibrated min/max; channel 5's max was
// calibrated far too small (heavy clipping), channel 9's range far too wide (coarse levels).
struct Calibrated {
  Tensor x;
  std::vector<float> mins, maxs;
};

Calibrated calibrated(Shape shape, unsigned seed = 7) {
  const int64_t d = shape.back();
  Calibrated c;
  c.x = Tensor::uninitialized(shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> spread(d), shift(d);
  for (int64_t k = 0; k < d; ++k) {
    spread[k] = 0.3f + 0.15f * static_cast<float>(k % 7);
    shift[k] = 0.2f * static_cast<float>(k % 3) - 0.2f;
  }
  float* p = c.x.mutableData();
  for (int64_t i = 0; i < c.x.size(); ++i) {
    const int64_t k = i % d;
    p[i] = shift[k] + spread[k] * normal(rng);
  }
  for (int64_t k = 0; k < d; ++k) {
    c.mins.push_back(shift[k] - 3.0f * spread[k]);
    c.maxs.push_back(shift[k] + 3.0f * spread[k]);
  }
  if (d > 9) {
    c.maxs[5] = shift[5] + 0.8f * spread[5];
    c.mins[9] = shift[9] - 25.0f * spread[9];
    c.maxs[9] = shift[9] + 25.0f * spread[9];
  }
  return c;
}

QString renderDir() {
  const QString dir = qEnvironmentVariableIsEmpty("QS_VIEWER_RENDER_DIR")
                          ? QStringLiteral("/tmp/qs-viewer-render")
                          : qEnvironmentVariable("QS_VIEWER_RENDER_DIR");
  QDir().mkpath(dir);
  return dir;
}

}  // namespace

TEST_CASE("render the viewer to PNG for a look", "[.render]") {
  const QString dir = renderDir();
  const Calibrated c = calibrated({8, 28, 28, 16});
  for (int bits : {4, 8, 16}) {
    TensorViewer viewer;
    viewer.resize(1400, 900);
    viewer.show();
    viewer.showBlock(testing::perChannelBlock(c.x, c.mins, c.maxs, bits));
    REQUIRE(testing::waitIdle(viewer));
    viewer.inspector()->selectChannel(5);
    REQUIRE(QTest::qWaitFor([&] { return viewer.inspector()->sweepReady(); }, 20000));
    viewer.grab().save(dir + QStringLiteral("/inspector-%1bit.png").arg(bits));
    if (bits == 4) {
      viewer.inspector()->exportPlots(dir);
      viewer.inspector()->exportCsv(dir + "/channels.csv");
      viewer.inspector()->selectChannel(9);
      REQUIRE(testing::waitIdle(viewer));
      viewer.grab().save(dir + QStringLiteral("/inspector-4bit-ch9.png"));
      for (int tab = 1; tab < viewer.tabs()->count(); ++tab) {
        viewer.tabs()->setCurrentIndex(tab);
        viewer.grab().save(dir + QStringLiteral("/viewer-tab%1.png").arg(tab));
      }
    }
  }
  // Narrow dock size, as the editor will show it.
  TensorViewer narrow;
  narrow.resize(620, 720);
  narrow.show();
  narrow.showBlock(testing::perChannelBlock(c.x, c.mins, c.maxs, 8));
  REQUIRE(testing::waitIdle(narrow));
  narrow.grab().save(dir + "/inspector-narrow.png");
}

TEST_CASE("inspector update times on a [32, 56, 56, 128] input", "[.perf]") {
  const Calibrated c = calibrated({32, 56, 56, 128});
  TensorViewer viewer;
  viewer.resize(1400, 900);
  viewer.show();
  QElapsedTimer clock;
  for (int bits : {8, 4, 16}) {
    const BlockResultsView view = testing::perChannelBlock(c.x, c.mins, c.maxs, bits);
    clock.restart();
    viewer.showBlock(view);
    const double ui = clock.nsecsElapsed() / 1e6;
    REQUIRE(testing::waitIdle(viewer, 60000));
    const double all = clock.nsecsElapsed() / 1e6;
    WARN("num_bits " << bits << ": showBlock blocked the UI thread " << ui
                     << " ms; table and plots ready after " << all << " ms (inspector stats "
                     << viewer.inspector()->lastStatsMs() << " ms, sweep "
                     << viewer.inspector()->lastSweepMs() << " ms)");
  }
  double worst = 0, sum = 0, compute = 0;
  for (int ch : {1, 2, 3, 64, 127, 5, 9, 100}) {
    clock.restart();
    viewer.inspector()->selectChannel(ch);
    compute += viewer.inspector()->lastChannelMs();
    viewer.repaint();  // the paint of all four plots is part of what the user waits for
    const double ms = clock.nsecsElapsed() / 1e6;
    worst = std::max(worst, ms);
    sum += ms;
    REQUIRE(QTest::qWaitFor([&] { return viewer.inspector()->sweepReady(); }, 60000));
  }
  for (PlotWidget* w : {viewer.inspector()->inputPlot(), viewer.inspector()->outputPlot(),
                        viewer.inspector()->transferPlot(), viewer.inspector()->sweepPlot()}) {
    QImage img(w->size(), QImage::Format_ARGB32);
    QPainter p(&img);
    clock.restart();
    w->render(p, QRectF(img.rect()));
    WARN(w->plotName().toStdString() << " paints in " << clock.nsecsElapsed() / 1e6 << " ms");
  }
  clock.restart();
  for (int i = 0; i < 5; ++i) viewer.repaint();
  WARN("repaint of the whole viewer without a change: " << clock.nsecsElapsed() / 5e6 << " ms");
  WARN("channel switch incl. repaint: mean "
       << sum / 8 << " ms (data " << compute / 8 << " ms), worst " << worst
       << " ms; sweep of one channel " << viewer.inspector()->lastSweepMs() << " ms");
}

}  // namespace test_viewer_render
