#include "editor_bridge/TrainingPanel.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QImage>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QPushButton>
#include <QSaveFile>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

#include "editor_bridge/TrainingSeries.h"
#include "editor_bridge/viewer/PlotWidget.h"

namespace qs::editor {

namespace {

QColor seriesColour(int i) {
  static const QColor colours[] = {{31, 119, 180},  {214, 39, 40}, {44, 160, 44},   {255, 127, 14},
                                   {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {23, 190, 207}};
  return colours[i % static_cast<int>(std::size(colours))];
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

std::vector<double> smoothSeries(const std::vector<double>& values, double weight) {
  std::vector<double> out(values.size(), kNaN);
  double last = kNaN;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) continue;
    last = std::isnan(last) ? values[i] : weight * last + (1 - weight) * values[i];
    out[i] = last;
  }
  return out;
}

// ---- TrainingPlot -------------------------------------------------------------------------------

// What one paint needs: per result the raw and smoothed values in plot coordinates (log10 of the
// value on a log axis; NaN where nothing is drawn) and the ranges.
struct TrainingPlot::Frame {
  QRectF rect;
  std::vector<std::vector<double>> raw, smooth;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  bool hidden = false;  // a log axis hides values <= 0
};

TrainingPlot::TrainingPlot(const TrainingSeries* series, QWidget* parent)
    : QWidget(parent), series_(series) {
  setObjectName(QStringLiteral("trainingPlot"));
  setMouseTracking(true);
  setMinimumSize(120, 120);
}

void TrainingPlot::setLogY(bool logY) {
  logY_ = logY;
  update();
}

void TrainingPlot::setSmoothing(double weight) {
  smoothing_ = std::clamp(weight, 0.0, 0.999);
  update();
}

TrainingPlot::Frame TrainingPlot::frame(const QRectF& rect) const {
  Frame f;
  f.rect = rect;
  const auto& steps = series_->steps();
  if (!steps.empty()) {
    f.x0 = static_cast<double>(steps.front());
    f.x1 = static_cast<double>(steps.back());
  }
  double lo = INFINITY, hi = -INFINITY;
  auto toPlot = [&](std::vector<double> v) {
    for (double& y : v) {
      if (logY_) {
        if (y <= 0) f.hidden = true;
        y = y > 0 ? std::log10(y) : kNaN;
      }
      if (std::isfinite(y)) lo = std::min(lo, y), hi = std::max(hi, y);
    }
    return v;
  };
  for (const QString& name : series_->results()) {
    const std::vector<double>& v = series_->values(name);
    f.raw.push_back(toPlot(v));
    f.smooth.push_back(smoothing_ > 0 ? toPlot(smoothSeries(v, smoothing_))
                                      : std::vector<double>());
  }
  if (std::isfinite(lo)) {
    const double pad = hi > lo ? (hi - lo) * 0.05 : (lo != 0 ? std::abs(lo) * 0.05 : 0.5);
    f.y0 = lo - pad;
    f.y1 = hi + pad;
  }
  if (!(f.x1 > f.x0)) f.x1 = f.x0 + 1;
  return f;
}

std::optional<size_t> TrainingPlot::stepIndexAt(const Frame& f, double x) const {
  const auto& steps = series_->steps();
  if (steps.empty()) return std::nullopt;
  const PlotAxes axes(f.rect, f.x0, f.x1, f.y0, f.y1);
  if (x < axes.area().left() - 4 || x > axes.area().right() + 4) return std::nullopt;
  const double step = f.x0 + (x - axes.area().left()) / axes.area().width() * (f.x1 - f.x0);
  // Steps increase: the nearest is beside the first one not below `step`.
  auto it = std::lower_bound(steps.begin(), steps.end(), step,
                             [](int64_t s, double v) { return static_cast<double>(s) < v; });
  size_t i = static_cast<size_t>(it - steps.begin());
  if (i == steps.size() ||
      (i > 0 && step - static_cast<double>(steps[i - 1]) < static_cast<double>(steps[i]) - step))
    --i;
  return i;
}

void TrainingPlot::render(QPainter& p, const QRectF& rect) const {
  p.save();
  p.setRenderHint(QPainter::Antialiasing, true);
  const QStringList& names = series_->results();
  if (names.isEmpty() || series_->steps().empty()) {
    p.fillRect(rect, Qt::white);
    p.setPen(QColor(110, 110, 110));
    p.drawText(rect.adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap,
               names.isEmpty() ? tr("No results plotted. Right-click a block and choose \"Add "
                                    "result to Training panel\", or the viewer's \"+ Training\" "
                                    "button.")
                               : tr("No steps yet: take a step or run the page."));
    p.restore();
    return;
  }
  const Frame f = frame(rect);
  PlotAxes axes(rect, f.x0, f.x1, f.y0, f.y1);
  axes.setLogY(logY_);
  QString caption = tr("step");
  if (smoothing_ > 0) caption += tr(" · smoothing %1 (faint: raw values)").arg(smoothing_);
  if (f.hidden) caption += tr(" · values <= 0 are not drawn on a log axis");
  axes.setLabels(tr("Training"), caption, logY_ ? tr("value (log)") : tr("value"));
  axes.drawBackground(p);
  p.setClipRect(axes.area().adjusted(-2, -2, 2, 2));
  const auto& steps = series_->steps();
  auto drawLine = [&](const std::vector<double>& ys, QColor c, double width) {
    QPainterPath path;
    bool pen = false;
    for (size_t i = 0; i < ys.size() && i < steps.size(); ++i) {
      if (!std::isfinite(ys[i])) {
        pen = false;
        continue;
      }
      const QPointF pt(axes.px(static_cast<double>(steps[i])), axes.py(ys[i]));
      pen ? path.lineTo(pt) : path.moveTo(pt);
      pen = true;
    }
    p.setPen(QPen(c, width));
    p.setBrush(Qt::NoBrush);
    p.drawPath(path);
    if (ys.size() == 1 && std::isfinite(ys[0])) {
      p.setBrush(c);
      p.drawEllipse(QPointF(axes.px(static_cast<double>(steps[0])), axes.py(ys[0])), 3, 3);
    }
  };
  for (size_t k = 0; k < f.raw.size(); ++k) {
    QColor c = seriesColour(static_cast<int>(k));
    if (smoothing_ > 0) {
      QColor faint = c;
      faint.setAlpha(70);
      drawLine(f.raw[k], faint, 1);
      drawLine(f.smooth[k], c, 2);
    } else {
      drawLine(f.raw[k], c, 1.6);
    }
  }
  if (hoverIndex_ && *hoverIndex_ < steps.size()) {
    const double x = axes.px(static_cast<double>(steps[*hoverIndex_]));
    p.setPen(QPen(QColor(90, 90, 90), 1, Qt::DashLine));
    p.drawLine(QPointF(x, axes.area().top()), QPointF(x, axes.area().bottom()));
  }
  p.setClipping(false);
  axes.drawForeground(p);
  // Legend, top right inside the plot.
  QFont font = p.font();
  font.setPointSizeF(8.5);
  p.setFont(font);
  const QFontMetricsF fm(font);
  double y = axes.area().top() + 6;
  for (int k = 0; k < names.size(); ++k) {
    const double w = fm.horizontalAdvance(names[k]);
    const double x = axes.area().right() - w - 30;
    p.fillRect(QRectF(x - 4, y - 1, w + 32, fm.height() + 2), QColor(255, 255, 255, 210));
    p.setPen(QPen(seriesColour(k), 2.5));
    p.drawLine(QPointF(x, y + fm.height() / 2), QPointF(x + 18, y + fm.height() / 2));
    p.setPen(QColor(30, 30, 30));
    p.drawText(QPointF(x + 24, y + fm.ascent()), names[k]);
    y += fm.height() + 3;
  }
  p.restore();
}

QString TrainingPlot::readoutAt(const QPointF& pos) const {
  if (series_->results().isEmpty()) return {};
  const std::optional<size_t> i = stepIndexAt(frame(QRectF(rect())), pos.x());
  if (!i) return {};
  QStringList parts{tr("step %1").arg(series_->steps()[*i])};
  for (const QString& name : series_->results()) {
    const std::vector<double>& v = series_->values(name);
    QString text = name + QStringLiteral(" = ") + formatNumber(v[*i], 7);
    if (smoothing_ > 0)
      text += tr(" (smoothed %1)").arg(formatNumber(smoothSeries(v, smoothing_)[*i], 7));
    parts.push_back(text);
  }
  return parts.join(QStringLiteral(" · "));
}

void TrainingPlot::paintEvent(QPaintEvent*) {
  QPainter p(this);
  render(p, QRectF(rect()));
}

void TrainingPlot::mouseMoveEvent(QMouseEvent* event) {
  const Frame f = frame(QRectF(rect()));
  const std::optional<size_t> i = stepIndexAt(f, event->position().x());
  const QString text = readoutAt(event->position());
  if (i != hoverIndex_) {
    hoverIndex_ = i;
    update();
  }
  if (text != hover_) {
    hover_ = text;
    emit hoverChanged(hover_);
  }
}

void TrainingPlot::leaveEvent(QEvent*) {
  hoverIndex_.reset();
  hover_.clear();
  emit hoverChanged(hover_);
  update();
}

// ---- TrainingPanel ------------------------------------------------------------------------------

TrainingPanel::TrainingPanel(TrainingSeries* series, QWidget* parent)
    : QWidget(parent), series_(series) {
  setObjectName(QStringLiteral("trainingPanel"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* bar = new QHBoxLayout;
  logBox_ = new QCheckBox(tr("Log y"), this);
  logBox_->setObjectName(QStringLiteral("trainingLogAxis"));
  smoothBox_ = new QDoubleSpinBox(this);
  smoothBox_->setObjectName(QStringLiteral("trainingSmoothing"));
  smoothBox_->setRange(0, 0.99);
  smoothBox_->setSingleStep(0.1);
  smoothBox_->setDecimals(2);
  smoothBox_->setToolTip(
      tr("Exponential smoothing: s = w·s_prev + (1 − w)·value; 0 shows the raw values"));
  auto* remove = new QPushButton(tr("Remove"), this);
  remove->setObjectName(QStringLiteral("trainingRemove"));
  remove->setToolTip(tr("Stops plotting the result selected in the list"));
  auto* csv = new QPushButton(tr("Save CSV…"), this);
  csv->setObjectName(QStringLiteral("trainingSaveCsv"));
  auto* png = new QPushButton(tr("Save PNG…"), this);
  png->setObjectName(QStringLiteral("trainingSavePng"));
  // A small window squeezes the buttons rather than grows past the size it was given.
  for (QPushButton* b : {remove, csv, png}) b->setMinimumWidth(40);
  bar->addWidget(logBox_);
  bar->addWidget(new QLabel(tr("Smoothing"), this));
  bar->addWidget(smoothBox_);
  bar->addStretch(1);
  bar->addWidget(remove);
  bar->addWidget(csv);
  bar->addWidget(png);
  layout->addLayout(bar);

  auto* middle = new QHBoxLayout;
  list_ = new QListWidget(this);
  list_->setObjectName(QStringLiteral("trainingResults"));
  list_->setMaximumWidth(180);
  list_->setMinimumWidth(60);
  list_->setToolTip(tr("The plotted results"));
  plot_ = new TrainingPlot(series_, this);
  middle->addWidget(list_);
  middle->addWidget(plot_, 1);
  layout->addLayout(middle, 1);
  readout_ = new QLabel(this);
  readout_->setObjectName(QStringLiteral("trainingReadout"));
  readout_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  readout_->setText(tr("Hover over the plot to read the values of a step."));
  layout->addWidget(readout_);

  connect(logBox_, &QCheckBox::toggled, plot_, &TrainingPlot::setLogY);
  connect(smoothBox_, &QDoubleSpinBox::valueChanged, plot_, &TrainingPlot::setSmoothing);
  connect(plot_, &TrainingPlot::hoverChanged, readout_, [this](const QString& text) {
    if (!text.isEmpty()) readout_->setText(text);
  });
  connect(remove, &QPushButton::clicked, this, [this] {
    if (QListWidgetItem* item = list_->currentItem()) series_->removeResult(item->text());
  });
  connect(csv, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save training values"), QStringLiteral("training.csv"), tr("CSV (*.csv)"));
    QString error;
    if (!path.isEmpty() && !saveCsv(path, &error))
      QMessageBox::warning(this, tr("Save CSV"), error);
  });
  connect(png, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save training plot"), QStringLiteral("training.png"), tr("PNG (*.png)"));
    QString error;
    if (!path.isEmpty() && !savePng(path, {1200, 700}, &error))
      QMessageBox::warning(this, tr("Save PNG"), error);
  });
  connect(series_, &TrainingSeries::resultsChanged, this, [this] {
    rebuildList();
    refresh();
  });
  connect(series_, &TrainingSeries::cleared, this, &TrainingPanel::refresh);
  connect(series_, &TrainingSeries::stepAppended, this, &TrainingPanel::stepsArrived);
  throttle_.setSingleShot(true);
  connect(&throttle_, &QTimer::timeout, this, &TrainingPanel::refresh);
  rebuildList();
}

void TrainingPanel::rebuildList() {
  list_->clear();
  int k = 0;
  for (const QString& name : series_->results()) {
    auto* item = new QListWidgetItem(name, list_);
    QPixmap swatch(12, 12);
    swatch.fill(seriesColour(k++));
    item->setIcon(QIcon(swatch));
  }
}

void TrainingPanel::stepsArrived() {
  // At most one refresh per kMinRefreshMs: a step that comes sooner only arms the timer (once),
  // so nothing queues up however fast the steps come.
  if (throttle_.isActive()) return;
  const qint64 since = sinceRefresh_.isValid() ? sinceRefresh_.elapsed() : kMinRefreshMs;
  if (since >= kMinRefreshMs) {
    refresh();
  } else {
    throttle_.start(static_cast<int>(kMinRefreshMs - since));
  }
}

void TrainingPanel::refresh() {
  throttle_.stop();
  sinceRefresh_.restart();
  ++refreshes_;
  plot_->update();
}

bool TrainingPanel::saveCsv(const QString& path, QString* error) const {
  QSaveFile file(path);
  if (file.open(QIODevice::WriteOnly)) {
    file.write(QByteArray::fromStdString(series_->toCsv()));
    if (file.commit()) return true;
  }
  if (error) *error = tr("Could not write %1: %2").arg(path, file.errorString());
  return false;
}

bool TrainingPanel::savePng(const QString& path, QSize size, QString* error) const {
  QImage image(size, QImage::Format_ARGB32);
  image.fill(Qt::white);
  {
    QPainter p(&image);
    plot_->render(p, QRectF(QPointF(0, 0), QSizeF(size)));
  }
  if (image.save(path, "PNG")) return true;
  if (error) *error = tr("Could not write %1").arg(path);
  return false;
}

}  // namespace qs::editor
