#pragma once

// Applies a calibrator to a FakeQuant block on the page: inserts the calibrator block, feeds it
// what feeds the FakeQuant block's `inputs`, and wires its `min` and `max` into the FakeQuant
// block's (replacing what was there), all as one undo step.

#include <QString>

#include "blocks/quant/CalibrationMath.h"
#include "editor_bridge/PageModel.h"

namespace qs::editor {

// Why calibrators cannot be applied to block `fq`, or empty when they can: it must be a FakeQuant
// block with `min` and `max` inputs whose `inputs` is wired.
QString applyCalibratorRefusal(const PageModel& model, const BlockId& fq);

// Inserts and wires the calibrator of method `m` with the op's num_bits and narrow_range (and
// MinMax on the last batch, as the bake-off scores it). Returns the refusal (changing nothing), or
// empty when applied; `added` receives the new block's id.
QString applyCalibrator(PageModel& model, const BlockId& fq, calib::Method m,
                        BlockId* added = nullptr);

}  // namespace qs::editor
