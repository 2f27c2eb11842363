#pragma once

#include <QStringList>
#include <QWidget>
#include <map>
#include <string>
#include <vector>

#include "runtime/BlockDescriptor.h"
#include "runtime/Evaluator.h"
#include "runtime/Tensor.h"
#include "runtime/TensorStats.h"

class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QTabWidget;
class QTableView;
class QHBoxLayout;

namespace qs::editor {

class PlotWidget;
class QuantInspector;
class BakeOffPanel;
class TrainingSeries;
class SliceTableModel;
struct ValueHistogramData;

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

// The result viewer: statistics, a table, a heatmap and a histogram of one result of a block,
// and, for FakeQuant blocks, the quantization inspector as the first tab.
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

  // ---- Beyond the interface: inspection by tests, the editor and --screenshot ----
  // Selects which output is shown ("output", ...). False if the block has no such output.
  bool selectOutput(const std::string& port);
  std::string currentPort() const { return port_; }
  // True while a message (error, stale, nothing selected) is shown instead of results.
  bool showsMessage() const;
  QString messageText() const;
  // Statistics of the shown result; valid once statsReady().
  const TensorStats& shownStats() const { return stats_; }
  bool statsReady() const { return !statsPending_; }
  // Background work that will still change what is shown (statistics, inspector).
  bool busy() const;
  // Processes events until that work is done, e.g. before --screenshot grabs the window, so that
  // the picture has the statistics and the sweep. False if it took longer than `timeoutMs`.
  bool waitForIdle(int timeoutMs = 60000);
  bool inspectorShown() const;
  void showInspectorTab();
  // The tabs by the names --screenshot --view takes: quantization, values, heatmap, histogram.
  static QStringList viewNames();
  // Shows the named tab. False, saying why in `error`, for an unknown name or a tab the shown
  // result does not have (quantization for a block that is not a FakeQuant op, or any tab while
  // a message is shown instead of results).
  bool showView(const QString& name, QString* error = nullptr);

  QComboBox* outputSelector() const { return outputs_; }
  QTabWidget* tabs() const { return tabs_; }
  QuantInspector* inspector() const { return inspector_; }
  BakeOffPanel* bakeOff() const { return bakeOff_; }
  QTableView* valueTable() const { return table_; }
  QLabel* statsLabel() const { return statsLabel_; }
  const std::vector<QSpinBox*>& sliceSpins() const { return sliceSpins_; }
  PlotWidget* heatmap() const { return heatmap_; }
  PlotWidget* histogram() const { return histogram_; }

  // Export, also behind the buttons. Return false and say why in `error`.
  bool saveNpy(const QString& path, QString* error = nullptr) const;
  // The picture of the current tab (a plot, or the tab's widgets) as PNG.
  bool savePicture(const QString& path, QString* error = nullptr) const;

  // Where a run of steps is recorded: the inspector draws a learned range's trail from it, and
  // the "+ Training" button (enabled for a one-element result) asks to plot the result.
  void setTrainingSeries(const TrainingSeries* series) { training_ = series; }
  QPushButton* plotInTrainingButton() const { return plotTraining_; }

 signals:
  // The shown result changed (another block, output or new values).
  void resultShown(const QString& resultName);
  void plotInTrainingRequested(const QString& resultName);

 private:
  void showMessage(const QString& text);
  void showOutput(const std::string& port);
  void rebuildSliceControls(const Tensor& t);
  void updateSlice();
  void fitValueColumns();
  void applyStats(uint64_t generation, const TensorStats& stats, const ValueHistogramData& hist);
  void updateStatsLabel();
  const Tensor* currentTensor() const;

  BlockResultsView view_;
  bool hasView_ = false;
  std::string port_;
  TensorStats stats_;
  bool statsPending_ = false;
  uint64_t statsGeneration_ = 0;

  QLabel* header_ = nullptr;
  QComboBox* outputs_ = nullptr;
  QPushButton* saveNpy_ = nullptr;
  QPushButton* savePicture_ = nullptr;
  QPushButton* plotTraining_ = nullptr;
  const TrainingSeries* training_ = nullptr;
  QStackedWidget* stack_ = nullptr;
  QLabel* message_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  QuantInspector* inspector_ = nullptr;
  BakeOffPanel* bakeOff_ = nullptr;
  QString inspectorWhy_;  // why the inspector cannot show the current FakeQuant block, if so
  QWidget* valuesTab_ = nullptr;
  QLabel* statsLabel_ = nullptr;
  QWidget* sliceBar_ = nullptr;
  QHBoxLayout* sliceLayout_ = nullptr;
  QLabel* sliceLabel_ = nullptr;
  std::vector<QSpinBox*> sliceSpins_;
  QTableView* table_ = nullptr;
  SliceTableModel* model_ = nullptr;
  PlotWidget* heatmap_ = nullptr;
  PlotWidget* histogram_ = nullptr;
};

}  // namespace qs::editor
