// editor_bridge/viewer/TensorViewer.h
#pragma once
#include <QWidget>
#include <map>
#include <string>
#include "runtime/BlockDescriptor.h"
#include "runtime/Evaluator.h"
#include "runtime/Tensor.h"
namespace qs::editor {
// Everything the viewer may show about one block.
struct BlockResultsView {
  QString blockId;
  QString type;
  qs::BlockStatus status = qs::BlockStatus::Stale;
  QString error;
  qs::AttrValues attrs;                       // resolved attributes (empty if they were invalid)
  std::map<std::string, qs::Tensor> inputs;   // tensors on the block's input ports, by port
  std::map<std::string, qs::Tensor> outputs;  // results by output port
};
class TensorViewer : public QWidget {
  Q_OBJECT
 public:
  explicit TensorViewer(QWidget* parent = nullptr);
  // Shows the block; `port` selects the output shown first (empty: the first output).
  void showBlock(const BlockResultsView& view, const std::string& port = {});
  void clear();
  // "fq.result_output", or empty when nothing is shown.
  QString currentResultName() const;
  // The values of the shown result, as the table shows them (for tests).
  std::vector<float> shownValues() const;
};
}  // namespace qs::editor
