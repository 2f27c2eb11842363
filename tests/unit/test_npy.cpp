// .npy reading and writing. The files are built byte by byte here from the format's definition
// (not with our writer), so the reader is checked against the format, not against itself.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/Error.h"
#include "runtime/Npy.h"
#include "test_runner_support.h"

using namespace qs;

namespace {

// A .npy file: magic, version, header length, the dict padded to 64 bytes, then `data`.
std::string npyFile(const std::string& descr, const std::string& shape, const std::string& data,
                    bool fortran = false, int major = 1) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  const size_t prefix = major == 1 ? 10 : 12;
  size_t total = prefix + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const size_t len = dict.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major != 1) {
    out += static_cast<char>((len >> 16) & 0xff);
    out += static_cast<char>((len >> 24) & 0xff);
  }
  return out + dict + data;
}

// Raw bytes of `values` as type T, in little or big endian.
template <typename T>
std::string raw(const std::vector<T>& values, bool bigEndian = false) {
  std::string out;
  for (T v : values) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if (bigEndian) std::reverse(b, b + sizeof(T));
    out.append(b, sizeof(T));
  }
  return out;
}

std::vector<float> read(const std::string& bytes, std::string* note = nullptr) {
  return parseNpy(bytes, "t.npy", note).toVector();
}

std::string errorOf(const std::string& bytes) {
  try {
    parseNpy(bytes, "t.npy");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("npy: every numeric dtype converts to float32, both byte orders", "[npy]") {
  for (bool be : {false, true}) {
    INFO((be ? "big" : "little") << " endian");
    const char o = be ? '>' : '<';
    std::string note;
    CHECK(read(npyFile(std::string(1, o) + "f4", "(3,)", raw<float>({1.5f, -0.0f, 0.1f}, be)),
               &note) == std::vector<float>{1.5f, -0.0f, 0.1f});
    CHECK(note == (be ? "converted from dtype '>f4' to float32" : ""));
    CHECK(read(npyFile(std::string(1, o) + "f8", "(2,)", raw<double>({0.1, 1e300}, be))) ==
          std::vector<float>{0.1f, INFINITY});
    // float16: 1.0 (0x3c00), -2.5 (0xc100), the smallest denormal (0x0001), inf (0x7c00).
    CHECK(read(npyFile(std::string(1, o) + "f2", "(4,)",
                       raw<uint16_t>({0x3c00, 0xc100, 0x0001, 0x7c00}, be))) ==
          std::vector<float>{1.0f, -2.5f, std::ldexp(1.0f, -24), INFINITY});
    CHECK(std::isnan(
        read(npyFile(std::string(1, o) + "f2", "(1,)", raw<uint16_t>({0x7e00}, be)))[0]));
    CHECK(read(npyFile(std::string(1, o) + "i2", "(2,)", raw<int16_t>({-32768, 32767}, be))) ==
          std::vector<float>{-32768, 32767});
    CHECK(read(npyFile(std::string(1, o) + "i4", "(2,)",
                       raw<int32_t>({-16777217, 2147483647}, be))) ==
          std::vector<float>{-16777216.0f, 2147483648.0f});
    CHECK(read(npyFile(std::string(1, o) + "u2", "(1,)", raw<uint16_t>({65535}, be))) ==
          std::vector<float>{65535});
    CHECK(read(npyFile(std::string(1, o) + "u4", "(1,)", raw<uint32_t>({4294967295u}, be))) ==
          std::vector<float>{4294967296.0f});
    // One rounding, as numpy's astype(float32): 2^60 + 2^36 + 1 is just above the midpoint
    // between two floats and rounds up; through double it would tie and round to even (down).
    const int64_t tricky = (int64_t{1} << 60) + (int64_t{1} << 36) + 1;
    const float want = std::ldexp(1.0f, 60) + std::ldexp(1.0f, 37);
    CHECK(read(npyFile(std::string(1, o) + "i8", "(2,)", raw<int64_t>({tricky, -tricky}, be))) ==
          std::vector<float>{want, -want});
    CHECK(read(npyFile(std::string(1, o) + "u8", "(1,)", raw<uint64_t>({uint64_t(tricky)}, be))) ==
          std::vector<float>{want});
  }
  CHECK(read(npyFile("|i1", "(2,)", raw<int8_t>({-128, 127}))) == std::vector<float>{-128, 127});
  CHECK(read(npyFile("|u1", "(2,)", raw<uint8_t>({0, 255}))) == std::vector<float>{0, 255});
  CHECK(read(npyFile("|b1", "(3,)", raw<uint8_t>({0, 1, 1}))) == std::vector<float>{0, 1, 1});
  CHECK(read(npyFile("=f4", "(1,)", raw<float>({2}))) == std::vector<float>{2});
}

TEST_CASE("npy: Fortran order is converted to C order", "[npy]") {
  // The 2x3 matrix [[1, 2, 3], [4, 5, 6]] stored column by column.
  std::string note;
  const Tensor t =
      parseNpy(npyFile("<f4", "(2, 3)", raw<float>({1, 4, 2, 5, 3, 6}), true), "t.npy", &note);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.toVector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(note == "converted from Fortran order");
  // 3-d, big-endian doubles: element [i, j, k] = 100i + 10j + k, first index fastest.
  std::vector<double> f;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) f.push_back(100 * i + 10 * j + k);
  const Tensor t3 = parseNpy(npyFile(">f8", "(2, 3, 4)", raw<double>(f, true), true), "t.npy");
  std::vector<float> c;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) c.push_back(100 * i + 10 * j + k);
  CHECK(t3.toVector() == c);
  // Rank 1 and 0 are the same in both orders.
  CHECK(read(npyFile("<f4", "(2,)", raw<float>({1, 2}), true)) == std::vector<float>{1, 2});
}

