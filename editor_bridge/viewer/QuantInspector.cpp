#include "editor_bridge/viewer/QuantInspector.h"

#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFutureWatcher>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>
#include <cmath>
#include <limits>

#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/RangeTracePlots.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/Json.h"

namespace qs::editor {

namespace {

// Below this many elements the statistics are computed at once (under a millisecond or two),
// so that small pages and tests see the numbers immediately.
constexpr int64_t kSyncElements = 1 << 18;
// Samples drawn on the transfer curve: enough to show where the data sits, few enough to paint
// fast.
constexpr size_t kCurveSamples = 2500;

}  // namespace

std::optional<InspectorInput> inspectorInputFor(const BlockResultsView& view, QString* why) {
  auto fail = [&](const QString& text) -> std::optional<InspectorInput> {
    if (why) *why = text;
    return std::nullopt;
  };
  if (why) why->clear();
  if (!view.type.startsWith(QStringLiteral("FakeQuant"))) return std::nullopt;
  if (!view.attrs.has("num_bits")) return fail(QObject::tr("The block's attributes are invalid."));
  InspectorInput in;
  in.blockId = view.blockId;
  in.type = view.type;
  try {
    in.setup.numBits = static_cast<int>(view.attrs.getInt("num_bits"));
    in.setup.narrowRange = view.attrs.has("narrow_range") && view.attrs.getBool("narrow_range");
  } catch (const std::exception& e) {
    return fail(QString::fromStdString(e.what()));
  }
  if (in.setup.numBits < 2 || in.setup.numBits > 16) {
    return fail(QObject::tr("num_bits must be between 2 and 16, inclusive"));
  }
  const auto inputs = view.inputs.find("inputs");
  if (inputs == view.inputs.end()) return fail(QObject::tr("The input `inputs` is not available."));
  in.inputs = inputs->second;
  for (const auto& [port, t] : view.inputs)
    if (t.dtype() != DType::Float32)
      return fail(
          QObject::tr("The quantization inspector works on float32 tensors only; "
                      "input `%1` is %2.")
              .arg(QString::fromStdString(port), QString::fromLatin1(dtypeName(t.dtype()))));
  const bool perChannel = view.type.contains(QStringLiteral("PerChannel"));
  const bool args = view.type.startsWith(QStringLiteral("FakeQuantWithMinMaxArgs"));
  // Only the Vars ops divide by the scale; PerChannel and Args multiply by its inverse.
  in.setup.op = (perChannel || args) ? fq::Quantize::Mul : fq::Quantize::Div;
  in.setup.perChannel = perChannel;
  if (args) {
    if (!view.attrs.has("min") || !view.attrs.has("max")) {
      return fail(QObject::tr("The attributes min and max are not available."));
    }
    in.mins = {static_cast<float>(view.attrs.getFloat("min"))};
    in.maxs = {static_cast<float>(view.attrs.getFloat("max"))};
  } else {
    const auto mn = view.inputs.find("min");
    const auto mx = view.inputs.find("max");
    if (mn == view.inputs.end() || mx == view.inputs.end()) {
      return fail(QObject::tr("The inputs `min` and `max` are not available."));
    }
    if (perChannel) {
      const int64_t d = in.inputs.rank() >= 1 ? in.inputs.dim(-1) : 0;
      if (mn->second.rank() != 1 || mx->second.rank() != 1 || mn->second.size() != d ||
          mx->second.size() != d || d == 0) {
        return fail(
            QObject::tr("min and max must be rank 1 with one value per channel (%1).").arg(d));
      }
    } else if (mn->second.size() != 1 || mx->second.size() != 1) {
      return fail(QObject::tr("min and max must be scalars."));
    }
    in.mins = mn->second.toVector();
    in.maxs = mx->second.toVector();
  }
  const auto out = view.outputs.find("output");
  if (out != view.outputs.end() && out->second.shape() == in.inputs.shape()) {
    in.output = out->second;
  }
  return in;
}

QString reversedRangeMessage(const ChannelQuantStats& s, int channel) {
  const QString range = QStringLiteral("min %1 > max %2")
                            .arg(QString::fromStdString(formatFloat(s.min())),
                                 QString::fromStdString(formatFloat(s.max())));
  return QObject::tr(
             "No plots for %1: %2. TensorFlow accepts this range, but every output is "
             "then nudged min (%3), so there is no quantization grid to show. Set min "
             "below max.")
      .arg(channel < 0 ? QObject::tr("these values") : QObject::tr("channel %1").arg(channel),
           range, QString::fromStdString(formatFloat(s.nudged.nudgedMin)));
}

// ---- ChannelTableModel --------------------------------------------------------------------------

void ChannelTableModel::setStats(std::vector<ChannelQuantStats> stats) {
  beginResetModel();
  stats_ = std::move(stats);
  endResetModel();
}

int ChannelTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(stats_.size());
}

int ChannelTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : ColumnCount;
}

double ChannelTableModel::value(const ChannelQuantStats& s, int column) {
  switch (column) {
    case Channel:
      return static_cast<double>(s.channel);
    case Min:
      return s.min();
    case Max:
      return s.max();
    case NudgedMin:
      return s.nudged.nudgedMin;
    case NudgedMax:
      return s.nudged.nudgedMax;
    case Scale:
      return s.nudged.scale;
    case ZeroPoint:
      return s.nudged.zeroPoint;
    case ClippedBelow:
      return 100.0 * s.fractionBelow();
    case ClippedAbove:
      return 100.0 * s.fractionAbove();
    case Mse:
      return s.mse();
    case SqnrDb:
      return s.sqnrDb();
  }
  return 0;
}

QVariant ChannelTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= static_cast<int>(stats_.size())) return {};
  const ChannelQuantStats& s = stats_[static_cast<size_t>(index.row())];
  const int c = index.column();
  if (role == Qt::UserRole) {
    // NaN sorts as lowest so that undefined SQNR rows gather at one end.
    const double v = value(s, c);
    return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v;
  }
  if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::ForegroundRole && (c == ClippedBelow || c == ClippedAbove) && value(s, c) > 1.0) {
    return QColor(190, 30, 30);  // more than 1% clipped: worth a look
  }
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole) return {};
  switch (c) {
    case Channel:
      return QString::number(s.channel);
    case ZeroPoint:
      return QString::number(s.nudged.zeroPoint);
    case Min:
    case Max:
    case NudgedMin:
    case NudgedMax:
    case Scale:
      // Exactly the float32 the op uses.
      return QString::fromStdString(formatFloat(static_cast<float>(value(s, c))));
    case ClippedBelow:
    case ClippedAbove:
      return formatNumber(value(s, c), 4);
    case Mse:
      // One form for the whole column, so that magnitudes compare at a glance.
      return std::isfinite(s.mse()) ? QString::number(s.mse(), 'e', 4) : formatNumber(s.mse());
    case SqnrDb:
      return std::isfinite(s.sqnrDb()) ? QString::number(s.sqnrDb(), 'f', 2)
                                       : formatNumber(s.sqnrDb());
  }
  return {};
}

QVariant ChannelTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return {};
  static const char* names[] = {"channel",         "min",   "max",        "nudged min",
                                "nudged max",      "scale", "zero point", "% clipped below",
                                "% clipped above", "MSE",   "SQNR dB"};
  static const char* tips[] = {
      "Channel index (last axis of inputs)",
      "The block's min for the channel",
      "The block's max for the channel",
      "Lowest quantization level, (quant_min - zero_point) * scale",
      "Highest quantization level, (quant_max - zero_point) * scale",
      "(max - min) / (quant_max - quant_min)",
      "Zero point (round half away from zero of quant_min - min / scale, clamped)",
      "Share of the channel's inputs below nudged min (NaN counts as neither)",
      "Share of the channel's inputs above nudged max (NaN counts as neither)",
      "Mean of (output - input)^2 over the channel (NaN if it holds NaN or inf)",
      "10 log10(mean input^2 / MSE)"};
  if (section < 0 || section >= ColumnCount) return {};
  if (role == Qt::DisplayRole) return QString::fromLatin1(names[section]);
  if (role == Qt::ToolTipRole) return QString::fromLatin1(tips[section]);
  return {};
}

