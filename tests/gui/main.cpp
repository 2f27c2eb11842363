#define CATCH_CONFIG_RUNNER
#include <QApplication>
#include <QTemporaryDir>
#include <catch2/catch.hpp>

// GUI tests drive real widgets; they need one QApplication for the whole run. Without a display
// they run on the offscreen platform.
int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  // The editor keeps settings (snap to grid, recent files) in the user's configuration folder.
  // CTest runs test processes side by side, so a shared folder let one test's snap move another's
  // drag: each process, and the editors it starts, get a folder of their own, empty at the start
  // as on a first start. Set before anything reads a setting.
  QTemporaryDir configDir;
  if (!configDir.isValid()) return 2;
  qputenv("XDG_CONFIG_HOME", configDir.path().toUtf8());
  QApplication app(argc, argv);
  return Catch::Session().run(argc, argv);
}
