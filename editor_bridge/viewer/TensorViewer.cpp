#include "editor_bridge/viewer/TensorViewer.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QFileDialog>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QStackedWidget>
#include <QStyle>
#include <QTabWidget>
#include <QTableView>
#include <QTextDocumentFragment>
#include <QThread>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>
#include <cmath>

#include "editor_bridge/TrainingSeries.h"
#include "editor_bridge/viewer/BakeOffPanel.h"
#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "editor_bridge/viewer/QuantPlots.h"
#include "editor_bridge/viewer/SliceTableModel.h"
#include "runtime/Error.h"
#include "runtime/Npy.h"

namespace qs::editor {

namespace {

// Below this many elements statistics are computed at once; above, on a worker thread.
constexpr int64_t kSyncElements = 1 << 18;
constexpr int kHistogramBins = 100;

QString resultName(const std::string& port) {
  return QStringLiteral("result_") + QString::fromStdString(port);
}

struct Summary {
  TensorStats stats;
  ValueHistogramData hist;
};

Summary summarise(const Tensor& t) {
  Summary s;
  s.stats = computeStats(t);
  double lo = s.stats.min, hi = s.stats.max;
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  } else {
    // A margin, so that the bars of the minimum and the maximum do not hide in the frame.
    const double margin = (hi - lo) * 0.02;
    lo -= margin;
    hi += margin;
  }
  const Tensor asFloat = castTensor(t, DType::Float32);  // the tensor itself when float32
  s.hist.hist = makeHistogram(asFloat.values(), lo, hi, kHistogramBins);
  s.hist.nonFinite = s.stats.count - s.stats.finite;
  return s;
}

}  // namespace

TensorViewer::TensorViewer(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("tensorViewer"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->setSpacing(4);

  auto* top = new QHBoxLayout;
  header_ = new QLabel(this);
  header_->setObjectName(QStringLiteral("viewerHeader"));
  header_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  // The header may be long (type names, why the inspector is not shown): a row of its own, which
  // wraps, above the controls, so that a narrow dock cuts none of it.
  header_->setWordWrap(true);
  header_->setMinimumWidth(60);
  header_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  layout->addWidget(header_);
  top->addWidget(new QLabel(tr("Result:"), this));
  outputs_ = new QComboBox(this);
  outputs_->setObjectName(QStringLiteral("outputSelector"));
  outputs_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  top->addWidget(outputs_);
  saveNpy_ = new QPushButton(tr("Save .npy…"), this);
  saveNpy_->setToolTip(tr("Save the shown result as a NumPy .npy file (its own dtype, C order)"));
  savePicture_ = new QPushButton(tr("Save picture…"), this);
  savePicture_->setToolTip(tr("Save the current tab's picture as PNG"));
  top->addWidget(saveNpy_);
  top->addWidget(savePicture_);
  plotTraining_ = new QPushButton(tr("+ Training"), this);
  plotTraining_->setObjectName(QStringLiteral("plotInTraining"));
  plotTraining_->setToolTip(
      tr("Plot this result over the steps in the Training panel (a result of one element)"));
  plotTraining_->setEnabled(false);
  top->addWidget(plotTraining_);
  connect(plotTraining_, &QPushButton::clicked, this,
          [this] { emit plotInTrainingRequested(currentResultName()); });
  top->addStretch(1);
  layout->addLayout(top);

  stack_ = new QStackedWidget(this);
  message_ = new QLabel(stack_);
  message_->setObjectName(QStringLiteral("viewerMessage"));
  message_->setAlignment(Qt::AlignCenter);
  message_->setWordWrap(true);
  message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  message_->setMargin(20);
  stack_->addWidget(message_);

  tabs_ = new QTabWidget(stack_);
  tabs_->setObjectName(QStringLiteral("viewerTabs"));
  inspector_ = new QuantInspector(tabs_);
  inspector_->hide();
  bakeOff_ = new BakeOffPanel(inspector_, tabs_);
  bakeOff_->hide();
  connect(tabs_, &QTabWidget::currentChanged, this,
          [this] { bakeOff_->setShown(tabs_->currentWidget() == bakeOff_); });

  valuesTab_ = new QWidget(tabs_);
  auto* vl = new QVBoxLayout(valuesTab_);
  vl->setContentsMargins(4, 4, 4, 4);
  statsLabel_ = new QLabel(valuesTab_);
  statsLabel_->setObjectName(QStringLiteral("statsLabel"));
  statsLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  statsLabel_->setWordWrap(true);
  vl->addWidget(statsLabel_);
  sliceBar_ = new QWidget(valuesTab_);
  sliceLayout_ = new QHBoxLayout(sliceBar_);
  sliceLayout_->setContentsMargins(0, 0, 0, 0);
  sliceLabel_ = new QLabel(tr("Slice:"), sliceBar_);
  sliceLayout_->addWidget(sliceLabel_);
  sliceLayout_->addStretch(1);
  vl->addWidget(sliceBar_);
  model_ = new SliceTableModel(this);
  table_ = new QTableView(valuesTab_);
  table_->setObjectName(QStringLiteral("valueTable"));
  table_->setModel(model_);
  // Fixed section sizes: the header never measures a million rows.
  table_->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  table_->horizontalHeader()->setDefaultSectionSize(
      table_->fontMetrics().horizontalAdvance(QStringLiteral("-0.123456789")) + 10);
  vl->addWidget(table_, 1);

  heatmap_ = new PlotWidget(QStringLiteral("heatmap"), tabs_);
  histogram_ = new PlotWidget(QStringLiteral("histogram"), tabs_);
  tabs_->addTab(valuesTab_, tr("Values"));
  tabs_->addTab(heatmap_, tr("Heatmap"));
  tabs_->addTab(histogram_, tr("Histogram"));
  stack_->addWidget(tabs_);
  layout->addWidget(stack_, 1);

  connect(outputs_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (i < 0 || !hasView_) return;
    showOutput(outputs_->itemData(i).toString().toStdString());
  });
  connect(saveNpy_, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save result as .npy"),
                                                      currentResultName() + QStringLiteral(".npy"),
                                                      tr("NumPy array (*.npy)"));
    QString error;
    if (!path.isEmpty() && !saveNpy(path, &error)) {
      QMessageBox::warning(this, tr("Save .npy"), error);
    }
  });
  connect(savePicture_, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save picture as PNG"),
                                                      currentResultName() + QStringLiteral(".png"),
                                                      tr("PNG image (*.png)"));
    QString error;
    if (!path.isEmpty() && !savePicture(path, &error)) {
      QMessageBox::warning(this, tr("Save picture"), error);
    }
  });
  clear();
}

