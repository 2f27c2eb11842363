#include "editor_bridge/viewer/QuantPlots.h"

#include <QObject>
#include <QPainter>
#include <QPainterPath>
#include <algorithm>
#include <cmath>

#include "editor_bridge/WireRouter.h"
#include "editor_bridge/viewer/PlotWidget.h"

namespace qs::editor {

namespace {

const QColor kBars(70, 120, 180);
const QColor kOutputBars(40, 140, 90);
const QColor kLevel(230, 140, 20);
const QColor kNudged(200, 90, 0);
const QColor kClip(220, 50, 50);

QString percent(double f) {
  return QString::number(f * 100.0, 'g', 3) + QStringLiteral("%");
}

// A label in a white box so that it stays readable over bars and lines; elided to fit `bounds`.
QRectF boxedText(QPainter& p, const QPointF& anchor, QString text, Qt::Alignment align,
                 const QColor& colour, const QRectF& bounds) {
  const QFontMetricsF fm(p.font());
  if (fm.horizontalAdvance(text) + 8 > bounds.width() - 2) {
    text = elidedPlotText(text, fm, std::max(10.0, bounds.width() - 10));
  }
  const double w = fm.horizontalAdvance(text) + 8, h = fm.height() + 2;
  double x = anchor.x();
  if (align & Qt::AlignRight) x -= w;
  if (align & Qt::AlignHCenter) x -= w / 2;
  x = std::clamp(x, bounds.left() + 1, std::max(bounds.left() + 1, bounds.right() - w - 1));
  const QRectF box(x, anchor.y(), w, h);
  p.save();
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(255, 255, 255, 225));
  p.drawRect(box);
  p.setPen(colour);
  p.drawText(box, Qt::AlignCenter, text);
  p.restore();
  return box;
}

// Width of a boxed label, to lay labels out before drawing them.
double boxedWidth(const QPainter& p, const QString& text) {
  return QFontMetricsF(p.font()).horizontalAdvance(text) + 8;
}

void smallFont(QPainter& p, double size = 8.5) {
  QFont f = p.font();
  f.setPointSizeF(size);
  p.setFont(f);
}

// Levels of the channel that fall in [x0, x1], walked in order without materialising 65536 of
// them when most are off screen.
template <typename F>
void forEachLevel(const ChannelQuantStats& s, double x0, double x1, F&& f) {
  const double scale = s.nudged.scale;
  const int levels = s.levels();
  if (!(scale > 0) || !std::isfinite(scale)) return;
  const double base = static_cast<double>(s.quantMin - static_cast<int>(s.nudged.zeroPoint));
  int first = static_cast<int>(std::floor(x0 / scale - base)) - 1;
  int last = static_cast<int>(std::ceil(x1 / scale - base)) + 1;
  first = std::max(first, 0);
  last = std::min(last, levels - 1);
  for (int k = first; k <= last; ++k) f(k, static_cast<double>(levelValue(s, k)));
}

// Shading of the clipped tails and the lines of the nudged range, shared by histograms and curve:
// drawn under the data, so that a bar on a line stays visible.
void drawNudgedRange(QPainter& p, const PlotAxes& ax, const ChannelQuantStats& s) {
  const QRectF a = ax.area();
  const double lo = ax.px(s.nudged.nudgedMin), hi = ax.px(s.nudged.nudgedMax);
  if (!std::isfinite(lo) || !std::isfinite(hi)) return;  // min == max != 0: no range to draw
  p.save();
  p.setClipRect(a);
  QColor shade = kClip;
  shade.setAlpha(38);
  if (lo > a.left()) p.fillRect(QRectF(a.left(), a.top(), lo - a.left(), a.height()), shade);
  if (hi < a.right()) p.fillRect(QRectF(hi, a.top(), a.right() - hi, a.height()), shade);
  p.setPen(QPen(kNudged, 1.6));
  p.drawLine(QPointF(lo, a.top()), QPointF(lo, a.bottom()));
  p.drawLine(QPointF(hi, a.top()), QPointF(hi, a.bottom()));
  p.restore();
}

// The labels of the clipped tails and the nudged range, at the top of the plot.
struct NudgedLabels {
  QString clipLo, clipHi, nudLo, nudHi;
  double line = 0;
  bool stacked = false;  // the right-hand pair under the left-hand one
  int lines = 0;         // lines of labels drawn (0: none)
  double height() const { return lines > 0 ? lines * line + 3 : 0; }
};

NudgedLabels layoutNudgedLabels(QPainter& p, const PlotAxes& ax, const ChannelQuantStats& s) {
  NudgedLabels l;
  const QRectF a = ax.area();
  const double lo = ax.px(s.nudged.nudgedMin), hi = ax.px(s.nudged.nudgedMax);
  if (!std::isfinite(lo) || !std::isfinite(hi)) return l;
  p.save();
  smallFont(p);
  l.line = QFontMetricsF(p.font()).height() + 4;
  l.clipLo = QStringLiteral("clipped %1").arg(percent(s.fractionBelow()));
  l.clipHi = QStringLiteral("clipped %1").arg(percent(s.fractionAbove()));
  l.nudLo = QStringLiteral("nudged min %1").arg(formatNumber(s.nudged.nudgedMin));
  l.nudHi = QStringLiteral("nudged max %1").arg(formatNumber(s.nudged.nudgedMax));
  // Where the left labels end and the right ones start once clamped into the plot: if they would
  // overlap, the right-hand pair goes on the lines below.
  const double leftEnd =
      std::max(a.left() + 1 + std::max(boxedWidth(p, l.clipLo), boxedWidth(p, l.nudLo)), lo - 3);
  const double rightStart =
      std::min(a.right() - 1 - std::max(boxedWidth(p, l.clipHi), boxedWidth(p, l.nudHi)), hi + 3);
  p.restore();
  l.stacked = rightStart < leftEnd + 4;
  // A small plot keeps what matters most: the clipped fractions, then the nudged values (the
  // table has them too), and never covers more than about half of its height with labels.
  l.lines = std::min(l.stacked ? 4 : 2, static_cast<int>(a.height() * 0.55 / l.line));
  if (l.lines < (l.stacked ? 2 : 1)) l.lines = 0;
  if (l.lines == 3) l.lines = 2;  // stacked: both clipped fractions, without the nudged values
  return l;
}

void drawNudgedLabels(QPainter& p, const PlotAxes& ax, const ChannelQuantStats& s,
                      const NudgedLabels& l) {
  if (l.lines == 0) return;
  const QRectF a = ax.area();
  const double lo = ax.px(s.nudged.nudgedMin), hi = ax.px(s.nudged.nudgedMax);
  p.save();
  smallFont(p);
  const bool nudgedLabels = l.lines >= (l.stacked ? 4 : 2);
  const double y = a.top() + 3;
  const double yRight = l.stacked ? y + (nudgedLabels ? 2 : 1) * l.line : y;
  boxedText(p, QPointF(lo - 3, y), l.clipLo, Qt::AlignRight, kClip, a);
  boxedText(p, QPointF(hi + 3, yRight), l.clipHi, Qt::AlignLeft, kClip, a);
  if (nudgedLabels) {
    boxedText(p, QPointF(lo - 3, y + l.line), l.nudLo, Qt::AlignRight, kNudged, a);
    boxedText(p, QPointF(hi + 3, yRight + l.line), l.nudHi, Qt::AlignLeft, kNudged, a);
  }
  p.restore();
}

}  // namespace

