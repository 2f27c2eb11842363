// BM_Nn/<block>/<shape>/threads:<n>: the lighter neural-network layers on training-sized batches,
// forward (the block evaluated on a page, its input fed to a Const) and gradient (its registered
// gradient run on the forward's values), with n of the op's own worker threads.
#include <benchmark/benchmark.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "runtime/AttrJson.h"
#include "runtime/Evaluator.h"
#include "runtime/Gradient.h"
#include "runtime/ThreadPool.h"

namespace {

struct Case {
  std::string type;
  std::string label;  // the shapes, for the name
  qs::Json attrs;
  // Made on first use, so that listing or filtering the benchmarks allocates nothing.
  std::function<std::vector<std::pair<std::string, qs::Tensor>>()> inputs;
};

qs::Tensor randomTensor(const qs::Shape& s) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-3, 3);
  qs::Tensor t = qs::Tensor::uninitialized(s);
  for (float& v : t.mutableValues()) v = u(rng);
  return t;
}

qs::Tensor labels(int64_t n, int64_t classes) {
  qs::Tensor t = qs::Tensor::uninitialized({n}, qs::DType::Int32);
  for (int64_t i = 0; i < n; ++i) t.mutableAs<int32_t>()[i] = static_cast<int32_t>(i % classes);
  return t;
}

using Inputs = std::vector<std::pair<std::string, qs::Tensor>>;

std::map<std::string, qs::Tensor> forward(const Inputs& in, int threads, qs::Evaluator& ev,
                                          const qs::Page& page) {
  ev.clear();
  for (const auto& [port, t] : in) ev.setFeed(qs::BlockId("in_" + port), t);
  qs::EvalOptions o;
  o.threads = threads;
  ev.evaluate(page, o);
  return ev.state(qs::BlockId("b"))->outputs;
}

qs::Page pageOf(const Case& c, const Inputs& inputs) {
  qs::Page page;
  qs::Block b;
  b.id = qs::BlockId("b");
  b.type = c.type;
  b.attrs = c.attrs;
  page.addBlock(b);
  for (const auto& [port, t] : inputs) {
    qs::Block in;
    in.id = qs::BlockId("in_" + port);
    in.type = "Const";
    page.addBlock(in);
    page.addLink({{in.id, qs::PortName("output")}, {b.id, qs::PortName(port)}});
  }
  return page;
}

void BM_NnForward(benchmark::State& state, const Case& c, int threads) {
  const Inputs in = c.inputs();
  qs::Evaluator ev(qs::builtinRegistry());
  const qs::Page page = pageOf(c, in);
  for (auto _ : state) benchmark::DoNotOptimize(forward(in, threads, ev, page));
}

void BM_NnGradient(benchmark::State& state, const Case& c, int threads) {
  const Inputs in = c.inputs();
  qs::Evaluator ev(qs::builtinRegistry());
  const qs::Page page = pageOf(c, in);
  const auto outputs = forward(in, threads, ev, page);
  const qs::BlockDescriptor& desc = *qs::builtinRegistry().find(c.type);
  const qs::AttrValues attrs = qs::resolveAttrs(desc, c.attrs);
  qs::ThreadPool pool(threads);
  const std::string first = desc.outputs().front()->name;
  for (auto _ : state) {
    qs::GradientCall call;
    for (const auto& [port, t] : in) call.inputs[port] = t;
    call.outputs = outputs;
    call.outputGrads[first] = outputs.at(first);
    call.wanted = {in.front().first};
    call.pool = threads > 1 ? &pool : nullptr;
    benchmark::DoNotOptimize(qs::runGradient(desc, "b", attrs, std::move(call)));
  }
}

const qs::Tensor& activations() {
  static const qs::Tensor t = randomTensor({8, 56, 56, 64});
  return t;
}

const qs::Tensor& logits() {
  static const qs::Tensor t = randomTensor({256, 10});
  return t;
}

std::vector<Case> cases() {
  const qs::Json pool{{"ksize", {1, 3, 3, 1}}, {"strides", {1, 2, 2, 1}}, {"padding", "SAME"}};
  auto one = [](const char* port, const qs::Tensor& (*t)()) {
    return [port, t] { return Inputs{{port, t()}}; };
  };
  return {
      {"Relu", "8x56x56x64", qs::Json::object(), one("features", activations)},
      {"MaxPool", "8x56x56x64_3x3s2", pool, one("input", activations)},
      {"AvgPool", "8x56x56x64_3x3s2", pool, one("value", activations)},
      {"Transpose", "8x56x56x64_0312", {{"perm", {0, 3, 1, 2}}}, one("x", activations)},
      {"Softmax", "256x10", qs::Json::object(), one("logits", logits)},
      {"SparseSoftmaxCrossEntropyWithLogits", "256x10", qs::Json::object(),
       [] {
         return Inputs{{"features", logits()}, {"labels", labels(256, 10)}};
       }},
  };
}

const bool registered = [] {
  static const std::vector<Case> all = cases();
  for (const Case& c : all)
    for (int threads : {1, 2}) {
      const std::string tail = c.label + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(("BM_Nn/" + c.type + "/" + tail).c_str(), BM_NnForward, c,
                                   threads)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_NnGrad/" + c.type + "/" + tail).c_str(), BM_NnGradient, c,
                                   threads)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  return true;
}();

}  // namespace
