// Kernel benchmarks of CONTRACTS.md §5: the PerChannel forward and gradient on the shapes of
// BM_Memcpy (tests/bench/BenchShapes.h), with `n` of the op's own worker threads. Registered by
// name (".../threads:<n>"), not with ->Threads(), which would run n copies of the benchmark.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "blocks/array_ops/FakeQuantKernels.h"
#include "runtime/Tensor.h"
#include "runtime/ThreadPool.h"

namespace {

struct BenchShape {
  const char* name;
  qs::Shape shape;
  benchmark::TimeUnit unit;
};

const BenchShape kShapes[] = {
    {"32x56x56x128", {32, 56, 56, 128}, benchmark::kMillisecond},
    {"1x224x224x3", {1, 224, 224, 3}, benchmark::kMicrosecond},
    {"4096x1024", {4096, 1024}, benchmark::kMillisecond},
};

// Inputs spread over and beyond each channel's range, so that every branch of the clamp is taken.
qs::Tensor randomTensor(const qs::Shape& shape, uint32_t seed) {
  qs::Tensor t = qs::Tensor::uninitialized(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  for (float& v : t.mutableValues()) v = u(rng);
  return t;
}

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
  const qs::Tensor x = randomTensor(shape, 1);
  qs::Tensor out = qs::Tensor::zeros(shape);
  const int64_t d = shape.back();
  const Ranges r(d);
  qs::ThreadPool pool(threads);
  const auto q = qs::fq::quantRange(8, false);
  for (auto _ : state) {
    qs::fq::perChannelForward(x.data(), x.size() / d, d, r.min.data(), r.max.data(), q,
                              out.mutableData(), &pool, threads);
    benchmark::DoNotOptimize(out.mutableData());
    benchmark::ClobberMemory();
  }
  // Reads x and writes the output: 8 bytes per element, the bytes of BM_Memcpy.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 *
                          static_cast<int64_t>(x.bytes()));
  state.SetLabel(qs::fq::simdLevelName(qs::fq::activeSimdLevel()));
}

void BM_FakeQuantPerChannelGradient(benchmark::State& state, qs::Shape shape, int threads) {
  const qs::Tensor x = randomTensor(shape, 1);
  const qs::Tensor g = randomTensor(shape, 2);
  qs::Tensor dx = qs::Tensor::zeros(shape);
  const int64_t d = shape.back();
  std::vector<float> dmin(d), dmax(d);
  const Ranges r(d);
  qs::ThreadPool pool(threads);
  const auto q = qs::fq::quantRange(8, false);
  for (auto _ : state) {
    qs::fq::perChannelGradient(g.data(), x.data(), x.size() / d, d, r.min.data(), r.max.data(), q,
                               dx.mutableData(), dmin.data(), dmax.data(), &pool, threads);
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
// the kernels' own threshold (to compare the two kinds of store on one shape).
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
  if (const char* bytes = std::getenv("QS_BENCH_STREAM_BYTES")) {
    char* end = nullptr;
    const long long v = std::strtoll(bytes, &end, 10);
    if (end == bytes || *end != '\0' || v < 0) {
      std::fprintf(stderr, "QS_BENCH_STREAM_BYTES=%s: not a byte count\n", bytes);
      std::exit(1);
    }
    o.streamBytes = v;
  }
  if (o.level || o.streamBytes) qs::fq::setKernelOverride(o);
}

const bool registered = [] {
  forceKernelFromEnvironment();
  for (const char* op : {"BM_FakeQuantPerChannel", "BM_FakeQuantPerChannelGradient"}) {
    const bool grad = std::string(op) == "BM_FakeQuantPerChannelGradient";
    for (const BenchShape& s : kShapes) {
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
