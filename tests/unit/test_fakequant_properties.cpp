// Property tests: random FakeQuant cases of all six ops, run as pages through the Evaluator on
// every kernel path this machine has (portable, AVX2, AVX-512; 1 and 2 threads), compared with two
// independent references in tests/reference/, neither sharing code with blocks/: a scalar float32
// one (FakeQuantReference.h) and one re-derived in another form, double precision rounded to
// float32 at each step (FakeQuantDoubleReference.h). Forward outputs and dx must match both bit
// for bit, dmin/dmax to float rounding of the sum.
//
// The default run is a few seconds (kDefaultCases cases). For a long run set
//   QS_PROPERTY_CASES=N       number of random cases (e.g. 1000000)
//   QS_PROPERTY_SEED=S        first seed (case i uses seed S + i), to reproduce a failure
// e.g. `QS_PROPERTY_CASES=1000000 ./build/tests/qs_unit_tests "[properties]"`.
#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "blocks/array_ops/FakeQuantKernels.h"
#include "kernel_override_guard.h"
#include "runtime/Evaluator.h"
#include "runtime/Json.h"
#include "runtime/Page.h"
#include "tests/reference/FakeQuantDoubleReference.h"
#include "tests/reference/FakeQuantReference.h"

namespace test_fakequant_properties {

namespace {

using qsref::Op;

constexpr int64_t kDefaultCases = 20000;

int64_t envInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::strtoll(v, nullptr, 10);
}

const char* opType(Op op) {
  switch (op) {
    case Op::PerChannel:
      return "FakeQuantWithMinMaxVarsPerChannel";
    case Op::PerChannelGradient:
      return "FakeQuantWithMinMaxVarsPerChannelGradient";
    case Op::Vars:
      return "FakeQuantWithMinMaxVars";
    case Op::VarsGradient:
      return "FakeQuantWithMinMaxVarsGradient";
    case Op::Args:
      return "FakeQuantWithMinMaxArgs";
    case Op::ArgsGradient:
      return "FakeQuantWithMinMaxArgsGradient";
  }
  return "?";
}

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(uint64_t seed) : rng(seed) {}
  int uniformInt(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng); }
  float nan() {
    // Plain quiet NaNs of both signs and one with a payload: the payload must survive too.
    switch (uniformInt(0, 2)) {
      case 0:
        return std::numeric_limits<float>::quiet_NaN();
      case 1:
        return -std::numeric_limits<float>::quiet_NaN();
      default:
        return std::bit_cast<float>(0x7FC01234u);
    }
  }
};

struct Case {
  Op op;
  qs::Shape shape;
  int64_t channels = 1;
  std::vector<float> x, g, mins, maxs;
  int numBits = 8;
  bool narrow = false;
};

// One channel's range, of a kind the spec singles out.
void makeRange(Gen& r, bool argsOp, int numBits, bool narrow, float& min, float& max) {
  const int kinds = argsOp ? 6 : 9;  // the Args ops require min < max
  switch (r.uniformInt(0, kinds - 1)) {
    case 0:  // straddles zero
      min = -r.uniform(0.001f, 100.0f);
      max = r.uniform(0.001f, 100.0f);
      return;
    case 1:  // entirely above zero
      min = r.uniform(0.001f, 50.0f);
      max = min + r.uniform(0.001f, 50.0f);
      return;
    case 2:  // entirely below zero
      max = -r.uniform(0.001f, 50.0f);
      min = max - r.uniform(0.001f, 50.0f);
      return;
    case 3:  // symmetric, like the [-1, 1] trap of docs/spec.md
      max = static_cast<float>(r.uniformInt(1, 8)) * (r.chance(0.5) ? 1.0f : r.uniform(0.1f, 3));
      min = -max;
      return;
    case 4: {  // a power-of-two scale: every half step is exactly representable (ties)
      const int quantMin = narrow ? 1 : 0;
      const int quantMax = (1 << numBits) - 1;
      const float scale = std::ldexp(1.0f, r.uniformInt(-12, 2));
      const int zp = r.uniformInt(quantMin, quantMax);
      min = static_cast<float>(quantMin - zp) * scale;
      max = static_cast<float>(quantMax - zp) * scale;
      if (!(min < max)) max = min + scale;
      return;
    }
    case 5:  // tiny or huge
      if (r.chance(0.5)) {
        min = -r.uniform(1e-7f, 1e-5f);
        max = r.uniform(1e-7f, 1e-5f);
      } else {
        min = -r.uniform(1e3f, 1e6f);
        max = r.uniform(1e3f, 1e6f);
      }
      return;
    case 6:  // min > max
      max = r.uniform(-50.0f, 50.0f);
      min = max + r.uniform(0.001f, 50.0f);
      return;
    case 7:  // min == max != 0
      min = max = r.chance(0.5) ? r.uniform(0.01f, 10.0f) : -r.uniform(0.01f, 10.0f);
      return;
    default:  // min == max == 0 (sometimes -0)
      min = r.chance(0.5) ? 0.0f : -0.0f;
      max = 0.0f;
      return;
  }
}

