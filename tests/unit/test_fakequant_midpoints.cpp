// Inputs at and a few ulps around the midpoint between two levels, where TensorFlow's two ways of
// finding the level disagree: (clamped - nudged_min) * inv_scale (PerChannel and Args) and
// (clamped - nudged_min) / scale (Vars only). Near a midpoint the product and the quotient can
// round to neighbouring levels, a whole step apart, so each op must use its own. Every case runs as
// a page on every kernel path this machine has, with 1 and 2 threads, and must match bit for bit.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "blocks/array_ops/FakeQuantKernels.h"
#include "runtime/Json.h"
#include "test_math_helpers.h"

namespace test_fakequant_midpoints {

namespace {

using qs::Tensor;
using qs::testing::runBlock;

struct Row {
  float x;
  float product;   // TensorFlow's PerChannel and Args output for x
  float quotient;  // TensorFlow's Vars output for x
};

struct Table {
  const char* name;
  float min, max;
  int numBits;
  bool narrow;
  std::vector<Row> rows;
};

// How the literals were found, without the code under test: a one-off Python script that follows
// TensorFlow's fake_quant_ops_functor.h (2.x) one float32 operation at a time. Each +, -, *, / of
// two float32 values is done in double and rounded to float32 once (struct.pack('f')), which is
// exactly the float32 operation; floor is exact; the zero point rounds half away from zero. The
// script reproduces all 894 forward values of tests/data/tf_kernel_tests.json. For every level k
// of each range it took the float nearest nudged_min + (k + 0.5) * scale, and the floats 1 and 2
// ulps either side, and kept two midpoints where the product and the quotient disagree.
//
// Worked by hand for the first "differ" row (x = -4.63529444f = 0xC0945455, range [-6, 6], 8 bits):
//   scale = 12 / 255 = 0.0470588244f, inv_scale = 255 / 12 = 21.25f (exact),
//   zero_point_from_min = 0 - (-6 / scale) = 127.5f, rounded half away: 128,
//   nudged_min = -128 * scale = -6.02352953f, quant_zero = floor(6.02352953f * 21.25f + 0.5) = 128.
//   shifted = x - nudged_min = 1.38823509f (exact: 727835 / 2^19).
//   product:  shifted * 21.25 = 29.4999957.. -> 29.4999962f; - 128 = -98.5000038.. is halfway
//             between the floats -98.5 and -98.5000076, and rounds to the even one, -98.5;
//             + 0.5 = -98, floor -98, times scale: -4.61176491f (TensorFlow's Args).
//   quotient: shifted / scale = 29.4999951.. -> 29.4999943f; - 128 -> -98.5000076f;
//             + 0.5 = -98.0000076, floor -99, times scale: -4.65882349f.
const std::vector<Table>& tables() {
  static const std::vector<Table> t = {
      // scale 0.0470588244f, inv_scale 21.25f, nudged [-6.02352953f, 5.97647047f]
      {"[-6, 6], 8 bits",
       -6.0f,
       6.0f,
       8,
       false,
       {
           // level 29 + 0.5
           {-4.63529539f, -4.65882349f, -4.65882349f},
           {-4.63529491f, -4.65882349f, -4.65882349f},
           {-4.63529444f, -4.61176491f, -4.65882349f},  // differ
           {-4.63529396f, -4.61176491f, -4.61176491f},
           {-4.63529348f, -4.61176491f, -4.61176491f},
           // level 100 + 0.5
           {-1.29411793f, -1.27058828f, -1.3176471f},  // differ
           {-1.29411781f, -1.27058828f, -1.3176471f},  // differ
           {-1.29411769f, -1.27058828f, -1.27058828f},
           {-1.29411757f, -1.27058828f, -1.27058828f},
           {-1.29411745f, -1.27058828f, -1.27058828f},
       }},
      // scale 0.00784313772f, inv_scale 127.5f, nudged [-0.996078491f, 1.00392163f]
      {"[-1, 1], 8 bits",
       -1.0f,
       1.0f,
       8,
       false,
       {
           // level 48 + 0.5
           {-0.615686417f, -0.619607866f, -0.619607866f},
           {-0.615686357f, -0.611764729f, -0.619607866f},  // differ
           {-0.615686297f, -0.611764729f, -0.611764729f},
           {-0.615686238f, -0.611764729f, -0.611764729f},
           {-0.615686178f, -0.611764729f, -0.611764729f},
           // level 254 + 0.5
           {0.999999881f, 1.00392163f, 0.996078491f},  // differ
           {0.99999994f, 1.00392163f, 1.00392163f},
           {1.0f, 1.00392163f, 1.00392163f},
           {1.00000012f, 1.00392163f, 1.00392163f},
           {1.00000024f, 1.00392163f, 1.00392163f},
       }},
      // scale 0.00118110236f, inv_scale 846.666626f, nudged [-0.100393698f, 0.199606299f]. Here
      // the product is the lower level.
      {"[-0.1, 0.2], 8 bits, narrow",
       -0.1f,
       0.2f,
       8,
       true,
       {
           // level 15 + 0.5
           {-0.0820866227f, -0.0826771632f, -0.0826771632f},
           {-0.0820866153f, -0.0826771632f, -0.0814960599f},  // differ
           {-0.0820866078f, -0.0814960599f, -0.0814960599f},
           {-0.0820866004f, -0.0814960599f, -0.0814960599f},
           {-0.0820865929f, -0.0814960599f, -0.0814960599f},
           // level 253 + 0.5
           {0.199015722f, 0.198425204f, 0.198425204f},
           {0.199015737f, 0.198425204f, 0.199606299f},  // differ
           {0.199015751f, 0.198425204f, 0.199606299f},  // differ
           {0.199015766f, 0.198425204f, 0.199606299f},  // differ
           {0.199015781f, 0.199606299f, 0.199606299f},
       }},
      // scale 0.00787401572f, inv_scale 127.0f, nudged [-0.503937006f, 1.49606299f]
      {"[-0.5, 1.5], 8 bits, narrow",
       -0.5f,
       1.5f,
       8,
       true,
       {
           // level 87 + 0.5
           {0.185039341f, 0.181102365f, 0.188976377f},  // differ
           {0.185039356f, 0.181102365f, 0.188976377f},  // differ
           {0.185039371f, 0.188976377f, 0.188976377f},
           {0.185039386f, 0.188976377f, 0.188976377f},
           {0.185039401f, 0.188976377f, 0.188976377f},
           // level 239 + 0.5
           {1.38188946f, 1.37795269f, 1.37795269f},
           {1.38188958f, 1.37795269f, 1.37795269f},
           {1.3818897f, 1.37795269f, 1.38582683f},  // differ
           {1.38188982f, 1.38582683f, 1.38582683f},
           {1.38188994f, 1.38582683f, 1.38582683f},
       }},
      // scale 0.0645161271f, inv_scale 15.5f, nudged [-3.03225803f, 0.967741907f]
      {"[-3, 1], 6 bits, narrow",
       -3.0f,
       1.0f,
       6,
       true,
       {
           // level 10 + 0.5
           {-2.35483909f, -2.38709664f, -2.38709664f},
           {-2.35483885f, -2.38709664f, -2.32258058f},  // differ
           {-2.35483861f, -2.32258058f, -2.32258058f},
           {-2.35483837f, -2.32258058f, -2.32258058f},
           {-2.35483813f, -2.32258058f, -2.32258058f},
           // level 61 + 0.5
           {0.935483694f, 0.90322578f, 0.967741907f},  // differ
           {0.935483754f, 0.90322578f, 0.967741907f},  // differ
           {0.935483813f, 0.967741907f, 0.967741907f},
           {0.935483873f, 0.967741907f, 0.967741907f},
           {0.935483932f, 0.967741907f, 0.967741907f},
       }},
      // scale 0.666666687f, inv_scale 1.5f, nudged [-2.66666675f, 7.33333349f]
      {"[-2.5, 7.5], 4 bits",
       -2.5f,
       7.5f,
       4,
       false,
       {
           // level 2 + 0.5
           {-1.00000024f, -1.33333337f, -1.33333337f},
           {-1.00000012f, -0.666666687f, -1.33333337f},  // differ
           {-1.0f, -0.666666687f, -0.666666687f},
           {-0.99999994f, -0.666666687f, -0.666666687f},
           {-0.999999881f, -0.666666687f, -0.666666687f},
           // level 12 + 0.5
           {5.66666603f, 6.0f, 5.33333349f},  // differ
           {5.66666651f, 6.0f, 5.33333349f},  // differ
           {5.66666698f, 6.0f, 6.0f},
           {5.66666746f, 6.0f, 6.0f},
           {5.66666794f, 6.0f, 6.0f},
       }},
  };
  return t;
}

// Each table's rows repeated, so that every path runs them in full vectors and in tails, and the
// two-thread runs split them.
constexpr int kRepeats = 5;

std::string text(float f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g (0x%08x)", static_cast<double>(f),
                std::bit_cast<uint32_t>(f));
  return buf;
}

// "" when got equals want bit for bit, else the first difference with its input.
std::string compare(const Tensor& got, const std::vector<float>& want,
                    const std::vector<float>& x) {
  if (got.size() != static_cast<int64_t>(want.size())) return "wrong size";
  for (size_t i = 0; i < want.size(); ++i)
    if (std::bit_cast<uint32_t>(got.data()[i]) != std::bit_cast<uint32_t>(want[i]))
      return "element " + std::to_string(i) + ", x = " + text(x[i]) + ": got " +
             text(got.data()[i]) + ", want " + text(want[i]);
  return "";
}

qs::Json opAttrs(const Table& t) {
  return {{"num_bits", t.numBits}, {"narrow_range", t.narrow}};
}

// Runs `check(threads)` on every kernel path this machine has, with 1 and 2 threads, splitting even
// these small tensors across the threads.
template <typename Fn>
void onEveryPath(Fn&& check) {
  struct Restore {
    ~Restore() { qs::fq::setKernelOverride({}); }
  } restore;
  for (qs::fq::SimdLevel level : qs::fq::supportedSimdLevels()) {
    for (int threads : {1, 2}) {
      qs::fq::setKernelOverride({level, int64_t{1}, int64_t{1}});
      INFO(qs::fq::simdLevelName(level) << ", " << threads << " threads");
      check(threads);
    }
  }
}

qs::EvalOptions withThreads(int threads) {
  qs::EvalOptions o;
  o.threads = threads;
  return o;
}

}  // namespace

