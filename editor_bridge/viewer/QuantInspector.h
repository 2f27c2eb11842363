#pragma once

#include <QAbstractTableModel>
#include <QElapsedTimer>
#include <QWidget>
#include <optional>
#include <vector>

#include "editor_bridge/TrainingSeries.h"
#include "editor_bridge/viewer/ChannelQuantStats.h"
#include "editor_bridge/viewer/QuantPlots.h"
#include "runtime/Tensor.h"

class QLabel;
class QSortFilterProxyModel;
class QSplitter;
class QTableView;

namespace qs::editor {

struct BlockResultsView;
class PlotWidget;

// What the inspector needs from a FakeQuant block: its input, the per-channel (or single) range
// and the attributes.
struct InspectorInput {
  QString blockId;
  QString type;
  Tensor inputs;
  std::vector<float> mins, maxs;  // one entry per channel; one for Vars and Args
  QuantSetup setup;
  std::optional<Tensor> output;  // the block's own quantized output, when it has one
};

// The inspector applies to a FakeQuant* block whose attributes resolved and whose inputs are there
// with fitting shapes. Otherwise returns nullopt and says why in `why` (empty when the block is
// simply not a FakeQuant block).
std::optional<InspectorInput> inspectorInputFor(const BlockResultsView& view, QString* why);

// Why a channel with min > max has no plots (`channel` -1: the whole tensor is one range).
QString reversedRangeMessage(const ChannelQuantStats& s, int channel);

// The per-channel table. Sorting uses Qt::UserRole (the number), display uses the text.
class ChannelTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column {
    Channel,
    Min,
    Max,
    NudgedMin,
    NudgedMax,
    Scale,
    ZeroPoint,
    ClippedBelow,
    ClippedAbove,
    Mse,
    SqnrDb,
    ColumnCount
  };
  using QAbstractTableModel::QAbstractTableModel;
  void setStats(std::vector<ChannelQuantStats> stats);
  const std::vector<ChannelQuantStats>& stats() const { return stats_; }
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
  static double value(const ChannelQuantStats& s, int column);
  // The whole table, every number written so that it reads back exactly.
  QString toCsv() const;

 private:
  std::vector<ChannelQuantStats> stats_;
};

class QuantInspector : public QWidget {
  Q_OBJECT
 public:
  explicit QuantInspector(QWidget* parent = nullptr);

  // Shows new data. The per-channel statistics of a large tensor are computed on a worker thread
  // and applied only if no newer input came in meanwhile; the selected channel is kept.
  void setInput(InspectorInput input);
  void clear(const QString& message = {});
  bool hasInput() const { return input_.has_value(); }
  const std::optional<InspectorInput>& input() const { return input_; }
  // How the block's range was learned, step by step (its min and max are computed from a
  // Variable), or nullopt. Set before setInput(): the input histogram then shows the range's
  // trail and a fifth plot its min and max over the steps.
  void setRangeTrace(std::optional<RangeTrace> trace);
  const std::optional<RangeTrace>& rangeTrace() const { return trace_; }

  // Work still running (statistics or sweep) whose results will change what is shown.
  bool busy() const { return statsPending_ || sweepPending_; }
  bool sweepReady() const { return !sweepPending_ && sweep_.wide.size() == 15; }

  int channelCount() const { return static_cast<int>(model_->stats().size()); }
  int currentChannel() const { return channel_; }
  // Selects the channel's row in the table, which shows its plots.
  void selectChannel(int channel);
  const std::vector<ChannelQuantStats>& channelStats() const { return model_->stats(); }
  const ChannelQuantStats* currentStats() const;
  // The channel new data opens on: the lowest SQNR (NaN first).
  int worstChannel() const;
  const QuantHistogramData& inputHistogram() const { return inHist_; }
  const QuantHistogramData& outputHistogram() const { return outHist_; }
  const SweepData& sweep() const { return sweep_; }

  QTableView* table() const { return table_; }
  QSortFilterProxyModel* proxy() const { return proxy_; }
  ChannelTableModel* model() const { return model_; }
  PlotWidget* inputPlot() const { return inPlot_; }
  PlotWidget* outputPlot() const { return outPlot_; }
  PlotWidget* transferPlot() const { return transferPlot_; }
  PlotWidget* sweepPlot() const { return sweepPlot_; }
  PlotWidget* rangeTracePlot() const { return tracePlot_; }

  bool exportCsv(const QString& path) const;
  // Writes every plot as NAME.png and NAME.svg into `dir`.
  bool exportPlots(const QString& dir, QString* error = nullptr) const;

  // Measured times of the last updates, in milliseconds (shown in the status line).
  double lastStatsMs() const { return lastStatsMs_; }      // input to table shown
  double lastChannelMs() const { return lastChannelMs_; }  // channel switch to plots painted-ready
  double lastSweepMs() const { return lastSweepMs_; }

 signals:
  void statsApplied();
  void channelShown(int channel);
  void sweepFinished();

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void applyStats(uint64_t generation, std::vector<ChannelQuantStats> stats, double ms);
  void fitTableHeight();
  void showChannel(int channel);
  void startSweep(int channel);
  void updateStatus();

  void showRangeTrace(int channel, double* lo, double* hi);
  std::optional<InspectorInput> input_;
  std::optional<RangeTrace> trace_;
  uint64_t generation_ = 0;
  uint64_t sweepGeneration_ = 0;
  bool statsPending_ = false;
  bool sweepPending_ = false;
  int channel_ = -1;
  double lastStatsMs_ = 0, lastChannelMs_ = 0, lastSweepMs_ = 0;
  QElapsedTimer statsClock_;

  QuantHistogramData inHist_, outHist_;
  SweepData sweep_;

  QLabel* status_ = nullptr;
  QTableView* table_ = nullptr;
  QSplitter* split_ = nullptr;
  bool fitTablePending_ = false;
  ChannelTableModel* model_ = nullptr;
  QSortFilterProxyModel* proxy_ = nullptr;
  PlotWidget* inPlot_ = nullptr;
  PlotWidget* outPlot_ = nullptr;
  PlotWidget* transferPlot_ = nullptr;
  PlotWidget* sweepPlot_ = nullptr;
  PlotWidget* tracePlot_ = nullptr;
};

}  // namespace qs::editor
