#include "blocks/nn/Gemm.h"

#include <Eigen/Core>
#include <algorithm>
#include <climits>
#include <mutex>
#include <string>

#include "blocks/Chunks.h"
#include "runtime/Error.h"
#include "runtime/ThreadPool.h"

#ifdef QS_USE_OPENBLAS
#include <cblas.h>
#endif

namespace qs::nn {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatMap = Eigen::Map<const RowMat, Eigen::Unaligned, Eigen::OuterStride<>>;
using MatMap = Eigen::Map<RowMat, Eigen::Unaligned, Eigen::OuterStride<>>;

// BLAS takes int dimensions.
void checkBlasInt(int64_t v) {
  if (v > INT_MAX)
    throw Error("a matrix product of dimension " + std::to_string(v) +
                " is too large (the limit is " + std::to_string(INT_MAX) + ")");
}

#ifdef QS_USE_OPENBLAS
// The tiles are split between threads here; OpenBLAS's own threads would make a second split.
void pinBlasToOneThread() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}
#endif

#ifndef QS_USE_OPENBLAS
void eigenGemm(const Gemm& g) {
  ConstMatMap a(g.a, g.transA ? g.k : g.m, g.transA ? g.m : g.k, Eigen::OuterStride<>(g.lda));
  ConstMatMap b(g.b, g.transB ? g.n : g.k, g.transB ? g.k : g.n, Eigen::OuterStride<>(g.ldb));
  MatMap c(g.c, g.m, g.n, Eigen::OuterStride<>(g.ldc));
  auto run = [&](const auto& opA, const auto& opB) {
    if (g.accumulate)
      c.noalias() += opA * opB;
    else
      c.noalias() = opA * opB;
  };
  if (g.transA && g.transB)
    run(a.transpose(), b.transpose());
  else if (g.transA)
    run(a.transpose(), b);
  else if (g.transB)
    run(a, b.transpose());
  else
    run(a, b);
}
#endif

}  // namespace

const char* gemmBackend() {
#ifdef QS_USE_OPENBLAS
  return "OpenBLAS";
#else
  return "Eigen";
#endif
}

void gemm(const Gemm& g) {
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) {
    if (!g.accumulate)
      for (int64_t i = 0; i < g.m; ++i) std::fill_n(g.c + i * g.ldc, g.n, 0.0f);
    return;
  }
  for (int64_t v : {g.m, g.n, g.k, g.lda, g.ldb, g.ldc}) checkBlasInt(v);
#ifdef QS_USE_OPENBLAS
  pinBlasToOneThread();
  cblas_sgemm(CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans,
              g.transB ? CblasTrans : CblasNoTrans, static_cast<int>(g.m), static_cast<int>(g.n),
              static_cast<int>(g.k), 1.0f, g.a, static_cast<int>(g.lda), g.b,
              static_cast<int>(g.ldb), g.accumulate ? 1.0f : 0.0f, g.c, static_cast<int>(g.ldc));
#else
  eigenGemm(g);
#endif
}

void forEachTile(const BlockContext& ctx, int64_t tiles, double work,
                 const std::function<void(int64_t)>& fn) {
  // Below about a million multiply-adds a second thread costs more than it saves.
  const bool split = ctx.pool() && ctx.threads() > 1 && tiles > 1 && work >= 1e6;
  auto range = [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      throwIfCancelled(ctx);
      fn(t);
    }
  };
  if (split)
    ctx.pool()->parallelFor(tiles, 1, ctx.threads(), range);
  else
    range(0, tiles);
}

void matMul(const BlockContext& ctx, const Operand& a, const Operand& b, float* out) {
  const int64_t m = a.opRows(), n = b.opCols(), k = a.opCols();
  // Tiles of 512 rows from 1024 rows on (fewer tiles pack the right operand fewer times: on
  // 1024^3 one thread took about 5% less time than with 256), of 256 rows from 512 on; a product
  // with fewer rows is cut into columns of 256 instead when it is wide enough.
  const int64_t tileRows = m >= 1024 ? 512 : m >= 512 ? 256 : std::max<int64_t>(m, 1);
  const int64_t tileCols = m < 512 && n >= 512 ? 256 : std::max<int64_t>(n, 1);
  const int64_t rowTiles = (m + tileRows - 1) / tileRows, colTiles = (n + tileCols - 1) / tileCols;
  const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  forEachTile(ctx, rowTiles * colTiles, work, [&](int64_t t) {
    const int64_t i0 = t / colTiles * tileRows, j0 = t % colTiles * tileCols;
    Gemm g;
    g.m = std::min(tileRows, m - i0);
    g.n = std::min(tileCols, n - j0);
    g.k = k;
    g.transA = a.transposed;
    g.lda = a.cols;
    g.a = a.data + (a.transposed ? i0 : i0 * a.cols);
    g.transB = b.transposed;
    g.ldb = b.cols;
    g.b = b.data + (b.transposed ? j0 * b.cols : j0);
    g.c = out + i0 * n + j0;
    g.ldc = n;
    gemm(g);
  });
}

}  // namespace qs::nn
