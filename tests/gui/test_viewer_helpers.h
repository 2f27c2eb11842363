#pragma once

// Shared by the viewer's GUI tests: building a block's results the way the editor hands them over.

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTest>

#include "blocks/array_ops/FakeQuantKernels.h"
#include "editor_bridge/viewer/TensorViewer.h"

namespace qs::editor::testing {

// A PerChannel forward block with its inputs and its real output (computed by the block's
// kernel, not by the viewer).
inline BlockResultsView perChannelBlock(const Tensor& x, const std::vector<float>& mins,
                                        const std::vector<float>& maxs, int numBits,
                                        bool narrow = false) {
  BlockResultsView v;
  v.blockId = QStringLiteral("fq");
  v.type = QStringLiteral("FakeQuantWithMinMaxVarsPerChannel");
  v.status = BlockStatus::Ok;
  v.attrs.set("num_bits", int64_t{numBits});
  v.attrs.set("narrow_range", narrow);
  const int64_t d = static_cast<int64_t>(mins.size());
  v.inputs["inputs"] = x;
  v.inputs["min"] = Tensor::fromValues({d}, mins);
  v.inputs["max"] = Tensor::fromValues({d}, maxs);
  Tensor out = Tensor::uninitialized(x.shape());
  fq::perChannelForward(x.data(), x.size() / d, d, mins.data(), maxs.data(),
                        fq::quantRange(numBits, narrow), out.mutableData(), {});
  v.outputs["output"] = out;
  return v;
}

// Lets queued worker results arrive; false if the viewer is still busy after `ms`.
inline bool waitIdle(TensorViewer& viewer, int ms = 20000) {
  return viewer.waitForIdle(ms);
}

}  // namespace qs::editor::testing
