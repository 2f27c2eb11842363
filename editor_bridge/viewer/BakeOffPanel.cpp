#include "editor_bridge/viewer/BakeOffPanel.h"

#include <QFutureWatcher>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QScrollBar>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>
#include <algorithm>
#include <cmath>

#include "editor_bridge/ApplyCalibrator.h"
#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "runtime/Error.h"
#include "runtime/Json.h"

namespace qs::editor {

namespace {

// Below this many values of a channel the bake-off runs at once (a few milliseconds at most).
constexpr size_t kSyncValues = size_t{1} << 16;

// The markers' pen styles, so that the pairs differ in grey print too.
constexpr Qt::PenStyle kStyles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine,
                                    Qt::DashDotDotLine};

struct Computed {
  BakeOffData data;
  QString error;
};

Computed computeBakeOff(const std::vector<float>& samples, int numBits, bool narrow,
                        QString title) {
  Computed r;
  r.data.title = std::move(title);
  try {
    r.data.rows =
        calib::bakeOff(samples.data(), static_cast<int64_t>(samples.size()), 1, numBits, narrow);
  } catch (const Error& e) {
    r.error = QString::fromStdString(e.what());
    return r;
  }
  // The view covers the data and every calibrator's range, with a margin.
  double lo = 0, hi = 0;
  for (float x : samples) {
    lo = std::min(lo, static_cast<double>(x));
    hi = std::max(hi, static_cast<double>(x));
  }
  for (const calib::Scored& s : r.data.rows) {
    lo = std::min(lo, static_cast<double>(s.ranges[0].min));
    hi = std::max(hi, static_cast<double>(s.ranges[0].max));
  }
  if (!(hi > lo)) hi = lo + 1;
  const double margin = (hi - lo) * 0.04;
  r.data.x0 = lo - margin;
  r.data.x1 = hi + margin;
  r.data.hist = makeHistogram(samples, r.data.x0, r.data.x1, 160);
  return r;
}

}  // namespace

QColor bakeOffColour(size_t row) {
  static const QColor colours[] = {QColor(31, 119, 180), QColor(230, 115, 0), QColor(44, 160, 44),
                                   QColor(148, 103, 189), QColor(214, 39, 40)};
  return colours[row % std::size(colours)];
}

void paintBakeOff(QPainter& p, const QRectF& rect, const BakeOffData& d) {
  int64_t peak = 1;
  for (int64_t b : d.hist.bins) peak = std::max(peak, b);
  QFont small = p.font();
  small.setPointSizeF(8);
  const QFontMetricsF fm(small);
  // One row per calibrator above the tallest bar: its range as a bar with its name, so that the
  // labels cover no data and never each other.
  const double rowH = fm.height() + 2;
  const double band = rowH * static_cast<double>(d.rows.size()) + 4;
  PlotAxes probe(rect, d.x0, d.x1, 0, static_cast<double>(peak));
  probe.setLabels(d.title, QObject::tr("value (bars: each calibrator's range)"),
                  QStringLiteral("count"));
  const double h = probe.area().height();
  const double free = std::max(h * 0.3, h - band);
  PlotAxes ax(rect, d.x0, d.x1, 0, static_cast<double>(peak) * h / free);
  ax.setLabels(d.title, QObject::tr("value (bars: each calibrator's range)"),
               QStringLiteral("count"));
  ax.drawBackground(p);
  const QRectF a = ax.area();
  p.save();
  p.setClipRect(a);
  p.setRenderHint(QPainter::Antialiasing, false);
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(150, 150, 160));
  const size_t n = d.hist.bins.size();
  const double bw = a.width() / static_cast<double>(std::max<size_t>(n, 1));
  for (size_t i = 0; i < n; ++i) {
    if (d.hist.bins[i] == 0) continue;
    const double top = ax.py(static_cast<double>(d.hist.bins[i]));
    p.drawRect(QRectF(a.left() + static_cast<double>(i) * bw, std::min(top, a.bottom() - 1),
                      std::max(bw - 0.5, 0.8), std::max(a.bottom() - top, 1.0)));
  }
  p.setRenderHint(QPainter::Antialiasing, true);
  p.setFont(small);
  for (size_t k = 0; k < d.rows.size(); ++k) {
    const QColor c = bakeOffColour(k);
    const double y = a.top() + 3 + rowH * (static_cast<double>(k) + 0.5);
    const double x0 = ax.px(d.rows[k].ranges[0].min), x1 = ax.px(d.rows[k].ranges[0].max);
    p.setPen(QPen(c, 1.4, kStyles[k % std::size(kStyles)]));
    for (double x : {x0, x1}) p.drawLine(QPointF(x, y), QPointF(x, a.bottom()));
    p.setPen(QPen(c, 2.4));
    p.drawLine(QPointF(x0, y), QPointF(x1, y));
    const QString name = QString::fromLatin1(calib::methodName(d.rows[k].method));
    const double w = fm.horizontalAdvance(name);
    // The name beside the range's right end, or inside it when the plot ends there.
    double tx = x1 + 4;
    if (tx + w > a.right() - 2) tx = std::max(a.left() + 2, x0 - w - 4);
    if (tx + w > a.right() - 2 || tx < a.left() + 2) tx = std::max(a.left() + 2, x1 - w - 4);
    const QRectF box(tx - 1, y - rowH / 2, w + 2, rowH);
    p.fillRect(box, QColor(255, 255, 255, 210));
    p.setPen(c.darker(115));
    p.drawText(box, Qt::AlignCenter, name);
  }
  p.restore();
  ax.drawForeground(p);
}

