// Autosave and crash recovery. A separate process edits a page and is killed with
// SIGKILL; a new editor finds the recovery copy and restores the edits.

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <csignal>

#include "GuiTestUtil.h"
#include "runtime/PageJson.h"

namespace test_editor_recovery {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {
bool waitFor(const std::function<bool()>& done, int ms) {
  QElapsedTimer t;
  t.start();
  while (!done()) {
    if (t.elapsed() > ms) return false;
    QTest::qWait(20);
  }
  return true;
}
}  // namespace

// Run by the test below in a child process; hidden from normal runs.
TEST_CASE("editor recovery child", "[.recovery-child]") {
  const QString page = qEnvironmentVariable("QS_RECOVERY_CHILD_PAGE");
  const QString ready = qEnvironmentVariable("QS_RECOVERY_CHILD_READY");
  REQUIRE(!page.isEmpty());
  EditorFixture f(/*privateRecovery=*/false);
  REQUIRE(f.w().openPage(page));
  f.w().view()->resetTransform();
  f.w().view()->centerOn(QPointF(300, 300));
  clickBlock(f, "fq");
  typeAttr(f, "num_bits", "4");
  REQUIRE(attrOf(f, "fq", "num_bits") == Json(4));
  const QPoint from = bodyPoint(f, "fq");
  mouseDrag(f.viewport(), from, from + QPoint(150, 60));
  REQUIRE(f.w().isModified());
  // The autosave comes shortly after the last edit.
  const QString copy = f.w().recovery().dir() + "/recovery-" +
                       QString::number(QCoreApplication::applicationPid()) + ".json";
  REQUIRE(waitFor([&] { return QFile::exists(copy); }, 10000));
  QFile marker(ready);
  REQUIRE(marker.open(QIODevice::WriteOnly));
  marker.close();
  QTest::qWait(120000);  // killed long before this
}

TEST_CASE("editor: edits survive SIGKILL and are restored at the next start", "[gui][editor]") {
  QTemporaryDir dir;
  const QString recovery = dir.filePath("recovery");
  const QString page = dir.filePath("method.page.json");
  const QString ready = dir.filePath("ready");
  REQUIRE(QFile::copy(QS_SOURCE_DIR "/assets/examples/using_method.page.json", page));
  const std::string original = pageToText(loadPage(page.toStdString()).page);

  QProcess child;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("QS_RECOVERY_DIR", recovery);
  env.insert("QS_RECOVERY_CHILD_PAGE", page);
  env.insert("QS_RECOVERY_CHILD_READY", ready);
  env.insert("QT_QPA_PLATFORM", "offscreen");
  child.setProcessEnvironment(env);
  child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
  child.start(QCoreApplication::applicationFilePath(), {"editor recovery child"});
  REQUIRE(child.waitForStarted(10000));
  const bool readyInTime = waitFor([&] { return QFile::exists(ready); }, 60000);
  if (!readyInTime) {
    child.kill();
    child.waitForFinished();
  }
  REQUIRE(readyInTime);
  REQUIRE(::kill(static_cast<pid_t>(child.processId()), SIGKILL) == 0);
  REQUIRE(child.waitForFinished(10000));
  CHECK(child.exitStatus() == QProcess::CrashExit);
  // The page file itself was never saved.
  CHECK(pageToText(loadPage(page.toStdString()).page) == original);

  qputenv("QS_RECOVERY_DIR", recovery.toUtf8());
  qputenv("QS_RECOVERY", "accept");
  MainWindow w(builtinRegistry());
  w.setDiscardPrompt([] { return int(QMessageBox::Discard); });
  const bool restored = w.offerRecovery();
  qunsetenv("QS_RECOVERY");
  REQUIRE(restored);
  const Block* fq = w.model()->page().find(BlockId("fq"));
  REQUIRE(fq != nullptr);
  CHECK(fq->attrs.at("num_bits") == Json(4));
  REQUIRE(fq->position);
  CHECK((*fq->position)[0] == Approx(320 + 150).margin(2));
  CHECK((*fq->position)[1] == Approx(200 + 60).margin(2));
  CHECK(w.filePath() == page);
  CHECK(w.isModified());
  CHECK(w.windowTitle().startsWith("method.page.json"));
  // Answered once: a second start finds nothing left from the dead process.
  CHECK(w.recovery().orphans().empty());
  // Saving makes the restored work the file's content and drops the recovery copy.
  REQUIRE(w.savePageAs(page));
  CHECK(loadPage(page.toStdString()).page.find(BlockId("fq"))->attrs.at("num_bits") == Json(4));
  CHECK(QFile::exists(page + ".bak"));
}

}  // namespace test_editor_recovery
