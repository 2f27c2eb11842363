#pragma once

// The matrix products behind MatMul and the convolutions, and how their work is split between an
// op's threads.
//
// Every product is cut into tiles whose bounds depend only on the shapes, never on the thread
// count; each tile is one single-threaded call of the product kernel, whose summation order
// depends only on the tile. The threads only decide who computes which tile, so a result has the
// same bits on 1 thread and on n.

#include <cstdint>
#include <functional>

#include "runtime/BlockDescriptor.h"

namespace qs::nn {

// c[m, n] = op(a)[m, k] * op(b)[k, n] (+ c when `accumulate`), row-major with leading dimensions
// lda, ldb, ldc; op transposes a stored [k, m] (b stored [n, k]) when transA (transB). One thread.
struct Gemm {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  bool transA = false;
  const float* b = nullptr;
  int64_t ldb = 0;
  bool transB = false;
  float* c = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;
};
void gemm(const Gemm& g);

// A row-major matrix as stored ([rows, cols]), used transposed or not in a product.
struct Operand {
  const float* data = nullptr;
  int64_t rows = 0, cols = 0;
  bool transposed = false;
  int64_t opRows() const { return transposed ? cols : rows; }
  int64_t opCols() const { return transposed ? rows : cols; }
};

// out[m, n] = op(a) * op(b), out contiguous, split in fixed tiles between ctx's threads.
void matMul(const BlockContext& ctx, const Operand& a, const Operand& b, float* out);

// Runs fn(tile) for tile in [0, tiles), spread over ctx's threads when `work` (about the number of
// multiply-adds) makes that worth it; checks for cancellation before each tile.
void forEachTile(const BlockContext& ctx, int64_t tiles, double work,
                 const std::function<void(int64_t)>& fn);

// Which product kernel the build uses: "OpenBLAS" or "Eigen".
const char* gemmBackend();

}  // namespace qs::nn