float makeInput(Gen& r, const qsref::RefRange& range, int numBits) {
  const float lo = range.nudgedMin, hi = range.nudgedMax, s = range.scale;
  const bool usable = std::isfinite(lo) && std::isfinite(hi) && std::isfinite(s) && s != 0.0f;
  const int levels = (1 << numBits);
  const int kind = r.uniformInt(0, 99);
  if (kind < 5) return r.nan();
  if (kind < 10)
    return r.chance(0.5) ? std::numeric_limits<float>::infinity()
                         : -std::numeric_limits<float>::infinity();
  if (kind < 15) return r.chance(0.5) ? 0.0f : -0.0f;
  if (kind < 25 || !usable) return r.uniform(-1000.0f, 1000.0f);
  const float span = std::abs(hi - lo);
  if (kind < 50) {  // exactly on a half step: the rounding ties
    const int k = r.uniformInt(-2, std::min(levels, 4096) + 1);
    return lo + (static_cast<float>(k) + 0.5f) * s;
  }
  if (kind < 60) return lo + static_cast<float>(r.uniformInt(-1, std::min(levels, 4096))) * s;
  if (kind < 65) return r.chance(0.5) ? lo : hi;  // the inclusive ends of the gradient's mask
  if (kind < 70) return std::nextafter(r.chance(0.5) ? lo : hi, r.chance(0.5) ? 1e30f : -1e30f);
  const float lo2 = std::min(lo, hi) - 0.25f * span - 1e-3f;
  const float hi2 = std::max(lo, hi) + 0.25f * span + 1e-3f;
  return r.uniform(lo2, hi2);
}

float makeGradient(Gen& r) {
  const int kind = r.uniformInt(0, 99);
  if (kind < 4) return r.nan();
  if (kind < 8)
    return r.chance(0.5) ? std::numeric_limits<float>::infinity()
                         : -std::numeric_limits<float>::infinity();
  if (kind < 14) return r.chance(0.5) ? 0.0f : -0.0f;
  return r.uniform(-10.0f, 10.0f);
}

