// Training in the editor: Step (F10), Train (F6, N steps or until paused), Pause (F7), Reset State
// (Ctrl+Shift+F5), edits during a run, undo, and state files, driven through the window's keys and
// widgets. The toy page learns w by gradient descent on (w - target)^2 with rate 0.25, so
// w_k = target + (w_0 - target) / 2^k: exact in float for the steps used here.

#include <sys/resource.h>

#include <QApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QLabel>
#include <QProcess>
#include <QSpinBox>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTimer>
#include <QUndoStack>
#include <atomic>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <thread>

#include "GuiTestUtil.h"
#include "editor_bridge/TrainingController.h"
#include "runtime/StateFile.h"

namespace test_editor_training {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

const char* kToyPage = R"({"format": "quantspace-page", "version": 1, "name": "toy",
  "blocks": [
    {"id": "init", "type": "Const", "position": [40, 40], "attrs": {"shape": [], "values": [0]}},
    {"id": "target", "type": "Const", "position": [40, 240], "attrs": {"shape": [], "values": [3]}},
    {"id": "w", "type": "Variable", "position": [260, 40]},
    {"id": "d", "type": "Sub", "position": [480, 120]},
    {"id": "sq", "type": "Square", "position": [700, 120]},
    {"id": "g", "type": "Gradients", "position": [920, 120]},
    {"id": "lr", "type": "Const", "position": [920, 320], "attrs": {"shape": [], "values": [0.25]}},
    {"id": "upd", "type": "ApplyGradientDescent", "position": [1140, 120]}],
  "links": [
    {"from": ["init", "output"], "to": ["w", "initial_value"]},
    {"from": ["w", "output"], "to": ["d", "x"]},
    {"from": ["target", "output"], "to": ["d", "y"]},
    {"from": ["d", "z"], "to": ["sq", "x"]},
    {"from": ["sq", "y"], "to": ["g", "ys"]},
    {"from": ["w", "output"], "to": ["g", "xs"]},
    {"from": ["w", "output"], "to": ["upd", "var"]},
    {"from": ["lr", "output"], "to": ["upd", "alpha"]},
    {"from": ["g", "output"], "to": ["upd", "delta"]}]})";

QString writeFile(QTemporaryDir& dir, const QString& name, const QByteArray& text) {
  const QString path = dir.filePath(name);
  QFile f(path);
  REQUIRE(f.open(QIODevice::WriteOnly));
  f.write(text);
  return path;
}

TrainingController& training(EditorFixture& f) {
  return *f.w().training();
}

// Keys go to the active window, as a user's do.
void press(EditorFixture& f, int key, Qt::KeyboardModifiers mods = Qt::NoModifier) {
  f.window->activateWindow();
  REQUIRE(QTest::qWaitForWindowActive(f.window.get()));
  QTest::keyClick(f.window.get(), Qt::Key(key), mods);
}

void setStepsBox(EditorFixture& f, int steps) {
  auto* box = f.window->findChild<QSpinBox*>("trainStepsBox");
  REQUIRE(box != nullptr);
  box->setFocus();
  box->selectAll();
  QTest::keyClicks(box, QString::number(steps));
  QTest::keyClick(box, Qt::Key_Tab);
  REQUIRE(box->value() == steps);
}

float value(EditorFixture& f, const char* block, const char* port = "output") {
  const ResultMap& r = f.w().results();
  auto it = r.find(BlockId(block));
  REQUIRE(it != r.end());
  auto t = it->second.outputs.find(port);
  REQUIRE(t != it->second.outputs.end());
  REQUIRE(t->second.size() == 1);
  return t->second.data()[0];
}

// w after k steps from w0 towards target, in double.
double expectedW(double w0, double target, int k) {
  return target + (w0 - target) * std::pow(0.5, k);
}

void waitFor(const std::function<bool()>& done, int timeoutMs = 10000) {
  QElapsedTimer t;
  t.start();
  while (!done()) {
    REQUIRE(t.elapsed() < timeoutMs);
    QTest::qWait(5);
  }
}

