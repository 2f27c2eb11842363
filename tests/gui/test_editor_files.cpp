// The "save changes?" prompt before New, Open and closing; the Open Recent menu.

#include <QAction>
#include <QMenu>
#include <QSettings>

#include "GuiTestUtil.h"
#include "runtime/PageJson.h"

namespace test_editor_files {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {
QAction* action(EditorFixture& f, const char* name) {
  auto* a = f.w().findChild<QAction*>(name);
  REQUIRE(a != nullptr);
  return a;
}

// An unsaved edit on the using-method page: one more block.
void makeUnsavedEdit(EditorFixture& f) {
  REQUIRE(f.w().openPage(QS_SOURCE_DIR "/assets/examples/using_method.page.json"));
  f.w().model()->addBlock("Const", {600, 40});
  REQUIRE(f.w().isModified());
  REQUIRE(f.w().model()->page().blockCount() == 5);
}

// Clicks the menu entry with the mouse, the menu popped up as it would from the menu bar.
void clickMenuEntry(QMenu* menu, QAction* entry) {
  menu->popup(QPoint(200, 200));
  REQUIRE(QTest::qWaitForWindowExposed(menu));
  QTest::mouseClick(menu, Qt::LeftButton, {}, menu->actionGeometry(entry).center());
  QTest::qWait(10);
}
}  // namespace

TEST_CASE("editor: New with unsaved changes asks; Cancel keeps the page, Discard drops it",
          "[gui][editor][files]") {
  EditorFixture f;
  makeUnsavedEdit(f);
  int asked = 0;
  int answer = QMessageBox::Cancel;
  f.w().setDiscardPrompt([&] {
    ++asked;
    return answer;
  });
  action(f, "newAction")->trigger();
  CHECK(asked == 1);
  CHECK(f.w().model()->page().blockCount() == 5);
  CHECK(f.w().isModified());
  CHECK(f.w().filePath().endsWith("using_method.page.json"));

  answer = QMessageBox::Discard;
  action(f, "newAction")->trigger();
  CHECK(asked == 2);
  CHECK(f.w().model()->page().blockCount() == 0);
  CHECK(f.w().filePath().isEmpty());
  CHECK_FALSE(f.w().isModified());
  // Nothing to lose now: no question.
  action(f, "newAction")->trigger();
  CHECK(asked == 2);
}

TEST_CASE("editor: Open with unsaved changes asks, and Cancel keeps the page",
          "[gui][editor][files]") {
  EditorFixture f;
  makeUnsavedEdit(f);
  int asked = 0;
  f.w().setDiscardPrompt([&] {
    ++asked;
    return int(QMessageBox::Cancel);
  });
  // Cancel answers before any file dialog would open.
  action(f, "openAction")->trigger();
  CHECK(asked == 1);
  CHECK(f.w().model()->page().blockCount() == 5);
  CHECK(f.w().isModified());
}

TEST_CASE("editor: closing with unsaved changes asks; Cancel keeps the window, Save writes",
          "[gui][editor][files]") {
  QTemporaryDir dir;
  const QString path = dir.filePath("edited.page.json");
  EditorFixture f;
  makeUnsavedEdit(f);
  QString error;
  REQUIRE(f.w().savePageAs(path, &error));
  f.w().model()->addBlock("Const", {600, 240});
  REQUIRE(f.w().isModified());
  int asked = 0;
  int answer = QMessageBox::Cancel;
  f.w().setDiscardPrompt([&] {
    ++asked;
    return answer;
  });
  CHECK_FALSE(f.w().close());
  CHECK(asked == 1);
  CHECK(f.w().isVisible());
  CHECK(f.w().model()->page().blockCount() == 6);

  answer = QMessageBox::Save;
  CHECK(f.w().close());
  CHECK(asked == 2);
  CHECK_FALSE(f.w().isVisible());
  CHECK(loadPage(path.toStdString()).page.blockCount() == 6);
}

TEST_CASE("editor: closing with unsaved changes and Discard closes without writing",
          "[gui][editor][files]") {
  QTemporaryDir dir;
  const QString path = dir.filePath("kept.page.json");
  EditorFixture f;
  makeUnsavedEdit(f);
  REQUIRE(f.w().savePageAs(path));
  f.w().model()->addBlock("Const", {600, 240});
  int asked = 0;
  f.w().setDiscardPrompt([&] {
    ++asked;
    return int(QMessageBox::Discard);
  });
  CHECK(f.w().close());
  CHECK(asked == 1);
  CHECK(loadPage(path.toStdString()).page.blockCount() == 5);
}

TEST_CASE("editor: Open Recent lists opened pages, most recent first, and a click opens one",
          "[gui][editor][files]") {
  // The process's settings are its own (main.cpp), but earlier tests in it may have opened pages.
  QSettings().remove("recentFiles");
  EditorFixture f;
  auto* recent = f.w().findChild<QMenu*>("recentMenu");
  REQUIRE(recent != nullptr);
  CHECK_FALSE(recent->isEnabled());  // nothing opened yet
  const QString first = QS_SOURCE_DIR "/assets/examples/using_method.page.json";
  const QString second = QS_SOURCE_DIR "/assets/examples/calibration.page.json";
  REQUIRE(f.w().openPage(first));
  REQUIRE(f.w().openPage(second));
  REQUIRE(recent->isEnabled());
  QList<QAction*> entries = recent->actions();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0]->text() == "calibration.page.json");
  CHECK(entries[1]->text() == "using_method.page.json");
  CHECK(entries[0]->toolTip() == QFileInfo(second).absoluteFilePath());

  // Opening the older one by a click moves it to the top.
  clickMenuEntry(recent, entries[1]);
  CHECK(f.w().filePath() == QFileInfo(first).absoluteFilePath());
  CHECK(f.w().model()->page().find(BlockId("fq")) != nullptr);
  CHECK(f.w().model()->page().blockCount() == 4);
  entries = recent->actions();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0]->text() == "using_method.page.json");
  CHECK(entries[1]->text() == "calibration.page.json");

  // With unsaved changes a click asks first; Cancel keeps the page.
  f.w().model()->addBlock("Const", {600, 40});
  int asked = 0;
  f.w().setDiscardPrompt([&] {
    ++asked;
    return int(QMessageBox::Cancel);
  });
  clickMenuEntry(recent, entries[1]);
  CHECK(asked == 1);
  CHECK(f.w().filePath() == QFileInfo(first).absoluteFilePath());
  CHECK(f.w().model()->page().blockCount() == 5);
}

}  // namespace test_editor_files
