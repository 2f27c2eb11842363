#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QTimer>
#include <cstdio>

#include "blocks/RegisterBlocks.h"
#include "editor_bridge/DebugReadout.h"
#include "editor_bridge/MainWindow.h"
#include "editor_bridge/PageModel.h"
#include "editor_bridge/PageView.h"
#include "editor_bridge/TrainingController.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/ResultNames.h"

namespace {

// --screenshot, --help and --version must work without a display: choose the offscreen platform
// before Qt starts. Returns false (after saying what to do instead) when the editor cannot start.
bool choosePlatform(int argc, char** argv) {
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
    return false;
  }
  return true;
}

// The command line, once parsed; each "has" flag says whether the option was given.
struct EditorOptions {
  QStringList pages;
  bool hasScreenshot = false;
  QString screenshot;  // OUT.png
  bool hasInspect = false;
  QString inspect;  // B.result_P
  bool hasSize = false;
  QString size;  // WxH
  bool hasView = false;
  QString view;              // a TensorViewer tab
  int64_t trainSteps = 0;    // --train-steps N (with --screenshot)
  QStringList showTraining;  // --show-training B.result_P,...
  QString debugReadout;      // FILE, or empty
};

// Parses and checks the command line (--help and --version print and exit inside). Returns 0 to
// go on, otherwise the exit status after the message.
int parseOptions(const QApplication& app, EditorOptions* opts) {
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
  QCommandLineOption trainOpt(
      "train-steps",
      "With --screenshot: take N steps of the page (as quantspace-run --steps N) before the "
      "picture, so that the Training panel and the inspector show the run.",
      "N");
  QCommandLineOption showTrainingOpt(
      "show-training",
      "Plot these one-element results in the Training panel (comma-separated B.result_P).",
      "RESULTS");
  parser.addOption(trainOpt);
  parser.addOption(showTrainingOpt);
  QCommandLineOption readoutOpt(
      "debug-readout",
      "Keep FILE a JSON picture of the window (page, shown result, widget positions), for tests "
      "that drive the editor from outside (docs/testing.md).",
      "FILE");
  parser.addOption(readoutOpt);
  parser.addPositionalArgument("PAGE", "A page file (*.page.json) to open.");
  parser.process(app);
  opts->pages = parser.positionalArguments();
  opts->hasScreenshot = parser.isSet(shotOpt);
  opts->screenshot = parser.value(shotOpt);
  opts->hasInspect = parser.isSet(inspectOpt);
  opts->inspect = parser.value(inspectOpt);
  opts->hasSize = parser.isSet(sizeOpt);
  opts->size = parser.value(sizeOpt);
  opts->hasView = parser.isSet(viewOpt);
  opts->view = parser.value(viewOpt);
  if (parser.isSet(showTrainingOpt))
    opts->showTraining = parser.value(showTrainingOpt).split(',', Qt::SkipEmptyParts);
  if (parser.isSet(trainOpt)) {
    bool ok = false;
    opts->trainSteps = parser.value(trainOpt).toLongLong(&ok);
    if (!ok || opts->trainSteps < 0) {
      std::fprintf(stderr,
                   "quantspace: --train-steps takes a whole number of at least 0, not '%s'\n",
                   qPrintable(parser.value(trainOpt)));
      return 2;
    }
    if (!parser.isSet(shotOpt)) {
      std::fprintf(stderr, "quantspace: --train-steps is an option of --screenshot\n");
      return 2;
    }
  }
  opts->debugReadout = parser.value(readoutOpt);
  if (opts->pages.size() > 1) {
    std::fprintf(stderr, "quantspace: give at most one page file\n");
    return 2;
  }

  if (opts->hasView && !opts->hasScreenshot) {
    std::fprintf(stderr, "quantspace: --view is an option of --screenshot\n");
    return 2;
  }
  if (opts->hasView && !qs::editor::TensorViewer::viewNames().contains(opts->view)) {
    std::fprintf(stderr, "quantspace: --view must be one of %s, got '%s'\n",
                 qPrintable(qs::editor::TensorViewer::viewNames().join(", ")),
                 qPrintable(opts->view));
    return 2;
  }
  return 0;
}

// --size WxH, or the default 1600x1000; false (after the message) when it is out of range.
bool screenshotSize(const EditorOptions& opts, QSize* size) {
  *size = QSize(1600, 1000);
  if (!opts.hasSize) return true;
  const QStringList wh = opts.size.toLower().split('x');
  bool okW = false, okH = false;
  if (wh.size() == 2) *size = QSize(wh[0].toInt(&okW), wh[1].toInt(&okH));
  if (!okW || !okH || size->width() < 200 || size->height() < 150 || size->width() > 10000 ||
      size->height() > 10000) {
    std::fprintf(stderr,
                 "quantspace: --size must be WxH between 200x150 and 10000x10000, got '%s'\n",
                 qPrintable(opts.size));
    return false;
  }
  return true;
}

// The first result: the first block in page order that produced one (empty if none did).
QString firstResultName(qs::editor::MainWindow& window) {
  for (const qs::Block& b : window.model()->page().blocks()) {
    auto it = window.results().find(b.id);
    if (it != window.results().end() && !it->second.outputs.empty())
      return QString::fromStdString(b.id.str() + ".result_" + it->second.outputs.begin()->first);
  }
  return QString();
}