QString ChannelTableModel::toCsv() const {
  QString out = QStringLiteral(
      "channel,min,max,nudged_min,nudged_max,scale,zero_point,count,clipped_below,"
      "clipped_above,percent_clipped_below,percent_clipped_above,mse,sqnr_db\n");
  auto f = [](float v) { return QString::fromStdString(formatFloat(v)); };
  auto d = [](double v) { return formatNumber(v, 17); };
  for (const ChannelQuantStats& s : stats_) {
    out += QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14\n")
               .arg(s.channel)
               .arg(f(s.min()), f(s.max()), f(s.nudged.nudgedMin), f(s.nudged.nudgedMax),
                    f(s.nudged.scale))
               .arg(s.nudged.zeroPoint)
               .arg(s.count())
               .arg(s.below())
               .arg(s.above())
               .arg(d(100.0 * s.fractionBelow()), d(100.0 * s.fractionAbove()), d(s.mse()),
                    d(s.sqnrDb()));
  }
  return out;
}

// ---- QuantInspector -----------------------------------------------------------------------------

QuantInspector::QuantInspector(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("quantInspector"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);

  auto* top = new QHBoxLayout;
  status_ = new QLabel(this);
  status_->setObjectName(QStringLiteral("inspectorStatus"));
  status_->setWordWrap(true);
  status_->setToolTip(
      tr("Times of the last update: the channel table (off the UI thread for "
         "large tensors) + the selected channel's plots"));
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  top->addWidget(status_, 1);
  auto* csv = new QPushButton(tr("Save CSV…"), this);
  auto* plots = new QPushButton(tr("Save plots…"), this);
  plots->setToolTip(tr("Writes every plot as PNG and SVG into a folder"));
  top->addWidget(csv);
  top->addWidget(plots);
  layout->addLayout(top);

  auto* split = split_ = new QSplitter(Qt::Vertical, this);
  model_ = new ChannelTableModel(this);
  proxy_ = new QSortFilterProxyModel(this);
  proxy_->setSourceModel(model_);
  proxy_->setSortRole(Qt::UserRole);
  table_ = new QTableView(split);
  table_->setObjectName(QStringLiteral("channelTable"));
  table_->setModel(proxy_);
  table_->setSortingEnabled(true);
  table_->sortByColumn(ChannelTableModel::Channel, Qt::AscendingOrder);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setAlternatingRowColors(true);
  table_->verticalHeader()->setVisible(false);
  table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
  // Sized to the contents once per new table, not on every selection change (ResizeToContents
  // measures every cell each time the view lays out).
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
  table_->horizontalHeader()->setStretchLastSection(true);
  // What finds a badly ranged channel comes first, so that it is in view in a narrow dock; the
  // model (and the CSV) keep the order of the definitions, range first.
  const int shown[] = {ChannelTableModel::Channel,      ChannelTableModel::SqnrDb,
                       ChannelTableModel::ClippedBelow, ChannelTableModel::ClippedAbove,
                       ChannelTableModel::Mse,          ChannelTableModel::Min,
                       ChannelTableModel::Max,          ChannelTableModel::NudgedMin,
                       ChannelTableModel::NudgedMax,    ChannelTableModel::Scale,
                       ChannelTableModel::ZeroPoint};
  for (int i = 0; i < static_cast<int>(std::size(shown)); ++i) {
    table_->horizontalHeader()->moveSection(table_->horizontalHeader()->visualIndex(shown[i]), i);
  }

  auto* plotsBox = new QWidget(split);
  auto* grid = new QGridLayout(plotsBox);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->setSpacing(4);
  inPlot_ = new PlotWidget(QStringLiteral("inspector-input-histogram"), plotsBox);
  outPlot_ = new PlotWidget(QStringLiteral("inspector-output-histogram"), plotsBox);
  transferPlot_ = new PlotWidget(QStringLiteral("inspector-transfer-curve"), plotsBox);
  sweepPlot_ = new PlotWidget(QStringLiteral("inspector-bit-sweep"), plotsBox);
  grid->addWidget(inPlot_, 0, 0);
  grid->addWidget(outPlot_, 0, 1);
  grid->addWidget(transferPlot_, 1, 0);
  grid->addWidget(sweepPlot_, 1, 1);
  tracePlot_ = new PlotWidget(QStringLiteral("inspector-range-trace"), plotsBox);
  tracePlot_->hide();  // only for a range learned over steps
  grid->addWidget(tracePlot_, 2, 0, 1, 2);
  split->addWidget(table_);
  split->addWidget(plotsBox);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 3);
  split->setChildrenCollapsible(false);
  // At least three rows of the table stay visible however small the dock (more would make the
  // window taller than a small --size asks for).
  table_->setMinimumHeight(table_->verticalHeader()->defaultSectionSize() * 3 +
                           table_->horizontalHeader()->sizeHint().height() + 20);
  layout->addWidget(split, 1);

  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (!current.isValid()) return;
            const QModelIndex src = proxy_->mapToSource(current);
            if (src.row() != channel_) showChannel(src.row());
          });
  connect(csv, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save channel table"),
        (input_ ? input_->blockId : QStringLiteral("channels")) + QStringLiteral("-channels.csv"),
        tr("CSV (*.csv)"));
    if (!path.isEmpty() && !exportCsv(path)) {
      QMessageBox::warning(this, tr("Save table"), tr("Could not write %1").arg(path));
    }
  });
  connect(plots, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Save plots into folder"));
    QString error;
    if (!dir.isEmpty() && !exportPlots(dir, &error)) {
      QMessageBox::warning(this, tr("Save plots"), error);
    }
  });
  clear();
}

