// File > Import weights: the real file dialog and import dialog, driven with key and mouse events.
#include <QAbstractItemView>
#include <QCompleter>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QPushButton>
#include <QTimer>
#include <functional>
#include <memory>

#include "GuiTestUtil.h"
#include "editor_bridge/ImportWeightsDialog.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"

namespace test_editor_import_weights {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

// Runs `drive` on the next modal dialog of type D once it is shown (exec() is running then). Polls
// from the event loop without blocking it, so that the dialog can come up in between.
template <typename D>
void whenModal(std::function<void(D*)> drive, bool* ran) {
  auto* timer = new QTimer;
  auto tries = std::make_shared<int>(0);
  QObject::connect(timer, &QTimer::timeout, [timer, tries, drive, ran] {
    D* d = qobject_cast<D*>(QApplication::activeModalWidget());
    if (!d || !d->isVisible()) {
      if (++*tries < 500) return;
      timer->deleteLater();  // no REQUIRE here: an exception must not leave a Qt event handler
      {
        QWidget* m = QApplication::activeModalWidget();
        std::string what = m ? m->metaObject()->className() : "none";
        if (auto* fd = qobject_cast<QFileDialog*>(m))
          if (auto* e = fd->findChild<QLineEdit*>("fileNameEdit"))
            what += " [" + e->text().toStdString() + "]";
        FAIL_CHECK("no modal dialog came up; active: " << what);
      }
      return;
    }
    timer->stop();
    timer->deleteLater();
    *ran = true;
    drive(d);
  });
  timer->start(20);
}

void clickButton(QDialog* d, QDialogButtonBox::StandardButton which) {
  QPushButton* b = d->findChild<QDialogButtonBox*>()->button(which);
  CHECK(b->isEnabled());
  QTest::mouseClick(b, Qt::LeftButton);
  if (d->isVisible()) d->reject();  // never leave exec() waiting
}

// w.npz: "a" float32 [2, 3], "conv/b" int32 [4], "c" float32 [].
QString writeNpzFile(const QTemporaryDir& dir) {
  const QString path = dir.filePath("w.npz");
  writeNpz(path.toStdString(), {{"a", npyBytes(Tensor::zeros({2, 3}))},
                                {"conv/b", npyBytes(Tensor::zeros({4}, DType::Int32))},
                                {"c", npyBytes(Tensor::scalar(1.5f))}});
  return path;
}

}  // namespace