void countLevels(std::span<const float> outputs, const ChannelQuantStats& s,
                 std::vector<int64_t>& counts, int64_t& offLevel) {
  counts.assign(static_cast<size_t>(s.levels()), 0);
  offLevel = 0;
  const double scale = s.nudged.scale;
  const int base = s.quantMin - static_cast<int>(s.nudged.zeroPoint);
  for (float q : outputs) {
    if (std::isnan(q)) continue;
    if (scale == 0) {
      // min == max == 0: the op outputs 0, the level of the zero point.
      const int64_t k = static_cast<int64_t>(s.nudged.zeroPoint) - s.quantMin;
      if (q == 0 && k >= 0 && k < s.levels()) {
        ++counts[static_cast<size_t>(k)];
      } else {
        ++offLevel;
      }
      continue;
    }
    if (!std::isfinite(scale)) {
      ++offLevel;
      continue;
    }
    const double m = std::nearbyint(static_cast<double>(q) / scale);
    const int64_t k = static_cast<int64_t>(m) - base;
    // "On a level" means bit-equal to the level's value, the way the op computes it.
    if (k >= 0 && k < s.levels() && levelValue(s, static_cast<int>(k)) == q) {
      ++counts[static_cast<size_t>(k)];
    } else {
      ++offLevel;
    }
  }
}

