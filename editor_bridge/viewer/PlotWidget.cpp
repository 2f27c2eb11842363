#include "editor_bridge/viewer/PlotWidget.h"

#include <QContextMenuEvent>
#include <QFileDialog>
#include <QImage>
#include <QMenu>
#include <QMessageBox>
#include <QPainter>
#include <QSvgGenerator>
#include <cmath>

namespace qs::editor {

std::vector<double> niceTicks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(hi > lo) || target < 1) return ticks;
  const double raw = (hi - lo) / std::max(target, 2);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  int m = 0;  // index into the mantissas 1, 2, 5
  const double mantissa[] = {1.0, 2.0, 5.0};
  while (m < 2 && mantissa[m] * mag < raw) ++m;
  if (mantissa[m] * mag < raw) m = 0, mag *= 10;
  for (int round = 0; round < 12; ++round) {
    const double step = mantissa[m] * mag;
    // A span too narrow for its magnitude (1e9 to 1e9 + 1e-7) has no finer steps to offer.
    if (step <= (std::abs(lo) + std::abs(hi)) * 1e-12) break;
    ticks.clear();
    // Multiples of the step, counted in whole steps so that no error accumulates.
    const double first = std::ceil(lo / step - 1e-9);
    for (double k = first; k * step <= hi + step * 1e-9 && ticks.size() < 100; k += 1) {
      const double t = k * step;
      ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    }
    if (ticks.size() >= 3) return ticks;
    // One step down the 1-2-5 ladder.
    if (m == 0) {
      m = 2;
      mag /= 10;
    } else {
      --m;
    }
  }
  return ticks;
}

QString counted(int64_t n, const QString& one, const QString& many) {
  return QString::number(n) + QLatin1Char(' ') + (n == 1 ? one : many);
}

int& plotTextCuts() {
  static int cuts = 0;
  return cuts;
}

QString elidedPlotText(const QString& text, const QFontMetricsF& fm, double width) {
  const QString out = fm.elidedText(text, Qt::ElideRight, width);
  if (out != text) ++plotTextCuts();
  return out;
}

QString formatNumber(double v, int precision) {
  if (std::isnan(v)) return QStringLiteral("nan");
  if (std::isinf(v)) return v > 0 ? QStringLiteral("inf") : QStringLiteral("-inf");
  return QString::number(v, 'g', precision);
}

namespace {

constexpr double kAxisFontPt = 8.5;
constexpr double kLeftMargin = 54;

// Splits an axis caption made of " · "-separated parts into at most `maxLines` lines that fit
// `width` (the last line elided if it still does not), so that a narrow plot keeps its numbers
// readable instead of cutting them off.
QStringList wrapCaption(const QString& text, const QFontMetricsF& fm, double width, int maxLines) {
  const QString sep = QStringLiteral(" · ");
  QStringList lines;
  for (const QString& part : text.split(sep)) {
    if (!lines.isEmpty() && fm.horizontalAdvance(lines.back() + sep + part) <= width) {
      lines.back() += sep + part;
    } else if (static_cast<int>(lines.size()) < maxLines) {
      lines.push_back(part);
    } else {
      lines.back() += sep + part;
    }
  }
  for (QString& line : lines) line = elidedPlotText(line, fm, width);
  return lines;
}

QFont axisFont(QFont font) {
  font.setPointSizeF(kAxisFontPt);
  return font;
}

}  // namespace

PlotAxes::PlotAxes(const QRectF& outer, double x0, double x1, double y0, double y1)
    : outer_(outer), x0_(x0), x1_(x1), y0_(y0), y1_(y1) {
  // A degenerate channel (NaN range, min > max) still gets sane axes.
  if (!std::isfinite(x0_)) x0_ = 0;
  if (!std::isfinite(y0_)) y0_ = 0;
  if (!std::isfinite(x1_) || !(x1_ > x0_)) x1_ = x0_ + 1;
  if (!std::isfinite(y1_) || !(y1_ > y0_)) y1_ = y0_ + 1;
  layout();
}

void PlotAxes::setLabels(QString title, QString xLabel, QString yLabel) {
  title_ = std::move(title);
  xLabel_ = std::move(xLabel);
  yLabel_ = std::move(yLabel);
  layout();
}

void PlotAxes::setRightMargin(double px) {
  rightMargin_ = px;
  layout();
}

void PlotAxes::layout() {
  const double top = title_.isEmpty() ? 10 : 28;
  double bottom = 26;
  if (!xLabel_.isEmpty()) {
    // Laid out with the application font; drawForeground() wraps with the painter's, which only
    // differs for exports to other resolutions, where the room of one line is enough slack.
    const QFontMetricsF fm(axisFont(QFont()));
    const double width = outer_.width() - kLeftMargin - 4;
    const auto lines = wrapCaption(xLabel_, fm, width, maxXLabelLines()).size();
    bottom = 28 + static_cast<double>(lines) * fm.height();
  }
  area_ = outer_.adjusted(kLeftMargin, top, -rightMargin_, -bottom);
  if (area_.width() < 10) area_.setWidth(10);
  if (area_.height() < 10) area_.setHeight(10);
}

