#pragma once

// Conv2D and DepthwiseConv2dNative in NHWC with HWIO filters, and their gradients. Every kernel
// splits its work between the block's threads in pieces fixed by the shapes (blocks/nn/Gemm.h), so
// the results have the same bits whatever the thread count.

#include <cstdint>

#include "runtime/BlockDescriptor.h"

namespace qs::nn {

struct ConvGeometry {
  int64_t batch = 0, inRows = 0, inCols = 0, inDepth = 0;
  int64_t filterRows = 0, filterCols = 0;
  // Conv2D: the filter's out_channels. Depthwise: inDepth * multiplier.
  int64_t outDepth = 0;
  int64_t multiplier = 1;  // depthwise only
  int64_t strideRows = 1, strideCols = 1, dilationRows = 1, dilationCols = 1;
  int64_t outRows = 0, outCols = 0, padTop = 0, padLeft = 0;

  int64_t outPixels() const { return batch * outRows * outCols; }
  int64_t inPixels() const { return batch * inRows * inCols; }
  int64_t taps() const { return filterRows * filterCols; }
};

// One spatial dimension as TensorFlow's GetWindowedOutputSizeVerbose: the output size and the
// padding before it (SAME puts the odd one after). Throws its message when the size is negative.
void windowedOutputSize(int64_t input, int64_t filter, int64_t dilation, int64_t stride, bool same,
                        int64_t& output, int64_t& padBefore);

// Conv2D: y [batch, outRows, outCols, outDepth] from x [batch, inRows, inCols, inDepth] and
// w [filterRows, filterCols, inDepth, outDepth].
void conv2d(const BlockContext& ctx, const ConvGeometry& g, const float* x, const float* w,
            float* y);
// d(loss)/dx from dy (Conv2DBackpropInput).
void conv2dBackpropInput(const BlockContext& ctx, const ConvGeometry& g, const float* w,
                         const float* dy, float* dx);
// d(loss)/dw from x and dy (Conv2DBackpropFilter).
void conv2dBackpropFilter(const BlockContext& ctx, const ConvGeometry& g, const float* x,
                          const float* dy, float* dw);

// DepthwiseConv2dNative: w [filterRows, filterCols, inDepth, multiplier]; output channel
// c * multiplier + m is input channel c through w[.., .., c, m].
void depthwiseConv2d(const BlockContext& ctx, const ConvGeometry& g, const float* x, const float* w,
                     float* y);
void depthwiseBackpropInput(const BlockContext& ctx, const ConvGeometry& g, const float* w,
                            const float* dy, float* dx);
void depthwiseBackpropFilter(const BlockContext& ctx, const ConvGeometry& g, const float* x,
                             const float* dy, float* dw);

}  // namespace qs::nn
