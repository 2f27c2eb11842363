#include "blocks/nn/ConvKernels.h"

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <string>
#include <vector>

#include "blocks/Chunks.h"
#include "blocks/nn/Gemm.h"
#include "runtime/Error.h"

namespace qs::nn {

namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;
// [multiplier, channels] views of a depthwise row: element (m, c) is channel c * multiplier + m.
using GridMap = Eigen::Map<Eigen::ArrayXXf>;
using ConstGridMap = Eigen::Map<const Eigen::ArrayXXf>;
using ConstRowMap = Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>;

// Pixels per product tile of the convolutions (rows of the patch matrix).
constexpr int64_t kTileRows = 128;
// Pixels per tile of the filter gradients, whose products are summed over these rows.
constexpr int64_t kFilterTileRows = 256;
// Pixels per tile of the depthwise loops.
constexpr int64_t kDepthwiseTile = 64;

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Pixels per tile of a product whose other dimensions multiply to `width`: at least `least`, and
// for thin products (a first layer's few channels) up to 1024, so that a tile holds about 2^16
// multiply-adds and the product's fixed cost (packing, the call) is paid less often.
int64_t tileRows(int64_t least, int64_t width) {
  const auto wanted = static_cast<uint64_t>((int64_t{1} << 16) / std::max<int64_t>(width, 1));
  return std::clamp<int64_t>(static_cast<int64_t>(std::bit_ceil(std::max<uint64_t>(wanted, 1))),
                             least, 1024);
}

// A thread's scratch buffer, reused from tile to tile; it grows to the largest tile it served.
float* scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// 1x1, stride 1, no padding: the input rows are the patch matrix itself.
bool pointwise(const ConvGeometry& g) {
  return g.taps() == 1 && g.strideRows == 1 && g.strideCols == 1 && g.padTop == 0 &&
         g.padLeft == 0 && g.outRows == g.inRows && g.outCols == g.inCols;
}

struct Pixel {
  int64_t n, row, col;
};

Pixel outPixel(const ConvGeometry& g, int64_t p) {
  return {p / (g.outRows * g.outCols), p / g.outCols % g.outRows, p % g.outCols};
}

Pixel inPixel(const ConvGeometry& g, int64_t q) {
  return {q / (g.inRows * g.inCols), q / g.inCols % g.inRows, q % g.inCols};
}

// The input pixel that tap (kh, kw) of output pixel `o` reads, or -1 in the padding.
int64_t inputAt(const ConvGeometry& g, const Pixel& o, int64_t kh, int64_t kw) {
  const int64_t ih = o.row * g.strideRows - g.padTop + kh * g.dilationRows;
  const int64_t iw = o.col * g.strideCols - g.padLeft + kw * g.dilationCols;
  if (ih < 0 || ih >= g.inRows || iw < 0 || iw >= g.inCols) return -1;
  return (o.n * g.inRows + ih) * g.inCols + iw;
}

// The output pixel whose tap (kh, kw) reads input pixel `i`, or -1 when none does.
int64_t outputAt(const ConvGeometry& g, const Pixel& i, int64_t kh, int64_t kw) {
  const int64_t oh = i.row + g.padTop - kh * g.dilationRows;
  const int64_t ow = i.col + g.padLeft - kw * g.dilationCols;
  if (oh < 0 || ow < 0 || oh % g.strideRows != 0 || ow % g.strideCols != 0) return -1;
  if (oh / g.strideRows >= g.outRows || ow / g.strideCols >= g.outCols) return -1;
  return (i.n * g.outRows + oh / g.strideRows) * g.outCols + ow / g.strideCols;
}

// Where the taps of each output row and column fall, worked out once per call so that the loops
// over pixels divide nothing. in[o * taps + t]: the input row (column) tap t of output row
// (column) o reads, -1 in the padding. out[i * taps + t]: the output row (column) whose tap t
// reads input row (column) i, -1 when none does.
struct Axis {
  std::vector<int64_t> in, out;
  Axis(int64_t inSize, int64_t outSize, int64_t taps, int64_t stride, int64_t dilation, int64_t pad)
      : in(static_cast<size_t>(outSize * taps), -1), out(static_cast<size_t>(inSize * taps), -1) {
    for (int64_t o = 0; o < outSize; ++o)
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t i = o * stride - pad + t * dilation;
        if (i >= 0 && i < inSize) {
          in[o * taps + t] = i;
          out[i * taps + t] = o;
        }
      }
  }
};