TEST_CASE("every midpoint table tells the product from the quotient", "[midpoints]") {
  for (const Table& t : tables()) {
    INFO(t.name);
    REQUIRE(t.rows.size() == 10);
    int differ = 0;
    for (const Row& r : t.rows) differ += (r.product != r.quotient) ? 1 : 0;
    CHECK(differ > 0);
  }
}

TEST_CASE("Args multiplies by the inverse scale at midpoints, on every kernel path",
          "[midpoints]") {
  for (const Table& t : tables()) {
    INFO(t.name);
    std::vector<float> x, want;
    for (int rep = 0; rep < kRepeats; ++rep)
      for (const Row& r : t.rows) {
        x.push_back(r.x);
        want.push_back(r.product);
      }
    qs::Json attrs = opAttrs(t);
    attrs["min"] = qs::floatToJson(t.min);
    attrs["max"] = qs::floatToJson(t.max);
    onEveryPath([&](int threads) {
      const auto run = runBlock("FakeQuantWithMinMaxArgs", attrs, {{"inputs", qs::testing::vec(x)}},
                                withThreads(threads));
      REQUIRE(run.ok);
      CHECK(compare(run.out("output"), want, x) == "");
    });
  }
}

TEST_CASE("Vars divides by the scale at midpoints, on every kernel path", "[midpoints]") {
  for (const Table& t : tables()) {
    INFO(t.name);
    std::vector<float> x, want;
    for (int rep = 0; rep < kRepeats; ++rep)
      for (const Row& r : t.rows) {
        x.push_back(r.x);
        want.push_back(r.quotient);
      }
    onEveryPath([&](int threads) {
      const auto run = runBlock("FakeQuantWithMinMaxVars", opAttrs(t),
                                {{"inputs", qs::testing::vec(x)},
                                 {"min", Tensor::scalar(t.min)},
                                 {"max", Tensor::scalar(t.max)}},
                                withThreads(threads));
      REQUIRE(run.ok);
      CHECK(compare(run.out("output"), want, x) == "");
    });
  }
}

