// Evaluation runs on a worker thread: the window keeps processing events during a long run, and
// Cancel stops it.

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTimer>

#include "GuiTestUtil.h"
#include "editor_bridge/EvalService.h"

namespace test_editor_eval {

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

TEST_CASE("editor: a long evaluation never blocks the window", "[gui][editor][timing]") {
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

TEST_CASE("editor: an edit during a long run gets its result without waiting for the stale run",
          "[gui][editor][timing]") {
  QTemporaryDir dir;
  const QString path = dir.filePath("slow.page.json");
  QFile file(path);
  REQUIRE(file.open(QIODevice::WriteOnly));
  // One long block (a truncated normal draws and rejects in double precision) and a short one.
  file.write(R"({"format": "quantspace-page", "version": 1, "name": "slow",
    "blocks": [{"id": "r", "type": "TruncatedNormal", "attrs": {"shape": [32, 56, 56, 128]}},
               {"id": "q", "type": "FakeQuantWithMinMaxArgs", "attrs": {"min": -1, "max": 1}}],
    "links": [{"from": ["r", "output"], "to": ["q", "inputs"]}]})");
  file.close();

  // How long the page takes when nothing interrupts it.
  qint64 fullMs = 0;
  {
    EditorFixture f;
    REQUIRE(f.w().openPage(path));
    QElapsedTimer t;
    t.start();
    f.w().runNow();
    REQUIRE(f.w().waitForEvaluation(120000));
    fullMs = t.elapsed();
    REQUIRE(f.w().results().at(BlockId("q")).status == BlockStatus::Ok);
  }

  EditorFixture f;
  REQUIRE(f.w().openPage(path));
  EvalService* eval = f.w().evaluation();
  QElapsedTimer clock;
  clock.start();
  qint64 startedAt = -1, editAt = -1, checkedAt = -1, newResultAt = -1;
  bool staleCancelled = false;
  QObject::connect(eval, &EvalService::blockStarted, [&](const BlockId& id) {
    if (id == BlockId("r") && startedAt < 0) startedAt = clock.elapsed();
  });
  QObject::connect(eval, &EvalService::checked, [&](auto) {
    if (editAt >= 0 && checkedAt < 0) checkedAt = clock.elapsed();
  });
  QObject::connect(eval, &EvalService::finished,
                   [&](std::shared_ptr<const ResultMap> r, bool cancelled) {
                     if (cancelled) {
                       staleCancelled = true;
                       return;
                     }
                     const BlockResult& q = r->at(BlockId("q"));
                     if (q.status == BlockStatus::Ok && q.outputs.at("output").size() == 6)
                       newResultAt = clock.elapsed();
                   });
  f.w().runNow();
  while (startedAt < 0 && clock.elapsed() < 60000) QTest::qWait(1);
  REQUIRE(startedAt >= 0);
  QTest::qWait(20);
  // The user makes the tensor small while the large one is still being drawn.
  editAt = clock.elapsed();
  f.w().model()->setAttrs(BlockId("r"), Json{{"shape", {2, 3}}}, "shape");
  // The edit's check first, before anything asks for a run (the editor waits a short pause).
  REQUIRE(QTest::qWaitFor([&] { return checkedAt >= 0; }, 10000));
  REQUIRE(f.w().waitForEvaluation(120000));
  INFO("uncancelled run " << fullMs << " ms; edit at " << editAt - startedAt
                          << " ms into it; check after " << checkedAt - editAt
                          << " ms; new result after " << newResultAt - editAt << " ms");
  CHECK(staleCancelled);
  REQUIRE(checkedAt >= 0);
  REQUIRE(newResultAt >= 0);
  // The check does not wait behind the stale run, and the new result (after the editor's short
  // pause before a run) comes well before the stale run would have ended.
  CHECK(checkedAt - editAt < 100);
  CHECK(newResultAt - editAt < 500);
  CHECK(newResultAt < startedAt + fullMs);
}

TEST_CASE("editor: a job the worker posts for itself runs after the job that posted it",
          "[gui][editor]") {
  // A training run posts its next slice from the worker; run at once, the slices would nest
  // until the worker's stack overflowed (seen as a crash after a few hundred fast steps).
  EvalService service(builtinRegistry());
  std::vector<int> order;  // written on the worker; read once `done` says it is complete
  std::atomic<int> done{0}, depth{0}, deepest{0};
  std::function<void(Evaluator&, int)> chain = [&](Evaluator&, int n) {
    deepest = std::max(deepest.load(), ++depth);
    if (n > 0) service.post([&chain, n](Evaluator& ev) { chain(ev, n - 1); });
    order.push_back(n);
    --depth;
    ++done;
  };
  service.post([&chain](Evaluator& ev) { chain(ev, 500); });
  REQUIRE(QTest::qWaitFor([&] { return done.load() == 501; }, 10000));
  CHECK(deepest.load() == 1);
  REQUIRE(order.size() == 501);
  CHECK(order.front() == 500);
  CHECK(order.back() == 0);
}

}  // namespace test_editor_eval
