// Evaluation runs on a worker thread: the window keeps processing events during a long run, and
// Cancel stops it.

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTimer>

#include "GuiTestUtil.h"
#include "editor_bridge/EvalService.h"

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {
QString writeHeavyPage(QTemporaryDir& dir, int seed) {
  const QString path = dir.filePath("heavy.page.json");
  QFile f(path);
  REQUIRE(f.open(QIODevice::WriteOnly));
  f.write(QString(R"({"format": "quantspace-page", "version": 1, "name": "heavy",
    "blocks": [{"id": "r", "type": "RandomUniform", "attrs": {"shape": [32, 56, 56, 128], "seed": %1}},
               {"id": "q", "type": "FakeQuantWithMinMaxArgs", "attrs": {"min": 0.1, "max": 0.9}},
               {"id": "q2", "type": "FakeQuantWithMinMaxArgs", "attrs": {"min": 0.2, "max": 0.8}}],
    "links": [{"from": ["r", "output"], "to": ["q", "inputs"]},
              {"from": ["q", "output"], "to": ["q2", "inputs"]}]})")
              .arg(seed)
              .toUtf8());
  f.close();
  return path;
}
}  // namespace

TEST_CASE("editor: a long evaluation never blocks the window", "[gui][editor]") {
  QTemporaryDir dir;
  EditorFixture f;
  REQUIRE(f.w().openPage(writeHeavyPage(dir, 1)));
  f.w().runNow();
  // A timer on the UI thread keeps ticking while the worker computes 12.8 M elements per block.
  QElapsedTimer clock;
  clock.start();
  qint64 last = 0, longestGap = 0;
  int ticksWhileRunning = 0;
  QTimer tick;
  QObject::connect(&tick, &QTimer::timeout, [&] {
    const qint64 now = clock.elapsed();
    longestGap = std::max(longestGap, now - last);
    last = now;
    if (f.w().evaluation()->running()) ++ticksWhileRunning;
  });
  tick.start(5);
  REQUIRE(f.w().waitForEvaluation(120000));
  tick.stop();
  INFO("ticks while running: " << ticksWhileRunning << ", longest gap " << longestGap << " ms");
  CHECK(ticksWhileRunning >= 3);
  CHECK(longestGap < 250);
  CHECK(f.w().scene()->blockItem(BlockId("q2"))->status() == BlockStatus::Ok);
  CHECK(f.w().results().at(BlockId("q2")).outputs.at("output").size() == 32 * 56 * 56 * 128);
}

TEST_CASE("editor: Cancel stops a run; the next run computes the page", "[gui][editor]") {
  QTemporaryDir dir;
  EditorFixture f;
  REQUIRE(f.w().openPage(writeHeavyPage(dir, 2)));
  bool sawCancelled = false;
  QObject::connect(f.w().evaluation(), &EvalService::finished,
                   [&](auto, bool cancelled) { sawCancelled = sawCancelled || cancelled; });
  f.w().runNow();
  // Cancel as soon as the first block has started.
  bool started = false;
  QObject::connect(f.w().evaluation(), &EvalService::blockStarted, [&](const BlockId&) {
    if (!started) f.w().cancelRun();
    started = true;
  });
  REQUIRE(f.w().evaluation()->waitIdle(120000));
  CHECK(sawCancelled);
  CHECK(f.w().scene()->blockItem(BlockId("q2"))->status() != BlockStatus::Ok);
  f.w().runNow();
  REQUIRE(f.w().waitForEvaluation(120000));
  CHECK(f.w().scene()->blockItem(BlockId("q2"))->status() == BlockStatus::Ok);
}
