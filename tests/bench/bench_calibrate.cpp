// BM_Calibrate/<method>/32x56x56x128 (docs/formats.md): one calibrator over the tensor, per
// channel, from one batch (extremes, histogram and search), on the buffers BM_FakeQuantPerChannel
// reads, with one thread: compare with BM_FakeQuantPerChannel/32x56x56x128/threads:1. The
// ".../threads:2" forms split the passes and the searches across two threads of a pool: compare
// with BM_FakeQuantPerChannel/32x56x56x128/threads:2.
#include <benchmark/benchmark.h>

#include <string>

#include "blocks/quant/CalibrationBakeOff.h"
#include "blocks/quant/CalibrationMath.h"
#include "runtime/ThreadPool.h"
#include "tests/bench/BenchShapes.h"

namespace {

void BM_Calibrate(benchmark::State& state, qs::calib::Method method, qs::Shape shape, int threads) {
  const qs::Tensor& x = qs::bench::benchTensors(shape).x;
  const int64_t d = shape.back();
  qs::ThreadPool pool(threads);
  const qs::fq::Exec exec{threads > 1 ? &pool : nullptr, threads};
  for (auto _ : state) {
    auto r = qs::calib::calibrate(method, x.data(), x.size() / d, d, 8, false, exec);
    benchmark::DoNotOptimize(r.data());
    benchmark::ClobberMemory();
  }
  // Reads the tensor (twice for the histogram calibrators: extremes, then bins).
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(x.bytes()));
}

// BM_CalibrateSearch/<method>/32x56x56x128: the searches alone, on the histograms of the same
// tensor (built once), with one thread: what a calibrator spends after its two passes.
void BM_CalibrateSearch(benchmark::State& state, qs::calib::Method method, qs::Shape shape) {
  const qs::Tensor& x = qs::bench::benchTensors(shape).x;
  const int64_t d = shape.back();
  qs::calib::Histograms h(d, true);
  qs::calib::accumulate(h, x.data(), x.size() / d, false, qs::fq::Exec{});
  for (auto _ : state) {
    auto r = qs::calib::searchChannels(method, h, {}, qs::fq::Exec{});
    benchmark::DoNotOptimize(r.data());
  }
}

// BM_BakeOff/32x56x56x128: the runner's --calibrate table over the tensor (every calibrator's
// ranges and their costs), with one thread.
void BM_BakeOff(benchmark::State& state, qs::Shape shape) {
  const qs::Tensor& x = qs::bench::benchTensors(shape).x;
  const int64_t d = shape.back();
  for (auto _ : state) {
    auto r = qs::calib::bakeOff(x.data(), x.size() / d, d, 8, false);
    benchmark::DoNotOptimize(r.data());
  }
}

// BM_QuantizationReport/32x56x56x128: the per-channel report (clipped counts, MSE, SQNR) of the
// tensor at MinMax ranges, with one thread: what the inspector's table and the QuantizationReport
// block compute, and five times over the bake-off.
void BM_QuantizationReport(benchmark::State& state, qs::Shape shape) {
  const qs::Tensor& x = qs::bench::benchTensors(shape).x;
  const int64_t d = shape.back();
  const qs::calib::Extremes e = qs::calib::channelExtremes(x.data(), x.size() / d, d, false, {});
  for (auto _ : state) {
    auto r = qs::fq::computeChannelReport(x.data(), x.size() / d, d, e.min.data(), e.max.data(),
                                          qs::fq::quantRange(8, false));
    benchmark::DoNotOptimize(r.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(x.bytes()));
}

const bool registered = [] {
  const qs::bench::BenchShape& s = qs::bench::benchShapes().front();  // 32x56x56x128
  for (int threads : {1, 2})
    for (qs::calib::Method m : qs::calib::allMethods()) {
      std::string name = std::string("BM_Calibrate/") + qs::calib::methodName(m) + "/" + s.name;
      if (threads > 1) name += "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), BM_Calibrate, m, s.shape, threads)
          ->Unit(s.unit)
          ->UseRealTime();
    }
  for (qs::calib::Method m : qs::calib::allMethods())
    if (m != qs::calib::Method::MinMax)
      benchmark::RegisterBenchmark(
          (std::string("BM_CalibrateSearch/") + qs::calib::methodName(m) + "/" + s.name).c_str(),
          BM_CalibrateSearch, m, s.shape)
          ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark((std::string("BM_BakeOff/") + s.name).c_str(), BM_BakeOff, s.shape)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark((std::string("BM_QuantizationReport/") + s.name).c_str(),
                               BM_QuantizationReport, s.shape)
      ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