TEST_CASE("PerChannel multiplies by the inverse scale at midpoints, on every kernel path",
          "[midpoints]") {
  // The tables that share num_bits and narrow_range become the channels of one tensor
  // [rows, channels], so that each lane uses its own channel's constants.
  const std::vector<std::vector<int>> groups = {{0, 1}, {2, 3}, {4}, {5}};
  for (const auto& group : groups) {
    const int64_t channels = static_cast<int64_t>(group.size());
    const Table& first = tables()[group[0]];
    INFO(first.name << " and the other tables of its group (" << channels << " channels)");
    std::vector<float> x, want, mins, maxs;
    for (int c : group) {
      REQUIRE(tables()[c].numBits == first.numBits);
      REQUIRE(tables()[c].narrow == first.narrow);
      mins.push_back(tables()[c].min);
      maxs.push_back(tables()[c].max);
    }
    const int64_t rows = kRepeats * static_cast<int64_t>(first.rows.size());
    for (int64_t i = 0; i < rows; ++i)
      for (int c : group) {
        const Row& r = tables()[c].rows[i % tables()[c].rows.size()];
        x.push_back(r.x);
        want.push_back(r.product);
      }
    onEveryPath([&](int threads) {
      const auto run = runBlock("FakeQuantWithMinMaxVarsPerChannel", opAttrs(first),
                                {{"inputs", qs::testing::tensor({rows, channels}, x)},
                                 {"min", qs::testing::vec(mins)},
                                 {"max", qs::testing::vec(maxs)}},
                                withThreads(threads));
      REQUIRE(run.ok);
      CHECK(compare(run.out("output"), want, x) == "");
    });
  }
}

