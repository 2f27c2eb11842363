// The FakeQuant kernels' scratch memory stays under its limit: a wide and short tensor, whose
// per-lane tables would otherwise be several times the tensor, is worked through in blocks of
// channels and still matches the independent reference; below what one channel needs, the block
// fails with a message instead.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "blocks/array_ops/FakeQuantKernels.h"
#include "kernel_override_guard.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"
#include "runtime/ThreadPool.h"
#include "tests/reference/FakeQuantReference.h"

namespace test_kernel_scratch {

using namespace qs;

namespace {

struct WideCase {
  int64_t outer, channels;
  std::vector<float> x, g, mins, maxs;
};

// Per-channel ranges of different widths and zero points, one channel in 97 with min == max == 0,
// and inputs spread over and beyond each range.
WideCase wideCase(int64_t outer, int64_t channels) {
  WideCase c{outer, channels, {}, {}, {}, {}};
  uint32_t s = 12345;
  auto next = [&] {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>(s >> 8) / 16777216.0f;  // [0, 1)
  };
  for (int64_t ch = 0; ch < channels; ++ch) {
    const bool zero = ch % 97 == 0;
    c.mins.push_back(zero ? 0.0f : -0.2f - 3.0f * next());
    c.maxs.push_back(zero ? 0.0f : 0.1f + 3.0f * next());
  }
  for (int64_t i = 0; i < outer * channels; ++i) {
    c.x.push_back(8.0f * next() - 4.0f);
    c.g.push_back(next() - 0.25f);
  }
  return c;
}

// The float sum of `terms` terms in any order is within terms * 2^-24 * sum|t| of the exact sum.
bool sumClose(float got, double exact, double absSum, int64_t terms) {
  return std::abs(static_cast<double>(got) - exact) <=
         static_cast<double>(terms) * std::ldexp(absSum, -24) + 1e-30;
}

// Runs the forward and the gradient of `c` and compares them with the reference; returns the
// first difference, or "".
std::string runAndCompare(const WideCase& c, int threads) {
  ThreadPool pool(threads);
  const fq::QuantRange q = fq::quantRange(8, false);
  const int64_t n = c.outer * c.channels;
  std::vector<float> out(n), dx(n), dmin(c.channels), dmax(c.channels);
  fq::perChannelForward(c.x.data(), c.outer, c.channels, c.mins.data(), c.maxs.data(), q,
                        out.data(), {&pool, threads});
  fq::perChannelGradient(c.g.data(), c.x.data(), c.outer, c.channels, c.mins.data(), c.maxs.data(),
                         q, dx.data(), dmin.data(), dmax.data(), {&pool, threads});
  const qsref::RefResult f =
      qsref::refRun(qsref::Op::PerChannel, c.x, c.g, c.channels, c.mins, c.maxs, 8, false);
  const qsref::RefResult b =
      qsref::refRun(qsref::Op::PerChannelGradient, c.x, c.g, c.channels, c.mins, c.maxs, 8, false);
  for (int64_t i = 0; i < n; ++i) {
    if (out[i] != f.out[i]) return "output[" + std::to_string(i) + "]";
    if (dx[i] != b.out[i]) return "dx[" + std::to_string(i) + "]";
  }
  for (int64_t ch = 0; ch < c.channels; ++ch) {
    if (!sumClose(dmin[ch], b.dmin[ch], b.dminAbs[ch], b.terms[ch]))
      return "dmin[" + std::to_string(ch) + "]";
    if (!sumClose(dmax[ch], b.dmax[ch], b.dmaxAbs[ch], b.terms[ch]))
      return "dmax[" + std::to_string(ch) + "]";
  }
  return "";
}

}  // namespace

TEST_CASE("kernel scratch: a wide, short tensor under a small limit matches the reference",
          "[kernels][scratch]") {
  qs::testing::KernelOverrideGuard guard;
  // 40009 channels (a prime: the last block of columns is ragged): the per-lane tables of one
  // pattern alone would take about 2 MB, eight times the limit.
  const WideCase c = wideCase(3, 40009);
  constexpr int64_t kLimit = 256 << 10;
  for (fq::SimdLevel level : fq::supportedSimdLevels()) {
    for (int threads : {1, 2}) {
      fq::KernelOverride o;
      o.level = level;
      o.minParallelElements = 1;
      o.scratchBytes = kLimit;
      fq::setKernelOverride(o);
      fq::resetScratchHighWater();
      INFO(fq::simdLevelName(level) << ", " << threads << " thread(s)");
      CHECK(runAndCompare(c, threads) == "");
      CHECK(fq::scratchHighWater() > 0);
      CHECK(fq::scratchHighWater() <= kLimit);
    }
  }
}

TEST_CASE("kernel scratch: the default limit holds for a tensor whose tables would pass it",
          "[kernels][scratch]") {
  qs::testing::KernelOverrideGuard guard;
  // [2, 3000000] on 2 threads: one pattern of 3M lanes is 12 MB per table; the gradient's seven
  // tables (two bounds, the masks, two sums per part) and the nudged ranges (72 MB) would take
  // about 156 MB, more than twice the limit.
  const WideCase c = wideCase(2, 3000000);
  fq::KernelOverride o;
  o.minParallelElements = 1;
  fq::setKernelOverride(o);
  fq::resetScratchHighWater();
  CHECK(runAndCompare(c, 2) == "");
  CHECK(fq::scratchHighWater() <= fq::kDefaultScratchBytes);
}

TEST_CASE("kernel scratch: below what one channel needs, the block fails with a clear message",
          "[kernels][scratch]") {
  qs::testing::KernelOverrideGuard guard;
  fq::KernelOverride o;
  o.scratchBytes = 4096;
  fq::setKernelOverride(o);
  Page page;
  for (const char* id : {"x", "lo", "hi"}) {
    Block b;
    b.id = BlockId(id);
    b.type = "Const";
    page.addBlock(b);
  }
  Block fqBlock;
  fqBlock.id = BlockId("fq");
  fqBlock.type = "FakeQuantWithMinMaxVarsPerChannel";
  page.addBlock(fqBlock);
  page.addLink({{BlockId("x"), PortName("output")}, {BlockId("fq"), PortName("inputs")}});
  page.addLink({{BlockId("lo"), PortName("output")}, {BlockId("fq"), PortName("min")}});
  page.addLink({{BlockId("hi"), PortName("output")}, {BlockId("fq"), PortName("max")}});
  Evaluator ev(builtinRegistry());
  ev.setFeed(BlockId("x"), Tensor::filled({4, 1000}, 0.5f));
  ev.setFeed(BlockId("lo"), Tensor::filled({1000}, -1.0f));
  ev.setFeed(BlockId("hi"), Tensor::filled({1000}, 1.0f));
  fq::resetScratchHighWater();
  const EvalReport r = ev.evaluate(page);
  REQUIRE(r.failed.size() == 1);
  const BlockState* st = ev.state(BlockId("fq"));
  REQUIRE(st);
  CHECK(st->status == BlockStatus::Error);
  CHECK(st->error ==
        "the kernel needs more than the scratch memory limit of 4.1 kB even for one channel at a "
        "time");
  CHECK(fq::scratchHighWater() <= 4096);
}

}  // namespace test_kernel_scratch
