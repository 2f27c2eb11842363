// Files dropped on the editor open the page they came from (docs/formats.md, "Provenance"): an
// exported .onnx, a state file (and its state), a --save-npy folder or one of its .npy files, a
// page file. The drops are the events the platform sends, carrying file URLs, to the real canvas.

#include <QAction>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileInfo>
#include <QMessageBox>
#include <QMimeData>
#include <QProcess>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QUrl>
#include <catch2/catch.hpp>

#include "GuiTestUtil.h"
#include "blocks/RegisterBlocks.h"
#include "editor_bridge/OnnxExportAction.h"
#include "editor_bridge/PageModel.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"
#include "runtime/PageJson.h"

namespace test_editor_drop_open {

using namespace qs;
using qs::editor::test::EditorFixture;

namespace {

// `w` (initial [1, -2]) moved by ApplyGradientDescent, alpha 0.5, delta [0.25, -0.5]: each step
// subtracts [0.125, -0.25], exact in float32.
const char* kDescentPage = R"({"format": "quantspace-page", "version": 1, "name": "descent",
  "blocks": [
    {"id": "w0", "type": "Const", "position": [0, 0], "attrs": {"shape": [2], "values": [1, -2]}},
    {"id": "alpha", "type": "Const", "position": [0, 150], "attrs": {"shape": [], "values": [0.5]}},
    {"id": "delta", "type": "Const", "position": [0, 300],
     "attrs": {"shape": [2], "values": [0.25, -0.5]}},
    {"id": "w", "type": "Variable", "position": [250, 0]},
    {"id": "opt", "type": "ApplyGradientDescent", "position": [500, 0]}],
  "links": [
    {"from": ["w0", "output"], "to": ["w", "initial_value"]},
    {"from": ["w", "output"], "to": ["opt", "var"]},
    {"from": ["alpha", "output"], "to": ["opt", "alpha"]},
    {"from": ["delta", "output"], "to": ["opt", "delta"]}]})";

QString writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& bytes) {
  const QString path = dir.filePath(name);
  QFile f(path);
  REQUIRE(f.open(QIODevice::WriteOnly));
  f.write(bytes);
  return path;
}

void runRunner(const QStringList& args) {
  QProcess runner;
  runner.start(QS_RUNNER_PATH, args);
  REQUIRE(runner.waitForFinished(60000));
  INFO(runner.readAllStandardError().toStdString());
  REQUIRE(runner.exitCode() == 0);
}

// Drag-enter, drag-move and drop of `paths` as file URLs on `target`; true if the drop was taken.
bool dropFiles(QWidget* target, const QStringList& paths) {
  QMimeData mime;
  QList<QUrl> urls;
  for (const QString& p : paths) urls.push_back(QUrl::fromLocalFile(p));
  mime.setUrls(urls);
  const QPoint at = target->rect().center();
  QDragEnterEvent enter(at, Qt::CopyAction, &mime, Qt::LeftButton, {});
  QApplication::sendEvent(target, &enter);
  if (!enter.isAccepted()) return false;
  QDragMoveEvent move(at, Qt::CopyAction, &mime, Qt::LeftButton, {});
  QApplication::sendEvent(target, &move);
  QDropEvent drop(at, Qt::CopyAction, &mime, Qt::LeftButton, {});
  QApplication::sendEvent(target, &drop);
  return drop.isAccepted();
}

std::vector<std::string> blockIds(const Page& page) {
  std::vector<std::string> ids;
  for (const Block& b : page.blocks()) ids.push_back(b.id.str());
  return ids;
}

const std::vector<std::string> kDescentIds = {"w0", "alpha", "delta", "w", "opt"};

// A page that is not the descent page, so that every open is seen to replace it.
void openOther(EditorFixture& f) {
  REQUIRE(f.w().openPage(QString(QS_SOURCE_DIR) + "/assets/examples/using_method.page.json"));
  REQUIRE(blockIds(f.w().model()->page()) != kDescentIds);
}

QString status(EditorFixture& f) {
  return f.w().statusBar()->currentMessage();
}

}  // namespace

TEST_CASE(
    "editor: a dropped exported .onnx or page file opens its page, and palette drops still add",
    "[editor][drop][open]") {
  EditorFixture f;
  QTemporaryDir dir;
  const QString page = writeFile(dir, "descent.page.json", kDescentPage);
  const QString onnx = dir.filePath("m.onnx");
  QString error;
  const QString example = QString(QS_SOURCE_DIR) + "/assets/examples/using_method.page.json";
  REQUIRE(exportPageToOnnx(loadPage(example.toStdString()).page, example, builtinRegistry(), onnx,
                           &error));

  REQUIRE(dropFiles(f.viewport(), {page}));
  CHECK(blockIds(f.w().model()->page()) == kDescentIds);
  CHECK(f.w().filePath() == QFileInfo(page).absoluteFilePath());

  REQUIRE(dropFiles(f.viewport(), {onnx}));
  const Page& opened = f.w().model()->page();
  CHECK(opened.find(BlockId("fq")) != nullptr);
  CHECK(opened.find(BlockId("lo")) != nullptr);  // the page's own blocks, not an import's
  CHECK(f.w().filePath().isEmpty());

  // A block dragged from the palette is still a block added to the page.
  const size_t before = f.w().model()->page().blockCount();
  qs::editor::test::dropFromPalette(f, "Const", f.viewport()->rect().center());
  CHECK(f.w().model()->page().blockCount() == before + 1);
}

