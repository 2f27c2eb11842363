// Typed tensors: dtype names and sizes, float16 conversion against a reference written from the
// IEEE 754 definition in double precision, and Cast's element rules on hand-worked values.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/BlockRegistry.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Tensor.h"

namespace test_dtypes {

using namespace qs;

namespace {

// The value of a binary16 pattern, straight from the definition.
double halfValue(uint16_t bits) {
  const int sign = bits >> 15 ? -1 : 1;
  const int exp = (bits >> 10) & 0x1f;
  const int mant = bits & 0x3ff;
  if (exp == 0x1f)
    return mant ? std::numeric_limits<double>::quiet_NaN()
                : sign * std::numeric_limits<double>::infinity();
  if (exp == 0) return sign * std::ldexp(mant, -24);
  return sign * std::ldexp(1024 + mant, exp - 25);
}

}  // namespace

TEST_CASE("dtype names and sizes", "[dtype]") {
  CHECK(std::string(dtypeName(DType::Int64)) == "int64");
  CHECK(dtypeFromName("float16") == DType::Float16);
  CHECK_THROWS_WITH(dtypeFromName("double"),
                    "unknown dtype 'double' (known: float32, int32, int64, bool, float16, uint8)");
  CHECK(dtypeSize(DType::Float16) == 2);
  CHECK(dtypeSize(DType::Int64) == 8);
  CHECK(Tensor::zeros({3}, DType::Int64).bytes() == 24);
  CHECK(Tensor::zeros({3}, DType::Bool).bytes() == 3);
}

TEST_CASE("a tensor refuses to be read as another dtype", "[dtype]") {
  Tensor t = Tensor::zeros({2}, DType::Int32);
  CHECK_THROWS_WITH(t.data(), "internal error: a int32 tensor of shape [2] read as float32");
  CHECK(t.as<int32_t>()[1] == 0);
  CHECK_FALSE(bitwiseEqual(t, Tensor::zeros({2})));  // same bits, other dtype
}

TEST_CASE("every float16 pattern converts exactly and back", "[dtype]") {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const double want = halfValue(static_cast<uint16_t>(b));
    const float got = halfToFloat(Half{static_cast<uint16_t>(b)});
    if (std::isnan(want)) {
      REQUIRE(std::isnan(got));
      REQUIRE(std::isnan(halfToFloat(floatToHalf(got))));
      continue;
    }
    REQUIRE(static_cast<double>(got) == want);
    REQUIRE(std::signbit(got) == bool(b >> 15));
    REQUIRE(floatToHalf(got).bits == b);
  }
}

TEST_CASE("float to float16 rounds to nearest, ties to even", "[dtype]") {
  // Between every pair of neighbouring positive halves: just below, at and just above the midpoint.
  for (uint32_t b = 0; b < 0x7bff; ++b) {
    const double lo = halfValue(static_cast<uint16_t>(b)),
                 hi = halfValue(static_cast<uint16_t>(b + 1));
    const double mid = (lo + hi) / 2;  // exact in double
    const float midF = static_cast<float>(mid);
    REQUIRE(static_cast<double>(midF) == mid);  // every midpoint is a float
    const uint32_t even = (b & 1) ? b + 1 : b;
    REQUIRE(floatToHalf(midF).bits == even);
    REQUIRE(floatToHalf(std::nextafter(midF, 0.0f)).bits == b);
    REQUIRE(floatToHalf(std::nextafter(midF, 1e9f)).bits == b + 1);
  }
  CHECK(floatToHalf(65520.0f).bits == 0x7c00);  // halfway to the next power: infinity
  CHECK(floatToHalf(65519.0f).bits == 0x7bff);  // 65504, the largest half
  CHECK(floatToHalf(-1e-10f).bits == 0x8000);   // underflows to -0
}