Case makeCase(uint64_t seed) {
  Gen r(seed);
  Case c;
  c.op = static_cast<Op>(r.uniformInt(0, 5));
  c.numBits = r.uniformInt(2, 16);
  c.narrow = r.chance(0.5);
  const bool perChannel = qsref::isPerChannel(c.op);
  // Shape: rank 1..6 (0 too for the scalar-range ops), small dims, sometimes a wide last axis
  // (long constant patterns) and sometimes empty.
  const int rank = r.uniformInt(perChannel ? 1 : 0, 6);
  const int64_t budget = r.chance(0.1) ? 20000 : 1500;
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    const bool last = i == rank - 1;
    int64_t d =
        last && r.chance(0.15) ? r.uniformInt(17, 6000) : r.uniformInt(1, rank <= 2 ? 64 : 7);
    d = std::max<int64_t>(1, std::min<int64_t>(d, budget / std::max<int64_t>(total, 1)));
    c.shape.push_back(d);
    total *= d;
  }
  if (perChannel && r.chance(0.1)) {
    // Channel counts that select each kernel layout: patterns of 1..4 vectors held in registers
    // (3, 16, 48, 64; the gradient also 5 -> 80 lanes, 128), expanded ones (128 -> 256 lanes,
    // which the AVX-512 forward takes four rows at a time), long ones that the AVX-512 gradient
    // takes eight rows at a time (600 -> 1200 lanes, 1024), and one longer than any pattern (5003).
    const int64_t ds[] = {3, 5, 16, 48, 64, 128, 600, 1024, 5003};
    c.shape = {r.uniformInt(1, 20), ds[r.uniformInt(0, 8)]};
  }
  if (rank > 0 && r.chance(0.03))
    c.shape[r.uniformInt(0, static_cast<int>(c.shape.size()) - 1)] = 0;
  int64_t count = 1;
  for (int64_t d : c.shape) count *= d;
  c.channels = perChannel ? c.shape.back() : 1;
  const int64_t rangeCount = c.channels;
  std::vector<qsref::RefRange> ranges;
  for (int64_t ch = 0; ch < rangeCount; ++ch) {
    float mn, mx;
    makeRange(r, qsref::isArgs(c.op), c.numBits, c.narrow, mn, mx);
    c.mins.push_back(mn);
    c.maxs.push_back(mx);
    ranges.push_back(qsref::refNudge(mn, mx, c.numBits, c.narrow));
  }
  c.x.resize(count);
  for (int64_t i = 0; i < count; ++i)
    c.x[i] = makeInput(r, ranges[c.channels > 0 ? i % c.channels : 0], c.numBits);
  if (qsref::isGradient(c.op)) {
    c.g.resize(count);
    for (auto& v : c.g) v = makeGradient(r);
  }
  return c;
}

std::string floatText(float f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g (0x%08x)", static_cast<double>(f),
                std::bit_cast<uint32_t>(f));
  return buf;
}

std::string describe(const Case& c, uint64_t seed) {
  return std::string(opType(c.op)) + " seed " + std::to_string(seed) + " shape " +
         qs::shapeToString(c.shape) + " num_bits " + std::to_string(c.numBits) +
         (c.narrow ? " narrow" : "");
}

// "" when the float sum `got` is the reference sum up to the rounding of each partial sum.
std::string checkSum(float got, double want, double absSum, int64_t terms) {
  if (std::isnan(want)) return std::isnan(got) ? "" : "want NaN, got " + floatText(got);
  if (std::isinf(want)) return got == want ? "" : "want inf, got " + floatText(got);
  const double tol = static_cast<double>(terms) * std::ldexp(1.0, -24) * absSum + 1e-30;
  if (std::abs(static_cast<double>(got) - want) <= tol) return "";
  return "got " + floatText(got) + ", want " + std::to_string(want);
}

// A page for one case; its Const blocks are fed the case's tensors.
struct CasePage {
  qs::Page page;
  std::vector<std::pair<std::string, qs::Tensor>> feeds;
};

void addFed(CasePage& p, const std::string& id, qs::Shape shape, const std::vector<float>& v) {
  qs::Block b;
  b.id = qs::BlockId(id);
  b.type = "Const";
  p.page.addBlock(std::move(b));
  p.feeds.emplace_back(id, qs::Tensor::fromValues(std::move(shape), v));
}

void wire(qs::Page& page, const std::string& from, const std::string& port) {
  page.addLink(
      {{qs::BlockId(from), qs::PortName("output")}, {qs::BlockId("fq"), qs::PortName(port)}});
}