TEST_CASE("editor: Import weights lists the tensors and adds a Const for each one checked",
          "[editor][weights]") {
  EditorFixture f;
  QTemporaryDir dir;
  const QString npz = writeNpzFile(dir);
  const BlockId old = f.w().model()->addBlock("Const", QPointF(100, 100));
  REQUIRE(f.w().savePageAs(dir.filePath("p.page.json")));
  const size_t before = f.w().model()->page().blockCount();

  bool ranFile = false, ranImport = false;
  QStringList rows;
  whenModal<QFileDialog>(
      [&](QFileDialog* fd) {
        whenModal<ImportWeightsDialog>(
            [&](ImportWeightsDialog* d) {
              QTreeWidget* tree = d->tree();
              for (int i = 0; i < tree->topLevelItemCount(); ++i) {
                const QTreeWidgetItem* it = tree->topLevelItem(i);
                rows << it->text(0) + " " + it->text(1) + " " + it->text(2);
              }
              // Nothing checked yet: the button waits. Check rows 2 and 3 with the keyboard.
              CHECK(!d->findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok)->isEnabled());
              tree->setFocus();
              QTest::keyClick(tree, Qt::Key_Down);
              QTest::keyClick(tree, Qt::Key_Space);
              QTest::keyClick(tree, Qt::Key_Down);
              QTest::keyClick(tree, Qt::Key_Space);
              clickButton(d, QDialogButtonBox::Ok);
            },
            &ranImport);
        auto* edit = fd->findChild<QLineEdit*>("fileNameEdit");
        CHECK(edit != nullptr);
        if (!edit) return fd->reject();
        // Go to the file's folder and type its name there, as a user would. A whole path typed
        // into the field made the dialog change folders at its slashes, and a folder listing that
        // arrives later clears the field: on a loaded machine the typing lost that race. The path
        // completer may also open a popup over the field, which then takes the Return. So: type
        // the name again and close the popup until a Return reaches the dialog and it accepts.
        fd->setDirectory(dir.path());
        const QString name = QFileInfo(npz).fileName();
        for (int attempt = 0; attempt < 50 && fd->isVisible(); ++attempt) {
          if (edit->text() != name) {
            edit->clear();
            QTest::keyClicks(edit, name);
          }
          if (QCompleter* c = edit->completer(); c && c->popup() && c->popup()->isVisible())
            QTest::keyClick(c->popup(), Qt::Key_Escape);
          QTest::keyClick(edit, Qt::Key_Return);
          if (fd->isVisible()) QTest::qWait(100);
        }
        CHECK_FALSE(fd->isVisible());
        if (fd->isVisible()) fd->reject();  // never leave exec() waiting
      },
      &ranFile);
  QList<QAction*> actions = f.w().findChildren<QAction*>("importWeightsAction");
  REQUIRE(actions.size() == 1);
  actions[0]->trigger();
  REQUIRE(ranFile);
  REQUIRE(ranImport);
  CHECK(rows == QStringList{"a float32 [2, 3]", "conv/b int32 [4]", "c float32 []"});

  const Page& page = f.w().model()->page();
  REQUIRE(page.blockCount() == before + 2);
  const Block* b = page.find(BlockId("conv_b"));
  const Block* c = page.find(BlockId("c"));
  REQUIRE(b);
  REQUIRE(c);
  CHECK(b->type == "Const");
  CHECK(b->attrs == Json{{"weights", "w.npz"}, {"tensor", "conv/b"}});
  CHECK(c->attrs == Json{{"weights", "w.npz"}, {"tensor", "c"}});
  // Placed apart from the old block and from each other.
  PageScene* scene = f.w().scene();
  const QRectF oldRect = scene->blockItem(old)->sceneBoundingRect();
  const QRectF bRect = scene->blockItem(b->id)->sceneBoundingRect();
  const QRectF cRect = scene->blockItem(c->id)->sceneBoundingRect();
  CHECK(!bRect.intersects(oldRect));
  CHECK(!cRect.intersects(oldRect));
  CHECK(!bRect.intersects(cRect));
  // They evaluate: the file is found relative to the page.
  REQUIRE(f.w().waitForEvaluation());
  CHECK(scene->blockItem(b->id)->status() == BlockStatus::Ok);
  CHECK(scene->blockItem(c->id)->status() == BlockStatus::Ok);
  // One undo step removes both.
  f.w().model()->undoStack()->undo();
  CHECK(f.w().model()->page().blockCount() == before);
  f.w().model()->undoStack()->redo();
  CHECK(f.w().model()->page().blockCount() == before + 2);
}

TEST_CASE("editor: Import weights with Cancel, or from a broken file, adds nothing",
          "[editor][weights]") {
  EditorFixture f;
  QTemporaryDir dir;
  const QString npz = writeNpzFile(dir);
  bool ran = false;
  whenModal<ImportWeightsDialog>(
      [&](ImportWeightsDialog* d) {
        d->tree()->setFocus();
        QTest::keyClick(d->tree(), Qt::Key_Space);
        clickButton(d, QDialogButtonBox::Cancel);
      },
      &ran);
  CHECK(f.w().importWeights(npz));
  CHECK(ran);
  CHECK(f.w().model()->page().blockCount() == 0);
  CHECK(f.w().model()->undoStack()->count() == 0);

  // A safetensors file whose header runs past its end: the message names the file; no dialog.
  const QString bad = dir.filePath("bad.safetensors");
  {
    QFile out(bad);
    REQUIRE(out.open(QIODevice::WriteOnly));
    out.write(QByteArray("\x40\0\0\0\0\0\0\0{\"t\":", 13));
  }
  QString error;
  CHECK(!f.w().importWeights(bad, &error));
  CHECK(error.startsWith("Nothing imported: "));
  CHECK(error.contains("bad.safetensors"));
  const QString other = dir.filePath("notes.txt");
  {
    QFile out(other);
    REQUIRE(out.open(QIODevice::WriteOnly));
    out.write("hello");
  }
  CHECK(!f.w().importWeights(other, &error));
  CHECK(error.contains("not a weights file"));
  CHECK(f.w().model()->page().blockCount() == 0);
  CHECK(f.w().model()->undoStack()->count() == 0);
}

}  // namespace test_editor_import_weights
