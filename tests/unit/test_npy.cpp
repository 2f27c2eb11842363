// .npy reading and writing. The files are built byte by byte here from the format's definition
// (not with our writer), so the reader is checked against the format, not against itself.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/Error.h"
#include "runtime/Npy.h"
#include "test_runner_support.h"

namespace test_npy {

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

// The elements of `t`, which must be of dtype DTypeOf<T>.
template <typename T>
std::vector<T> typed(const Tensor& t) {
  const auto v = t.valuesAs<T>();
  return {v.begin(), v.end()};
}

TEST_CASE("npy: the six dtypes are read as they are, both byte orders", "[npy][dtype]") {
  for (bool be : {false, true}) {
    INFO((be ? "big" : "little") << " endian");
    const std::string o(1, be ? '>' : '<');
    std::string note;
    CHECK(read(npyFile(o + "f4", "(3,)", raw<float>({1.5f, -0.0f, 0.1f}, be)), &note) ==
          std::vector<float>{1.5f, -0.0f, 0.1f});
    CHECK(note == (be ? "converted from dtype '>f4' to float32" : ""));
    const Tensor i4 =
        parseNpy(npyFile(o + "i4", "(2,)", raw<int32_t>({-16777217, 2147483647}, be)), "t.npy");
    CHECK(i4.dtype() == DType::Int32);
    CHECK(typed<int32_t>(i4) == std::vector<int32_t>{-16777217, 2147483647});
    // 2^53 + 1: exact, not through float or double.
    const int64_t big = (int64_t{1} << 53) + 1;
    const Tensor i8 =
        parseNpy(npyFile(o + "i8", "(2,)", raw<int64_t>({big, -big}, be)), "t.npy", &note);
    CHECK(typed<int64_t>(i8) == std::vector<int64_t>{big, -big});
    CHECK(note == (be ? "converted from dtype '>i8' to int64" : ""));
    // float16 kept as its bits: 1.0, -2.5, the smallest denormal, inf, a NaN.
    const Tensor f2 = parseNpy(
        npyFile(o + "f2", "(5,)", raw<uint16_t>({0x3c00, 0xc100, 0x0001, 0x7c00, 0x7e01}, be)),
        "t.npy");
    REQUIRE(f2.dtype() == DType::Float16);
    std::vector<uint16_t> bits;
    for (Half h : f2.valuesAs<Half>()) bits.push_back(h.bits);
    CHECK(bits == std::vector<uint16_t>{0x3c00, 0xc100, 0x0001, 0x7c00, 0x7e01});
  }
  const Tensor u1 = parseNpy(npyFile("|u1", "(3,)", raw<uint8_t>({0, 200, 255})), "t.npy");
  CHECK(typed<uint8_t>(u1) == std::vector<uint8_t>{0, 200, 255});
  // numpy writes bools as 0 and 1; any other byte is read as true.
  std::string note = "stale";
  const Tensor b1 = parseNpy(npyFile("|b1", "(4,)", raw<uint8_t>({0, 1, 2, 255})), "t.npy", &note);
  CHECK(note.empty());
  REQUIRE(b1.dtype() == DType::Bool);
  CHECK(std::vector<uint8_t>(b1.rawData(), b1.rawData() + 4) == std::vector<uint8_t>{0, 1, 1, 1});
  CHECK(read(npyFile("=f4", "(1,)", raw<float>({2}))) == std::vector<float>{2});
}

TEST_CASE("npy: other widths are widened exactly, float64 rounds once", "[npy][dtype]") {
  for (bool be : {false, true}) {
    INFO((be ? "big" : "little") << " endian");
    const std::string o(1, be ? '>' : '<');
    std::string note;
    CHECK(read(npyFile(o + "f8", "(3,)", raw<double>({0.1, 1e300, -1e-300}, be)), &note) ==
          std::vector<float>{0.1f, INFINITY, -0.0f});
    CHECK(note == "converted from dtype '" + o + "f8' to float32");
    // One rounding, as numpy's astype(float32): 1 + 2^-24 + 2^-60 is just above the midpoint
    // between 1 and the next float and rounds up.
    CHECK(read(npyFile(o + "f8", "(1,)", raw<double>({1.0 + std::ldexp(1.0, -24)}, be))) ==
          std::vector<float>{1.0f});  // a tie: to even
    const Tensor i2 =
        parseNpy(npyFile(o + "i2", "(2,)", raw<int16_t>({-32768, 32767}, be)), "t.npy", &note);
    CHECK(typed<int32_t>(i2) == std::vector<int32_t>{-32768, 32767});
    CHECK(note == "converted from dtype '" + o + "i2' to int32");
    CHECK(typed<int32_t>(parseNpy(npyFile(o + "u2", "(1,)", raw<uint16_t>({65535}, be)),
                                  "t.npy")) == std::vector<int32_t>{65535});
    CHECK(typed<int64_t>(parseNpy(npyFile(o + "u4", "(1,)", raw<uint32_t>({4294967295u}, be)),
                                  "t.npy")) == std::vector<int64_t>{4294967295});
    CHECK(typed<int64_t>(parseNpy(npyFile(o + "u8", "(1,)", raw<uint64_t>({uint64_t{1} << 62}, be)),
                                  "t.npy")) == std::vector<int64_t>{int64_t{1} << 62});
    CHECK(errorOf(npyFile(o + "u8", "(2,)", raw<uint64_t>({1, uint64_t{1} << 63}, be))) ==
          "t.npy: 9223372036854775808 in a uint64 array is too large for int64, the widest "
          "integer dtype");
  }
  CHECK(typed<int32_t>(parseNpy(npyFile("|i1", "(2,)", raw<int8_t>({-128, 127})), "t.npy")) ==
        std::vector<int32_t>{-128, 127});
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
        "t.npy: dtype '<c8' cannot be read (Quant Space reads float16/32/64, signed and unsigned "
        "integer and bool arrays)");
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
  CHECK_THROWS_WITH(readNpyHeader(dir / "huge.npy"), Catch::Contains("needs 4.0 PB"));
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
  CHECK(typed<int32_t>(readNpy(dir / "be.npy")) == std::vector<int32_t>{1, 2, 3, 4});
  CHECK(readNpyHeader(dir / "be.npy").shape == Shape{2, 2});
  CHECK(readNpyHeader(dir / "be.npy").dtype == DType::Int32);
  // Native files of every dtype go straight into the tensor; bools are still made 0 or 1.
  dir.write("b.npy", npyFile("|b1", "(3,)", raw<uint8_t>({7, 0, 1})));
  const Tensor b = readNpy(dir / "b.npy");
  CHECK(std::vector<uint8_t>(b.rawData(), b.rawData() + 3) == std::vector<uint8_t>{1, 0, 1});
  dir.write("i8.npy", npyFile("<i8", "(1,)", raw<int64_t>({-7})));
  CHECK(typed<int64_t>(readNpy(dir / "i8.npy")) == std::vector<int64_t>{-7});
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

TEST_CASE("npy: every dtype is written with numpy's descr and reads back", "[npy][dtype]") {
  Tensor i = Tensor::uninitialized({2}, DType::Int32);
  i.mutableAs<int32_t>()[0] = -5;
  i.mutableAs<int32_t>()[1] = 1 << 30;
  CHECK(npyBytes(i) == npyFile("<i4", "(2,)", raw<int32_t>({-5, 1 << 30})));
  Tensor l = Tensor::uninitialized({}, DType::Int64);
  l.mutableAs<int64_t>()[0] = (int64_t{1} << 53) + 1;
  CHECK(npyBytes(l) == npyFile("<i8", "()", raw<int64_t>({(int64_t{1} << 53) + 1})));
  Tensor b = Tensor::uninitialized({1, 2}, DType::Bool);
  b.mutableAs<bool>()[0] = true;
  b.mutableAs<bool>()[1] = false;
  CHECK(npyBytes(b) == npyFile("|b1", "(1, 2)", raw<uint8_t>({1, 0})));
  Tensor h = Tensor::uninitialized({1}, DType::Float16);
  h.mutableAs<Half>()[0] = Half{0xc100};
  CHECK(npyBytes(h) == npyFile("<f2", "(1,)", raw<uint16_t>({0xc100})));
  Tensor u = Tensor::uninitialized({2}, DType::UInt8);
  u.mutableAs<uint8_t>()[0] = 0;
  u.mutableAs<uint8_t>()[1] = 255;
  CHECK(npyBytes(u) == npyFile("|u1", "(2,)", raw<uint8_t>({0, 255})));
  for (const Tensor& t : {i, l, b, h, u}) {
    INFO(dtypeName(t.dtype()));
    CHECK(bitwiseEqual(parseNpy(npyBytes(t), "w.npy"), t));
  }
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

}  // namespace test_npy
