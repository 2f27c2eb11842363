// Runtime building blocks: size limits, JSON numbers as float32, atomic file writes.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "runtime/Error.h"
#include "runtime/FileIo.h"
#include "runtime/Json.h"
#include "runtime/Tensor.h"
#include "test_runner_support.h"

namespace test_runtime_basics {

using namespace qs;

namespace {
bool sameBits(float a, float b) {
  return std::memcmp(&a, &b, 4) == 0;
}
}  // namespace

TEST_CASE("tensor: sizes are checked before allocation, with the size in the message",
          "[runtime][limits]") {
  CHECK(checkedElementCount({}) == 1);
  CHECK(checkedElementCount({2, 3, 4}) == 24);
  // A zero dimension makes the tensor empty; its other dimensions still have to fit the limit,
  // since kernels loop over them and multiply them.
  CHECK(checkedElementCount({0, 4, 5}) == 0);
  CHECK(checkedElementCount({1000, 0, 1000}) == 0);
  CHECK_THROWS_WITH(checkedElementCount({0, 4611686018427387904, 4611686018427387904}),
                    "a float32 tensor of shape [0, 4611686018427387904, 4611686018427387904] is "
                    "empty, but its other dimensions alone would need more than 9.2e18 elements, "
                    "more than the limit of " +
                        formatBytes(maxTensorBytes()));
  CHECK_THROWS_WITH(checkedElementCount({100000, 100000, 0, 100000}),
                    Catch::StartsWith("a float32 tensor of shape [100000, 100000, 0, 100000] is "
                                      "empty, but its other dimensions alone would need 4.0 PB"));
  CHECK_THROWS_WITH(checkedElementCount({2, -1}), "shape [2, -1] has a negative dimension");
  CHECK_THROWS_WITH(
      Tensor::zeros({100000, 100000, 100000}),
      "a float32 tensor of shape [100000, 100000, 100000] needs 4.0 PB, more than the "
      "limit of " +
          formatBytes(maxTensorBytes()));
  // Products that overflow 64 bits are caught, not wrapped around to something small.
  CHECK_THROWS_WITH(Tensor::zeros({4294967296, 4294967296, 2}),
                    Catch::StartsWith("a float32 tensor of shape [4294967296, 4294967296, 2] needs "
                                      "more than 9.2e18 elements"));
  CHECK(maxTensorBytes() <= (uint64_t{16} << 30));
  CHECK(maxTensorBytes() >= (uint64_t{64} << 20));
  CHECK(formatBytes(999) == "999 bytes");
  CHECK(formatBytes(51400000) == "51.4 MB");
  CHECK(formatBytes(4000000000000000ull) == "4.0 PB");
  CHECK_THROWS_WITH(Tensor::fromValues({2, 2}, {1, 2, 3}),
                    "shape [2, 2] needs 4 values, but 3 were given");
}

TEST_CASE("json: decimals are rounded once, straight to float32", "[runtime][json]") {
  // Just above the midpoint between 1 and the next float: correct rounding goes up. Rounding
  // to double first lands exactly on the midpoint, and the tie then goes down to 1.
  const Json v = parseJson("[1.0000000596046447753906250001, 0.1, -0.0, 1e-45, 8e-46]", "t");
  CHECK(sameBits(floatFromJson(v[0], "v"), std::nextafter(1.0f, 2.0f)));
  CHECK(sameBits(floatFromJson(v[1], "v"), 0.1f));
  CHECK(sameBits(floatFromJson(v[2], "v"), -0.0f));
  CHECK(sameBits(floatFromJson(v[3], "v"), std::numeric_limits<float>::denorm_min()));
  CHECK(sameBits(floatFromJson(v[4], "v"), std::numeric_limits<float>::denorm_min()));
  // Integers round once too: 16777217 is a tie between 16777216 and 16777218 (even wins).
  CHECK(floatFromJson(parseJson("16777217", "t"), "v") == 16777216.0f);
  CHECK(floatFromJson(parseJson("18446744073709551615", "t"), "v") == 18446744073709551616.0f);
  CHECK(std::isnan(floatFromJson(Json("nan"), "v")));
  CHECK(floatFromJson(Json("-inf"), "v") == -INFINITY);
  CHECK_THROWS_WITH(floatFromJson(parseJson("3.5e38", "t"), "x"),
                    Catch::StartsWith("x is 3.5e+38, outside the float32 range"));
  // Beyond even a double: nlohmann refuses it while parsing.
  CHECK_THROWS_WITH(
      parseJson("[1e400]", "t"),
      Catch::StartsWith("t:1:") && Catch::EndsWith(": number overflow parsing '1e400'"));
  // The largest float, written in full, is still a float.
  CHECK(floatFromJson(parseJson("3.4028235e38", "t"), "v") == std::numeric_limits<float>::max());
  CHECK_THROWS_WITH(floatFromJson(Json(true), "x"), "x must be a number, not boolean");
}

TEST_CASE("json: the writer gives the shortest text that reads back to the same float32",
          "[runtime][json]") {
  CHECK(formatFloat(0.1f) == "0.1");
  CHECK(formatFloat(-0.0f) == "-0.0");
  CHECK(formatFloat(5.0f) == "5");
  CHECK(formatFloat(NAN) == "nan");
  CHECK(formatFloat(-INFINITY) == "-inf");
  for (float f : {0.1f, 1.0f / 3.0f, 3.4028235e38f, 1e-45f, -0.0f, 16777216.0f, 1.17549435e-38f}) {
    const float back = floatFromJson(parseJson(formatFloat(f), "t"), "v");
    INFO(formatFloat(f));
    CHECK(sameBits(back, f));
  }
  Json doc = Json::object();
  doc["b"] = Json::array({floatToJson(NAN), floatToJson(0.5f), 2});
  doc["a"] = "x";
  CHECK(writeJson(doc, false) == R"({"a":"x","b":["nan",0.5,2]})");
  CHECK(writeJson(doc) == "{\n  \"a\": \"x\",\n  \"b\": [\"nan\", 0.5, 2]\n}\n");
}

TEST_CASE("file io: writes are atomic and keep a backup; failures name the file", "[runtime]") {
  test::TempDir dir;
  const auto path = dir / "a.txt";
  writeFileAtomically(path, "one");
  writeFileAtomically(path, "two", /*keepBackup=*/true);
  CHECK(readFile(path) == "two");
  CHECK(readFile(dir / "a.txt.bak") == "one");
  CHECK_THROWS_WITH(writeFileAtomically(dir / "no" / "such" / "dir.txt", "x"),
                    Catch::StartsWith("cannot save '" + (dir / "no/such/dir.txt").string() + "'"));
  CHECK(readFile(path) == "two");
  CHECK_THROWS_WITH(readFile(dir / "missing"), Catch::Contains("No such file or directory"));
}

TEST_CASE("file io: reading stops at a limit, also for a device that never ends", "[runtime]") {
  test::TempDir dir;
  const auto path = dir / "big.txt";
  writeFileAtomically(path, std::string(200000, 'x'));
  CHECK(readFile(path, 200000).size() == 200000);
  CHECK_THROWS_WITH(readFile(path, 199999),
                    "cannot read '" + path.string() + "': it holds more than 200.0 kB");
  CHECK_THROWS_WITH(readFile("/dev/zero", 100000), Catch::Contains("it holds more than"));
}

}  // namespace test_runtime_basics