namespace {

// The output's level counts per pixel column of a plot plotW wide (empty for the input, whose
// histogram has its own bins), and the count at the top of the scale.
std::vector<double> histogramColumns(const QuantHistogramData& d, double plotW, double* peak) {
  const ChannelQuantStats& s = d.stats;
  std::vector<double> columns;
  *peak = 1;
  if (!d.output) {
    for (int64_t c : d.hist.bins) *peak = std::max(*peak, static_cast<double>(c));
    return columns;
  }
  columns.assign(static_cast<size_t>(plotW) + 1, 0.0);
  forEachLevel(s, d.x0, d.x1, [&](int k, double v) {
    const double c = (v - d.x0) / (d.x1 - d.x0) * plotW;
    if (c >= 0 && c <= plotW) columns[static_cast<size_t>(c)] += d.levelCounts[k];
  });
  // Clipped values pile up on the two end levels; scale to the other levels so that the
  // shape stays visible, and label an end column that goes off the top with its count.
  const auto endColumn = [&](double v) {
    const double c = (v - d.x0) / (d.x1 - d.x0) * plotW;
    return (c >= 0 && c <= plotW) ? static_cast<int64_t>(c) : int64_t{-1};
  };
  const int64_t e0 = endColumn(s.nudged.nudgedMin), e1 = endColumn(s.nudged.nudgedMax);
  double ends = 1;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (static_cast<int64_t>(i) == e0 || static_cast<int64_t>(i) == e1) {
      ends = std::max(ends, columns[i]);
    } else {
      *peak = std::max(*peak, columns[i]);
    }
  }
  if (ends <= *peak * 1.5) *peak = std::max(*peak, ends);
  return columns;
}

// The axis label carries the grid's numbers, where it never covers data.
QString histogramAxisLabel(const QuantHistogramData& d, double spacing, bool eachLevel) {
  const ChannelQuantStats& s = d.stats;
  // The title says input or output; the caption keeps to the grid.
  QString xLabel = QStringLiteral("%1 levels · scale %2 · zero point %3")
                       .arg(s.levels())
                       .arg(formatNumber(s.nudged.scale, 4))
                       .arg(s.nudged.zeroPoint);
  if (!eachLevel) {
    xLabel += QStringLiteral(" · %1 levels/px (a band)")
                  .arg(formatNumber(1.0 / std::max(spacing, 1e-12), 3));
  }
  if (d.output) {
    // How much of the grid the data really uses: a badly ranged channel uses few levels.
    const auto used =
        std::count_if(d.levelCounts.begin(), d.levelCounts.end(), [](int64_t c) { return c > 0; });
    xLabel = QStringLiteral("%1 of %2 levels used · off-level values: %3")
                 .arg(used)
                 .arg(s.levels())
                 .arg(d.offLevel);
  }
  return xLabel;
}

// The output's bars, one per pixel column; a column taller than the scale is labelled with its
// count.
void drawOutputColumns(QPainter& p, const PlotAxes& ax, const std::vector<double>& columns,
                       double plotW, double spacing, bool eachLevel, double labelsHeight) {
  // A column off the scale ends below the labels at the top.
  const QRectF a = ax.area().adjusted(0, labelsHeight, 0, 0);
  p.setBrush(kOutputBars);
  const double colW = a.width() / plotW;
  const double w = eachLevel ? std::clamp(spacing * 0.5, 1.5, 8.0) : std::max(1.0, colW);
  QFont f = p.font();
  f.setPointSizeF(8);
  p.setFont(f);
  auto centre = [&](size_t i) { return a.left() + (static_cast<double>(i) + 0.5) * colW; };
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] <= 0) continue;
    // At least two pixels tall: a level holding one clipped outlier must stay visible.
    const double top = columns[i] > ax.y1() ? a.top() : std::min(ax.py(columns[i]), a.bottom() - 2);
    p.drawRect(QRectF(centre(i) - w / 2, top, w, a.bottom() - top));
  }
  // A clipped pile-up taller than the scale says how tall, over the bars: drawn with its column,
  // the next columns covered part of it.
  p.save();
  p.setRenderHint(QPainter::Antialiasing, true);
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] > ax.y1())
      boxedText(p, QPointF(centre(i), a.center().y()),
                QStringLiteral("%1 ↑").arg(static_cast<int64_t>(columns[i])), Qt::AlignHCenter,
                kOutputBars.darker(140), a);
  p.restore();
}

// The input's histogram bars.
void drawInputBins(QPainter& p, const PlotAxes& ax, const Histogram& hist) {
  const QRectF a = ax.area();
  p.setBrush(kBars);
  const size_t n = hist.bins.size();
  const double bw = a.width() / static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    if (hist.bins[i] == 0) continue;
    const double top = ax.py(static_cast<double>(hist.bins[i]));
    // At least one pixel tall: a single clipped sample must stay visible.
    p.drawRect(QRectF(a.left() + i * bw, std::min(top, a.bottom() - 1), std::max(bw - 0.5, 0.8),
                      std::max(a.bottom() - top, 1.0)));
  }
}

}  // namespace

