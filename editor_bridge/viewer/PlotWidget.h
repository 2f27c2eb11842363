#pragma once

#include <QString>
#include <QWidget>
#include <functional>
#include <vector>

class QPainter;
class QFontMetricsF;

namespace qs::editor {

// Maps data coordinates into a plot rectangle and draws a frame with ticks, labels and a title.
// Every plot of the viewer paints through one of these, onto any QPaintDevice (screen, PNG, SVG).
class PlotAxes {
 public:
  PlotAxes(const QRectF& outer, double x0, double x1, double y0, double y1);
  void setLabels(QString title, QString xLabel, QString yLabel);
  // Leaves room on the right (for a colour legend).
  void setRightMargin(double px);
  // The y coordinates are log10 of the values: ticks at round values, labelled with the values.
  void setLogY(bool logY) { logY_ = logY; }
  QRectF area() const { return area_; }
  double px(double x) const;
  double py(double y) const;
  double x0() const { return x0_; }
  double x1() const { return x1_; }
  double y0() const { return y0_; }
  double y1() const { return y1_; }
  // Background, grid and ticks: call before the data.
  void drawBackground(QPainter& p) const;
  // Axis lines, labels and title: call after the data so that nothing covers them.
  void drawForeground(QPainter& p) const;

 private:
  void layout();
  int maxXLabelLines() const;
  std::vector<double> xTicks() const;
  std::vector<double> yTicks() const;
  QRectF outer_, area_;
  double x0_, x1_, y0_, y1_;
  double rightMargin_ = 12;
  bool logY_ = false;
  QString title_, xLabel_, yLabel_;
};

// Ticks at 1, 2 or 5 times a power of ten, about `target` of them over [lo, hi], and never fewer
// than three (a single tick says nothing about the scale).
std::vector<double> niceTicks(double lo, double hi, int target);
// Short text for a number on an axis or in a table ("0.125", "1.5e-05", "inf").
QString formatNumber(double v, int precision = 6);
// A count with its noun in correct English: "1 sample", "3 samples".
QString counted(int64_t n, const QString& one, const QString& many);
// How many texts the plots have shortened with "…" since the last reset: a test renders every
// plot and expects none.
int& plotTextCuts();
// `text` elided to `width` of `fm`, counted in plotTextCuts() when it had to be.
QString elidedPlotText(const QString& text, const QFontMetricsF& fm, double width);

// A widget that shows one plot and saves it to PNG or SVG with the same paint function.
class PlotWidget : public QWidget {
  Q_OBJECT
 public:
  using Painter = std::function<void(QPainter&, const QRectF&)>;
  explicit PlotWidget(const QString& name, QWidget* parent = nullptr);

  void setPainter(Painter painter);
  void clearPlot(const QString& message = {});
  bool hasPlot() const { return static_cast<bool>(painter_); }
  // What an empty plot says instead ("No data" when nothing was said).
  const QString& message() const { return message_; }
  const QString& plotName() const { return name_; }

  // Paints the plot (or the message) into `rect` of any paint device.
  void render(QPainter& p, const QRectF& rect) const;
  // An empty size means the widget's size (at least 640 x 400).
  bool savePng(const QString& path, QSize size = {}) const;
  bool saveSvg(const QString& path, QSize size = {}) const;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void contextMenuEvent(QContextMenuEvent* event) override;

 private:
  QSize exportSize(QSize size) const;
  QString name_;
  QString message_;
  Painter painter_;
};

}  // namespace qs::editor