struct ToyFixture : EditorFixture {
  QTemporaryDir dir;
  ToyFixture() {
    REQUIRE(w().openPage(writeFile(dir, "toy.page.json", kToyPage)));
    REQUIRE(w().waitForEvaluation());
    REQUIRE(w().training()->pageLearns());
  }
};

}  // namespace

TEST_CASE("training: F10 takes one step, F6 the steps in the box; each step reports its values",
          "[gui][editor][training]") {
  ToyFixture f;
  TrainingController& t = training(f);
  t.setWatched({"sq.result_y", "w.result_output"});
  std::vector<std::pair<qint64, std::vector<double>>> rows;
  QObject::connect(&t, &TrainingController::stepsDone, [&](qint64, const StepSamples& s) {
    REQUIRE(s.names == QStringList{"sq.result_y", "w.result_output"});
    REQUIRE(s.steps.size() == s.values.size());
    for (int i = 0; i < s.steps.size(); ++i)
      rows.push_back({s.steps[i], std::vector<double>(s.values[i].begin(), s.values[i].end())});
  });
  CHECK(value(f, "w") == 0.0f);

  press(f, Qt::Key_F10);
  REQUIRE(t.waitIdle(10000));
  CHECK(t.stepCount() == 1);
  // The results shown are those after the update, as the runner prints them.
  CHECK(value(f, "w") == float(expectedW(0, 3, 1)));

  setStepsBox(f, 3);
  press(f, Qt::Key_F6);
  REQUIRE(t.waitIdle(10000));
  CHECK(t.stepCount() == 4);
  CHECK(value(f, "w") == float(expectedW(0, 3, 4)));

  // Each row: the loss and w of that step, computed before its update.
  REQUIRE(rows.size() == 4);
  for (int k = 1; k <= 4; ++k) {
    CHECK(rows[k - 1].first == k);
    const double w = expectedW(0, 3, k - 1);
    CHECK(rows[k - 1].second[0] == float((w - 3) * (w - 3)));
    CHECK(rows[k - 1].second[1] == float(w));
  }
  CHECK(f.w().statusBar()->findChild<QLabel*>("trainingStatus")->text().contains("Step 4"));
}

TEST_CASE("training: F6 with 0 trains until F7 pauses it; Ctrl+Shift+F5 resets the Variables",
          "[gui][editor][training]") {
  ToyFixture f;
  TrainingController& t = training(f);
  bool resetSeen = false;
  QObject::connect(&t, &TrainingController::stateReset, [&] { resetSeen = true; });
  setStepsBox(f, 0);
  press(f, Qt::Key_F6);
  CHECK(t.running());
  CHECK(!f.window->findChild<QAction*>("actionStep")->isEnabled());
  CHECK(f.window->findChild<QAction*>("actionPause")->isEnabled());
  waitFor([&] { return t.stepCount() >= 30; });
  press(f, Qt::Key_F7);
  REQUIRE(t.waitIdle(10000));
  CHECK(!t.running());
  const qint64 n = t.stepCount();
  CHECK(n >= 30);
  QTest::qWait(100);
  CHECK(t.stepCount() == n);  // paused: no more steps
  CHECK(value(f, "w") == float(expectedW(0, 3, int(n))));
  CHECK(t.stateModified());

  press(f, Qt::Key_F5, Qt::ControlModifier | Qt::ShiftModifier);
  REQUIRE(t.waitIdle(10000));
  CHECK(resetSeen);
  CHECK(t.stepCount() == 0);
  CHECK(value(f, "w") == 0.0f);
  press(f, Qt::Key_F10);
  REQUIRE(t.waitIdle(10000));
  CHECK(value(f, "w") == float(expectedW(0, 3, 1)));
}