CasePage buildPage(const Case& c) {
  CasePage p;
  addFed(p, "x", c.shape, c.x);
  if (qsref::isGradient(c.op)) addFed(p, "g", c.shape, c.g);
  qs::Json attrs = {{"num_bits", c.numBits}, {"narrow_range", c.narrow}};
  if (qsref::isArgs(c.op)) {
    attrs["min"] = qs::floatToJson(c.mins[0]);
    attrs["max"] = qs::floatToJson(c.maxs[0]);
  } else {
    const qs::Shape rs = qsref::isPerChannel(c.op) ? qs::Shape{c.channels} : qs::Shape{};
    addFed(p, "lo", rs, c.mins);
    addFed(p, "hi", rs, c.maxs);
  }
  qs::Block op;
  op.id = qs::BlockId("fq");
  op.type = opType(c.op);
  op.attrs = attrs;
  p.page.addBlock(std::move(op));
  wire(p.page, "x", "inputs");
  if (qsref::isGradient(c.op)) wire(p.page, "g", "gradients");
  if (!qsref::isArgs(c.op)) {
    wire(p.page, "lo", "min");
    wire(p.page, "hi", "max");
  }
  return p;
}

// What both references expect for a case.
struct Wants {
  qsref::RefResult first;  // FakeQuantReference.h
  qsref2::Result second;   // FakeQuantDoubleReference.h
};

qsref2::Kind kindOf(Op op) {
  if (qsref::isPerChannel(op)) return qsref2::Kind::PerChannel;
  return qsref::isArgs(op) ? qsref2::Kind::Args : qsref2::Kind::Vars;
}

Wants references(const Case& c) {
  return {qsref::refRun(c.op, c.x, c.g, c.channels, c.mins, c.maxs, c.numBits, c.narrow),
          qsref2::run(kindOf(c.op), qsref::isGradient(c.op), c.x, c.g, c.channels, c.mins, c.maxs,
                      c.numBits, c.narrow)};
}

// The op's results on the evaluator's current path.
struct Got {
  std::string error;
  std::string outPort;
  std::vector<float> out, dmin, dmax;
};

Got evaluateCase(qs::Evaluator& ev, int threads, const CasePage& p, const Case& c) {
  ev.clear();
  for (const auto& [id, t] : p.feeds) ev.setFeed(qs::BlockId(id), t);
  qs::EvalOptions opts;
  opts.threads = threads;
  ev.evaluate(p.page, opts);
  Got got;
  const qs::BlockState* st = ev.state(qs::BlockId("fq"));
  if (!st || st->status != qs::BlockStatus::Ok) {
    got.error = "block failed: " + (st ? st->error : std::string("no state"));
    return got;
  }
  const bool grad = qsref::isGradient(c.op);
  got.outPort = !grad ? "output" : (qsref::isArgs(c.op) ? "backprops" : "backprops_wrt_input");
  got.out = ev.result("fq.result_" + got.outPort)->toVector();
  if (grad && !qsref::isArgs(c.op)) {
    got.dmin = ev.result("fq.result_backprop_wrt_min")->toVector();
    got.dmax = ev.result("fq.result_backprop_wrt_max")->toVector();
  }
  return got;
}

// "" when the results match one reference's (either result type: the same fields).
template <typename Ref>
std::string compareWith(const Got& got, const Case& c, const Ref& want) {
  const bool grad = qsref::isGradient(c.op);
  if (got.out.size() != want.out.size()) return "wrong size";
  for (size_t i = 0; i < got.out.size(); ++i)
    if (std::bit_cast<uint32_t>(got.out[i]) != std::bit_cast<uint32_t>(want.out[i]))
      return got.outPort + "[" + std::to_string(i) + "] for x = " + floatText(c.x[i]) +
             (grad ? ", g = " + floatText(c.g[i]) : "") + " (channel min " +
             floatText(c.mins[i % c.channels]) + ", max " + floatText(c.maxs[i % c.channels]) +
             "): got " + floatText(got.out[i]) + ", want " + floatText(want.out[i]);
  if (!grad || qsref::isArgs(c.op)) return "";
  for (int64_t ch = 0; ch < c.channels; ++ch) {
    std::string e = checkSum(got.dmin[ch], want.dmin[ch], want.dminAbs[ch], want.terms[ch]);
    if (!e.empty()) return "backprop_wrt_min[" + std::to_string(ch) + "]: " + e;
    e = checkSum(got.dmax[ch], want.dmax[ch], want.dmaxAbs[ch], want.terms[ch]);
    if (!e.empty()) return "backprop_wrt_max[" + std::to_string(ch) + "]: " + e;
  }
  return "";
}