void QuantInspector::clear(const QString& message) {
  ++generation_;
  ++sweepGeneration_;
  statsPending_ = sweepPending_ = false;
  input_.reset();
  channel_ = -1;
  model_->setStats({});
  inHist_ = outHist_ = {};
  sweep_ = {};
  for (PlotWidget* w : {inPlot_, outPlot_, transferPlot_, sweepPlot_}) w->clearPlot(message);
  tracePlot_->hide();
  status_->setText(message);
}

void QuantInspector::setInput(InspectorInput input) {
  const uint64_t gen = ++generation_;
  const bool sameShape = input_ && input_->inputs.shape() == input.inputs.shape() &&
                         input_->mins.size() == input.mins.size();
  if (!sameShape) channel_ = -1;
  input_ = std::move(input);
  statsPending_ = true;
  statsClock_.start();
  const Tensor t = input_->inputs;
  const std::vector<float> mins = input_->mins, maxs = input_->maxs;
  const QuantSetup setup = input_->setup;
  auto compute = [t, mins, maxs, setup]() -> std::vector<ChannelQuantStats> {
    try {
      return computeChannelQuantStats(t, mins, maxs, setup);
    } catch (const std::exception&) {
      return {};  // inspectorInputFor() checked the shapes; nothing to show otherwise
    }
  };
  if (t.size() <= kSyncElements) {
    applyStats(gen, compute(), 0);
    return;
  }
  updateStatus();
  auto* watcher = new QFutureWatcher<std::vector<ChannelQuantStats>>(this);
  connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, gen] {
    watcher->deleteLater();
    applyStats(gen, watcher->result(), 0);
  });
  watcher->setFuture(QtConcurrent::run(compute));
}

void QuantInspector::applyStats(uint64_t generation, std::vector<ChannelQuantStats> stats, double) {
  // A newer input arrived while this one was computed: its own result will come.
  if (generation != generation_) return;
  statsPending_ = false;
  const int keep = channel_;
  const bool firstTable = model_->stats().empty();
  model_->setStats(std::move(stats));
  if (firstTable) {
    table_->resizeColumnsToContents();
    fitTablePending_ = true;
    fitTableHeight();
  }
  lastStatsMs_ = static_cast<double>(statsClock_.nsecsElapsed()) / 1e6;
  channel_ = -1;
  if (model_->stats().empty()) {
    for (PlotWidget* w : {inPlot_, outPlot_, transferPlot_, sweepPlot_}) {
      w->clearPlot(tr("No channel statistics"));
    }
    updateStatus();
    return;
  }
  // A live update keeps the user's channel; new data opens on the channel that most needs a look.
  const int c = (keep >= 0 && keep < channelCount()) ? keep : worstChannel();
  selectChannel(c);
  if (channel_ != c) showChannel(c);  // the row was already current
  emit statsApplied();
}

