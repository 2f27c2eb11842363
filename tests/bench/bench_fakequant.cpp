// Kernel benchmarks of docs/formats.md: the PerChannel forward and gradient on the shapes of
// BM_Memcpy and on its buffers (tests/bench/BenchShapes.h), with `n` of the op's own worker
// threads. Registered by name (".../threads:<n>"), not with ->Threads(), which would run n copies
// of the benchmark.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "blocks/array_ops/FakeQuantKernels.h"
#include "runtime/Tensor.h"
#include "runtime/ThreadPool.h"
#include "tests/bench/BenchShapes.h"

namespace {

struct Ranges {
  std::vector<float> min, max;
  explicit Ranges(int64_t d) {
    for (int64_t c = 0; c < d; ++c) {
      min.push_back(-1.0f - 0.01f * static_cast<float>(c % 97));
      max.push_back(2.0f + 0.02f * static_cast<float>(c % 89));
    }
  }
};

void BM_FakeQuantPerChannel(benchmark::State& state, qs::Shape shape, int threads) {
  qs::bench::BenchTensors& t = qs::bench::benchTensors(shape);
  const qs::Tensor& x = t.x;
  qs::Tensor& out = t.out;
  const int64_t d = shape.back();
  const Ranges r(d);
  qs::ThreadPool pool(threads);
  const auto q = qs::fq::quantRange(8, false);
  for (auto _ : state) {
    qs::fq::perChannelForward(x.data(), x.size() / d, d, r.min.data(), r.max.data(), q,
                              out.mutableData(), {&pool, threads});
    benchmark::DoNotOptimize(out.mutableData());
    benchmark::ClobberMemory();
  }
  // Reads x and writes the output: 8 bytes per element, the bytes of BM_Memcpy.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 *
                          static_cast<int64_t>(x.bytes()));
  state.SetLabel(qs::fq::simdLevelName(qs::fq::activeSimdLevel()));
}

void BM_FakeQuantPerChannelGradient(benchmark::State& state, qs::Shape shape, int threads) {
  qs::bench::BenchTensors& t = qs::bench::benchTensors(shape);
  const qs::Tensor& x = t.x;
  const qs::Tensor& g = t.g;
  qs::Tensor& dx = t.out;
  const int64_t d = shape.back();
  std::vector<float> dmin(d), dmax(d);
  const Ranges r(d);
  qs::ThreadPool pool(threads);
  const auto q = qs::fq::quantRange(8, false);
  for (auto _ : state) {
    qs::fq::perChannelGradient(g.data(), x.data(), x.size() / d, d, r.min.data(), r.max.data(), q,
                               dx.mutableData(), dmin.data(), dmax.data(), {&pool, threads});
    benchmark::DoNotOptimize(dx.mutableData());
    benchmark::DoNotOptimize(dmin.data());
    benchmark::ClobberMemory();
  }
  // Reads x and g, writes dx: 12 bytes per element.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 *
                          static_cast<int64_t>(x.bytes()));
  state.SetLabel(qs::fq::simdLevelName(qs::fq::activeSimdLevel()));
}

// QS_BENCH_SIMD=portable|avx2|avx512 measures one kernel path instead of the best one;
// QS_BENCH_STREAM_BYTES=N writes outputs of N bytes and more with non-temporal stores instead of
// the kernels' own threshold (to compare the two kinds of store on one shape);
// QS_BENCH_MIXED_BYTES=N streams three of four output lines from a working set of N bytes per core
// on, instead of from the L2 cache's size;
// QS_BENCH_MIN_PARALLEL=N splits tensors of N elements and more between the op's threads.
void forceKernelFromEnvironment() {
  qs::fq::KernelOverride o;
  if (const char* want = std::getenv("QS_BENCH_SIMD")) {
    for (qs::fq::SimdLevel level : qs::fq::supportedSimdLevels())
      if (std::string(want) == qs::fq::simdLevelName(level)) o.level = level;
    if (!o.level) {
      std::fprintf(stderr, "QS_BENCH_SIMD=%s: not a supported path here\n", want);
      std::exit(1);
    }
  }
  auto byteCount = [](const char* name) -> std::optional<int64_t> {
    const char* bytes = std::getenv(name);
    if (!bytes) return std::nullopt;
    char* end = nullptr;
    const long long v = std::strtoll(bytes, &end, 10);
    if (end == bytes || *end != '\0' || v < 0) {
      std::fprintf(stderr, "%s=%s: not a byte count\n", name, bytes);
      std::exit(1);
    }
    return v;
  };
  o.streamBytes = byteCount("QS_BENCH_STREAM_BYTES");
  o.mixedBytes = byteCount("QS_BENCH_MIXED_BYTES");
  if (const char* n = std::getenv("QS_BENCH_MIN_PARALLEL")) o.minParallelElements = std::atoll(n);
  if (o.level || o.streamBytes || o.mixedBytes || o.minParallelElements)
    qs::fq::setKernelOverride(o);
}

const bool registered = [] {
  forceKernelFromEnvironment();
  for (const char* op : {"BM_FakeQuantPerChannel", "BM_FakeQuantPerChannelGradient"}) {
    const bool grad = std::string(op) == "BM_FakeQuantPerChannelGradient";
    for (const qs::bench::BenchShape& s : qs::bench::benchShapes()) {
      for (int threads : {1, 2}) {
        const std::string name =
            std::string(op) + "/" + s.name + "/threads:" + std::to_string(threads);
        auto* b = grad ? benchmark::RegisterBenchmark(name.c_str(), BM_FakeQuantPerChannelGradient,
                                                      s.shape, threads)
                       : benchmark::RegisterBenchmark(name.c_str(), BM_FakeQuantPerChannel, s.shape,
                                                      threads);
        b->Unit(s.unit)->UseRealTime();
      }
    }
  }
  return true;
}();

}  // namespace
