// BM_PageEval/chain:<n> (docs/formats.md): evaluating a page of n small blocks wired in a chain, a
// fresh evaluation every iteration (the evaluator's cache is cleared), so the figure is the
// runtime's per-block overhead: scheduling, attribute resolution, checks, result bookkeeping.
#include <benchmark/benchmark.h>

#include <string>

#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"

namespace {

// Const [16] -> FakeQuantWithMinMaxArgs -> ... (n blocks in all).
qs::Page chainPage(int n) {
  qs::Page page;
  qs::Block c;
  c.id = qs::BlockId("b0");
  c.type = "Const";
  std::vector<float> values(16);
  for (int i = 0; i < 16; ++i) values[i] = 0.37f * static_cast<float>(i) - 3.0f;
  c.attrs = qs::Json{{"shape", {16}}, {"values", values}};
  page.addBlock(std::move(c));
  for (int i = 1; i < n; ++i) {
    qs::Block b;
    b.id = qs::BlockId("b" + std::to_string(i));
    b.type = "FakeQuantWithMinMaxArgs";
    b.attrs = qs::Json{{"num_bits", 8}};
    page.addBlock(std::move(b));
    page.addLink({{qs::BlockId("b" + std::to_string(i - 1)), qs::PortName("output")},
                  {qs::BlockId("b" + std::to_string(i)), qs::PortName("inputs")}});
  }
  return page;
}

void BM_PageEval(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const qs::Page page = chainPage(n);
  qs::Evaluator ev(qs::builtinRegistry());
  qs::EvalOptions opts;
  opts.threads = 1;
  for (auto _ : state) {
    ev.clear();
    const qs::EvalReport report = ev.evaluate(page, opts);
    if (report.computed.size() != static_cast<size_t>(n)) state.SkipWithError("not all blocks ran");
    benchmark::DoNotOptimize(report);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}

BENCHMARK(BM_PageEval)->ArgName("chain")->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
