#include "editor_bridge/OnnxExportAction.h"

#include <QFileInfo>

#include "onnx/OnnxExport.h"
#include "runtime/Evaluator.h"
#include "runtime/FileIo.h"
#include "runtime/PageJson.h"

namespace qs {

bool exportPageToOnnx(const Page& page, const QString& pageFile, const BlockRegistry& registry,
                      const QString& path, QString* error) {
  Evaluator evaluator(registry);
  feedPlaceholderStandIns(page, evaluator);
  EvalOptions options;
  if (!pageFile.isEmpty()) options.pageDir = QFileInfo(pageFile).absolutePath().toStdString();
  try {
    const EvalReport report = evaluator.evaluate(page, options);
    if (!report.failed.empty()) {
      const BlockId& id = report.failed.front();
      if (error)
        *error =
            QString::fromStdString(errorLine(id, page.find(id)->type, evaluator.state(id)->error) +
                                   "\nNothing exported: every block must evaluate first.");
      return false;
    }
    writeFileAtomically(path.toStdString(),
                        exportOnnx(page, evaluator, {.pageJson = pageToText(page)}));
  } catch (const Error& e) {
    if (error) *error = QString::fromStdString(e.what());
    return false;
  }
  return true;
}

}  // namespace qs