TEST_CASE("training: an edit during a run applies from the next step; initial_value at Reset",
          "[gui][editor][training]") {
  ToyFixture f;
  TrainingController& t = training(f);
  setStepsBox(f, 0);
  press(f, Qt::Key_F6);
  waitFor([&] { return t.stepCount() >= 5; });
  // While it runs: a new target, typed into the attribute editor.
  clickBlock(f, "target");
  typeAttr(f, "values", "[5]");
  CHECK(t.running());
  const qint64 editedAt = t.stepCount();
  waitFor([&] { return t.stepCount() >= editedAt + 40; });
  // And a new initial value: the Variable keeps its trained value until Reset.
  clickBlock(f, "init");
  typeAttr(f, "values", "[1]");
  const qint64 initEditedAt = t.stepCount();
  waitFor([&] { return t.stepCount() >= initEditedAt + 5; });
  press(f, Qt::Key_F7);
  REQUIRE(t.waitIdle(10000));
  CHECK(value(f, "w") == 5.0f);  // 40 steps halve the distance to the new target 40 times

  press(f, Qt::Key_F5, Qt::ControlModifier | Qt::ShiftModifier);
  REQUIRE(t.waitIdle(10000));
  CHECK(value(f, "w") == 1.0f);
  press(f, Qt::Key_F10);
  REQUIRE(t.waitIdle(10000));
  CHECK(value(f, "w") == float(expectedW(1, 5, 1)));
}

TEST_CASE("training: Undo changes the page, never the trained values, and says so",
          "[gui][editor][training]") {
  ToyFixture f;
  TrainingController& t = training(f);
  setStepsBox(f, 3);
  press(f, Qt::Key_F6);
  REQUIRE(t.waitIdle(10000));
  REQUIRE(value(f, "w") == float(expectedW(0, 3, 3)));
  clickBlock(f, "lr");
  typeAttr(f, "values", "[0.5]");
  REQUIRE(f.w().waitForEvaluation());
  press(f, Qt::Key_F10);  // with the new rate: w + 2 * 0.5 * (3 - w) lands on 3
  REQUIRE(t.waitIdle(10000));
  REQUIRE(value(f, "w") == 3.0f);

  f.w().view()->setFocus();
  QTest::keyClick(f.w().view(), Qt::Key_Z, Qt::ControlModifier);
  REQUIRE(f.w().waitForEvaluation());
  CHECK(attrOf(f, "lr", "values") == Json::parse("[0.25]"));
  CHECK(t.stepCount() == 4);
  CHECK(value(f, "w") == 3.0f);  // still trained
  CHECK(f.w().statusBar()->currentMessage().contains("page only"));
  QAction* undo = nullptr;
  for (QAction* a : f.window->findChildren<QAction*>())
    if (a->shortcut() == QKeySequence(QKeySequence::Undo)) undo = a;
  REQUIRE(undo != nullptr);
  CHECK(undo->toolTip().contains("Training is not undone"));
}

TEST_CASE("training: Save State writes the runner's state file; Load State continues from it",
          "[gui][editor][training]") {
  const QString page = QS_SOURCE_DIR "/assets/examples/linear_regression.page.json";
  QTemporaryDir dir;
  const std::string runnerState = dir.filePath("runner.npz").toStdString();
  QProcess runner;
  runner.start(QS_RUNNER_PATH, {page, "--steps", "7", "--save-state",
                                QString::fromStdString(runnerState), "--fetch", "w.result_output"});
  REQUIRE(runner.waitForFinished(60000));
  INFO(runner.readAllStandardError().toStdString());
  REQUIRE(runner.exitCode() == 0);

  EditorFixture f;
  REQUIRE(f.w().openPage(page));
  REQUIRE(f.w().waitForEvaluation());
  TrainingController& t = training(f);
  setStepsBox(f, 7);
  press(f, Qt::Key_F6);
  REQUIRE(t.waitIdle(10000));
  const std::string editorState = dir.filePath("editor.npz").toStdString();
  QString error;
  REQUIRE(t.saveState(QString::fromStdString(editorState), &error));
  CHECK(!t.stateModified());

  const StateFileContents mine = readStateFile(editorState);
  const StateFileContents ref = readStateFile(runnerState);
  CHECK(mine.steps == 7);
  CHECK(ref.steps == 7);
  REQUIRE(mine.values.size() == ref.values.size());
  for (const auto& [name, tensor] : ref.values) {
    INFO(name);
    REQUIRE(mine.values.count(name));
    const Tensor& m = mine.values.at(name);
    REQUIRE(m.shape() == tensor.shape());
    CHECK(std::memcmp(m.data(), tensor.data(), tensor.size() * sizeof(float)) == 0);
  }

  // Back to the start, then the runner's file: the Variables hold its values and the count is 7.
  press(f, Qt::Key_F5, Qt::ControlModifier | Qt::ShiftModifier);
  REQUIRE(t.waitIdle(10000));
  REQUIRE(value(f, "w") == 0.0f);
  qint64 loadedAt = -1;
  QObject::connect(&t, &TrainingController::stateLoaded, [&](qint64 s) { loadedAt = s; });
  REQUIRE(t.loadState(QString::fromStdString(runnerState), &error));
  CHECK(loadedAt == 7);
  CHECK(t.stepCount() == 7);
  CHECK(value(f, "w") == ref.values.at("w").data()[0]);
  press(f, Qt::Key_F10);
  REQUIRE(t.waitIdle(10000));
  CHECK(t.stepCount() == 8);

  // A file that is not a state names itself and leaves the state alone.
  const QString bad = writeFile(dir, "bad.npz", "not a zip");
  CHECK(!t.loadState(bad, &error));
  CHECK(error.contains("bad.npz"));
  CHECK(t.stepCount() == 8);
}