// Runs the case on the evaluator's current path; "" when it matches both references.
std::string runAndCompare(qs::Evaluator& ev, int threads, const CasePage& p, const Case& c,
                          const Wants& want) {
  const Got got = evaluateCase(ev, threads, p, c);
  if (!got.error.empty()) return got.error;
  std::string diff = compareWith(got, c, want.first);
  if (!diff.empty()) return "against FakeQuantReference.h: " + diff;
  diff = compareWith(got, c, want.second);
  if (!diff.empty()) return "against FakeQuantDoubleReference.h: " + diff;
  return "";
}

// A gradient case on a larger tensor whose NaN and infinite values are rare (about one element in
// 2,000), as in real data: most vectors then take the AVX-512 path's short route and some fall back
// to TensorFlow's multiplies, next to and among short-route vectors of the same channels.
Case makeSparseGradientCase(uint64_t seed, int64_t channels) {
  Gen r(seed);
  Case c;
  const Op ops[] = {Op::PerChannelGradient, Op::VarsGradient, Op::ArgsGradient};
  c.op = channels > 1 ? Op::PerChannelGradient : ops[r.uniformInt(0, 2)];
  c.numBits = r.uniformInt(2, 16);
  c.narrow = r.chance(0.5);
  const int64_t outer = std::max<int64_t>(2, 40000 / channels + r.uniformInt(0, 3));
  c.shape = {outer, channels};
  c.channels = channels;
  std::vector<qsref::RefRange> ranges;
  for (int64_t ch = 0; ch < channels; ++ch) {
    float mn, mx;
    makeRange(r, qsref::isArgs(c.op), c.numBits, c.narrow, mn, mx);
    if (!qsref::isArgs(c.op) && r.chance(0.05)) {
      // Ranges whose nudged bounds are NaN (a NaN end, or a span that overflows to infinity).
      switch (r.uniformInt(0, 2)) {
        case 0:
          mn = r.nan();
          break;
        case 1:
          mx = std::numeric_limits<float>::quiet_NaN();
          break;
        default:
          mn = -3e38f;
          mx = 3e38f;
      }
    }
    c.mins.push_back(mn);
    c.maxs.push_back(mx);
    ranges.push_back(qsref::refNudge(mn, mx, c.numBits, c.narrow));
  }
  const int64_t count = outer * channels;
  c.x.resize(count);
  c.g.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    c.x[i] = r.chance(0.0005) ? (r.chance(0.5) ? r.nan() : -std::numeric_limits<float>::infinity())
                              : makeInput(r, ranges[i % channels], c.numBits);
    while (!std::isfinite(c.x[i]) && !std::isnan(c.x[i]) && r.chance(0.9))
      c.x[i] = makeInput(r, ranges[i % channels], c.numBits);
    const int kind = r.uniformInt(0, 3999);
    c.g[i] = kind == 0   ? r.nan()
             : kind == 1 ? std::numeric_limits<float>::infinity()
             : kind < 10 ? (r.chance(0.5) ? 0.0f : -0.0f)
                         : r.uniform(-10.0f, 10.0f);
  }
  return c;
}

}  // namespace

