// BM_MatMul and BM_Conv2D (docs/formats.md): one evaluation of the MatMul and Conv2D blocks as the
// evaluator runs them (check, then compute into a new output tensor), split between n threads.
// The counter FLOPS counts 2 * multiply-adds per second, as PyTorch's peers in
// tools/bench_torch.py do.
#include <benchmark/benchmark.h>

#include <map>
#include <random>
#include <string>

#include "blocks/RegisterBlocks.h"
#include "runtime/AttrJson.h"
#include "runtime/EvalContext.h"
#include "runtime/ThreadPool.h"

namespace {

qs::Tensor randomTensor(const qs::Shape& s) {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-1, 1);
  qs::Tensor t = qs::Tensor::uninitialized(s);
  for (float& v : t.mutableValues()) v = u(gen);
  return t;
}

void BM_Block(benchmark::State& state, const std::string& type, const qs::Json& json,
              const std::map<std::string, qs::Shape>& shapes, double multiplyAdds, int threads) {
  const qs::BlockDescriptor* desc = qs::builtinRegistry().find(type);
  const qs::AttrValues attrs = qs::resolveAttrs(*desc, json);
  std::map<std::string, qs::Tensor> inputs;
  for (const auto& [port, shape] : shapes) inputs[port] = randomTensor(shape);
  qs::ThreadPool pool(threads);
  for (auto _ : state) {
    qs::EvalContext ctx(*desc, "bench", attrs);
    for (const auto& [port, t] : inputs) ctx.setInput(port, t);
    ctx.setThreads(threads, &pool);
    desc->check(ctx);
    ctx.beginCompute();
    desc->compute(ctx);
    benchmark::DoNotOptimize(ctx.mutableOutputs());
  }
  state.counters["FLOPS"] =
      benchmark::Counter(2 * multiplyAdds, benchmark::Counter::kIsIterationInvariantRate);
}

const bool registered = [] {
  for (int threads : {1, 2}) {
    const std::string t = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(
        ("BM_MatMul/1024x1024x1024" + t).c_str(), BM_Block, "MatMul", qs::Json::object(),
        std::map<std::string, qs::Shape>{{"a", {1024, 1024}}, {"b", {1024, 1024}}},
        1024.0 * 1024.0 * 1024.0, threads)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(
        ("BM_Conv2D/8x56x56x64_3x3x64" + t).c_str(), BM_Block, "Conv2D",
        qs::Json{{"padding", "SAME"}},
        std::map<std::string, qs::Shape>{{"input", {8, 56, 56, 64}}, {"filter", {3, 3, 64, 64}}},
        8.0 * 56 * 56 * 64 * 3 * 3 * 64, threads)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