void TensorViewer::clear() {
  hasView_ = false;
  view_ = {};
  port_.clear();
  ++statsGeneration_;
  statsPending_ = false;
  {
    const QSignalBlocker block(outputs_);
    outputs_->clear();
  }
  header_->setText(tr("No block selected"));
  inspector_->clear();
  model_->clear();
  showMessage(tr("Select a block on the page to see its results."));
}

void TensorViewer::showMessage(const QString& text) {
  message_->setText(text);
  stack_->setCurrentWidget(message_);
  saveNpy_->setEnabled(false);
  savePicture_->setEnabled(false);
  plotTraining_->setEnabled(false);
}

bool TensorViewer::showsMessage() const {
  return stack_->currentWidget() == message_;
}

QString TensorViewer::messageText() const {
  return showsMessage() ? message_->text() : QString();
}

bool TensorViewer::busy() const {
  return statsPending_ || inspector_->busy() || bakeOff_->busy();
}

bool TensorViewer::waitForIdle(int timeoutMs) {
  QDeadlineTimer deadline(timeoutMs);
  while (busy()) {
    if (deadline.hasExpired()) return false;
    // The workers' results arrive as queued signals: let them in, without spinning hot.
    QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    if (busy()) QThread::msleep(2);
  }
  QCoreApplication::processEvents();
  return true;
}

bool TensorViewer::inspectorShown() const {
  return !showsMessage() && tabs_->indexOf(inspector_) >= 0;
}

void TensorViewer::showInspectorTab() {
  if (tabs_->indexOf(inspector_) >= 0) tabs_->setCurrentWidget(inspector_);
}

QStringList TensorViewer::viewNames() {
  return {QStringLiteral("quantization"), QStringLiteral("values"), QStringLiteral("heatmap"),
          QStringLiteral("histogram"), QStringLiteral("calibrators")};
}

bool TensorViewer::showView(const QString& name, QString* error) {
  QWidget* const tabs[] = {inspector_, valuesTab_, heatmap_, histogram_, bakeOff_};
  const qsizetype k = viewNames().indexOf(name);
  auto fail = [&](const QString& text) {
    if (error) *error = text;
    return false;
  };
  if (k < 0) {
    return fail(
        tr("unknown view '%1'; use one of: %2").arg(name, viewNames().join(QStringLiteral(", "))));
  }
  if (showsMessage())
    return fail(tr("the viewer shows no result: %1")
                    .arg(QTextDocumentFragment::fromHtml(messageText()).toPlainText()));
  if (tabs_->indexOf(tabs[k]) < 0 && !inspectorWhy_.isEmpty())
    return fail(tr("the view '%1' is not available: %2").arg(name, inspectorWhy_));
  if (tabs_->indexOf(tabs[k]) < 0) {
    return fail(tr("the view '%1' is only for the results of FakeQuant blocks, not of %2 (%3)")
                    .arg(name, view_.blockId, view_.type));
  }
  tabs_->setCurrentWidget(tabs[k]);
  return true;
}