// As many caption lines as its parts need (each part on a line of its own at worst), while the
// plot keeps room for its data.
int PlotAxes::maxXLabelLines() const {
  return outer_.height() >= 160 ? 4 : 3;
}

// About one tick per 70 px across and per 36 px up: enough to read a value off a small plot.
// Fewer ticks where their labels would not fit side by side, so that none is skipped.
std::vector<double> PlotAxes::xTicks() const {
  const QFontMetricsF fm(axisFont(QFont()));
  std::vector<double> ticks;
  for (int target = std::max(2, static_cast<int>(area_.width() / 70)); target >= 2; --target) {
    ticks = niceTicks(x0_, x1_, target);
    double widest = 0;
    for (double t : ticks) widest = std::max(widest, fm.horizontalAdvance(formatNumber(t, 4)));
    if (static_cast<double>(ticks.size()) * (widest + 8) <= area_.width()) break;
  }
  return ticks;
}

std::vector<double> PlotAxes::yTicks() const {
  const int target = std::max(2, static_cast<int>(area_.height() / 36));
  // Whole decades when there are at least two; a narrower log axis keeps the plain ticks (their
  // labels still show the values).
  if (logY_ && std::floor(y1_) - std::ceil(y0_) >= 1) {
    std::vector<double> ticks = niceTicks(y0_, y1_, target);
    std::erase_if(ticks, [](double t) { return t != std::floor(t); });
    if (ticks.size() >= 2) return ticks;
  }
  return niceTicks(y0_, y1_, target);
}

double PlotAxes::px(double x) const {
  return area_.left() + (x - x0_) / (x1_ - x0_) * area_.width();
}

double PlotAxes::py(double y) const {
  return area_.bottom() - (y - y0_) / (y1_ - y0_) * area_.height();
}

void PlotAxes::drawBackground(QPainter& p) const {
  p.save();
  p.fillRect(outer_, Qt::white);
  p.setPen(QPen(QColor(232, 232, 232), 1));
  for (double t : xTicks()) {
    p.drawLine(QPointF(px(t), area_.top()), QPointF(px(t), area_.bottom()));
  }
  for (double t : yTicks()) {
    p.drawLine(QPointF(area_.left(), py(t)), QPointF(area_.right(), py(t)));
  }
  p.restore();
}

void PlotAxes::drawForeground(QPainter& p) const {
  p.save();
  const QFont font = axisFont(p.font());
  p.setFont(font);
  const QFontMetricsF fm(font);
  p.setPen(QPen(QColor(60, 60, 60), 1));
  p.setBrush(Qt::NoBrush);
  p.drawRect(area_);
  // Ticks, skipping labels that would overlap the previous one.
  double lastRight = -1e9;
  for (double t : xTicks()) {
    const double x = px(t);
    p.drawLine(QPointF(x, area_.bottom()), QPointF(x, area_.bottom() + 4));
    const QString s = formatNumber(t, 4);
    const double w = fm.horizontalAdvance(s);
    if (x - w / 2 > lastRight + 6) {
      p.drawText(QRectF(x - w / 2 - 2, area_.bottom() + 5, w + 4, fm.height()), Qt::AlignCenter, s);
      lastRight = x + w / 2;
    }
  }
  for (double t : yTicks()) {
    const double y = py(t);
    p.drawLine(QPointF(area_.left() - 4, y), QPointF(area_.left(), y));
    p.drawText(
        QRectF(outer_.left(), y - fm.height() / 2, area_.left() - outer_.left() - 6, fm.height()),
        Qt::AlignRight | Qt::AlignVCenter,
        formatNumber(logY_ ? std::pow(10.0, t) : t, logY_ ? 3 : 4));
  }
  if (!xLabel_.isEmpty()) {
    const double w = outer_.right() - area_.left() - 4;
    const QStringList lines = wrapCaption(xLabel_, fm, w, maxXLabelLines());
    double y = area_.bottom() + 6 + fm.height();
    for (const QString& line : lines) {
      p.drawText(QRectF(area_.left(), y, w, fm.height()),
                 (fm.horizontalAdvance(line) > area_.width() ? Qt::AlignLeft : Qt::AlignHCenter) |
                     Qt::AlignVCenter,
                 line);
      y += fm.height();
    }
  }
  if (!yLabel_.isEmpty()) {
    // Beside the plot area; where a short plot leaves it too little room, as near the area's
    // middle as the left edge allows from under the title to the bottom (the tick labels stand to
    // its right), elided only if even that is too short.
    double top = area_.top(), bottom = area_.bottom();
    const double want = fm.horizontalAdvance(yLabel_) + 4;
    if (want > area_.height()) {
      const double minTop = outer_.top() + 24, maxBottom = outer_.bottom() - 4;
      top = std::max(minTop, area_.center().y() - want / 2);
      bottom = std::min(maxBottom, top + want);
      top = std::max(minTop, bottom - want);
    }
    const double h = bottom - top;
    p.save();
    p.translate(outer_.left() + fm.height() * 0.2, (top + bottom) / 2);
    p.rotate(-90);
    p.drawText(QRectF(-h / 2, 0, h, fm.height()), Qt::AlignCenter, elidedPlotText(yLabel_, fm, h));
    p.restore();
  }
  if (!title_.isEmpty()) {
    QFont tf = font;
    tf.setPointSizeF(9.5);
    tf.setBold(true);
    p.setFont(tf);
    p.setPen(QColor(25, 25, 25));
    p.drawText(QRectF(outer_.left() + 8, outer_.top() + 4, outer_.width() - 16, 20),
               Qt::AlignLeft | Qt::AlignVCenter,
               elidedPlotText(title_, QFontMetricsF(tf), outer_.width() - 16));
  }
  p.restore();
}