void paintQuantHistogram(QPainter& p, const QRectF& rect, const QuantHistogramData& d) {
  const ChannelQuantStats& s = d.stats;
  // Counts per pixel column: the same code draws 4 levels or 65536.
  const double plotW = std::max(10.0, rect.width() - 74);
  double peak = 1;
  const std::vector<double> columns = histogramColumns(d, plotW, &peak);
  const double spacing = (rect.width() - 74) * s.nudged.scale / (d.x1 - d.x0);
  const bool eachLevel = spacing >= kMinLevelSpacingPx;
  const QString caption = histogramAxisLabel(d, spacing, eachLevel);
  // Headroom above the tallest bar for the labels at the top, so that they sit on no bar.
  PlotAxes probe(rect, d.x0, d.x1, 0, peak);
  probe.setLabels(d.title, caption, QStringLiteral("count"));
  const NudgedLabels labels = layoutNudgedLabels(p, probe, s);
  const double h = probe.area().height();
  const double free = std::max(h * 0.4, h - labels.height() - 4);
  PlotAxes ax(rect, d.x0, d.x1, 0, peak * std::max(1.1, h / free));
  ax.setLabels(d.title, caption, QStringLiteral("count"));
  ax.drawBackground(p);
  const QRectF a = ax.area();
  drawNudgedRange(p, ax, s);

  p.save();
  p.setClipRect(a);
  // Levels first, under the data.
  QColor levelColour = kLevel;
  if (!d.output && eachLevel) {
    levelColour.setAlpha(110);
    p.setPen(QPen(levelColour, 1));
    forEachLevel(s, d.x0, d.x1, [&](int, double v) {
      p.drawLine(QPointF(ax.px(v), a.top()), QPointF(ax.px(v), a.bottom()));
    });
  }
  // Data; crisp edges, since a bar may be a single pixel wide.
  p.setRenderHint(QPainter::Antialiasing, false);
  p.setPen(Qt::NoPen);
  if (d.output) {
    drawOutputColumns(p, ax, columns, plotW, spacing, eachLevel, labels.height());
  } else {
    drawInputBins(p, ax, d.hist);
  }
  if (!eachLevel) {
    // Too dense to draw one by one: a band along the axis over the nudged range.
    levelColour.setAlpha(150);
    const double lo = ax.px(s.nudged.nudgedMin), hi = ax.px(s.nudged.nudgedMax);
    p.fillRect(QRectF(lo, a.bottom() - 5, hi - lo, 5), levelColour);
  }
  p.restore();
  if (d.overlay) d.overlay(p, ax);
  drawNudgedLabels(p, ax, s, labels);
  ax.drawForeground(p);
}

void paintTransferCurve(QPainter& p, const QRectF& rect, const TransferCurveData& d) {
  const ChannelQuantStats& s = d.stats;
  const double ySpan =
      std::max(1e-30, static_cast<double>(s.nudged.nudgedMax - s.nudged.nudgedMin));
  PlotAxes ax(rect, d.x0, d.x1, s.nudged.nudgedMin - 0.08 * ySpan,
              s.nudged.nudgedMax + 0.08 * ySpan);
  // The sample count goes in the caption: a box inside the plot covered the staircase.
  ax.setLabels(d.title,
               QStringLiteral("input · %1 (dots)")
                   .arg(counted(static_cast<int64_t>(d.samples.size()), QStringLiteral("sample"),
                                QStringLiteral("samples"))),
               QStringLiteral("output"));
  ax.drawBackground(p);
  const QRectF a = ax.area();
  drawNudgedRange(p, ax, s);
  p.save();
  p.setClipRect(a);
  // Identity, for reference.
  p.setPen(QPen(QColor(170, 170, 170), 1, Qt::DashLine));
  p.drawLine(QPointF(ax.px(d.x0), ax.py(d.x0)), QPointF(ax.px(d.x1), ax.py(d.x1)));
  // The staircase, from the op's own arithmetic at two points per pixel.
  QPainterPath path;
  const int n = std::max(2, static_cast<int>(a.width() * 2));
  float prev = 0;
  bool started = false;
  for (int i = 0; i <= n; ++i) {
    const float x = static_cast<float>(d.x0 + (d.x1 - d.x0) * i / n);
    const float q = quantizeValue(x, s.nudged, d.op);
    if (std::isnan(q)) {
      // min == max != 0: the op outputs NaN; nothing to draw.
      started = false;
      continue;
    }
    if (!started) {
      path.moveTo(ax.px(x), ax.py(q));
      started = true;
    } else {
      if (q != prev) path.lineTo(ax.px(x), ax.py(prev));
      path.lineTo(ax.px(x), ax.py(q));
    }
    prev = q;
  }
  p.setPen(QPen(kNudged, 1.5));
  p.setBrush(Qt::NoBrush);
  p.drawPath(path);
  // The channel's samples, on the curve.
  QColor dot = kBars;
  dot.setAlpha(120);
  p.setPen(Qt::NoPen);
  p.setBrush(dot);
  for (float x : d.samples) {
    if (!std::isfinite(x)) continue;
    const float q = quantizeValue(x, s.nudged, d.op);
    if (std::isnan(q)) continue;
    p.drawEllipse(QPointF(ax.px(x), ax.py(q)), 2.2, 2.2);
  }
  p.restore();
  ax.drawForeground(p);
}