void TensorViewer::showBlock(const BlockResultsView& view, const std::string& port) {
  const bool sameBlock = hasView_ && view_.blockId == view.blockId && view_.type == view.type;
  QWidget* previousTab = tabs_->currentWidget();
  std::string keepPort = port.empty() && sameBlock ? port_ : port;
  view_ = view;
  hasView_ = true;

  QString status = QString::fromStdString(statusName(view.status));
  header_->setText(QStringLiteral("<b>%1</b> · %2 · %3")
                       .arg(view.blockId.toHtmlEscaped(), view.type.toHtmlEscaped(), status));
  {
    const QSignalBlocker block(outputs_);
    outputs_->clear();
    for (const auto& [name, tensor] : view.outputs) {
      outputs_->addItem(resultName(name), QString::fromStdString(name));
    }
  }
  if (view.status == BlockStatus::Error) {
    inspector_->clear();
    port_.clear();
    showMessage(tr("<b>Block '%1' (%2) failed</b><br><br>%3")
                    .arg(view.blockId.toHtmlEscaped(), view.type.toHtmlEscaped(),
                         view.error.isEmpty() ? tr("(no message)") : view.error.toHtmlEscaped()));
    emit resultShown({});
    return;
  }
  if (view.outputs.empty()) {
    inspector_->clear();
    port_.clear();
    showMessage(view.status == BlockStatus::Running
                    ? tr("Block '%1' is running…").arg(view.blockId)
                    : tr("Block '%1' has no results yet (%2): run the page, or wire its "
                         "required inputs.")
                          .arg(view.blockId, status));
    emit resultShown({});
    return;
  }
  if (view.status != BlockStatus::Ok) {
    // Old results stay visible while a re-run is on its way, marked as such.
    header_->setText(header_->text() +
                     tr(" <span style='color:#b35900'>(showing the previous results)</span>"));
  }

  // The inspector tab: first, and only for FakeQuant blocks with their inputs.
  QString& why = inspectorWhy_;
  std::optional<InspectorInput> in = inspectorInputFor(view, &why);
  // A FakeQuant block the inspector cannot take: the header says why.
  if (!why.isEmpty())
    header_->setText(
        header_->text() +
        QStringLiteral(" · <span style='color:#b35900'>%1</span>").arg(why.toHtmlEscaped()));
  const int inspectorIndex = tabs_->indexOf(inspector_);
  if (in) {
    if (inspectorIndex < 0) tabs_->insertTab(0, inspector_, tr("Quantization"));
    if (tabs_->indexOf(bakeOff_) < 0) tabs_->insertTab(1, bakeOff_, tr("Calibrators"));
    const RangeTrace* trace =
        training_ ? training_->rangeTrace(view.blockId.toStdString()) : nullptr;
    inspector_->setRangeTrace(trace ? std::optional<RangeTrace>(*trace) : std::nullopt);
    inspector_->setInput(std::move(*in));
  } else {
    if (inspectorIndex >= 0) tabs_->removeTab(inspectorIndex);
    if (tabs_->indexOf(bakeOff_) >= 0) tabs_->removeTab(tabs_->indexOf(bakeOff_));
    inspector_->clear(why);
  }
  stack_->setCurrentWidget(tabs_);
  saveNpy_->setEnabled(true);
  savePicture_->setEnabled(true);

  if (keepPort.empty() || !view.outputs.count(keepPort)) keepPort = view.outputs.begin()->first;
  {
    const QSignalBlocker block(outputs_);
    outputs_->setCurrentIndex(outputs_->findData(QString::fromStdString(keepPort)));
  }
  showOutput(keepPort);
  // Live update: stay on the tab the user is looking at.
  if (sameBlock && previousTab && tabs_->indexOf(previousTab) >= 0) {
    tabs_->setCurrentWidget(previousTab);
  } else {
    tabs_->setCurrentIndex(0);
  }
}

bool TensorViewer::selectOutput(const std::string& port) {
  if (!hasView_ || !view_.outputs.count(port)) return false;
  outputs_->setCurrentIndex(outputs_->findData(QString::fromStdString(port)));
  if (port_ != port) showOutput(port);
  return true;
}