// Shows the result and viewer tab the picture is of. Returns 0, or the exit status after the
// message.
int showScreenshotResult(qs::editor::MainWindow& window, const EditorOptions& opts) {
  QString error;
  QString result = opts.inspect;
  if (result.isEmpty()) result = firstResultName(window);
  if (!result.isEmpty() && !window.inspect(result, &error)) {
    std::fprintf(stderr, "quantspace: %s\n", qPrintable(error));
    return 1;
  }
  // A FakeQuant result named with --inspect opens the quantization inspector.
  if (opts.hasView) {
    if (!window.viewer()->showView(opts.view, &error)) {
      std::fprintf(stderr, "quantspace: --view %s: %s\n", qPrintable(opts.view), qPrintable(error));
      return 1;
    }
  } else if (opts.hasInspect) {
    window.viewer()->showInspectorTab();
  }
  return 0;
}

// Plots --show-training's results. Returns 0, or the exit status after the message.
int showTrainingResults(qs::editor::MainWindow& window, const EditorOptions& opts) {
  for (const QString& name : opts.showTraining) {
    QString error;
    if (!window.addToTraining(name.trimmed(), &error)) {
      std::fprintf(stderr, "quantspace: --show-training %s: %s\n", qPrintable(name),
                   qPrintable(error));
      return 2;
    }
  }
  return 0;
}

// --train-steps N: the editor's own Train, as the user's Run > Train N steps: the Training
// panel, the inspector's trace and the status bar show those steps. Returns 0, or the exit status.
int trainForScreenshot(qs::editor::MainWindow& window, const EditorOptions& opts) {
  if (const int status = showTrainingResults(window, opts)) return status;
  if (opts.trainSteps == 0) return 0;
  qs::editor::TrainingController* training = window.training();
  QString lastMessage;
  QObject::connect(training, &qs::editor::TrainingController::message,
                   [&lastMessage](const QString& text) { lastMessage = text; });
  training->train(opts.trainSteps);
  // Generous: the pages this renders train in seconds; a stuck worker must not hang a script.
  const bool idle = training->waitIdle(600000);
  if (!idle || training->stepCount() < opts.trainSteps) {
    std::fprintf(stderr, "quantspace: --train-steps: %lld of %lld steps taken%s%s\n",
                 static_cast<long long>(training->stepCount()),
                 static_cast<long long>(opts.trainSteps), lastMessage.isEmpty() ? "" : ": ",
                 qPrintable(lastMessage));
    return 1;
  }
  return 0;
}

// Lets the viewer and the canvas settle so that the picture shows finished views.
void settleForScreenshot(qs::editor::MainWindow& window) {
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
}

// quantspace --screenshot: opens the page, evaluates it, writes the picture; the exit status.
int runScreenshot(qs::editor::MainWindow& window, const EditorOptions& opts) {
  if (opts.pages.isEmpty()) {
    std::fprintf(stderr, "quantspace: --screenshot needs a PAGE\n");
    return 2;
  }
  QSize size;
  if (!screenshotSize(opts, &size)) return 2;
  QString error;
  if (!window.openPage(opts.pages.front(), &error)) {
    std::fprintf(stderr, "quantspace: cannot open page: %s\n", qPrintable(error));
    return 2;
  }
  // A result that the page does not have is a mistake on the command line, like a bad --size.
  if (opts.hasInspect) {
    const std::string problem = qs::resultNameProblem(window.model()->page(), qs::builtinRegistry(),
                                                      opts.inspect.toStdString());
    if (!problem.empty()) {
      std::fprintf(stderr, "quantspace: --inspect %s: %s\n", qPrintable(opts.inspect),
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
  if (const int status = trainForScreenshot(window, opts)) return status;
  if (const int status = showScreenshotResult(window, opts)) return status;
  settleForScreenshot(window);
  const QImage image = window.grab().toImage();
  if (!image.save(opts.screenshot)) {
    std::fprintf(stderr, "quantspace: cannot write %s\n", qPrintable(opts.screenshot));
    return 1;
  }
  return 0;
}

// The interactive editor, with the page if one was given; the exit status.
int runEditor(QApplication& app, qs::editor::MainWindow& window, const EditorOptions& opts) {
  if (!opts.debugReadout.isEmpty()) new qs::editor::DebugReadout(&window, opts.debugReadout);
  window.show();
  if (!opts.pages.isEmpty()) {
    QString error;
    if (!window.openPage(opts.pages.front(), &error))
      std::fprintf(stderr, "quantspace: cannot open page: %s\n", qPrintable(error));
    else if (const int status = showTrainingResults(window, opts))
      return status;
  }
  // After a crash, offer what the autosave kept (once the window is up, so the dialog has a
  // parent).
  QTimer::singleShot(0, &window, [&window] { window.offerRecovery(); });
  return app.exec();
}

}  // namespace

// quantspace [PAGE]
// quantspace --screenshot OUT.png [--inspect B.result_P] [--size WxH] [--view TAB]
//            [--train-steps N] [--show-training B.result_P,...] PAGE
// (docs/formats.md; --view picks the viewer tab in the picture)
int main(int argc, char** argv) {
  if (!choosePlatform(argc, argv)) return 1;

  QApplication app(argc, argv);
  QApplication::setOrganizationName("QuantSpace");
  QApplication::setApplicationName("quantspace");
  QApplication::setApplicationVersion("0.1.0");

  EditorOptions opts;
  if (const int status = parseOptions(app, &opts)) return status;

  qs::editor::MainWindow window(qs::builtinRegistry());
  if (opts.hasScreenshot) return runScreenshot(window, opts);
  return runEditor(app, window, opts);
}
