#pragma once

// How a learned range moved while a page trained: drawn over the inspector's input histogram (the
// current range and a faint trail of earlier ones) and as a plot of min and max over the steps.

#include <QString>

#include "editor_bridge/TrainingSeries.h"

class QPainter;
class QRectF;

namespace qs::editor {

class PlotAxes;

// The most earlier ranges the trail draws (evenly spread over the steps, the latest always in).
constexpr size_t kRangeTrailLines = 40;

// Indices of the steps the trail draws, oldest first, the last step excluded (it is drawn as the
// current range).
std::vector<size_t> rangeTrailSteps(size_t stepCount, size_t maxLines = kRangeTrailLines);

// The learned range of `channel` over a histogram drawn with `axes`: earlier ranges faint (the
// older the fainter), the current one bold.
void paintRangeTrail(QPainter& p, const PlotAxes& axes, const RangeTrace& trace, size_t channel);

// min and max of `channel` over the steps.
void paintRangeTrace(QPainter& p, const QRectF& rect, const RangeTrace& trace, size_t channel,
                     const QString& title);

}  // namespace qs::editor
