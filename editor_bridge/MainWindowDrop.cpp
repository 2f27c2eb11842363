// Files dropped on the editor open the page they came from (docs/formats.md, "Provenance").

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QMimeData>
#include <QStatusBar>

#include "editor_bridge/MainWindow.h"
#include "runtime/Error.h"
#include "runtime/Provenance.h"

namespace qs::editor {

namespace {
constexpr int kMessageMs = 15000;

// Pages and exported models open as File > Open opens them; everything else is asked for the
// page it carries.
bool opensAsPageFile(const QString& path) {
  return path.endsWith(".json", Qt::CaseInsensitive) || path.endsWith(".onnx", Qt::CaseInsensitive);
}
}  // namespace

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls())
    event->acceptProposedAction();
  else
    QMainWindow::dragEnterEvent(event);
}

void MainWindow::dropEvent(QDropEvent* event) {
  if (!event->mimeData()->hasUrls()) return QMainWindow::dropEvent(event);
  event->acceptProposedAction();
  openDroppedFiles(event->mimeData()->urls());
}

bool MainWindow::openDroppedFiles(const QList<QUrl>& urls) {
  QString path;
  QStringList others;  // the window holds one page: the rest are named, not dropped silently
  for (const QUrl& url : urls) {
    if (path.isEmpty() && url.isLocalFile())
      path = url.toLocalFile();
    else
      others << (url.isLocalFile() ? QFileInfo(url.toLocalFile()).fileName()
                                   : url.toDisplayString());
  }
  if (path.isEmpty()) {
    statusBar()->showMessage(tr("Nothing to open: only local files can be dropped"), kMessageMs);
    return false;
  }
  statusBar()->clearMessage();
  const bool opened = openDroppedFile(path);
  if (others.isEmpty()) return opened;
  QString lead = statusBar()->currentMessage();
  if (lead.isEmpty())
    lead = (opened ? tr("Opened %1") : tr("%1 not opened")).arg(QFileInfo(path).fileName());
  statusBar()->showMessage(tr("%1 · Not opened: %2 (one page at a time: drop them one by one)")
                               .arg(lead, others.join(QStringLiteral(", "))),
                           kMessageMs);
  return opened;
}

bool MainWindow::openDroppedFile(const QString& path) {
  const QString name = QFileInfo(path).fileName();
  if (opensAsPageFile(path)) {
    if (!maybeSave()) return false;
    QString error;
    if (openPage(path, &error)) return true;
    statusBar()->showMessage(error, kMessageMs);
    return false;
  }
  std::optional<LoadedPage> loaded;
  try {
    loaded = carriedPage(path.toStdString());
  } catch (const Error& e) {
    statusBar()->showMessage(QString::fromStdString(e.what()), kMessageMs);
    return false;
  }
  if (!loaded) {
    statusBar()->showMessage(
        tr("%1 carries no page: only pages, exported .onnx models, state files and --save-npy "
           "folders saved by Quant Space open the page they came from")
            .arg(name),
        kMessageMs);
    return false;
  }
  if (!maybeSave()) return false;
  // A new, unsaved page: Save asks where, rather than writing over anything.
  showLoadedPage(std::move(*loaded), QString());
  // A state file's values belong to the page just opened: load them too, as Load State would.
  if (path.endsWith(".npz", Qt::CaseInsensitive)) {
    QString error;
    if (!training_->loadState(path, &error)) {
      statusBar()->showMessage(tr("Opened the page of %1, but %2").arg(name, error), kMessageMs);
      return true;
    }
    statusBar()->showMessage(tr("Opened the page of %1 and loaded its state").arg(name),
                             kMessageMs);
    return true;
  }
  statusBar()->showMessage(tr("Opened the page of %1").arg(name), kMessageMs);
  return true;
}

}  // namespace qs::editor