BakeOffPanel::BakeOffPanel(QuantInspector* inspector, QWidget* parent)
    : QWidget(parent), inspector_(inspector) {
  setObjectName(QStringLiteral("bakeOffPanel"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  plot_ = new PlotWidget(QStringLiteral("calibrator-bake-off"), this);
  plot_->setMinimumHeight(160);
  layout->addWidget(plot_, 1);
  table_ = new QTableWidget(0, ColumnCount, this);
  table_->setObjectName(QStringLiteral("bakeOffTable"));
  table_->setHorizontalHeaderLabels({tr("calibrator"), tr("min"), tr("max"), tr("MSE"),
                                     tr("SQNR dB"), tr("% clipped"), QString()});
  table_->horizontalHeaderItem(SqnrDb)->setToolTip(
      tr("10 log10(mean x² / MSE) with the calibrator's range; the best (highest) is marked"));
  table_->horizontalHeaderItem(Clipped)->setToolTip(
      tr("Share of the channel's values outside the nudged range"));
  table_->verticalHeader()->setVisible(false);
  table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 10);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionMode(QAbstractItemView::NoSelection);
  table_->horizontalHeader()->setStretchLastSection(true);
  // The button beside the name, the deciding numbers and the range next, so that a narrow dock
  // scrolls only the MSE out of view (SQNR ranks the rows by the same error).
  const int shown[] = {Name, Apply, SqnrDb, Clipped, Min, Max, Mse};
  for (int i = 0; i < ColumnCount; ++i)
    table_->horizontalHeader()->moveSection(table_->horizontalHeader()->visualIndex(shown[i]), i);
  table_->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  const int rows = static_cast<int>(calib::allMethods().size());
  table_->setRowCount(rows);
  for (int r = 0; r < rows; ++r) {
    const calib::Method m = calib::allMethods()[static_cast<size_t>(r)];
    auto* button = new QPushButton(tr("Apply"));  // the table takes it
    button->setObjectName(QStringLiteral("apply_%1").arg(calib::methodName(m)));
    connect(button, &QPushButton::clicked, this, [this, r] { apply(static_cast<size_t>(r)); });
    table_->setCellWidget(r, Apply, button);
  }
  table_->setFixedHeight(table_->verticalHeader()->defaultSectionSize() * rows +
                         table_->horizontalHeader()->sizeHint().height() +
                         table_->horizontalScrollBar()->sizeHint().height() + 4);
  layout->addWidget(table_);
  note_ = new QLabel(this);
  note_->setObjectName(QStringLiteral("bakeOffNote"));
  note_->setWordWrap(true);
  layout->addWidget(note_);
  connect(inspector_, &QuantInspector::channelShown, this, &BakeOffPanel::refresh);
}

void BakeOffPanel::setShown(bool shown) {
  shown_ = shown;
  if (shown_ && stale_) refresh(channel_);
}

void BakeOffPanel::refresh(int channel) {
  const uint64_t gen = ++generation_;  // drops a computation still on its way
  const auto& in = inspector_->input();
  channel_ = channel;
  data_ = {};
  best_ = -1;
  stale_ = !shown_;
  if (!in || channel < 0 || stale_) {
    pending_ = false;
    plot_->clearPlot({});
    fillTable();
    return;
  }
  const int64_t channels = static_cast<int64_t>(in->mins.size());
  std::vector<float> samples =
      channels == 1 ? in->inputs.toVector() : channelSamples(in->inputs, channel, channels);
  const QString title = tr("Calibrators at num_bits %1%2, %3")
                            .arg(in->setup.numBits)
                            .arg(in->setup.narrowRange ? tr(" narrow") : QString())
                            .arg(channels == 1 ? tr("all values") : tr("channel %1").arg(channel));
  const int bits = in->setup.numBits;
  const bool narrow = in->setup.narrowRange;
  pending_ = true;
  if (samples.size() <= kSyncValues) {
    Computed r = computeBakeOff(samples, bits, narrow, title);
    show(gen, std::move(r.data), r.error);
    return;
  }
  plot_->clearPlot(tr("Computing the bake-off…"));
  fillTable();
  auto* watcher = new QFutureWatcher<Computed>(this);
  connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, gen] {
    watcher->deleteLater();
    Computed r = watcher->result();
    show(gen, std::move(r.data), r.error);
  });
  watcher->setFuture(QtConcurrent::run([s = std::move(samples), bits, narrow, title] {
    return computeBakeOff(s, bits, narrow, title);
  }));
}

