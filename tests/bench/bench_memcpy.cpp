#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "runtime/Tensor.h"
#include "tests/bench/BenchShapes.h"

// The ceiling for a streaming op: copying the input tensor's bytes (docs/formats.md), from the
// kernels' input buffer into their output buffer.
static void BM_Memcpy(benchmark::State& state, qs::Shape shape) {
  qs::bench::BenchTensors& t = qs::bench::benchTensors(shape);
  for (auto _ : state) {
    std::memcpy(t.out.mutableData(), t.x.data(), t.x.bytes());
    benchmark::DoNotOptimize(t.out.mutableData());
    benchmark::ClobberMemory();
  }
  // memcpy reads and writes every byte once.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 *
                          static_cast<int64_t>(t.x.bytes()));
}

static const bool registered = [] {
  for (const qs::bench::BenchShape& s : qs::bench::benchShapes())
    benchmark::RegisterBenchmark((std::string("BM_Memcpy/") + s.name).c_str(), BM_Memcpy, s.shape)
        ->Unit(s.unit)
        ->UseRealTime();
  return true;
}();