struct Window {
  Axis rows, cols;
  // dense[o]: the taps of output column o read adjacent input columns, none in the padding, so
  // a row of its window is one run of filterCols * inDepth floats.
  std::vector<char> dense;
  explicit Window(const ConvGeometry& g)
      : rows(g.inRows, g.outRows, g.filterRows, g.strideRows, g.dilationRows, g.padTop),
        cols(g.inCols, g.outCols, g.filterCols, g.strideCols, g.dilationCols, g.padLeft),
        dense(static_cast<size_t>(g.outCols), 0) {
    for (int64_t o = 0; o < g.outCols; ++o) {
      const int64_t* in = cols.in.data() + o * g.filterCols;
      dense[o] = g.dilationCols == 1 && g.filterCols > 0 && in[0] >= 0 && in[g.filterCols - 1] >= 0;
    }
  }
};

// The next pixel in NHW order.
void advance(Pixel& p, int64_t rows, int64_t cols) {
  if (++p.col < cols) return;
  p.col = 0;
  if (++p.row < rows) return;
  p.row = 0;
  ++p.n;
}

// Copies c floats; for the few channels of a first layer a plain loop, where copy_n would call
// memmove for each tap.
inline void copyDepth(const float* from, int64_t c, float* to) {
  if (c <= 4) {
    for (int64_t j = 0; j < c; ++j) to[j] = from[j];
  } else {
    std::copy_n(from, c, to);
  }
}

// Row o of the patch matrix [outPixels, taps * inDepth]: the input values under output pixel o's
// window, zeros in the padding.
void patchRow(const ConvGeometry& g, const Window& win, const float* x, const Pixel& o,
              float* row) {
  const int64_t c = g.inDepth, kc = g.filterCols * c;
  const float* image = x + o.n * g.inRows * g.inCols * c;
  const int64_t* inCols = win.cols.in.data() + o.col * g.filterCols;
  for (int64_t kh = 0; kh < g.filterRows; ++kh, row += kc) {
    const int64_t ih = win.rows.in[o.row * g.filterRows + kh];
    if (ih < 0) {
      std::fill_n(row, kc, 0.0f);
      continue;
    }
    const float* line = image + ih * g.inCols * c;
    if (win.dense[o.col]) {
      copyDepth(line + inCols[0] * c, kc, row);
      continue;
    }
    for (int64_t kw = 0; kw < g.filterCols; ++kw) {
      if (inCols[kw] < 0)
        std::fill_n(row + kw * c, c, 0.0f);
      else
        copyDepth(line + inCols[kw] * c, c, row + kw * c);
    }
  }
}

// Rows [p0, p0 + rows) of the patch matrix: the input itself for a pointwise convolution,
// otherwise gathered into the thread's scratch.
const float* patchRows(const ConvGeometry& g, const Window& win, const float* x, int64_t p0,
                       int64_t rows, bool direct) {
  const int64_t k = g.taps() * g.inDepth;
  if (direct) return x + p0 * k;
  float* patches = scratch(static_cast<size_t>(rows * k));
  Pixel o = outPixel(g, p0);
  for (int64_t r = 0; r < rows; ++r, advance(o, g.outRows, g.outCols))
    patchRow(g, win, x, o, patches + r * k);
  return patches;
}

// Row q of the gathered gradient matrix [inPixels, taps * outDepth]: for each tap, the gradient of
// the output pixel that reads input pixel q through that tap, zeros where none does.
void gradientRow(const ConvGeometry& g, const float* dy, int64_t q, float* row) {
  const Pixel i = inPixel(g, q);
  const int64_t c = g.outDepth;
  for (int64_t kh = 0; kh < g.filterRows; ++kh)
    for (int64_t kw = 0; kw < g.filterCols; ++kw, row += c) {
      const int64_t o = outputAt(g, i, kh, kw);
      if (o < 0)
        std::fill_n(row, c, 0.0f);
      else
        std::copy_n(dy + o * c, c, row);
    }
}

