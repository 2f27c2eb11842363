#include "editor_bridge/viewer/RangeTracePlots.h"

#include <QCoreApplication>
#include <QPainter>
#include <QPainterPath>
#include <cmath>

#include "editor_bridge/viewer/PlotWidget.h"

namespace qs::editor {

namespace {

const QColor kMinColour(40, 90, 200);
const QColor kMaxColour(200, 40, 120);

QString tr(const char* text) {
  return QCoreApplication::translate("RangeTracePlots", text);
}

}  // namespace

std::vector<size_t> rangeTrailSteps(size_t stepCount, size_t maxLines) {
  std::vector<size_t> out;
  if (stepCount < 2 || maxLines == 0) return out;
  const size_t earlier = stepCount - 1;
  if (earlier <= maxLines) {
    for (size_t i = 0; i < earlier; ++i) out.push_back(i);
    return out;
  }
  // Evenly spread, ending with the step just before the current one.
  for (size_t k = 0; k < maxLines; ++k)
    out.push_back(earlier - 1 - (earlier - 1) * (maxLines - 1 - k) / (maxLines - 1));
  return out;
}

void paintRangeTrail(QPainter& p, const PlotAxes& axes, const RangeTrace& trace, size_t channel) {
  if (trace.mins.empty() || channel >= trace.channels()) return;
  const QRectF a = axes.area();
  p.save();
  p.setClipRect(a);
  p.setRenderHint(QPainter::Antialiasing, true);
  const std::vector<size_t> trail = rangeTrailSteps(trace.mins.size());
  for (size_t k = 0; k < trail.size(); ++k) {
    // From nearly invisible (oldest) to clearly faint (newest).
    const int alpha = 20 + static_cast<int>(70.0 * static_cast<double>(k + 1) /
                                            static_cast<double>(trail.size()));
    for (auto [values, colour] : {std::pair{&trace.mins, kMinColour}, {&trace.maxs, kMaxColour}}) {
      QColor c = colour;
      c.setAlpha(alpha);
      p.setPen(QPen(c, 1));
      const double x = axes.px((*values)[trail[k]][channel]);
      p.drawLine(QPointF(x, a.top()), QPointF(x, a.bottom()));
    }
  }
  const double lo = trace.mins.back()[channel], hi = trace.maxs.back()[channel];
  QFont font = p.font();
  font.setPointSizeF(8);
  p.setFont(font);
  const QFontMetricsF fm(font);
  for (auto [v, colour, label] :
       {std::tuple{lo, kMinColour, tr("learned min")}, {hi, kMaxColour, tr("learned max")}}) {
    const double x = axes.px(v);
    p.setPen(QPen(colour, 2.2));
    p.drawLine(QPointF(x, a.top()), QPointF(x, a.bottom()));
    const double w = fm.horizontalAdvance(label);
    // Labels inside the plot, on the side of the line that has room.
    const double left = x + 4 + w < a.right() ? x + 4 : x - 4 - w;
    // Below the histogram's own captions (clipped %, levels), which sit at the top.
    const double y = a.top() + a.height() * 0.45 + (v == hi ? fm.height() + 2 : 0);
    p.fillRect(QRectF(left - 1, y - fm.ascent(), w + 2, fm.height()), QColor(255, 255, 255, 200));
    p.drawText(QPointF(left, y), label);
  }
  p.restore();
}

void paintRangeTrace(QPainter& p, const QRectF& rect, const RangeTrace& trace, size_t channel,
                     const QString& title) {
  p.save();
  p.setRenderHint(QPainter::Antialiasing, true);
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < trace.mins.size(); ++i) {
    for (float v : {trace.mins[i][channel], trace.maxs[i][channel]}) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, static_cast<double>(v));
      hi = std::max(hi, static_cast<double>(v));
    }
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  const double pad = hi > lo ? (hi - lo) * 0.06 : 0.5;
  const double x0 = static_cast<double>(trace.steps.front());
  const double x1 = static_cast<double>(trace.steps.back());
  PlotAxes ax(rect, x0, x1 > x0 ? x1 : x0 + 1, lo - pad, hi + pad);
  ax.setLabels(title, tr("step · blue: min · red: max"), tr("range"));
  ax.drawBackground(p);
  p.save();
  p.setClipRect(ax.area());
  for (auto [values, colour] : {std::pair{&trace.mins, kMinColour}, {&trace.maxs, kMaxColour}}) {
    QPainterPath path;
    for (size_t i = 0; i < values->size(); ++i) {
      const QPointF pt(ax.px(static_cast<double>(trace.steps[i])), ax.py((*values)[i][channel]));
      i == 0 ? path.moveTo(pt) : path.lineTo(pt);
    }
    p.setPen(QPen(colour, 1.8));
    p.setBrush(Qt::NoBrush);
    p.drawPath(path);
  }
  p.restore();
  ax.drawForeground(p);
  p.restore();
}

}  // namespace qs::editor
