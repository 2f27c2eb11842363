#pragma once

#include <QObject>
#include <QString>
#include <QTimer>
#include <string>

namespace qs::editor {

class MainWindow;

// `quantspace --debug-readout FILE`: keeps FILE a JSON picture of what the window shows, for
// tests that drive the editor from outside the process (tests/xvfb/story_test.py, docs/testing.md).
// It holds the page, the viewer's shown result, the attribute editor's fields, the actions, the
// status bar, any modal dialog, and where palette items, blocks, ports and fields are on the
// screen (global coordinates, so a test can aim real mouse events at them without relying on
// fonts or layout). The file is rewritten (atomically) whenever that picture changes, checked
// every 100 ms; nothing is written without the option.
class DebugReadout : public QObject {
  Q_OBJECT
 public:
  DebugReadout(MainWindow* window, const QString& path);
  // Builds the picture and writes it if it changed; false (and a message on stderr) when the
  // file cannot be written.
  bool update();
  // The picture as JSON text (also for tests inside the process).
  std::string snapshot() const;

 private:
  MainWindow* window_;
  QString path_;
  QTimer timer_;
  std::string last_;
  bool warned_ = false;
};

}  // namespace qs::editor