const Tensor* TensorViewer::currentTensor() const {
  if (!hasView_) return nullptr;
  const auto it = view_.outputs.find(port_);
  return it == view_.outputs.end() ? nullptr : &it->second;
}

QString TensorViewer::currentResultName() const {
  if (!hasView_ || port_.empty() || showsMessage()) return {};
  return view_.blockId + QStringLiteral(".") + resultName(port_);
}

std::vector<float> TensorViewer::shownValues() const {
  if (showsMessage()) return {};
  return model_->values();
}

void TensorViewer::showOutput(const std::string& port) {
  const auto it = view_.outputs.find(port);
  if (it == view_.outputs.end()) return;
  const bool samePort = port == port_;
  port_ = port;
  const Tensor& t = it->second;
  // Keep the slice the user picked when a live update brings a tensor of the same shape.
  const bool keepSlice =
      samePort && static_cast<int>(sliceSpins_.size()) == std::max(0, t.rank() - 2);
  bool shapeFits = keepSlice;
  for (size_t i = 0; keepSlice && i < sliceSpins_.size(); ++i) {
    shapeFits = shapeFits && sliceSpins_[i]->maximum() == t.dim(static_cast<int>(i)) - 1;
  }
  if (!shapeFits) rebuildSliceControls(t);
  updateSlice();

  const uint64_t gen = ++statsGeneration_;
  statsPending_ = true;
  updateStatsLabel();
  if (t.size() <= kSyncElements) {
    const Summary s = summarise(t);
    applyStats(gen, s.stats, s.hist);
  } else {
    auto* watcher = new QFutureWatcher<Summary>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, gen] {
      watcher->deleteLater();
      const Summary s = watcher->result();
      applyStats(gen, s.stats, s.hist);
    });
    watcher->setFuture(QtConcurrent::run(summarise, t));
  }
  plotTraining_->setEnabled(t.size() == 1);
  emit resultShown(currentResultName());
}

void TensorViewer::applyStats(uint64_t generation, const TensorStats& stats,
                              const ValueHistogramData& hist) {
  if (generation != statsGeneration_) return;  // a newer result is on its way
  statsPending_ = false;
  stats_ = stats;
  updateStatsLabel();
  ValueHistogramData d = hist;
  d.title =
      tr("%1: %2").arg(currentResultName(),
                       stats.count == 1 ? tr("its 1 value") : tr("all %1 values").arg(stats.count));
  if (stats.finite == 0) {
    histogram_->clearPlot(tr("No finite values to plot"));
  } else {
    histogram_->setPainter(
        [d = std::move(d)](QPainter& p, const QRectF& r) { paintValueHistogram(p, r, d); });
  }
}

void TensorViewer::updateStatsLabel() {
  const Tensor* t = currentTensor();
  if (!t) {
    statsLabel_->clear();
    return;
  }
  // Each "name value" pair is kept on one line: a wrap may come only between pairs.
  auto pair = [](const QString& name, const QString& value) {
    return QStringLiteral("<span style='white-space:nowrap'>%1 %2 </span>")
        .arg(name.toHtmlEscaped(), value.toHtmlEscaped());
  };
  QString text = tr("<b>%1</b> · shape %2 · %3 · %4")
                     .arg(currentResultName().toHtmlEscaped(),
                          QString::fromStdString(shapeToString(t->shape())),
                          QString::fromLatin1(dtypeName(t->dtype())),
                          counted(t->size(), tr("element"), tr("elements")));
  if (statsPending_) {
    text += tr("<br>computing statistics…");
  } else {
    const TensorStats& s = stats_;
    const bool integer = isIntegerDType(t->dtype());
    const QStringList pairs = {
        pair(tr("min"), integer ? QString::number(s.minInt) : formatNumber(s.min, 8)),
        pair(tr("max"), integer ? QString::number(s.maxInt) : formatNumber(s.max, 8)),
        pair(tr("mean"), formatNumber(s.mean, 8)),
        pair(tr("std"), formatNumber(s.stddev, 8)),
        pair(tr("NaN"), QString::number(s.nan)),
        pair(tr("+inf"), QString::number(s.posInf)),
        pair(tr("-inf"), QString::number(s.negInf))};
    text += QStringLiteral("<br>") + pairs.join(QStringLiteral("· "));
  }
  statsLabel_->setText(text);
}

