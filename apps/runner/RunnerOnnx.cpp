#include "apps/runner/RunnerOnnx.h"

#include <ostream>

#include "onnx/OnnxExport.h"
#include "runtime/FileIo.h"
#include "runtime/PageJson.h"

namespace qs {

int writeOnnxExport(const std::string& path, const Page& page, const Evaluator& evaluator,
                    const std::vector<std::string>& fetch, std::ostream& err) {
  std::string bytes;
  try {
    bytes = exportOnnx(page, evaluator, {.fetch = fetch, .pageJson = pageToText(page)});
  } catch (const OnnxExportError& e) {
    err << e.what() << "\n";
    return 1;
  } catch (const Error& e) {
    err << "error: --export-onnx: " << e.what() << "\n";
    return 1;
  }
  try {
    writeFileAtomically(path, bytes);
  } catch (const Error& e) {
    err << "error: --export-onnx: " << e.what() << "\n";
    return 2;
  }
  err << "note: wrote " << path << " (" << bytes.size() << " bytes)\n";
  return 0;
}

}  // namespace qs
