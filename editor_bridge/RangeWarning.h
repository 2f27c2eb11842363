#pragma once

#include <QString>

#include "editor_bridge/EvalService.h"
#include "runtime/Page.h"

namespace qs::editor {

// Why a FakeQuant block's range is doubtful, or empty: min > max (its attributes for the Args op,
// the tensors on its min and max inputs, as `results` last gave them, for Vars and PerChannel).
// TensorFlow accepts such a range and outputs nudged min for every value, so it is a warning on
// the block, not an error.
QString rangeWarning(const Page& page, const Block& block, const ResultMap& results);

// The same test on one range: "channel 3: min 2 > max 1" for the first channel (index
// `channels` > 1) whose min is above its max, or empty.
QString reversedRange(const float* mins, const float* maxs, int64_t channels);

}  // namespace qs::editor