namespace {

// The range of the finite SQNR values of both curves ([0, 1] if there are none).
std::pair<double, double> sqnrRange(const SweepData& d) {
  double lo = 1e300, hi = -1e300;
  for (const auto* curve : {&d.wide, &d.narrow}) {
    for (const SweepPoint& pt : *curve) {
      if (!std::isfinite(pt.sqnrDb)) continue;
      lo = std::min(lo, pt.sqnrDb);
      hi = std::max(hi, pt.sqnrDb);
    }
  }
  if (lo > hi) lo = 0, hi = 1;
  return {lo, hi};
}

// One curve of the sweep and how it is drawn.
struct SweepCurve {
  const std::vector<SweepPoint>* pts;
  QColor colour;
  QString name;
  double width;
  Qt::PenStyle style;
  double dot;
};

// The curve's line (broken where SQNR is not finite) and its points.
void drawSweepCurve(QPainter& p, const PlotAxes& ax, const SweepCurve& c) {
  QPainterPath path;
  bool started = false;
  for (const SweepPoint& pt : *c.pts) {
    if (!std::isfinite(pt.sqnrDb)) {
      started = false;
      continue;
    }
    const QPointF q(ax.px(pt.numBits), ax.py(pt.sqnrDb));
    if (started) {
      path.lineTo(q);
    } else {
      path.moveTo(q);
      started = true;
    }
  }
  p.setPen(QPen(c.colour, c.width, c.style));
  p.setBrush(Qt::NoBrush);
  p.drawPath(path);
  p.setBrush(c.colour);
  p.setPen(Qt::NoPen);
  for (const SweepPoint& pt : *c.pts) {
    if (std::isfinite(pt.sqnrDb))
      p.drawEllipse(QPointF(ax.px(pt.numBits), ax.py(pt.sqnrDb)), c.dot, c.dot);
  }
}

QString sweepValueText(const SweepPoint& current) {
  return QStringLiteral("num_bits %1: %2 dB")
      .arg(current.numBits)
      .arg(std::isfinite(current.sqnrDb) ? QString::number(current.sqnrDb, 'f', 2)
                                         : formatNumber(current.sqnrDb));
}

const char* const kSweepNames[] = {"narrow_range = false", "narrow_range = true"};

// The first of the places inside `a` (corners, then edge middles, then the centre) where a box of
// `size` covers none of `data`'s points and runs and none of `taken`; failing that, the one that
// covers the fewest.
QRectF freePlace(const QRectF& a, QSizeF size, const SweepLayout& data,
                 const std::vector<QRectF>& taken) {
  const double l = a.left() + 4, r = a.right() - 4 - size.width(),
               cx = a.center().x() - size.width() / 2;
  const double t = a.top() + 4, b = a.bottom() - 4 - size.height(),
               cy = a.center().y() - size.height() / 2;
  const QPointF places[] = {{l, t},  {r, b},  {r, t},  {l, b},  {cx, t},
                            {cx, b}, {l, cy}, {r, cy}, {cx, cy}};
  QRectF best;
  int fewest = 1 << 30;
  for (const QPointF& at : places) {
    const QRectF box(at, size);
    int hits = 0;
    for (const QRectF& o : taken) hits += box.intersects(o) ? 100 : 0;
    for (const auto& run : data.runs) hits += segmentEntersRect(run.first, run.second, box) ? 1 : 0;
    for (const QPointF& pt : data.points) hits += box.adjusted(-5, -5, 5, 5).contains(pt) ? 1 : 0;
    if (data.hasCurrent && box.intersects(data.currentRing)) hits += 1;
    if (hits < fewest) {
      fewest = hits;
      best = box;
    }
    if (hits == 0) break;
  }
  return best;
}

// Legend: one line per curve, its pen's sample beside its name.
void drawSweepLegend(QPainter& p, const QRectF& box, std::span<const SweepCurve> curves) {
  p.save();
  smallFont(p);
  const QFontMetricsF fm(p.font());
  double y = box.top();
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(255, 255, 255, 230));
  p.drawRect(box);
  for (const SweepCurve& c : curves) {
    const QRectF line(box.left(), y, box.width(), fm.height() + 2);
    p.setPen(QPen(c.colour, std::max(2.0, c.width * 0.8), c.style));
    p.drawLine(QPointF(line.left() + 4, line.center().y()),
               QPointF(line.left() + 20, line.center().y()));
    p.setPen(QColor(40, 40, 40));
    p.drawText(line.adjusted(24, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter, c.name);
    y += fm.height() + 2;
  }
  p.restore();
}

}  // namespace

