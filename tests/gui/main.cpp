#define CATCH_CONFIG_RUNNER
#include <QApplication>
#include <catch2/catch.hpp>

// GUI tests drive real widgets; they need one QApplication for the whole run. Without a display
// they run on the offscreen platform.
int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  return Catch::Session().run(argc, argv);
}