TEST_CASE("the gradient matches the reference on large tensors with rare special values",
          "[properties]") {
  qs::testing::KernelOverrideGuard guard;
  qs::Evaluator one(qs::builtinRegistry());
  qs::Evaluator two(qs::builtinRegistry());
  // Channel counts for each layout of the AVX-512 gradient: 1 (one vector), 3 and 7 (patterns of
  // 3 and 7 vectors in registers), 128 (8 vectors), 100 and 1024 (row by row, sums in memory), 5003
  // (longer than any pattern).
  const int64_t channelCounts[] = {1, 3, 7, 128, 100, 1024, 5003};
  int64_t runs = 0;
  uint64_t seed = 77000;
  for (int64_t channels : channelCounts) {
    for (int rep = 0; rep < 3; ++rep, ++seed) {
      const Case c = makeSparseGradientCase(seed, channels);
      const Wants want = references(c);
      const CasePage p = buildPage(c);
      for (qs::fq::SimdLevel level : qs::fq::supportedSimdLevels()) {
        for (int threads : {1, 2}) {
          for (int store = 0; store < 3; ++store) {  // cached, mixed, streamed
            qs::fq::KernelOverride o;
            o.level = level;
            o.minParallelElements = 1;
            o.streamBytes = store == 2 ? int64_t{0} : std::numeric_limits<int64_t>::max();
            o.mixedBytes = store == 1 ? int64_t{0} : std::numeric_limits<int64_t>::max();
            qs::fq::setKernelOverride(o);
            const std::string diff = runAndCompare(threads == 1 ? one : two, threads, p, c, want);
            ++runs;
            if (!diff.empty())
              FAIL_CHECK(describe(c, seed)
                         << " on " << qs::fq::simdLevelName(level) << ", " << threads
                         << " threads, store mode " << store << ": " << diff);
          }
        }
      }
    }
  }
  CHECK(runs > 0);
}

TEST_CASE("FakeQuant kernels match the independent reference on random cases, every path",
          "[properties]") {
  const int64_t cases = envInt("QS_PROPERTY_CASES", kDefaultCases);
  const uint64_t seed0 = static_cast<uint64_t>(envInt("QS_PROPERTY_SEED", 20240601));
  qs::testing::KernelOverrideGuard guard;
  const auto levels = qs::fq::supportedSimdLevels();
  qs::Evaluator one(qs::builtinRegistry());
  qs::Evaluator two(qs::builtinRegistry());
  int64_t ran = 0, checked = 0, elements = 0, failures = 0;
  int64_t perOp[6] = {};
  for (int64_t i = 0; i < cases && failures < 10; ++i) {
    const uint64_t seed = seed0 + static_cast<uint64_t>(i);
    const Case c = makeCase(seed);
    const Wants want = references(c);
    const CasePage p = buildPage(c);
    ++ran;
    ++perOp[static_cast<int>(c.op)];
    elements += static_cast<int64_t>(c.x.size());
    for (qs::fq::SimdLevel level : levels) {
      for (int threads : {1, 2}) {
        // Odd cases split in chunks of single elements, even ones in the default 16-element units.
        // Every third case writes with non-temporal stores (normally only for huge outputs), every
        // third streams three of four cache lines (normally for working sets beyond L2).
        qs::fq::KernelOverride o;
        o.level = level;
        o.minParallelElements = 1;
        o.grainElements = (i % 2) ? 1 : 64;
        if (i % 3 == 0) o.streamBytes = 0;
        if (i % 3 == 1) o.mixedBytes = 0;
        qs::fq::setKernelOverride(o);
        const std::string diff = runAndCompare(threads == 1 ? one : two, threads, p, c, want);
        ++checked;
        if (!diff.empty()) {
          ++failures;
          FAIL_CHECK(describe(c, seed) << " on " << qs::fq::simdLevelName(level) << ", " << threads
                                       << " threads: " << diff);
        }
      }
    }
  }
  std::printf(
      "property tests: %lld cases (%lld elements), %lld path runs, %zu kernel paths x 2 "
      "thread counts, each against both references; per op %lld/%lld/%lld/%lld/%lld/%lld; %lld "
      "failures\n",
      static_cast<long long>(ran), static_cast<long long>(elements),
      static_cast<long long>(checked), levels.size(), static_cast<long long>(perOp[0]),
      static_cast<long long>(perOp[1]), static_cast<long long>(perOp[2]),
      static_cast<long long>(perOp[3]), static_cast<long long>(perOp[4]),
      static_cast<long long>(perOp[5]), static_cast<long long>(failures));
  CHECK(failures == 0);
}