TEST_CASE("castTensor follows TensorFlow's element rules", "[dtype]") {
  const Tensor f = Tensor::fromValues({7}, {-2.7f, -0.5f, 0.0f, 0.5f, 2.7f, 3e9f, NAN});
  const Tensor i = castTensor(f, DType::Int32);
  const int32_t wantI[] = {-2, 0, 0, 0, 2, std::numeric_limits<int32_t>::max(), 0};
  for (int k = 0; k < 7; ++k) CHECK(i.as<int32_t>()[k] == wantI[k]);
  const Tensor b = castTensor(f, DType::Bool);
  const bool wantB[] = {true, true, false, true, true, true, true};
  for (int k = 0; k < 7; ++k) CHECK(b.as<bool>()[k] == wantB[k]);
  const Tensor u = castTensor(
      castTensor(Tensor::fromValues({3}, {255.0f, 256.0f, 257.0f}), DType::Int32), DType::UInt8);
  CHECK(u.as<uint8_t>()[0] == 255);
  CHECK(u.as<uint8_t>()[1] == 0);  // integer to integer wraps
  CHECK(u.as<uint8_t>()[2] == 1);
  Tensor big = Tensor::uninitialized({1}, DType::Int64);
  big.mutableAs<int64_t>()[0] = (int64_t{1} << 53) + 1;
  CHECK(castTensor(big, DType::Float32).data()[0] == 9007199254740992.0f);
  const Tensor back = castTensor(castTensor(b, DType::Float32), DType::Float16);
  CHECK(back.as<Half>()[2].bits == 0);
  CHECK(back.as<Half>()[0].bits == 0x3c00);  // 1.0
  CHECK(castTensor(f, DType::Float32).sharesStorageWith(f));
}

namespace {

// IntSrc gives int32 [2]; Sink takes float32 only; IntSink takes int32 or int64 and passes on the
// element count as float32.
const BlockRegistry& dtypeRegistry() {
  static const BlockRegistry r = [] {
    BlockRegistry reg;
    BlockDescriptor src;
    src.type = "IntSrc";
    src.ports = opPorts({}, {tensorOutput("y", RankRule::any(), {DType::Int32}, "y")});
    src.check = [](BlockContext& ctx) { ctx.setOutputShape("y", {2}, DType::Int32); };
    src.compute = [](BlockContext& ctx) {
      Tensor t = Tensor::uninitialized({2}, DType::Int32);
      t.mutableAs<int32_t>()[0] = 7;
      t.mutableAs<int32_t>()[1] = -7;
      ctx.setOutput("y", t);
    };
    reg.add(src);
    for (const bool ints : {false, true}) {
      BlockDescriptor sink;
      sink.type = ints ? "IntSink" : "Sink";
      sink.ports =
          opPorts({ints ? tensorInput("x", RankRule::any(), {DType::Int32, DType::Int64}, "x")
                        : tensorInput("x", RankRule::any(), "x")},
                  {tensorOutput("n", RankRule::any(), "n")});
      sink.check = [](BlockContext& ctx) { ctx.setOutputShape("n", {}); };
      sink.compute = [](BlockContext& ctx) {
        ctx.setOutput("n", Tensor::scalar(static_cast<float>(ctx.input("x").size())));
      };
      reg.add(sink);
    }
    return reg;
  }();
  return r;
}

Page wiredTo(const std::string& sinkType) {
  Page page;
  Block a, b;
  a.id = BlockId("src");
  a.type = "IntSrc";
  b.id = BlockId("sink");
  b.type = sinkType;
  page.addBlock(a);
  page.addBlock(b);
  page.addLink({{BlockId("src"), PortName("y")}, {BlockId("sink"), PortName("x")}});
  return page;
}

}  // namespace

TEST_CASE("the evaluator refuses a dtype the port does not take, naming both", "[dtype]") {
  Evaluator ev(dtypeRegistry());
  const Page bad = wiredTo("Sink");
  CHECK(ev.check(bad) == std::vector<BlockId>{BlockId("sink")});
  CHECK(ev.state(BlockId("sink"))->error == "input 'x' takes float32, not int32");
  CHECK(ev.evaluate(bad).failed == std::vector<BlockId>{BlockId("sink")});
  CHECK(ev.state(BlockId("sink"))->error == "input 'x' takes float32, not int32");
  CHECK(ev.state(BlockId("src"))->outputDType("y") == DType::Int32);

  const Page good = wiredTo("IntSink");
  Evaluator ev2(dtypeRegistry());
  CHECK(ev2.check(good).empty());
  CHECK(ev2.evaluate(good).failed.empty());
  CHECK(ev2.result("sink.result_n")->data()[0] == 2.0f);
  CHECK(ev2.result("src.result_y")->as<int32_t>()[1] == -7);
}

}  // namespace test_dtypes