// With strides, most taps of an input pixel read no output pixel, so gradientRow's matrix is
// mostly zeros (3/4 of it for stride 2). Then the gradient of the patch matrix, dy * w^T with w as
// [taps * inDepth, outDepth], costs a quarter of the products, and each input pixel sums its taps'
// entries of it. Used while that matrix stays within 2^24 floats.
bool byPatches(const ConvGeometry& g) {
  return (g.strideRows > 1 || g.strideCols > 1) &&
         g.outPixels() * g.taps() * g.inDepth <= (int64_t{1} << 24);
}

void backpropInputByPatches(const BlockContext& ctx, const ConvGeometry& g, const float* w,
                            const float* dy, float* dx) {
  const int64_t outPixels = g.outPixels(), ci = g.inDepth, co = g.outDepth, k = g.taps() * ci;
  std::vector<float> dPatches(static_cast<size_t>(outPixels * k));
  forEachTile(ctx, ceilDiv(outPixels, kTileRows),
              static_cast<double>(outPixels) * static_cast<double>(k * co), [&](int64_t t) {
                const int64_t p0 = t * kTileRows;
                gemm({.m = std::min(kTileRows, outPixels - p0),
                      .n = k,
                      .k = co,
                      .a = dy + p0 * co,
                      .lda = co,
                      .b = w,
                      .ldb = co,
                      .transB = true,
                      .c = dPatches.data() + p0 * k,
                      .ldc = k});
              });
  const int64_t inPixels = g.inPixels();
  const Window win(g);
  forEachTile(ctx, ceilDiv(inPixels, kTileRows),
              static_cast<double>(inPixels) * static_cast<double>(k), [&](int64_t t) {
                const int64_t q0 = t * kTileRows, end = std::min(inPixels, q0 + kTileRows);
                Pixel i = inPixel(g, q0);
                for (int64_t q = q0; q < end; ++q, advance(i, g.inRows, g.inCols)) {
                  ArrayMap acc(dx + q * ci, ci);
                  acc.setZero();
                  const int64_t* outCols = win.cols.out.data() + i.col * g.filterCols;
                  for (int64_t kh = 0; kh < g.filterRows; ++kh) {
                    const int64_t oh = win.rows.out[i.row * g.filterRows + kh];
                    if (oh < 0) continue;
                    const float* line = dPatches.data() + (i.n * g.outRows + oh) * g.outCols * k +
                                        kh * g.filterCols * ci;
                    for (int64_t kw = 0; kw < g.filterCols; ++kw)
                      if (outCols[kw] >= 0)
                        acc += ConstArrayMap(line + outCols[kw] * k + kw * ci, ci);
                  }
                }
              });
}

// Chunks of output pixels whose filter gradients are summed separately, then added in chunk order:
// up to 8, of at least 1024 pixels each, with at most 2^26 floats of partial sums.
int64_t filterChunks(int64_t pixels, int64_t filterSize) {
  const int64_t byMemory = (int64_t{1} << 26) / std::max<int64_t>(filterSize, 1);
  return std::clamp<int64_t>(std::min(pixels / 1024, byMemory), 1, 8);
}

// Runs chunk(c, acc) for each chunk, acc being dw for the first and a partial sum for the others,
// then adds the partial sums into dw in chunk order.
template <typename Fn>
void sumOverChunks(const BlockContext& ctx, int64_t pixels, int64_t size, double work, float* dw,
                   Fn&& chunk) {
  const int64_t chunks = filterChunks(pixels, size);
  std::vector<float> partials(static_cast<size_t>((chunks - 1) * size));
  forEachTile(ctx, chunks, work, [&](int64_t c) {
    chunk(pixels * c / chunks, pixels * (c + 1) / chunks,
          c == 0 ? dw : partials.data() + (c - 1) * size);
  });
  for (int64_t c = 1; c < chunks; ++c)
    ArrayMap(dw, size) += ConstArrayMap(partials.data() + (c - 1) * size, size);
}

}  // namespace

void windowedOutputSize(int64_t input, int64_t filter, int64_t dilation, int64_t stride, bool same,
                        int64_t& output, int64_t& padBefore) {
  const int64_t effective = (filter - 1) * dilation + 1;
  if (same) {
    output = (input + stride - 1) / stride;
    padBefore = std::max<int64_t>(0, (output - 1) * stride + effective - input) / 2;
  } else {
    output = (input - effective + stride) / stride;
    padBefore = 0;
  }
  if (output < 0)
    throw Error("Computed output size would be negative: " + std::to_string(output) +
                " [input_size: " + std::to_string(input) + ", effective_filter_size: " +
                std::to_string(effective) + ", stride: " + std::to_string(stride) + "]");
}

