#include <benchmark/benchmark.h>

#include <cstring>

#include "runtime/Tensor.h"
#include "tests/bench/BenchShapes.h"

// The ceiling for a streaming op: copying the input tensor's bytes (CONTRACTS.md §5).
static void BM_Memcpy(benchmark::State& state, qs::Shape shape) {
  qs::Tensor src = qs::Tensor::filled(shape, 1.0f);
  qs::Tensor dst = qs::Tensor::zeros(shape);
  for (auto _ : state) {
    std::memcpy(dst.mutableData(), src.data(), src.bytes());
    benchmark::DoNotOptimize(dst.mutableData());
    benchmark::ClobberMemory();
  }
  // memcpy reads and writes every byte once.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * src.bytes());
}

QS_FOR_EACH_BENCH_SHAPE(BM_Memcpy)