void QuantInspector::fitTableHeight() {
  // Room for up to ten rows (all of a small layer's channels), the rest for the plots. Done once
  // per new table, as soon as the inspector has a real height (the splitter may not have laid
  // its children out yet: its own height is what counts).
  const int total = split_->height() - split_->handleWidth();
  if (!fitTablePending_ || total < 200) return;
  fitTablePending_ = false;
  const int rows = std::min(channelCount(), 10);
  const int want = table_->verticalHeader()->defaultSectionSize() * rows +
                   table_->horizontalHeader()->sizeHint().height() +
                   table_->horizontalScrollBar()->sizeHint().height() + 4;
  const int top =
      std::clamp(want, table_->minimumHeight(), std::max(table_->minimumHeight(), total / 2));
  split_->setSizes({top, total - top});
}

void QuantInspector::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  fitTableHeight();
}

void QuantInspector::selectChannel(int channel) {
  if (channel < 0 || channel >= channelCount()) return;
  const QModelIndex row = proxy_->mapFromSource(model_->index(channel, 0));
  table_->selectionModel()->setCurrentIndex(
      row, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  table_->scrollTo(row);
  if (channel_ != channel) showChannel(channel);
}

int QuantInspector::worstChannel() const {
  // Lowest SQNR; an undefined SQNR (NaN or inf in the channel) counts as the lowest of all.
  int worst = 0;
  double lowest = std::numeric_limits<double>::infinity();
  for (const ChannelQuantStats& s : model_->stats()) {
    const double v = std::isnan(s.sqnrDb()) ? -std::numeric_limits<double>::infinity() : s.sqnrDb();
    if (v < lowest) {
      lowest = v;
      worst = static_cast<int>(s.channel);
    }
  }
  return worst;
}

const ChannelQuantStats* QuantInspector::currentStats() const {
  if (channel_ < 0 || channel_ >= channelCount()) return nullptr;
  return &model_->stats()[static_cast<size_t>(channel_)];
}

void QuantInspector::showChannel(int channel) {
  if (!input_ || channel < 0 || channel >= channelCount()) return;
  QElapsedTimer clock;
  clock.start();
  channel_ = channel;
  const ChannelQuantStats s = model_->stats()[static_cast<size_t>(channel)];
  const int64_t channels = static_cast<int64_t>(input_->mins.size());
  const bool whole = channels == 1;
  if (s.min() > s.max()) {
    // A reversed range has no grid to draw: say so where the plots would be.
    ++sweepGeneration_;
    sweepPending_ = false;
    inHist_ = outHist_ = {};
    sweep_ = {};
    const QString why = reversedRangeMessage(s, whole ? -1 : channel);
    for (PlotWidget* w : {inPlot_, outPlot_, transferPlot_, sweepPlot_}) w->clearPlot(why);
    lastChannelMs_ = static_cast<double>(clock.nsecsElapsed()) / 1e6;
    updateStatus();
    emit channelShown(channel);
    return;
  }
  std::vector<float> own;
  if (!whole) own = channelSamples(input_->inputs, channel, channels);
  const std::span<const float> samples =
      whole ? input_->inputs.values() : std::span<const float>(own);
  std::vector<float> outputs;
  if (input_->output) {
    if (whole) {
      outputs = input_->output->toVector();
    } else {
      outputs = channelSamples(*input_->output, channel, channels);
    }
  } else {
    outputs.reserve(samples.size());
    for (float x : samples) outputs.push_back(quantizeValue(x, s.nudged, input_->setup.op));
  }
  // The view range covers the data and the quantization range, with a margin.
  // (A NaN range, from min == max != 0, leaves the data alone to set the view.)
  double lo = std::isfinite(s.nudged.nudgedMin) ? s.nudged.nudgedMin : INFINITY;
  double hi = std::isfinite(s.nudged.nudgedMax) ? s.nudged.nudgedMax : -INFINITY;
  if (lo > hi) std::swap(lo, hi);  // min > max: the nudged range is reversed
  for (float x : samples) {
    if (!std::isfinite(x)) continue;
    lo = std::min(lo, static_cast<double>(x));
    hi = std::max(hi, static_cast<double>(x));
  }
  showRangeTrace(channel, &lo, &hi);
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (!(hi > lo)) hi = lo + 1;
  const double margin = (hi - lo) * 0.04;
  lo -= margin;
  hi += margin;

  const QString what = whole ? tr("all values") : tr("channel %1").arg(channel);
  inHist_ = {};
  // num_bits and narrow_range are on the status line above: a narrow plot keeps its title whole.
  inHist_.title = tr("Input, %1").arg(what);
  inHist_.stats = s;
  inHist_.x0 = lo;
  inHist_.x1 = hi;
  inHist_.hist = makeHistogram(samples, lo, hi, 160);
  if (trace_ && static_cast<size_t>(channel) < trace_->channels()) {
    inHist_.overlay = [trace = *trace_, channel](QPainter& p, const PlotAxes& axes) {
      paintRangeTrail(p, axes, trace, static_cast<size_t>(channel));
    };
  }
  outHist_ = {};
  outHist_.title = tr("Output, %1").arg(what);
  outHist_.stats = s;
  outHist_.output = true;
  outHist_.x0 = lo;
  outHist_.x1 = hi;
  countLevels(outputs, s, outHist_.levelCounts, outHist_.offLevel);

  TransferCurveData curve;
  curve.title = tr("Transfer curve, %1").arg(what);
  curve.stats = s;
  curve.op = input_->setup.op;
  curve.x0 = lo;
  curve.x1 = hi;
  const size_t step = std::max<size_t>(1, samples.size() / kCurveSamples);
  for (size_t i = 0; i < samples.size(); i += step) curve.samples.push_back(samples[i]);

  inPlot_->setPainter(
      [d = inHist_](QPainter& p, const QRectF& r) { paintQuantHistogram(p, r, d); });
  outPlot_->setPainter(
      [d = outHist_](QPainter& p, const QRectF& r) { paintQuantHistogram(p, r, d); });
  transferPlot_->setPainter(
      [d = std::move(curve)](QPainter& p, const QRectF& r) { paintTransferCurve(p, r, d); });
  lastChannelMs_ = static_cast<double>(clock.nsecsElapsed()) / 1e6;
  startSweep(channel);
  updateStatus();
  emit channelShown(channel);
}

void QuantInspector::setRangeTrace(std::optional<RangeTrace> trace) {
  if (trace && trace->mins.empty()) trace.reset();
  trace_ = std::move(trace);
  if (!trace_) tracePlot_->hide();
}

// Paints the channel's min and max over the steps and widens the histogram's view [lo, hi] to
// the ranges the trail shows.
void QuantInspector::showRangeTrace(int channel, double* lo, double* hi) {
  const size_t c = static_cast<size_t>(channel);
  if (!trace_ || c >= trace_->channels()) {
    tracePlot_->hide();
    return;
  }
  for (size_t i = 0; i < trace_->mins.size(); ++i) {
    for (float v : {trace_->mins[i][c], trace_->maxs[i][c]}) {
      if (!std::isfinite(v)) continue;
      *lo = std::min(*lo, static_cast<double>(v));
      *hi = std::max(*hi, static_cast<double>(v));
    }
  }
  const QString title =
      tr("Learned range over %1, ")
          .arg(counted(static_cast<int64_t>(trace_->steps.size()), tr("step"), tr("steps"))) +
      (trace_->channels() == 1 ? tr("all values") : tr("channel %1").arg(channel));
  tracePlot_->setPainter([trace = *trace_, c, title](QPainter& p, const QRectF& r) {
    paintRangeTrace(p, r, trace, c, title);
  });
  tracePlot_->show();
}

void QuantInspector::startSweep(int channel) {
  const uint64_t gen = ++sweepGeneration_;
  sweepPending_ = true;
  sweep_ = {};
  sweepPlot_->clearPlot(tr("Computing the bit-width sweep…"));
  const ChannelQuantStats s = model_->stats()[static_cast<size_t>(channel)];
  const int64_t channels = static_cast<int64_t>(input_->mins.size());
  const Tensor t = input_->inputs;  // shares storage: the worker reads, nobody writes
  const fq::Quantize op = input_->setup.op;
  const int bits = input_->setup.numBits;
  const bool narrow = input_->setup.narrowRange;
  struct Result {
    SweepData data;
    double ms = 0;
  };
  auto* watcher = new QFutureWatcher<Result>(this);
  connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, gen] {
    watcher->deleteLater();
    if (gen != sweepGeneration_) return;  // the channel or the data changed meanwhile
    sweepPending_ = false;
    const Result r = watcher->result();
    sweep_ = r.data;
    lastSweepMs_ = r.ms;
    sweepPlot_->setPainter(
        [d = sweep_](QPainter& p, const QRectF& rect) { paintSweep(p, rect, d); });
    updateStatus();
    emit sweepFinished();
  });
  const QString title =
      tr("SQNR vs bits, %1").arg(channels == 1 ? tr("all values") : tr("channel %1").arg(channel));
  watcher->setFuture(QtConcurrent::run([t, channel, channels, s, op, bits, narrow, title] {
    QElapsedTimer clock;
    clock.start();
    std::vector<float> own;
    if (channels > 1) own = channelSamples(t, channel, channels);
    const std::span<const float> samples = channels > 1 ? std::span<const float>(own) : t.values();
    Result r;
    r.data.title = title;
    r.data.currentBits = bits;
    r.data.currentNarrow = narrow;
    r.data.wide = sweepBits(samples, s.min(), s.max(), false, op);
    r.data.narrow = sweepBits(samples, s.min(), s.max(), true, op);
    r.ms = static_cast<double>(clock.nsecsElapsed()) / 1e6;
    return r;
  }));
}

