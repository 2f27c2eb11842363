// BM_TrainStep (docs/formats.md): one training step (forward, gradients, updates) of
//  - linreg: assets/examples/linear_regression.page.json, whose data blocks stay cached, so a step
//    recomputes what depends on the Variables, the two Gradients blocks and the two updates;
//  - digits: assets/examples/digits_float.page.json without its test network: a batch of 32 from
//    the Dataset, two Conv2D + BiasAdd + Relu, MatMul + BiasAdd,
//    SparseSoftmaxCrossEntropyWithLogits, six Gradients blocks and six ApplyAdam updates (the
//    fetched digits are needed);
//  - chain:1000: Const -> Variable -> 995 FakeQuantWithMinMaxArgs -> Gradients -> one
//    ApplyGradientDescent, against BM_TrainChainEval/chain:1000, a plain evaluation of the same
//    page with the cache cleared.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../page_building.h"
#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/PageJson.h"

namespace {

using qs::testing::addBlock;
using qs::testing::link;

// n blocks in all.
qs::Page trainChainPage(int n) {
  qs::Page page;
  std::vector<float> values(16);
  for (int i = 0; i < 16; ++i) values[i] = 0.37f * static_cast<float>(i) - 3.0f;
  addBlock(page, "init", "Const", {{"shape", {16}}, {"values", values}});
  addBlock(page, "v", "Variable", qs::Json::object());
  link(page, "init", "output", "v", "initial_value");
  std::string prev = "v";
  for (int i = 0; i < n - 5; ++i) {
    const std::string id = "f" + std::to_string(i);
    addBlock(page, id, "FakeQuantWithMinMaxArgs", {{"num_bits", 8}});
    link(page, prev, "output", id, "inputs");
    prev = id;
  }
  addBlock(page, "grad", "Gradients", qs::Json::object());
  link(page, prev, "output", "grad", "ys");
  link(page, "v", "output", "grad", "xs");
  addBlock(page, "lr", "Const", {{"shape", qs::Json::array()}, {"values", {0.001}}});
  addBlock(page, "step", "ApplyGradientDescent", qs::Json::object());
  link(page, "v", "output", "step", "var");
  link(page, "lr", "output", "step", "alpha");
  link(page, "grad", "output", "step", "delta");
  return page;
}

void runSteps(benchmark::State& state, const qs::Page& page, bool step,
              const std::filesystem::path& pageDir = {}) {
  qs::Evaluator ev(qs::builtinRegistry());
  qs::EvalOptions opts;
  opts.threads = 1;
  opts.pageDir = pageDir;
  opts.step = step;
  for (auto _ : state) {
    if (!step) ev.clear();
    const qs::EvalReport report = ev.evaluate(page, opts);
    if (!report.failed.empty() || (step && !report.applied)) {
      state.SkipWithError(("block '" + report.failed.front().str() +
                           "' failed: " + ev.state(report.failed.front())->error)
                              .c_str());
      break;
    }
    benchmark::DoNotOptimize(report);
  }
}

void BM_TrainStep_linreg(benchmark::State& state) {
  const qs::LoadedPage loaded =
      qs::loadPage(std::string(QS_SOURCE_DIR) + "/assets/examples/linear_regression.page.json");
  runSteps(state, loaded.page, true);
}

void BM_TrainStep_digits(benchmark::State& state) {
  qs::LoadedPage loaded =
      qs::loadPage(std::string(QS_SOURCE_DIR) + "/assets/examples/digits_float.page.json");
  // The test network (the blocks fed by the `test` Dataset) is not part of a training step.
  std::vector<qs::BlockId> testBlocks;
  for (const qs::Block& b : loaded.page.blocks())
    if (b.id.str() == "test" || b.id.str() == "accuracy" || b.id.str().rfind("t_", 0) == 0)
      testBlocks.push_back(b.id);
  for (const qs::BlockId& id : testBlocks) loaded.page.removeBlock(id);
  runSteps(state, loaded.page, true, loaded.dir);
}

void BM_TrainStep_chain(benchmark::State& state) {
  runSteps(state, trainChainPage(static_cast<int>(state.range(0))), true);
}

void BM_TrainChainEval(benchmark::State& state) {
  runSteps(state, trainChainPage(static_cast<int>(state.range(0))), false);
}

BENCHMARK(BM_TrainStep_linreg)
    ->Name("BM_TrainStep/linreg")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_TrainStep_digits)
    ->Name("BM_TrainStep/digits")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_TrainStep_chain)
    ->Name("BM_TrainStep")
    ->ArgName("chain")
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TrainChainEval)
    ->ArgName("chain")
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