TEST_CASE("training: closing after steps offers to save the state", "[gui][editor][training]") {
  ToyFixture f;
  TrainingController& t = training(f);
  int asked = 0;
  t.setSaveStatePrompt([&] {
    ++asked;
    return int(QMessageBox::Cancel);
  });
  CHECK(f.window->close());  // nothing trained yet: nothing to ask
  CHECK(asked == 0);
  f.window->show();
  press(f, Qt::Key_F10);
  REQUIRE(t.waitIdle(10000));
  CHECK(!f.window->close());  // Cancel keeps the window
  CHECK(asked == 1);
  t.setSaveStatePrompt([&] {
    ++asked;
    return int(QMessageBox::Discard);
  });
  CHECK(f.window->close());
  CHECK(asked == 2);
}

namespace {

bool digitsPresent() {
  for (const char* name :
       {"train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"})
    if (!std::filesystem::exists(std::filesystem::path(QS_SOURCE_DIR) / "data" / "digits" / name))
      return false;
  return true;
}

// CPU seconds (user and system) used by this process or by its waited-for children. On a shared
// machine the wall clock mostly measures the other processes; the CPU time is the work done.
double cpuSeconds(int who) {
  rusage u{};
  getrusage(who, &u);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

double threadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

struct Timing {
  double wall = 0, cpu = 0;
};

// `quantspace-run PAGE --steps N`: its wall-clock and CPU seconds.
Timing runnerTiming(const QString& page, int steps) {
  QProcess runner;
  QElapsedTimer t;
  const double cpu0 = cpuSeconds(RUSAGE_CHILDREN);
  t.start();
  runner.start(QS_RUNNER_PATH, {page, "--steps", QString::number(steps)});
  REQUIRE(runner.waitForFinished(120000));
  const Timing r{t.nsecsElapsed() / 1e9, cpuSeconds(RUSAGE_CHILDREN) - cpu0};
  INFO(runner.readAllStandardError().toStdString());
  REQUIRE(runner.exitCode() == 0);
  return r;
}

}  // namespace

// Run alone ([timing]): a second test on the other core says nothing about the editor.
TEST_CASE(
    "training: the window stays live while the digits example trains at full speed, "
    "and the editor keeps the runner's pace",
    "[gui][editor][training][timing]") {
  if (!digitsPresent()) {
    WARN(
        "skipped: data/digits/ is missing (the real data was not fetched; fetch it with: bash "
        "scripts/fetch-data.sh)");
    return;
  }
  const QString page = QS_SOURCE_DIR "/assets/examples/digits_float.page.json";
  constexpr int kSteps = 600;  // long enough (about 2 s) that a rate says more than the scheduler
  EditorFixture f;
  REQUIRE(f.w().openPage(page));
  REQUIRE(f.w().waitForEvaluation(60000));
  TrainingController& t = training(f);
  t.setWatched({"loss.result_output", "accuracy.result_output"});
  int reports = 0;
  QObject::connect(&t, &TrainingController::stepsDone,
                   [&](qint64, const StepSamples&) { ++reports; });
  clickBlock(f, "conv1");  // the viewer follows a block with a sizeable result
  setStepsBox(f, kSteps);

  QElapsedTimer clock;
  qint64 last = 0, longestGap = 0;
  QTimer tick;
  QObject::connect(&tick, &QTimer::timeout, [&] {
    const qint64 now = clock.elapsed();
    longestGap = std::max(longestGap, now - last);
    last = now;
  });
  const double cpu0 = cpuSeconds(RUSAGE_SELF);
  const double ui0 = threadCpuSeconds();
  press(f, Qt::Key_F6);
  clock.start();
  tick.start(10);
  // Waiting in an event loop, as the editor's own does (waitIdle polls).
  QEventLoop loop;
  QObject::connect(&t, &TrainingController::runningChanged, &loop, [&](bool on) {
    if (!on) loop.quit();
  });
  QTimer::singleShot(120000, &loop, &QEventLoop::quit);
  if (t.running()) loop.exec();
  const double editorSeconds = clock.nsecsElapsed() / 1e9;
  const double uiCpu = threadCpuSeconds() - ui0;
  // Every thread of the editor: the worker, the op threads and the window's.
  const double editorCpu = cpuSeconds(RUSAGE_SELF) - cpu0;
  tick.stop();
  REQUIRE(t.stepCount() == kSteps);
  const double editorRate = t.stepsPerSecond();

  // The runner's cost of kSteps steps without its start-up (reading the data, the first
  // evaluation): the difference of two runs.
  const Timing shortRun = runnerTiming(page, 10);
  const Timing longRun = runnerTiming(page, 10 + kSteps);
  const double runnerRate = kSteps / (longRun.wall - shortRun.wall);
  const double runnerCpu = longRun.cpu - shortRun.cpu;
  std::printf(
      "digits_float, %d steps: editor %.1f steps/s, %.2f ms CPU a step (%.2f s from F6 to idle, "
      "%d reports, %.2f s CPU on the UI thread); runner %.1f steps/s, %.2f ms CPU a step; "
      "editor/runner CPU a step %.2f; "
      "longest gap between 10 ms ticks of the UI thread %lld ms\n",
      kSteps, editorRate, 1000 * editorCpu / kSteps, editorSeconds, reports, uiCpu, runnerRate,
      1000 * runnerCpu / kSteps, editorCpu / runnerCpu, static_cast<long long>(longestGap));
  CHECK(longestGap < 250);
  // At most ten reports a second, and one at the end.
  CHECK(reports <= editorSeconds * 10 + 2);
  // Generous: the load of a shared machine moves both figures (docs/performance.md has quiet
  // ones). CPU time, not the wall clock, which mostly measures the other processes there.
  CHECK(editorCpu < 1.5 * runnerCpu);
}

TEST_CASE("training: a run paused between two slices ends with the page's results",
          "[gui][editor][training]") {
  ToyFixture f;
  TrainingController& t = training(f);
  setStepsBox(f, 0);
  press(f, Qt::Key_F6);
  waitFor([&] { return t.stepCount() >= 1; });
  // Hold the worker with a job of ours: the slice under way or queued posts its continuation
  // behind it, so the pause lands between two slices and the next one starts paused.
  std::atomic<bool> holding{false}, release{false};
  f.w().evaluation()->post([&](Evaluator&) {
    holding = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  waitFor([&] { return holding.load(); });
  t.pause();
  release = true;
  waitFor([&] { return !t.running(); });
  const qint64 steps = t.stepCount();
  REQUIRE(steps >= 1);
  // The final plain evaluation ran on the page: w is shown as it is after the last update.
  CHECK(value(f, "w") == Approx(expectedW(0, 3, static_cast<int>(steps))).margin(1e-6));
  CHECK_FALSE(f.w().statusBar()->currentMessage().contains("failed"));
}

TEST_CASE("training: the window can go while a run is under way", "[gui][editor][training]") {
  ToyFixture f;
  TrainingController& t = training(f);
  setStepsBox(f, 0);
  press(f, Qt::Key_F6);
  waitFor([&] { return t.stepCount() >= 5; });
  REQUIRE(t.running());
  // The worker's slices post their own continuation; the window's end must still stop them.
  QElapsedTimer clock;
  clock.start();
  f.window.reset();
  CHECK(clock.elapsed() < 5000);
}

}  // namespace test_editor_training