namespace {
// The sweep's axes: num_bits 2 to 16 across, the curves' SQNR up the side.
PlotAxes sweepAxes(const QRectF& rect, const SweepData& d) {
  const auto [lo, hi] = sqnrRange(d);
  const double pad = std::max(1.0, (hi - lo) * 0.08);
  PlotAxes ax(rect, 1.5, 16.5, lo - pad, hi + pad);
  ax.setLabels(d.title, QStringLiteral("num_bits"), QStringLiteral("SQNR dB"));
  return ax;
}
}  // namespace

SweepLayout layoutSweep(const QRectF& rect, const SweepData& d) {
  SweepLayout out;
  const PlotAxes ax = sweepAxes(rect, d);
  out.area = ax.area();
  for (const auto* curve : {&d.wide, &d.narrow}) {
    bool started = false;
    QPointF last;
    for (const SweepPoint& pt : *curve) {
      if (!std::isfinite(pt.sqnrDb)) {
        started = false;
        continue;
      }
      const QPointF q(ax.px(pt.numBits), ax.py(pt.sqnrDb));
      out.points.push_back(q);
      if (started) out.runs.emplace_back(last, q);
      last = q;
      started = true;
    }
  }
  for (const SweepPoint& pt : d.currentNarrow ? d.narrow : d.wide) {
    if (pt.numBits != d.currentBits || !std::isfinite(pt.sqnrDb)) continue;
    out.hasCurrent = true;
    out.current = pt;
    const QPointF c(ax.px(pt.numBits), ax.py(pt.sqnrDb));
    out.currentRing = QRectF(c - QPointF(8, 8), QSizeF(16, 16));
  }
  QFont f;
  f.setPointSizeF(8.5);
  const QFontMetricsF fm(f);
  // Legend and value only where they leave the curves room (three lines of text in all).
  if (out.area.height() < 6 * (fm.height() + 2)) return out;
  double w = 0;
  for (const char* name : kSweepNames) w = std::max(w, fm.horizontalAdvance(name) + 30);
  out.legend = freePlace(out.area, QSizeF(w, 2 * (fm.height() + 2)), out, {});
  if (out.hasCurrent) {
    const QSizeF size(fm.horizontalAdvance(sweepValueText(out.current)) + 8, fm.height() + 2);
    out.value = freePlace(out.area, size, out, {out.legend});
  }
  return out;
}

QString sweepWithoutPoints(const SweepData& d) {
  bool anyInf = false;
  for (const auto* curve : {&d.wide, &d.narrow})
    for (const SweepPoint& pt : *curve) {
      if (std::isfinite(pt.sqnrDb)) return {};
      anyInf = anyInf || std::isinf(pt.sqnrDb);
    }
  if (d.wide.empty() && d.narrow.empty()) return {};
  return anyInf ? QObject::tr(
                      "SQNR is infinite at every num_bits: quantizing does not change "
                      "these values")
                : QObject::tr("SQNR is undefined at every num_bits: the values are all zero");
}