void QuantInspector::updateStatus() {
  if (!input_) return;
  // The block's name and type are in the viewer's header; here what the numbers depend on.
  QString text =
      tr("num_bits %1 · narrow_range %2 · %3 of %4")
          .arg(input_->setup.numBits)
          .arg(input_->setup.narrowRange ? tr("true") : tr("false"))
          .arg(counted(static_cast<int64_t>(input_->mins.size()), tr("channel"), tr("channels")))
          .arg(QString::fromStdString(shapeToString(input_->inputs.shape())));
  if (statsPending_) {
    text += tr(" · computing channel statistics…");
  } else {
    // Two decimals below a millisecond: a small tensor's "0.0 ms" read like a broken clock.
    auto ms = [](double v) { return QString::number(v, 'f', v < 1 ? 2 : 1); };
    text += tr(" · %1 ms + %2 ms").arg(ms(lastStatsMs_), ms(lastChannelMs_));
    if (sweepPending_) text += tr(", sweep running…");
  }
  if (const ChannelQuantStats* s = currentStats()) {
    if (s->nudged.zeroRange) text += tr("<br>min = max = 0: the channel's output is all zeros.");
    if (s->min() > s->max()) text += tr("<br>min > max: every output is nudged min.");
  }
  status_->setText(text);
}

bool QuantInspector::exportCsv(const QString& path) const {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) return false;
  file.write(model_->toCsv().toUtf8());
  return file.commit();
}

bool QuantInspector::exportPlots(const QString& dir, QString* error) const {
  const QDir d(dir);
  for (PlotWidget* w : {inPlot_, outPlot_, transferPlot_, sweepPlot_, tracePlot_}) {
    if (!w->hasPlot() || w->isHidden()) continue;
    const QString base = d.filePath(w->plotName());
    if (!w->savePng(base + QStringLiteral(".png"), QSize(800, 500)) ||
        !w->saveSvg(base + QStringLiteral(".svg"), QSize(800, 500))) {
      if (error) *error = tr("Could not write %1.png/.svg").arg(base);
      return false;
    }
  }
  return true;
}

}  // namespace qs::editor