void conv2d(const BlockContext& ctx, const ConvGeometry& g, const float* x, const float* w,
            float* y) {
  const int64_t pixels = g.outPixels(), k = g.taps() * g.inDepth, co = g.outDepth;
  if (pixels == 0 || co == 0) return;
  const bool direct = pointwise(g);
  const Window win(g);
  const double work = static_cast<double>(pixels) * static_cast<double>(k * co);
  const int64_t tile = tileRows(kTileRows, k * co);
  forEachTile(ctx, ceilDiv(pixels, tile), work, [&](int64_t t) {
    const int64_t p0 = t * tile, rows = std::min(tile, pixels - p0);
    gemm({.m = rows,
          .n = co,
          .k = k,
          .a = patchRows(g, win, x, p0, rows, direct),
          .lda = k,
          .b = w,
          .ldb = co,
          .c = y + p0 * co,
          .ldc = co});
  });
}

void conv2dBackpropInput(const BlockContext& ctx, const ConvGeometry& g, const float* w,
                         const float* dy, float* dx) {
  const int64_t pixels = g.inPixels(), ci = g.inDepth, co = g.outDepth, k = g.taps() * co;
  if (pixels == 0 || ci == 0) return;
  const double work = static_cast<double>(pixels) * static_cast<double>(k * ci);
  if (pointwise(g)) {
    // dx = dy * w^T, w being [inDepth, outDepth].
    forEachTile(ctx, ceilDiv(pixels, kTileRows), work, [&](int64_t t) {
      const int64_t q0 = t * kTileRows;
      gemm({.m = std::min(kTileRows, pixels - q0),
            .n = ci,
            .k = co,
            .a = dy + q0 * co,
            .lda = co,
            .b = w,
            .ldb = co,
            .transB = true,
            .c = dx + q0 * ci,
            .ldc = ci});
    });
    return;
  }
  if (byPatches(g)) {
    backpropInputByPatches(ctx, g, w, dy, dx);
    return;
  }
  // The filter as [taps * outDepth, inDepth], in the order of gradientRow's columns.
  std::vector<float> wt(static_cast<size_t>(k * ci));
  for (int64_t tap = 0; tap < g.taps(); ++tap)
    for (int64_t i = 0; i < ci; ++i)
      for (int64_t o = 0; o < co; ++o) wt[(tap * co + o) * ci + i] = w[(tap * ci + i) * co + o];
  forEachTile(ctx, ceilDiv(pixels, kTileRows), work, [&](int64_t t) {
    const int64_t q0 = t * kTileRows, rows = std::min(kTileRows, pixels - q0);
    float* gathered = scratch(static_cast<size_t>(rows * k));
    for (int64_t r = 0; r < rows; ++r) gradientRow(g, dy, q0 + r, gathered + r * k);
    gemm({.m = rows,
          .n = ci,
          .k = k,
          .a = gathered,
          .lda = k,
          .b = wt.data(),
          .ldb = ci,
          .c = dx + q0 * ci,
          .ldc = ci});
  });
}

void conv2dBackpropFilter(const BlockContext& ctx, const ConvGeometry& g, const float* x,
                          const float* dy, float* dw) {
  const int64_t pixels = g.outPixels(), k = g.taps() * g.inDepth, co = g.outDepth;
  const int64_t size = k * co;
  if (size == 0) return;
  if (pixels == 0) {
    std::fill_n(dw, size, 0.0f);
    return;
  }
  const bool direct = pointwise(g);
  const Window win(g);
  const double work = static_cast<double>(pixels) * static_cast<double>(size);
  // dw = patches^T * dy, summed over the pixels in tiles.
  const int64_t tile = tileRows(kFilterTileRows, size);
  sumOverChunks(ctx, pixels, size, work, dw, [&](int64_t begin, int64_t end, float* acc) {
    for (int64_t p0 = begin; p0 < end; p0 += tile) {
      throwIfCancelled(ctx);
      const int64_t rows = std::min(tile, end - p0);
      gemm({.m = k,
            .n = co,
            .k = rows,
            .a = patchRows(g, win, x, p0, rows, direct),
            .lda = k,
            .transA = true,
            .b = dy + p0 * co,
            .ldb = co,
            .c = acc,
            .ldc = co,
            .accumulate = p0 != begin});
    }
  });
}