TEST_CASE("the reference itself agrees with the worked examples of docs/spec.md", "[properties]") {
  // The trap of docs/spec.md: min -1, max 1 at 8 bits nudges to [-0.99607849, 1.00392163], and
  // TensorFlow prints [-0.9960785, 0, 1.0039215] for inputs [-1, 0, 1].
  const auto r = qsref::refNudge(-1.0f, 1.0f, 8, false);
  CHECK(r.nudgedMin == -0.99607849f);
  CHECK(r.nudgedMax == 1.00392163f);
  CHECK(qsref::refForward(-1.0f, r, false) == -0.9960785f);
  CHECK(std::bit_cast<uint32_t>(qsref::refForward(0.0f, r, false)) == 0u);
  CHECK(qsref::refForward(1.0f, r, false) == 1.00392163f);
  // Ties round up on both sides of zero: at scale 0.25, -0.375 gives -0.25.
  const auto q = qsref::refNudge(-1.0f, 62.75f, 8, false);
  CHECK(q.scale == 0.25f);
  CHECK(qsref::refForward(-0.375f, q, true) == -0.25f);
  CHECK(qsref::refForward(0.375f, q, true) == 0.5f);
  // Near a midpoint the product and the quotient give neighbouring levels: x = -4.63529444 in
  // [-6, 6] at 8 bits is -4.6117649 by the product, -4.6588235 by the quotient.
  const auto s = qsref::refNudge(-6.0f, 6.0f, 8, false);
  CHECK(qsref::refForward(-4.63529444f, s, false) == -4.61176491f);
  CHECK(qsref::refForward(-4.63529444f, s, true) == -4.65882349f);
}

TEST_CASE("the double-precision reference agrees with the spec's worked examples", "[properties]") {
  using qsref2::Kind;
  const auto r = qsref2::nudgeRange(-1.0f, 1.0f, 8, false);
  CHECK(r.lo == -0.99607849f);
  CHECK(r.hi == 1.00392163f);
  CHECK(qsref2::forward(Kind::PerChannel, -1.0f, r) == -0.9960785f);
  CHECK(std::bit_cast<uint32_t>(qsref2::forward(Kind::Args, 0.0f, r)) == 0u);
  CHECK(qsref2::forward(Kind::Vars, 1.0f, r) == 1.00392163f);
  const auto q = qsref2::nudgeRange(-1.0f, 62.75f, 8, false);
  CHECK(q.scale == 0.25);
  CHECK(qsref2::forward(Kind::Vars, -0.375f, q) == -0.25f);
  CHECK(qsref2::forward(Kind::Vars, 0.375f, q) == 0.5f);
  const auto s = qsref2::nudgeRange(-6.0f, 6.0f, 8, false);
  CHECK(qsref2::forward(Kind::Args, -4.63529444f, s) == -4.61176491f);
  CHECK(qsref2::forward(Kind::PerChannel, -4.63529444f, s) == -4.61176491f);
  CHECK(qsref2::forward(Kind::Vars, -4.63529444f, s) == -4.65882349f);
  // The gradient's masks are the nudged range, inclusive.
  CHECK(qsref2::gradient(2.0f, -6.02352953f, s).dx == 2.0f);
  CHECK(qsref2::gradient(2.0f, 6.0f, s).dx == 0.0f);
  CHECK(qsref2::gradient(2.0f, 6.0f, s).toMax == 2.0f);
}

}  // namespace test_fakequant_properties