TEST_CASE("npy: version 2 and 3 headers, scalars, empty arrays", "[npy]") {
  CHECK(read(npyFile("<f4", "(2,)", raw<float>({1, 2}), false, 2)) == std::vector<float>{1, 2});
  CHECK(read(npyFile("<f4", "(2,)", raw<float>({1, 2}), false, 3)) == std::vector<float>{1, 2});
  const Tensor s = parseNpy(npyFile("<f4", "()", raw<float>({7})), "t.npy");
  CHECK(s.shape() == Shape{});
  CHECK(s.toVector() == std::vector<float>{7});
  const Tensor e = parseNpy(npyFile("<f4", "(0, 3)", ""), "t.npy");
  CHECK(e.shape() == Shape{0, 3});
  CHECK(e.size() == 0);
  // Python 2 wrote longs with an L.
  CHECK(parseNpy(npyFile("<f4", "(1L, 2L)", raw<float>({1, 2})), "t.npy").shape() == Shape{1, 2});
}

TEST_CASE("npy: truncated and lying files are refused with what is wrong", "[npy][limits]") {
  const std::string good = npyFile("<f4", "(2, 3)", raw<float>({1, 2, 3, 4, 5, 6}));
  CHECK(errorOf(good.substr(0, good.size() - 1)) ==
        "t.npy: the header promises shape [2, 3] (24 bytes of data) but the file holds 23 bytes");
  CHECK(errorOf(good + "x") ==
        "t.npy: the header promises shape [2, 3] (24 bytes of data) but the file holds 25 bytes");
  CHECK(errorOf(good.substr(0, 40)) == "t.npy: truncated .npy header");
  CHECK(errorOf(good.substr(0, 5)) == "t.npy: not a .npy file (no \\x93NUMPY magic)");
  CHECK(errorOf("PK\x03\x04 this is a zip") == "t.npy: not a .npy file (no \\x93NUMPY magic)");
  CHECK(errorOf(npyFile("<f4", "(2, 3)", "", false, 9)) ==
        "t.npy: unsupported .npy format version 9");
  // A header that lies about a huge size is refused before anything is allocated, with the size.
  CHECK(errorOf(npyFile("<f4", "(100000, 100000, 100000)", raw<float>({1}))) ==
        "t.npy: a float32 tensor of shape [100000, 100000, 100000] needs 4.0 PB, more than the "
        "limit of " +
            formatBytes(maxTensorBytes()));
  CHECK(errorOf(npyFile("<f4", "(99999999999999999999,)", "")) ==
        "t.npy: not a valid .npy file: a dimension of the shape is too large");
  CHECK(errorOf(npyFile("<f4", "(-1,)", "")) ==
        "t.npy: not a valid .npy file: the shape must be a tuple of non-negative integers");
  CHECK(errorOf(npyFile("<c8", "(1,)", raw<float>({1, 2}))) ==
        "t.npy: dtype '<c8' cannot be read as float32 (Quant Space reads float, int, uint and bool "
        "arrays)");
  CHECK(errorOf(npyFile("<U2", "(1,)", std::string(8, 'a'))).find("dtype '<U2' cannot be read") !=
        std::string::npos);
  CHECK(errorOf(npyFile("|O", "(1,)", std::string(8, 'a'))).find("unsupported dtype '|O'") !=
        std::string::npos);
  CHECK(errorOf(npyFile("<f4", "(2,", "")).find("not a valid .npy file") != std::string::npos);
}

