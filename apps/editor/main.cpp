#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QTimer>
#include <cstdio>

#include "blocks/RegisterBlocks.h"
#include "editor_bridge/MainWindow.h"
#include "editor_bridge/PageModel.h"
#include "editor_bridge/PageView.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/ResultNames.h"

// quantspace [PAGE]
// quantspace --screenshot OUT.png [--inspect B.result_P] [--size WxH] [--view TAB] PAGE
// (docs/formats.md; --view picks the viewer tab in the picture)
int main(int argc, char** argv) {
  // --screenshot must work without a display: choose the offscreen platform before Qt starts.
  bool screenshot = false;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--screenshot") screenshot = true;
  bool infoOnly = false;  // --help / --version print and exit: no window needed
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h" || a == "--help-all" || a == "--version" || a == "-v")
      infoOnly = true;
  }
  const bool noDisplay = qEnvironmentVariableIsEmpty("DISPLAY") &&
                         qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
                         qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM");
  if ((screenshot || infoOnly) && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  else if (noDisplay) {
    // Without this, Qt aborts with a message about platform plugins that does not say what to do.
    std::fprintf(stderr,
                 "quantspace: no display (DISPLAY and WAYLAND_DISPLAY are not set).\n"
                 "  To evaluate a page headless: quantspace-run PAGE\n"
                 "  To render the editor to a picture: quantspace --screenshot OUT.png PAGE\n");
    return 1;
  }

  QApplication app(argc, argv);
  QApplication::setOrganizationName("QuantSpace");
  QApplication::setApplicationName("quantspace");
  QApplication::setApplicationVersion("0.1.0");

  QCommandLineParser parser;
  parser.setApplicationDescription("Quant Space: an editor for TensorFlow op blocks");
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption shotOpt("screenshot", "Render the window to OUT.png and exit.", "OUT.png");
  QCommandLineOption inspectOpt("inspect", "Result to show in the viewer (B.result_P).", "RESULT");
  QCommandLineOption sizeOpt("size", "Window size for --screenshot (default 1600x1000).", "WxH");
  QCommandLineOption viewOpt(
      "view",
      "With --screenshot: the result viewer's tab in the picture: " +
          qs::editor::TensorViewer::viewNames().join(", ") +
          " (quantization only for a FakeQuant block's result). Default: quantization for a "
          "FakeQuant result named with --inspect, otherwise the viewer's first tab.",
      "TAB");
  parser.addOption(shotOpt);
  parser.addOption(inspectOpt);
  parser.addOption(sizeOpt);
  parser.addOption(viewOpt);
  parser.addPositionalArgument("PAGE", "A page file (*.page.json) to open.");
  parser.process(app);
  const QStringList args = parser.positionalArguments();
  if (args.size() > 1) {
    std::fprintf(stderr, "quantspace: give at most one page file\n");
    return 2;
  }

  if (parser.isSet(viewOpt) && !parser.isSet(shotOpt)) {
    std::fprintf(stderr, "quantspace: --view is an option of --screenshot\n");
    return 2;
  }
  if (parser.isSet(viewOpt) &&
      !qs::editor::TensorViewer::viewNames().contains(parser.value(viewOpt))) {
    std::fprintf(stderr, "quantspace: --view must be one of %s, got '%s'\n",
                 qPrintable(qs::editor::TensorViewer::viewNames().join(", ")),
                 qPrintable(parser.value(viewOpt)));
    return 2;
  }

  qs::editor::MainWindow window(qs::builtinRegistry());

  if (parser.isSet(shotOpt)) {
    if (args.isEmpty()) {
      std::fprintf(stderr, "quantspace: --screenshot needs a PAGE\n");
      return 2;
    }
    QSize size(1600, 1000);
    if (parser.isSet(sizeOpt)) {
      const QStringList wh = parser.value(sizeOpt).toLower().split('x');
      bool okW = false, okH = false;
      if (wh.size() == 2) size = QSize(wh[0].toInt(&okW), wh[1].toInt(&okH));
      if (!okW || !okH || size.width() < 200 || size.height() < 150 || size.width() > 10000 ||
          size.height() > 10000) {
        std::fprintf(stderr,
                     "quantspace: --size must be WxH between 200x150 and 10000x10000, got '%s'\n",
                     qPrintable(parser.value(sizeOpt)));
        return 2;
      }
    }
    QString error;
    if (!window.openPage(args.front(), &error)) {
      std::fprintf(stderr, "quantspace: cannot open page: %s\n", qPrintable(error));
      return 2;
    }
    // A result that the page does not have is a mistake on the command line, like a bad --size.
    if (parser.isSet(inspectOpt)) {
      const std::string problem = qs::resultNameProblem(
          window.model()->page(), qs::builtinRegistry(), parser.value(inspectOpt).toStdString());
      if (!problem.empty()) {
        std::fprintf(stderr, "quantspace: --inspect %s: %s\n", qPrintable(parser.value(inspectOpt)),
                     problem.c_str());
        return 2;
      }
    }
    window.resize(size);
    window.arrangeDocks();
    window.show();
    QApplication::processEvents();
    if (!window.waitForEvaluation(120000)) {
      std::fprintf(stderr, "quantspace: evaluation did not finish within 120 s\n");
      return 1;
    }
    QString result = parser.value(inspectOpt);
    if (result.isEmpty()) {
      // The first result: the first block in page order that produced one.
      for (const qs::Block& b : window.model()->page().blocks()) {
        auto it = window.results().find(b.id);
        if (it != window.results().end() && !it->second.outputs.empty()) {
          result =
              QString::fromStdString(b.id.str() + ".result_" + it->second.outputs.begin()->first);
          break;
        }
      }
    }
    if (!result.isEmpty() && !window.inspect(result, &error)) {
      std::fprintf(stderr, "quantspace: %s\n", qPrintable(error));
      return 1;
    }
    // A FakeQuant result named with --inspect opens the quantization inspector.
    if (parser.isSet(viewOpt)) {
      if (!window.viewer()->showView(parser.value(viewOpt), &error)) {
        std::fprintf(stderr, "quantspace: --view %s: %s\n", qPrintable(parser.value(viewOpt)),
                     qPrintable(error));
        return 1;
      }
    } else if (parser.isSet(inspectOpt)) {
      window.viewer()->showInspectorTab();
    }
    window.view()->fitPage();
    // The viewer computes large statistics and the inspector's bit sweep on worker threads: let
    // them finish so that the picture shows them.
    window.viewer()->waitForIdle();
    QApplication::processEvents();
    // The viewer computes statistics and the inspector's sweep off the UI thread: wait for them
    // so that the picture shows finished views.
    if (!window.viewer()->waitForIdle(120000))
      std::fprintf(stderr, "quantspace: the viewer was still busy after 120 s\n");
    QApplication::processEvents();
    // The viewer's finished views can change the docks' sizes and so the canvas: fit once more.
    window.view()->fitPage();
    QApplication::processEvents();
    const QImage image = window.grab().toImage();
    if (!image.save(parser.value(shotOpt))) {
      std::fprintf(stderr, "quantspace: cannot write %s\n", qPrintable(parser.value(shotOpt)));
      return 1;
    }
    return 0;
  }

  window.show();
  if (!args.isEmpty()) {
    QString error;
    if (!window.openPage(args.front(), &error))
      std::fprintf(stderr, "quantspace: cannot open page: %s\n", qPrintable(error));
  }
  // After a crash, offer what the autosave kept (once the window is up, so the dialog has a
  // parent).
  QTimer::singleShot(0, &window, [&window] { window.offerRecovery(); });
  return app.exec();
}