PlotWidget::PlotWidget(const QString& name, QWidget* parent) : QWidget(parent), name_(name) {
  setObjectName(name);
  // Small enough that the inspector's 2 x 2 plots fit a 1000 x 700 window.
  setMinimumSize(200, 120);
  setContextMenuPolicy(Qt::DefaultContextMenu);
  setToolTip(tr("Right-click to save this plot as PNG or SVG"));
}

void PlotWidget::setPainter(Painter painter) {
  painter_ = std::move(painter);
  message_.clear();
  update();
}

void PlotWidget::clearPlot(const QString& message) {
  painter_ = nullptr;
  message_ = message;
  update();
}

void PlotWidget::render(QPainter& p, const QRectF& rect) const {
  p.save();
  p.setRenderHint(QPainter::Antialiasing, true);
  p.setRenderHint(QPainter::TextAntialiasing, true);
  p.setClipRect(rect);
  if (painter_) {
    painter_(p, rect);
  } else {
    p.fillRect(rect, Qt::white);
    p.setPen(QColor(110, 110, 110));
    p.drawText(rect.adjusted(10, 10, -10, -10), Qt::AlignCenter | Qt::TextWordWrap,
               message_.isEmpty() ? tr("No data") : message_);
  }
  p.restore();
}

void PlotWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  render(p, QRectF(rect()));
}

QSize PlotWidget::exportSize(QSize size) const {
  if (size.isValid() && !size.isEmpty()) return size;
  return QSize(std::max(width(), 640), std::max(height(), 400));
}

bool PlotWidget::savePng(const QString& path, QSize size) const {
  size = exportSize(size);
  QImage image(size * 2, QImage::Format_ARGB32);
  image.setDevicePixelRatio(2);  // crisp in documents
  image.fill(Qt::white);
  {
    QPainter p(&image);
    render(p, QRectF(QPointF(0, 0), QSizeF(size)));
  }
  return image.save(path, "PNG");
}

bool PlotWidget::saveSvg(const QString& path, QSize size) const {
  size = exportSize(size);
  QSvgGenerator gen;
  gen.setFileName(path);
  gen.setSize(size);
  gen.setViewBox(QRect(QPoint(0, 0), size));
  gen.setTitle(name_);
  gen.setDescription(QStringLiteral("Quant Space plot"));
  QPainter p;
  if (!p.begin(&gen)) return false;
  render(p, QRectF(QPointF(0, 0), QSizeF(size)));
  return p.end();
}

void PlotWidget::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  QAction* png = menu.addAction(tr("Save as PNG…"));
  QAction* svg = menu.addAction(tr("Save as SVG…"));
  png->setEnabled(hasPlot());
  svg->setEnabled(hasPlot());
  QAction* chosen = menu.exec(event->globalPos());
  if (!chosen) return;
  const bool isPng = chosen == png;
  const QString path = QFileDialog::getSaveFileName(
      this, isPng ? tr("Save plot as PNG") : tr("Save plot as SVG"),
      name_ + (isPng ? ".png" : ".svg"), isPng ? tr("PNG image (*.png)") : tr("SVG image (*.svg)"));
  if (path.isEmpty()) return;
  const bool ok = isPng ? savePng(path) : saveSvg(path);
  if (!ok) QMessageBox::warning(this, tr("Save plot"), tr("Could not write %1").arg(path));
}

}  // namespace qs::editor