TEST_CASE("npy: the file reader checks the size before reading the data", "[npy][limits]") {
  test::TempDir dir;
  // Claims 4 PB, holds 4 bytes.
  dir.write("huge.npy", npyFile("<f4", "(100000, 100000, 100000)", raw<float>({1})));
  CHECK_THROWS_WITH(readNpy(dir / "huge.npy"),
                    Catch::Contains("needs 4.0 PB") && Catch::Contains("huge.npy"));
  CHECK_THROWS_WITH(readNpyShape(dir / "huge.npy"), Catch::Contains("needs 4.0 PB"));
  // Claims 1 GB of float32, within the limit, but the file is short: refused without reading.
  dir.write("short.npy", npyFile("<f4", "(250000000,)", raw<float>({1, 2})));
  CHECK_THROWS_WITH(
      readNpy(dir / "short.npy"),
      Catch::Contains("the header promises shape [250000000] (1000000000 bytes of data) "
                      "but the file holds 8 bytes"));
  CHECK_THROWS_WITH(readNpy(dir / "none.npy"), Catch::Contains("No such file"));
  CHECK_THROWS_WITH(readNpy(dir.path()), Catch::Contains("it is a folder"));
  // Converted reads from files give the same as from memory.
  const std::string be = npyFile(">i4", "(2, 2)", raw<int32_t>({1, 3, 2, 4}, true), true);
  dir.write("be.npy", be);
  CHECK(readNpy(dir / "be.npy").toVector() == std::vector<float>{1, 2, 3, 4});
  CHECK(readNpyShape(dir / "be.npy") == Shape{2, 2});
}

TEST_CASE("npy: what we write is numpy's <f4 C-order layout and reads back", "[npy]") {
  for (const Shape& shape : {Shape{}, Shape{0}, Shape{3}, Shape{2, 3}, Shape{1, 2, 1, 2}}) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> values;
    for (int64_t i = 0; i < n; ++i) values.push_back(i == 1 ? NAN : 0.5f * i - 1);
    const Tensor t = Tensor::fromValues(shape, values);
    const std::string bytes = npyBytes(t);
    INFO("shape " << shapeToString(shape));
    CHECK(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
    const size_t headerLen =
        static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    CHECK((10 + headerLen) % 64 == 0);
    CHECK(bytes[10 + headerLen - 1] == '\n');
    CHECK(bitwiseEqual(parseNpy(bytes, "w.npy"), t));
  }
  // A rank-1 shape needs Python's trailing comma: (3,) not (3).
  CHECK(npyBytes(Tensor::zeros({3})).find("'shape': (3,), }") != std::string::npos);
}

TEST_CASE("npy: one int64, written as numpy.save(numpy.int64(v)) and read back exactly", "[npy]") {
  const int64_t big = (int64_t(1) << 53) + 1;  // not exact in float32 nor double
  const std::string bytes = npyInt64Bytes(big);
  // numpy's header for a rank-0 int64, padded so that the data starts at byte 64.
  CHECK(bytes == npyFile("<i8", "()", raw<int64_t>({big})));
  CHECK(parseNpyInt64(bytes, "s.npy") == big);
  CHECK(parseNpyInt64(npyInt64Bytes(-5), "s.npy") == -5);

  // Other integer widths and byte orders, and a one-element array, as numpy may have saved them.
  CHECK(parseNpyInt64(npyFile(">i4", "()", raw<int32_t>({-3}, true)), "s.npy") == -3);
  CHECK(parseNpyInt64(npyFile("<i2", "(1,)", raw<int16_t>({-300})), "s.npy") == -300);
  CHECK(parseNpyInt64(npyFile("|u1", "(1, 1)", raw<uint8_t>({200})), "s.npy") == 200);
  CHECK(parseNpyInt64(npyFile(">u8", "()", raw<uint64_t>({uint64_t(big)}, true)), "s.npy") == big);

  auto errorOfInt = [](const std::string& b) -> std::string {
    try {
      parseNpyInt64(b, "s.npy");
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(errorOfInt(npyFile("<f4", "()", raw<float>({3}))) ==
        "s.npy: must hold an integer, not dtype '<f4'");
  CHECK(errorOfInt(npyFile("<i8", "(2,)", raw<int64_t>({1, 2}))) ==
        "s.npy: must hold one integer, not an array of shape [2]");
  CHECK(errorOfInt(npyFile("<i8", "(0,)", "")) ==
        "s.npy: must hold one integer, not an array of shape [0]");
  CHECK(errorOfInt(npyFile("<u8", "()", raw<uint64_t>({~uint64_t(0)}))) ==
        "s.npy: 18446744073709551615 is too large for a 64-bit signed integer");
  CHECK(errorOfInt(npyFile("<i8", "()", raw<int32_t>({1}))) ==
        "s.npy: the header promises 8 bytes of data but the file holds 4");
  const std::string good = npyInt64Bytes(1);
  for (size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK(errorOfInt(good.substr(0, n)) != "(no error)");
  }
}
