#pragma once

// The paint functions of the viewer's plots. Each takes the data it draws by value (so a plot
// widget can keep it in its painter) and paints into any rectangle of any paint device.

#include <QPointF>
#include <QRectF>
#include <QString>
#include <functional>
#include <utility>
#include <vector>

#include "editor_bridge/viewer/ChannelQuantStats.h"

class QPainter;

namespace qs::editor {

class PlotAxes;

// Histogram of a channel's input (or output) with the quantization grid over it.
struct QuantHistogramData {
  QString title;
  ChannelQuantStats stats;
  bool output = false;
  double x0 = 0, x1 = 1;  // the view range: the data and the nudged range
  Histogram hist;         // input: the samples over [x0, x1]
  // Output: how many values sit on each level (stats.levels() entries) and how many do not.
  std::vector<int64_t> levelCounts;
  int64_t offLevel = 0;
  // Drawn over the data and under the axes' labels (the inspector's learned-range trail).
  std::function<void(QPainter&, const PlotAxes&)> overlay;
};

// Output of the quantizer for the samples, counted per level.
void countLevels(std::span<const float> outputs, const ChannelQuantStats& stats,
                 std::vector<int64_t>& counts, int64_t& offLevel);

// Levels closer than this on screen are drawn as a density band instead of one line each.
constexpr double kMinLevelSpacingPx = 4.0;

void paintQuantHistogram(QPainter& p, const QRectF& rect, const QuantHistogramData& d);

struct TransferCurveData {
  QString title;
  ChannelQuantStats stats;
  fq::Quantize op = fq::Quantize::Mul;
  double x0 = 0, x1 = 1;
  std::vector<float> samples;  // a subset of the channel's inputs, drawn on the curve
};
void paintTransferCurve(QPainter& p, const QRectF& rect, const TransferCurveData& d);

struct SweepData {
  QString title;
  std::vector<SweepPoint> wide;    // narrow_range = false
  std::vector<SweepPoint> narrow;  // narrow_range = true
  int currentBits = 8;
  bool currentNarrow = false;
};
void paintSweep(QPainter& p, const QRectF& rect, const SweepData& d);
// Why the sweep has no point to draw (every SQNR infinite or NaN), said in the plot; empty when
// it has one.
QString sweepWithoutPoints(const SweepData& d);

// Where the sweep plot puts its data and its labels: the legend and the setting's value go where
// they cover none of the curves' points and runs nor the ring of the current setting.
struct SweepLayout {
  QRectF area;                                    // the plot's data rectangle
  std::vector<QPointF> points;                    // both curves' points
  std::vector<std::pair<QPointF, QPointF>> runs;  // the lines between them
  bool hasCurrent = false;
  SweepPoint current;
  QRectF currentRing;
  QRectF legend, value;  // null when the plot is too small for them
};
SweepLayout layoutSweep(const QRectF& rect, const SweepData& d);

// A 2-D slice as an image with a colour scale legend.
struct HeatmapData {
  QString title;
  int64_t rows = 0, cols = 0;
  std::vector<float> values;  // rows * cols, row-major
  double lo = 0, hi = 1;      // colour scale range (finite min/max of the slice)
};
void paintHeatmap(QPainter& p, const QRectF& rect, const HeatmapData& d);
// Viridis-like colour for t in [0, 1]; readable on white and in grey print.
unsigned colourScale(double t);

struct ValueHistogramData {
  QString title;
  Histogram hist;
  int64_t nonFinite = 0;
};
void paintValueHistogram(QPainter& p, const QRectF& rect, const ValueHistogramData& d);

}  // namespace qs::editor
