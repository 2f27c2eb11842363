#pragma once

// The calibrator bake-off for the channel the quantization inspector shows: every calibrator's
// range over the channel's histogram, a table of what each range costs at the block's num_bits
// and narrow_range (the runner's --calibrate table, from the same function), and a button per
// calibrator that applies it to the page.

#include <QWidget>
#include <optional>
#include <vector>

#include "blocks/quant/CalibrationBakeOff.h"
#include "editor_bridge/viewer/ChannelQuantStats.h"

class QLabel;
class QTableWidget;

namespace qs::editor {

class PageModel;
class PlotWidget;
class QuantInspector;

struct BakeOffData {
  QString title;
  Histogram hist;  // the channel's values over [x0, x1]
  double x0 = 0, x1 = 1;
  std::vector<calib::Scored> rows;  // one channel each
};
void paintBakeOff(QPainter& p, const QRectF& rect, const BakeOffData& d);
// Marker colour of the calibrator in row `row` (allMethods() order): the table shows it too.
QColor bakeOffColour(size_t row);

class BakeOffPanel : public QWidget {
  Q_OBJECT
 public:
  enum Column { Name, Min, Max, Mse, SqnrDb, Clipped, Apply, ColumnCount };
  BakeOffPanel(QuantInspector* inspector, QWidget* parent = nullptr);
  // The page that "Apply" edits; without one the buttons are off.
  void setPageModel(PageModel* model) { model_ = model; }

  // Whether the panel is the viewer's current tab. Hidden, it computes nothing (a training run
  // would otherwise score five calibrators at every step nobody looks at) and catches up on the
  // channel it was last asked for when it is shown again.
  void setShown(bool shown);
  bool busy() const { return pending_; }
  int channel() const { return channel_; }
  // The scored calibrators of the shown channel, allMethods() order (empty while computing).
  const std::vector<calib::Scored>& rows() const { return data_.rows; }
  int bestRow() const { return best_; }
  QTableWidget* table() const { return table_; }
  PlotWidget* plot() const { return plot_; }
  QLabel* note() const { return note_; }

 signals:
  void updated();

 private:
  void refresh(int channel);
  void show(uint64_t generation, BakeOffData data, QString error);
  void fillTable();
  void apply(size_t row);
  QString applyRefusal() const;

  QuantInspector* inspector_;
  PageModel* model_ = nullptr;
  uint64_t generation_ = 0;
  bool pending_ = false;
  bool shown_ = false;
  bool stale_ = false;  // asked for a channel while hidden
  int channel_ = -1;
  int best_ = -1;
  BakeOffData data_;
  PlotWidget* plot_ = nullptr;
  QTableWidget* table_ = nullptr;
  QLabel* note_ = nullptr;
};

}  // namespace qs::editor