TEST_CASE("editor: a dropped state file opens its page and loads its state",
          "[editor][drop][open][state]") {
  EditorFixture f;
  QTemporaryDir dir;
  const QString page = writeFile(dir, "descent.page.json", kDescentPage);
  const QString state = dir.filePath("s.npz");
  runRunner({page, "--steps", "2", "--save-state", state});
  openOther(f);

  REQUIRE(dropFiles(f.viewport(), {state}));
  CHECK(blockIds(f.w().model()->page()) == kDescentIds);
  CHECK(f.w().filePath().isEmpty());  // Save asks where: the state file is not a page
  CHECK(f.w().training()->stepCount() == 2);
  REQUIRE(f.w().waitForEvaluation());
  // w after two steps: [1 - 2 * 0.125, -2 + 2 * 0.25].
  const Tensor& w = f.w().results().at(BlockId("w")).outputs.at("output");
  CHECK(w.toVector() == std::vector<float>{0.75f, -1.5f});
  CHECK(status(f).contains("s.npz"));

  // File > Save State in the editor carries the page too, as the runner's does.
  const QString saved = dir.filePath("editor.npz");
  QString error;
  REQUIRE(f.w().training()->saveState(saved, &error));
  std::string carried;
  for (const NpzMember& m : readNpz(saved.toStdString(), NpzLimits::defaults(), true))
    if (m.key == "__quantspace__/page.json") carried = m.bytes;
  REQUIRE(!carried.empty());
  CHECK(blockIds(parsePage(carried, "member").page) == kDescentIds);
}

TEST_CASE("editor: a dropped --save-npy folder, or one of its .npy files, opens its page",
          "[editor][drop][open][npy]") {
  EditorFixture f;
  QTemporaryDir dir;
  const QString page = writeFile(dir, "descent.page.json", kDescentPage);
  const QString out = dir.filePath("results");
  runRunner({page, "--fetch", "w.result_output", "--save-npy", out});
  for (const QString& dropped : {out, out + "/w.result_output.npy"}) {
    INFO(dropped.toStdString());
    openOther(f);
    REQUIRE(dropFiles(f.viewport(), {dropped}));
    CHECK(blockIds(f.w().model()->page()) == kDescentIds);
    CHECK(f.w().filePath().isEmpty());
  }
  // Dropped anywhere else in the window (here on the window itself), the same.
  openOther(f);
  REQUIRE(dropFiles(f.window.get(), {out}));
  CHECK(blockIds(f.w().model()->page()) == kDescentIds);
}

TEST_CASE("editor: a dropped file with no page says so and changes nothing",
          "[editor][drop][open]") {
  EditorFixture f;
  QTemporaryDir dir;
  int asked = 0;
  f.w().setDiscardPrompt([&] {
    ++asked;
    return int(QMessageBox::Discard);
  });
  openOther(f);
  f.w().model()->addBlock("Const", QPointF(900, 900));  // an unsaved change
  const std::string before = pageToText(f.w().model()->page());
  const QString oldState = dir.filePath("old.npz");
  writeNpz(oldState.toStdString(), {{"__step__", npyInt64Bytes(0)}});
  QDir(dir.path()).mkdir("plain");
  const QString plainNpy = dir.filePath("plain/a.npy");
  writeNpy(plainNpy.toStdString(), Tensor::fromValues(Shape{1}, {1}));
  const QString text = writeFile(dir, "notes.txt", "hello");
  for (const QString& path : {oldState, plainNpy, dir.filePath("plain"), text}) {
    INFO(path.toStdString());
    dropFiles(f.viewport(), {path});
    CHECK(status(f).contains(QFileInfo(path).fileName()));
    CHECK(status(f).contains("carries no page"));
    CHECK(pageToText(f.w().model()->page()) == before);
    CHECK(f.w().isModified());
  }
  CHECK(asked == 0);  // nothing was going to replace the page, so nothing was asked
}

TEST_CASE("editor: a dropped page asks to save unsaved changes first, as File > Open does",
          "[editor][drop][open]") {
  EditorFixture f;
  QTemporaryDir dir;
  const QString page = writeFile(dir, "descent.page.json", kDescentPage);
  int answer = QMessageBox::Cancel, asked = 0;
  f.w().setDiscardPrompt([&] {
    ++asked;
    return answer;
  });
  openOther(f);
  f.w().model()->addBlock("Const", QPointF(900, 900));
  const std::string edited = pageToText(f.w().model()->page());
  dropFiles(f.viewport(), {page});
  CHECK(asked == 1);
  CHECK(pageToText(f.w().model()->page()) == edited);  // Cancel: the edit stays
  answer = QMessageBox::Discard;
  dropFiles(f.viewport(), {page});
  CHECK(asked == 2);
  CHECK(blockIds(f.w().model()->page()) == kDescentIds);
}

TEST_CASE("editor: of several dropped files the first opens and the others are named, not lost",
          "[editor][drop][open]") {
  EditorFixture f;
  QTemporaryDir dir;
  const QString page = writeFile(dir, "descent.page.json", kDescentPage);
  const QString text = writeFile(dir, "notes.txt", "hello");
  const QString other = QString(QS_SOURCE_DIR) + "/assets/examples/using_method.page.json";
  openOther(f);
  REQUIRE(dropFiles(f.viewport(), {page, text, other}));
  CHECK(blockIds(f.w().model()->page()) == kDescentIds);
  CHECK(f.w().filePath() == QFileInfo(page).absoluteFilePath());
  const QString said = status(f);
  INFO(said.toStdString());
  CHECK(said.contains("descent.page.json"));
  CHECK(said.contains("Not opened: notes.txt, using_method.page.json"));

  // The first carries no page: that is said, and so are the others.
  dropFiles(f.viewport(), {text, page});
  CHECK(blockIds(f.w().model()->page()) == kDescentIds);
  CHECK(status(f).contains("notes.txt carries no page"));
  CHECK(status(f).contains("Not opened: descent.page.json"));
}

}  // namespace test_editor_drop_open
