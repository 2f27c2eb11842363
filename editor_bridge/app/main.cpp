#include <QApplication>
#include <QLabel>

// Placeholder entry point until the editor lands (issue 4): it opens a window saying so.
int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QLabel label("Quant Space editor: under construction. Use quantspace-run for now.");
  label.show();
  return app.exec();
}