void paintSweep(QPainter& p, const QRectF& rect, const SweepData& d) {
  const PlotAxes ax = sweepAxes(rect, d);
  ax.drawBackground(p);
  const QRectF a = ax.area();
  const SweepLayout layout = layoutSweep(rect, d);
  p.save();
  p.setClipRect(a);
  p.setPen(QPen(QColor(120, 120, 120), 1, Qt::DashLine));
  p.drawLine(QPointF(ax.px(d.currentBits), a.top()), QPointF(ax.px(d.currentBits), a.bottom()));
  // The two curves often coincide to the pixel: the first is drawn wide and solid, the second
  // thin and dashed on top, so that both stay visible.
  const SweepCurve curves[] = {
      {&d.wide, kBars, QString::fromLatin1(kSweepNames[0]), 3.2, Qt::SolidLine, 4.0},
      {&d.narrow, kNudged, QString::fromLatin1(kSweepNames[1]), 1.6, Qt::DashLine, 2.2}};
  for (const SweepCurve& c : curves) drawSweepCurve(p, ax, c);
  // The point of the block's own setting, ringed.
  if (layout.hasCurrent) {
    p.setPen(QPen(Qt::black, 1.5));
    p.setBrush(Qt::NoBrush);
    p.drawEllipse(layout.currentRing.center(), 7, 7);
  }
  p.restore();
  ax.drawForeground(p);
  // Legend and the setting's value where they cover no point, run or ring.
  if (!layout.value.isNull()) {
    p.save();
    smallFont(p);
    boxedText(p, layout.value.topLeft(), sweepValueText(layout.current), Qt::AlignLeft,
              QColor(25, 25, 25), a);
    p.restore();
  }
  if (!layout.legend.isNull()) drawSweepLegend(p, layout.legend, curves);
  // Nothing to draw must not look like a plot that failed.
  if (const QString why = sweepWithoutPoints(d); !why.isEmpty()) {
    p.save();
    smallFont(p);
    p.setPen(QColor(25, 25, 25));
    p.drawText(a.adjusted(6, 6, -6, -6), Qt::AlignCenter | Qt::TextWordWrap, why);
    p.restore();
  }
}

unsigned colourScale(double t) {
  // Stops of matplotlib's viridis.
  static const double stops[][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  const double f = t * 4;
  const int i = std::min(3, static_cast<int>(f));
  const double u = f - i;
  auto mix = [&](int ch) {
    return static_cast<unsigned>(stops[i][ch] * (1 - u) + stops[i + 1][ch] * u + 0.5);
  };
  return 0xff000000u | (mix(0) << 16) | (mix(1) << 8) | mix(2);
}

void paintHeatmap(QPainter& p, const QRectF& rect, const HeatmapData& d) {
  PlotAxes ax(rect, 0, static_cast<double>(std::max<int64_t>(d.cols, 1)), 0,
              static_cast<double>(std::max<int64_t>(d.rows, 1)));
  ax.setLabels(d.title, QStringLiteral("column"), QStringLiteral("row"));
  ax.setRightMargin(92);
  p.fillRect(rect, Qt::white);
  // Square cells, as the data has them, unless that would squeeze one side below a third of
  // the room (a 1 x 4096 slice stays a readable strip).
  QRectF a = ax.area();
  {
    const double cols = static_cast<double>(std::max<int64_t>(d.cols, 1));
    const double rows = static_cast<double>(std::max<int64_t>(d.rows, 1));
    const double cell = std::min(a.width() / cols, a.height() / rows);
    a.setWidth(std::max(cols * cell, a.width() / 3));
    a.setHeight(std::max(rows * cell, a.height() / 3));
  }
  // At most one image pixel per screen pixel (times two for export), so that a 4096 x 1024 slice
  // costs what the screen shows, not 4M lookups.
  const int64_t maxW = std::max<int64_t>(1, static_cast<int64_t>(a.width() * 2));
  const int64_t maxH = std::max<int64_t>(1, static_cast<int64_t>(a.height() * 2));
  const int w = static_cast<int>(std::min(d.cols, maxW)),
            h = static_cast<int>(std::min(d.rows, maxH));
  if (w > 0 && h > 0) {
    QImage img(w, h, QImage::Format_ARGB32);
    const double span = d.hi > d.lo ? d.hi - d.lo : 1.0;
    for (int y = 0; y < h; ++y) {
      const int64_t r = static_cast<int64_t>(y) * d.rows / h;
      auto* line = reinterpret_cast<unsigned*>(img.scanLine(y));
      for (int x = 0; x < w; ++x) {
        const int64_t c = static_cast<int64_t>(x) * d.cols / w;
        const float v = d.values[static_cast<size_t>(r * d.cols + c)];
        if (std::isnan(v)) {
          line[x] = 0xffff00ffu;  // magenta: impossible to mistake for data
        } else {
          line[x] = colourScale((v - d.lo) / span);
        }
      }
    }
    p.save();
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(a, img);
    p.restore();
  }
  // Rows grow downwards like the table: label the y ticks as row indices from the top.
  p.save();
  QFont f = p.font();
  f.setPointSizeF(8.5);
  p.setFont(f);
  const QFontMetricsF fm(f);
  p.setPen(QColor(60, 60, 60));
  p.drawRect(a);
  // Ticks at the centres of the cells they name.
  for (double t : niceTicks(0, static_cast<double>(std::max<int64_t>(d.cols - 1, 1)),
                            std::max(2, static_cast<int>(a.width() / 80)))) {
    const double x = a.left() + (t + 0.5) / std::max<int64_t>(d.cols, 1) * a.width();
    p.drawLine(QPointF(x, a.bottom()), QPointF(x, a.bottom() + 4));
    p.drawText(QRectF(x - 30, a.bottom() + 5, 60, fm.height()), Qt::AlignCenter, formatNumber(t));
  }
  for (double t : niceTicks(0, static_cast<double>(std::max<int64_t>(d.rows - 1, 1)),
                            std::max(2, static_cast<int>(a.height() / 40)))) {
    const double y = a.top() + (t + 0.5) / std::max<int64_t>(d.rows, 1) * a.height();
    p.drawLine(QPointF(a.left() - 4, y), QPointF(a.left(), y));
    p.drawText(QRectF(rect.left(), y - fm.height() / 2, a.left() - rect.left() - 6, fm.height()),
               Qt::AlignRight | Qt::AlignVCenter, formatNumber(t));
  }
  p.drawText(QRectF(a.left(), a.bottom() + 6 + fm.height(), a.width(), fm.height()),
             Qt::AlignCenter, QStringLiteral("column"));
  p.save();
  p.translate(rect.left() + fm.height() * 0.2, a.center().y());
  p.rotate(-90);
  p.drawText(QRectF(-a.height() / 2, 0, a.height(), fm.height()), Qt::AlignCenter,
             QStringLiteral("row"));
  p.restore();
  QFont tf = f;
  tf.setBold(true);
  tf.setPointSizeF(9.5);
  p.setFont(tf);
  p.drawText(QRectF(rect.left() + 8, rect.top() + 4, rect.width() - 16, 20),
             Qt::AlignLeft | Qt::AlignVCenter, d.title);
  p.setFont(f);
  // Colour legend.
  const QRectF bar(a.right() + 14, a.top(), 16, a.height());
  QLinearGradient g(bar.bottomLeft(), bar.topLeft());
  for (int i = 0; i <= 8; ++i) g.setColorAt(i / 8.0, QColor::fromRgb(colourScale(i / 8.0)));
  p.fillRect(bar, g);
  p.drawRect(bar);
  const double span = d.hi > d.lo ? d.hi - d.lo : 1.0;
  for (double t : niceTicks(d.lo, d.lo + span, std::max(2, static_cast<int>(a.height() / 40)))) {
    const double y = bar.bottom() - (t - d.lo) / span * bar.height();
    p.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 3, y));
    p.drawText(QRectF(bar.right() + 5, y - fm.height() / 2, 60, fm.height()),
               Qt::AlignLeft | Qt::AlignVCenter, formatNumber(t, 4));
  }
  p.restore();
}