void BakeOffPanel::show(uint64_t generation, BakeOffData data, QString error) {
  if (generation != generation_) return;  // a newer channel or input is on its way
  pending_ = false;
  data_ = std::move(data);
  if (!error.isEmpty()) {
    data_.rows.clear();
    plot_->clearPlot(tr("No bake-off: %1").arg(error));
  } else {
    best_ = static_cast<int>(calib::bestOf(data_.rows, 0));
    plot_->setPainter([d = data_](QPainter& p, const QRectF& r) { paintBakeOff(p, r, d); });
  }
  fillTable();
  emit updated();
}

QString BakeOffPanel::applyRefusal() const {
  const auto& in = inspector_->input();
  if (!in) return tr("No FakeQuant block is shown.");
  if (!model_) return tr("There is no page to apply a calibrator to.");
  return applyCalibratorRefusal(*model_, BlockId(in->blockId.toStdString()));
}

void BakeOffPanel::fillTable() {
  const auto& rows = data_.rows;
  // The rows and their buttons stay; without numbers the cells are empty and the buttons off.
  for (int r = 0; r < table_->rowCount(); ++r) {
    for (int c = 0; c < Apply; ++c) delete table_->takeItem(r, c);
    table_->cellWidget(r, Apply)->setEnabled(false);
  }
  const QString refusal = applyRefusal();
  // Four significant digits keep the whole table in a dock of 500 pixels; the tooltip has the
  // number in full (and --calibrate prints every digit).
  auto item = [](const QString& text, double value, const QString& full = QString()) {
    auto* it = new QTableWidgetItem(text);
    it->setData(Qt::UserRole, value);
    it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    if (!full.isEmpty() && full != text) it->setToolTip(full);
    return it;
  };
  auto bound = [&](float v) {
    return item(formatNumber(v, 4), v, QString::fromStdString(formatFloat(v)));
  };
  for (size_t k = 0; k < rows.size(); ++k) {
    const int r = static_cast<int>(k);
    const calib::Range range = rows[k].ranges[0];
    const fq::QuantChannelStats& s = rows[k].stats[0];
    const bool best = r == best_;
    QString name = QString::fromLatin1(calib::methodName(rows[k].method));
    if (best) name += tr("  ✓ best");
    auto* nameItem = new QTableWidgetItem(name);
    QPixmap swatch(12, 12);
    swatch.fill(bakeOffColour(k));
    nameItem->setIcon(QIcon(swatch));
    table_->setItem(r, Name, nameItem);
    table_->setItem(r, Min, bound(range.min));
    table_->setItem(r, Max, bound(range.max));
    table_->setItem(r, Mse,
                    std::isfinite(s.mse) ? item(QString::number(s.mse, 'e', 2), s.mse,
                                                QString::number(s.mse, 'g', 9))
                                         : item(formatNumber(s.mse), s.mse));
    table_->setItem(
        r, SqnrDb,
        item(std::isfinite(s.sqnrDb) ? QString::number(s.sqnrDb, 'f', 2) : formatNumber(s.sqnrDb),
             s.sqnrDb));
    const double clipped = calib::clippedPercent(s);
    table_->setItem(r, Clipped, item(QString::number(clipped, 'f', 3), clipped));
    for (int c = 0; c < Apply; ++c) {
      QFont f = table_->item(r, c)->font();
      f.setBold(best);
      table_->item(r, c)->setFont(f);
      if (best) table_->item(r, c)->setBackground(QColor(222, 242, 222));
    }
    auto* button = static_cast<QPushButton*>(table_->cellWidget(r, Apply));
    button->setEnabled(refusal.isEmpty());
    button->setToolTip(refusal.isEmpty()
                           ? tr("Insert a %1 block fed like this block's inputs and wire its min "
                                "and max here (one undo step)")
                                 .arg(QString::fromLatin1(calib::blockType(rows[k].method)))
                           : refusal);
  }
  table_->resizeColumnsToContents();
  // On a shown table that leaves the last column at its contents' width, short of the edge:
  // stretching it again takes the rest of the width, as when the table is filled hidden.
  table_->horizontalHeader()->setStretchLastSection(false);
  table_->horizontalHeader()->setStretchLastSection(true);
  note_->setText(refusal.isEmpty()
                     ? tr("Apply inserts the calibrator block (on the last batch, at this "
                          "block's num_bits and narrow_range) and wires it into min and max.")
                     : tr("Apply is off: %1").arg(refusal));
}

void BakeOffPanel::apply(size_t row) {
  const auto& in = inspector_->input();
  if (!in || !model_ || row >= data_.rows.size()) return;
  const QString why =
      applyCalibrator(*model_, BlockId(in->blockId.toStdString()), data_.rows[row].method);
  if (!why.isEmpty()) note_->setText(tr("Apply is off: %1").arg(why));
}

}  // namespace qs::editor