void TensorViewer::rebuildSliceControls(const Tensor& t) {
  for (QSpinBox* s : sliceSpins_) delete s;
  sliceSpins_.clear();
  const int leading = std::max(0, t.rank() - 2);
  for (int i = 0; i < leading; ++i) {
    auto* spin = new QSpinBox(sliceBar_);
    spin->setObjectName(QStringLiteral("sliceIndex%1").arg(i));
    spin->setPrefix(QStringLiteral("[%1] ").arg(i));
    spin->setRange(0, static_cast<int>(std::max<int64_t>(0, t.dim(i) - 1)));
    spin->setToolTip(tr("Index along axis %1 (size %2)").arg(i).arg(t.dim(i)));
    spin->setKeyboardTracking(true);
    sliceLayout_->insertWidget(1 + i, spin);
    connect(spin, &QSpinBox::valueChanged, this, [this] { updateSlice(); });
    sliceSpins_.push_back(spin);
  }
  sliceBar_->setVisible(leading > 0);
}

void TensorViewer::updateSlice() {
  const Tensor* t = currentTensor();
  if (!t) return;
  int64_t rows = 1, cols = 1, offset = 0;
  if (t->rank() == 1) {
    rows = t->dim(0);
  } else if (t->rank() >= 2) {
    rows = t->dim(-2);
    cols = t->dim(-1);
    int64_t stride = rows * cols;
    for (int i = t->rank() - 3; i >= 0; --i) {
      offset += static_cast<int64_t>(sliceSpins_[static_cast<size_t>(i)]->value()) * stride;
      stride *= t->dim(i);
    }
  }
  if (t->size() == 0) rows = cols = 0;
  model_->setSlice(*t, offset, rows, cols);
  fitValueColumns();

  QString where = currentResultName();
  if (!sliceSpins_.empty()) {
    QStringList idx;
    for (QSpinBox* s : sliceSpins_) idx << QString::number(s->value());
    where += QStringLiteral("[%1, :, :]").arg(idx.join(QStringLiteral(", ")));
  }
  if (rows * cols == 0) {
    heatmap_->clearPlot(tr("Empty tensor"));
    return;
  }
  HeatmapData d;
  d.title = tr("%1 (%2 x %3)").arg(where).arg(rows).arg(cols);
  d.rows = rows;
  d.cols = cols;
  d.values = model_->values();
  double lo = INFINITY, hi = -INFINITY;
  for (float v : d.values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, static_cast<double>(v));
    hi = std::max(hi, static_cast<double>(v));
  }
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi == lo) hi = lo + 1;
  d.lo = lo;
  d.hi = hi;
  heatmap_->setPainter([d = std::move(d)](QPainter& p, const QRectF& r) { paintHeatmap(p, r, d); });
}

void TensorViewer::fitValueColumns() {
  // Every column as wide as the widest text of the slice (the shortest text that reads back, up to
  // "-1.17549435e-38"), measured on a sample of a large slice, so that no cell is cut.
  const QFontMetrics fm(table_->font());
  int widest = fm.horizontalAdvance(QStringLiteral("-0.0000"));
  const int rows = model_->rowCount(), cols = model_->columnCount();
  const int64_t cells = static_cast<int64_t>(rows) * cols;
  const int64_t step = std::max<int64_t>(1, cells / 20000);
  for (int64_t i = 0; i < cells; i += step) {
    const QModelIndex ix = model_->index(static_cast<int>(i / cols), static_cast<int>(i % cols));
    widest = std::max(widest, fm.horizontalAdvance(model_->data(ix, Qt::DisplayRole).toString()));
  }
  if (step > 1) widest = std::max(widest, fm.horizontalAdvance(QStringLiteral("-1.17549435e-38")));
  // The style's cell margins on both sides, and room for a header number as wide.
  const int margin =
      2 * (table_->style()->pixelMetric(QStyle::PM_FocusFrameHMargin, nullptr, table_) + 1) + 8;
  table_->horizontalHeader()->setDefaultSectionSize(widest + margin);
  table_->horizontalHeader()->resizeSections(QHeaderView::Fixed);
}

bool TensorViewer::saveNpy(const QString& path, QString* error) const {
  const Tensor* t = currentTensor();
  if (!t || showsMessage()) {
    if (error) *error = tr("No result is shown.");
    return false;
  }
  try {
    writeNpy(path.toStdString(), *t);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = QString::fromStdString(e.what());
    return false;
  }
}

bool TensorViewer::savePicture(const QString& path, QString* error) const {
  if (showsMessage()) {
    if (error) *error = tr("No result is shown.");
    return false;
  }
  bool ok = false;
  if (auto* plot = qobject_cast<PlotWidget*>(tabs_->currentWidget())) {
    ok = plot->savePng(path);
  } else {
    ok = tabs_->currentWidget()->grab().save(path, "PNG");
  }
  if (!ok && error) *error = tr("Could not write %1").arg(path);
  return ok;
}

}  // namespace qs::editor