void depthwiseConv2d(const BlockContext& ctx, const ConvGeometry& g, const float* x, const float* w,
                     float* y) {
  const int64_t pixels = g.outPixels(), c = g.inDepth, m = g.multiplier, cm = c * m;
  if (pixels == 0 || cm == 0) return;
  const double work = static_cast<double>(pixels) * static_cast<double>(g.taps() * cm);
  forEachTile(ctx, ceilDiv(pixels, kDepthwiseTile), work, [&](int64_t t) {
    const int64_t end = std::min(pixels, (t + 1) * kDepthwiseTile);
    for (int64_t p = t * kDepthwiseTile; p < end; ++p) {
      const Pixel o = outPixel(g, p);
      float* out = y + p * cm;
      std::fill_n(out, cm, 0.0f);
      for (int64_t kh = 0; kh < g.filterRows; ++kh)
        for (int64_t kw = 0; kw < g.filterCols; ++kw) {
          const int64_t i = inputAt(g, o, kh, kw);
          if (i < 0) continue;
          const float* wt = w + (kh * g.filterCols + kw) * cm;
          if (m == 1)
            ArrayMap(out, c) += ConstArrayMap(x + i * c, c) * ConstArrayMap(wt, c);
          else
            GridMap(out, m, c) += ConstGridMap(wt, m, c).rowwise() * ConstRowMap(x + i * c, c);
        }
    }
  });
}

void depthwiseBackpropInput(const BlockContext& ctx, const ConvGeometry& g, const float* w,
                            const float* dy, float* dx) {
  const int64_t pixels = g.inPixels(), c = g.inDepth, m = g.multiplier, cm = c * m;
  if (pixels == 0 || c == 0) return;
  const double work = static_cast<double>(pixels) * static_cast<double>(g.taps() * cm);
  forEachTile(ctx, ceilDiv(pixels, kDepthwiseTile), work, [&](int64_t t) {
    const int64_t end = std::min(pixels, (t + 1) * kDepthwiseTile);
    for (int64_t q = t * kDepthwiseTile; q < end; ++q) {
      const Pixel i = inPixel(g, q);
      ArrayMap acc(dx + q * c, c);
      acc.setZero();
      for (int64_t kh = 0; kh < g.filterRows; ++kh)
        for (int64_t kw = 0; kw < g.filterCols; ++kw) {
          const int64_t o = outputAt(g, i, kh, kw);
          if (o < 0) continue;
          const float* wt = w + (kh * g.filterCols + kw) * cm;
          if (m == 1)
            acc += ConstArrayMap(dy + o * cm, c) * ConstArrayMap(wt, c);
          else
            acc += (ConstGridMap(dy + o * cm, m, c) * ConstGridMap(wt, m, c))
                       .colwise()
                       .sum()
                       .transpose();
        }
    }
  });
}

void depthwiseBackpropFilter(const BlockContext& ctx, const ConvGeometry& g, const float* x,
                             const float* dy, float* dw) {
  const int64_t pixels = g.outPixels(), c = g.inDepth, m = g.multiplier, cm = c * m;
  const int64_t size = g.taps() * cm;
  if (size == 0) return;
  if (pixels == 0) {
    std::fill_n(dw, size, 0.0f);
    return;
  }
  const double work = static_cast<double>(pixels) * static_cast<double>(size);
  sumOverChunks(ctx, pixels, size, work, dw, [&](int64_t begin, int64_t end, float* acc) {
    std::fill_n(acc, size, 0.0f);
    for (int64_t p = begin; p < end; ++p) {
      if ((p - begin) % 1024 == 0) throwIfCancelled(ctx);
      const Pixel o = outPixel(g, p);
      for (int64_t kh = 0; kh < g.filterRows; ++kh)
        for (int64_t kw = 0; kw < g.filterCols; ++kw) {
          const int64_t i = inputAt(g, o, kh, kw);
          if (i < 0) continue;
          float* a = acc + (kh * g.filterCols + kw) * cm;
          if (m == 1)
            ArrayMap(a, c) += ConstArrayMap(dy + p * cm, c) * ConstArrayMap(x + i * c, c);
          else
            GridMap(a, m, c) +=
                ConstGridMap(dy + p * cm, m, c).rowwise() * ConstRowMap(x + i * c, c);
        }
    }
  });
}

}  // namespace qs::nn
