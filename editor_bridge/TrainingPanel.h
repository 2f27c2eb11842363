#pragma once

#include <QElapsedTimer>
#include <QTimer>
#include <QWidget>
#include <optional>
#include <vector>

class QCheckBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QPainter;

namespace qs::editor {

class TrainingSeries;

// Exponential smoothing of a series, as TensorBoard's slider does without its debiasing:
// s[0] = v[0], s[i] = weight * s[i-1] + (1 - weight) * v[i]. A NaN value is left out (its s is
// NaN and the next value continues from the last finite s). weight 0 returns the values.
std::vector<double> smoothSeries(const std::vector<double>& values, double weight);

// The plot of the Training panel: every plotted result over the steps, with hover read-out.
class TrainingPlot : public QWidget {
  Q_OBJECT
 public:
  explicit TrainingPlot(const TrainingSeries* series, QWidget* parent = nullptr);
  void setLogY(bool logY);
  void setSmoothing(double weight);
  bool logY() const { return logY_; }
  double smoothing() const { return smoothing_; }
  // Paints the plot into `rect` of any paint device (the widget, a PNG).
  void render(QPainter& p, const QRectF& rect) const;
  // The read-out for a point of the widget: the step nearest to it and every result's value
  // there ("step 12 · loss.result_output = 0.5"). Empty outside the plot or with no steps.
  QString readoutAt(const QPointF& pos) const;
  const QString& hoverText() const { return hover_; }

 signals:
  void hoverChanged(const QString& text);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  struct Frame;
  Frame frame(const QRectF& rect) const;
  std::optional<size_t> stepIndexAt(const Frame& f, double x) const;
  const TrainingSeries* series_;
  bool logY_ = false;
  double smoothing_ = 0;
  QString hover_;
  std::optional<size_t> hoverIndex_;
};

// The Training panel: plots chosen scalar results over the steps of a run (loss, accuracy), with
// a linear or log y axis, optional smoothing, a hover read-out and CSV/PNG export. It reads a
// TrainingSeries and repaints at most ten times a second however fast the steps come.
class TrainingPanel : public QWidget {
  Q_OBJECT
 public:
  explicit TrainingPanel(TrainingSeries* series, QWidget* parent = nullptr);

  TrainingSeries* series() const { return series_; }
  TrainingPlot* plot() const { return plot_; }
  QListWidget* resultList() const { return list_; }
  QCheckBox* logAxisBox() const { return logBox_; }
  QDoubleSpinBox* smoothingBox() const { return smoothBox_; }
  QLabel* readout() const { return readout_; }

  // Export, also behind the buttons; false (and why in `error`) when the file cannot be written.
  bool saveCsv(const QString& path, QString* error = nullptr) const;
  bool savePng(const QString& path, QSize size = {1200, 700}, QString* error = nullptr) const;
  // How often the plot was refreshed for new steps (the throttle's test reads it).
  int refreshCount() const { return refreshes_; }
  static constexpr int kMinRefreshMs = 100;

 private:
  void rebuildList();
  void stepsArrived();
  void refresh();

  TrainingSeries* series_;
  TrainingPlot* plot_ = nullptr;
  QListWidget* list_ = nullptr;
  QCheckBox* logBox_ = nullptr;
  QDoubleSpinBox* smoothBox_ = nullptr;
  QLabel* readout_ = nullptr;
  QLabel* empty_ = nullptr;
  QTimer throttle_;
  QElapsedTimer sinceRefresh_;
  int refreshes_ = 0;
};

}  // namespace qs::editor