TEST_CASE("the Args gradient masks with the nudged range, on every kernel path", "[midpoints]") {
  // Range [-6, 6] at 8 bits nudges to [-6.02352953f, 5.97647047f] (0xC0C0C0C1, 0x40BF3F3F; the
  // derivation above). TensorFlow's Args gradient is g * (nudged_min <= x <= nudged_max): the raw
  // bound -6 is inside, the raw bound 6 is outside, and the nudged ends are inside. A negative g
  // outside gives -0 (a multiply by 0).
  const std::vector<float> x = {-6.02353001f, -6.02352953f, -6.02352905f, -6.0f, 0.0f,
                                5.97646999f,  5.97647047f,  5.97647095f,  6.0f,  -7.0f};
  const std::vector<float> g = {1.5f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, -8.0f, 9.0f, -10.0f};
  const std::vector<float> want = {0.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, -0.0f, 0.0f, -0.0f};
  std::vector<float> xs, gs, ws;
  for (int rep = 0; rep < kRepeats; ++rep) {
    xs.insert(xs.end(), x.begin(), x.end());
    gs.insert(gs.end(), g.begin(), g.end());
    ws.insert(ws.end(), want.begin(), want.end());
  }
  const qs::Json attrs = {{"num_bits", 8}, {"narrow_range", false}, {"min", -6.0}, {"max", 6.0}};
  onEveryPath([&](int threads) {
    const auto run =
        runBlock("FakeQuantWithMinMaxArgsGradient", attrs,
                 {{"inputs", qs::testing::vec(xs)}, {"gradients", qs::testing::vec(gs)}},
                 withThreads(threads));
    REQUIRE(run.ok);
    CHECK(compare(run.out("backprops"), ws, xs) == "");
  });
}

}  // namespace test_fakequant_midpoints