void paintValueHistogram(QPainter& p, const QRectF& rect, const ValueHistogramData& d) {
  double peak = 1;
  for (int64_t c : d.hist.bins) peak = std::max(peak, static_cast<double>(c));
  PlotAxes ax(rect, d.hist.lo, d.hist.hi, 0, peak * 1.1);
  ax.setLabels(d.title, QStringLiteral("value"), QStringLiteral("count"));
  ax.drawBackground(p);
  const QRectF a = ax.area();
  p.save();
  p.setClipRect(a);
  p.setPen(Qt::NoPen);
  p.setBrush(kBars);
  const size_t n = d.hist.bins.size();
  const double bw = a.width() / static_cast<double>(std::max<size_t>(n, 1));
  for (size_t i = 0; i < n; ++i) {
    if (d.hist.bins[i] == 0) continue;
    const double top = ax.py(static_cast<double>(d.hist.bins[i]));
    p.drawRect(QRectF(a.left() + i * bw, std::min(top, a.bottom() - 1), std::max(bw - 0.5, 0.8),
                      std::max(a.bottom() - top, 1.0)));
  }
  p.restore();
  ax.drawForeground(p);
  if (d.nonFinite > 0) {
    p.save();
    smallFont(p);
    boxedText(p, QPointF(a.right() - 4, a.top() + 4),
              QStringLiteral("%1 not shown")
                  .arg(counted(d.nonFinite, QStringLiteral("NaN/inf value"),
                               QStringLiteral("NaN/inf values"))),
              Qt::AlignRight, kClip, a);
    p.restore();
  }
}

}  // namespace qs::editor
