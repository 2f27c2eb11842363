// The safetensors and TensorFlow.js weight readers on hand-built files: exact values back from good
// files, clear messages naming the file and the tensor for truncated, lying and hostile ones.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/Error.h"
#include "runtime/FileIo.h"
#include "runtime/WeightFiles.h"
#include "test_runner_support.h"

namespace test_weight_files {

using Catch::Matchers::Contains;
using qs::DType;
using qs::NamedTensor;
using qs::test::TempDir;

namespace {

std::string bytesOf(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

// A safetensors file: the header's length as 8 little-endian bytes, the header, the data.
std::string safetensors(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string safetensorsError(const std::string& bytes) {
  try {
    qs::parseSafetensors(bytes, "w.safetensors");
  } catch (const qs::Error& e) {
    return e.what();
  }
  return "no error";
}

std::string oneTensor(const std::string& entry, const std::string& data) {
  return safetensors("{\"t\":" + entry + "}", data);
}

}  // namespace

TEST_CASE("safetensors: every dtype read back exactly, in data order", "[weights]") {
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("b":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]},)"
                             R"("m":{"dtype":"BOOL","shape":[2],"data_offsets":[28,30]},)"
                             R"("u":{"dtype":"U8","shape":[],"data_offsets":[30,31]},)"
                             R"("i":{"dtype":"I32","shape":[1,1],"data_offsets":[31,35]},)"
                             R"("z":{"dtype":"F32","shape":[0,3],"data_offsets":[35,35]}})";
  const std::string data = bytesOf({0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0,  // 1.5, -2
                                    0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // -3
                                    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 5
                                    0x00, 0x3c, 0x01, 0x80,                          // 1, -2^-24
                                    0x01, 0x00,                                      // true, false
                                    0xc8,                                            // 200
                                    0xf9, 0xff, 0xff, 0xff});                        // -7
  const auto t = qs::parseSafetensors(safetensors(header, data), "w.safetensors");
  REQUIRE(t.size() == 7);
  CHECK(t[0].name == "a");
  CHECK(t[0].tensor.dtype() == DType::Float32);
  CHECK(t[0].tensor.toVector() == std::vector<float>{1.5f, -2.0f});
  CHECK(t[1].name == "b");
  REQUIRE(t[1].tensor.dtype() == DType::Int64);
  CHECK(t[1].tensor.as<int64_t>()[0] == -3);
  CHECK(t[1].tensor.as<int64_t>()[1] == 5);
  CHECK(t[2].name == "h");
  REQUIRE(t[2].tensor.dtype() == DType::Float16);
  CHECK(t[2].tensor.as<qs::Half>()[0].bits == 0x3c00);
  CHECK(t[2].tensor.as<qs::Half>()[1].bits == 0x8001);
  REQUIRE(t[3].tensor.dtype() == DType::Bool);
  CHECK(t[3].tensor.as<bool>()[0]);
  CHECK(!t[3].tensor.as<bool>()[1]);
  REQUIRE(t[4].tensor.dtype() == DType::UInt8);
  CHECK(t[4].tensor.shape().empty());
  CHECK(t[4].tensor.as<uint8_t>()[0] == 200);
  REQUIRE(t[5].tensor.dtype() == DType::Int32);
  CHECK(t[5].tensor.shape() == qs::Shape{1, 1});
  CHECK(t[5].tensor.as<int32_t>()[0] == -7);
  CHECK(t[6].tensor.shape() == qs::Shape{0, 3});
}

TEST_CASE("safetensors: a file from disk, and no tensors at all", "[weights]") {
  TempDir dir;
  const auto p =
      dir.write("w.safetensors", oneTensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})",
                                           bytesOf({0, 0, 0x80, 0x3f})));
  const auto t = qs::readSafetensors(p);
  REQUIRE(t.size() == 1);
  CHECK(t[0].tensor.toVector() == std::vector<float>{1.0f});
  // The general reader picks the format by the extension in any case.
  std::filesystem::copy_file(p, dir / "W.SAFETENSORS");
  const auto upper = qs::readWeightFile(dir / "W.SAFETENSORS");
  REQUIRE(upper.size() == 1);
  CHECK(upper[0].tensor.toVector() == std::vector<float>{1.0f});
  CHECK(qs::parseSafetensors(safetensors("{}", ""), "e.safetensors").empty());
  CHECK_THAT(safetensorsError(safetensors("{}", "x")), Contains("1 bytes after the last tensor"));
}

TEST_CASE("weight files: extensions are lower-cased in ASCII only", "[weights]") {
  CHECK(qs::lowerExtension("a/W.SafeTensors") == ".safetensors");
  CHECK(qs::lowerExtension("w.NPZ") == ".npz");
  CHECK(qs::lowerExtension("noext").empty());
  CHECK(qs::lowerExtension("x.\xC3\x91PZ") == ".\xC3\x91pz");  // non-ASCII bytes stay as they are
}

TEST_CASE("safetensors: truncated and hostile headers", "[weights]") {
  CHECK_THAT(safetensorsError("abc"), Contains("w.safetensors: not a safetensors file"));
  std::string huge = safetensors("{}", "");
  huge[4] = 1;  // 2^32 bytes of header
  CHECK_THAT(safetensorsError(huge), Contains("more than the limit of 100000000 bytes"));
  std::string truncated = safetensors(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                      bytesOf({0, 0, 0x80, 0x3f}));
  truncated.resize(20);
  CHECK_THAT(safetensorsError(truncated), Contains("truncated"));
  CHECK_THAT(safetensorsError(safetensors("[1, 2]", "")), Contains("not a JSON object"));
  CHECK_THAT(safetensorsError(safetensors("{\"t\":" + std::string(1000, '[') + "}", "")),
             Contains("nested deeper than"));
  CHECK_THAT(safetensorsError(safetensors(R"({"t":{"dtype":"F32"}})", "")),
             Contains("tensor 't': has no \"shape\""));
  CHECK_THAT(safetensorsError(safetensors(R"({"__metadata__":[1]})", "")),
             Contains("\"__metadata__\" must be an object"));
}

TEST_CASE("safetensors: offsets and sizes that lie are refused, naming the tensor", "[weights]") {
  const std::string eight(8, '\0');
  // Overlap: b starts inside a.
  CHECK_THAT(
      safetensorsError(safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                   eight)),
      Contains("w.safetensors: tensor 'b': data_offsets [4, 8] overlap the tensor before it"));
  // A hole between two tensors.
  CHECK_THAT(
      safetensorsError(safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                   R"("b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                                   eight)),
      Contains("tensor 'b': data_offsets [6, 8] leave the bytes from 4 unused"));
  CHECK_THAT(
      safetensorsError(oneTensor(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})", eight)),
      Contains("tensor 't': data_offsets [0, 16] run past the data, which holds 8 bytes"));
  CHECK_THAT(
      safetensorsError(oneTensor(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})", eight)),
      Contains("hold 8 bytes but a float32 tensor of shape [3] needs 12"));
  CHECK_THAT(
      safetensorsError(oneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})", eight)),
      Contains("end before they begin"));
  CHECK_THAT(safetensorsError(oneTensor(
                 R"({"dtype":"F32","shape":[4000000000,4000000000],"data_offsets":[0,8]})", eight)),
             Contains("tensor 't': a float32 tensor of shape [4000000000, 4000000000] needs"));
  CHECK_THAT(
      safetensorsError(oneTensor(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})", eight)),
      Contains("must be a list of non-negative integers"));
  CHECK_THAT(
      safetensorsError(oneTensor(R"({"dtype":"BF16","shape":[4],"data_offsets":[0,8]})", eight)),
      Contains("tensor 't': dtype \"BF16\" is not read"));
  CHECK_THAT(
      safetensorsError(oneTensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})", eight)),
      Contains("\"data_offsets\" must be [begin, end]"));
}

namespace {

// A manifest and its shards in a scratch folder.
struct TfjsFiles {
  TempDir dir;
  std::filesystem::path manifest;
  std::string error() const {
    try {
      qs::readTfjsWeights(manifest);
    } catch (const qs::Error& e) {
      return e.what();
    }
    return "no error";
  }
};

// Weight "w": three uint8 values 0, 10, 255 with scale 0.5, min -1.25, in shard "s.bin".
void oneWeight(TfjsFiles& f, const std::string& quantization, const std::string& shard,
               const std::string& path = "s.bin") {
  f.manifest = f.dir.write("m.json", R"([{"paths":[")" + path +
                                         R"("],"weights":[{"name":"w","shape":[3],)"
                                         R"("dtype":"float32","quantization":)" +
                                         quantization + "}]}]");
  f.dir.write("s.bin", shard);
}

}  // namespace

TEST_CASE("tfjs: groups, shards in order, dequantized and plain weights", "[weights]") {
  TfjsFiles f;
  // Group 0: a uint8-quantized weight split across two shards, then a uint16 one.
  // Group 1: float16-quantized, int32, bool and plain float32 weights.
  f.manifest = f.dir.write("model.json", R"({"format":"graph-model","weightsManifest":[
    {"paths":["g0-1.bin","sub/g0-2.bin"],"weights":[
      {"name":"q8","shape":[3],"dtype":"float32",
       "quantization":{"dtype":"uint8","scale":0.5,"min":-1.25}},
      {"name":"q16","shape":[1],"dtype":"float32",
       "quantization":{"dtype":"uint16","scale":0.001,"min":2}}]},
    {"paths":["g1.bin"],"weights":[
      {"name":"f16","shape":[2,2],"dtype":"float32","quantization":{"dtype":"float16"}},
      {"name":"i","shape":[1],"dtype":"int32"},
      {"name":"b","shape":[2],"dtype":"bool"},
      {"name":"f","shape":[],"dtype":"float32"}]}]})");
  std::filesystem::create_directories(f.dir / "sub");
  f.dir.write("g0-1.bin", bytesOf({0, 10}));
  f.dir.write("sub/g0-2.bin", bytesOf({255, 0xe8, 0x03}));                        // q16 = 1000
  f.dir.write("g1.bin", bytesOf({0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c, 0x01, 0x00,  // 1 -2 inf 2^-24
                                 0xfe, 0xff, 0xff, 0xff,                          // -2
                                 0x02, 0x00,                                      // true, false
                                 0x00, 0x00, 0x20, 0xc1}));                       // -10
  const auto t = qs::readTfjsWeights(f.manifest);
  REQUIRE(t.size() == 6);
  CHECK(t[0].name == "q8");
  CHECK(t[0].tensor.toVector() == std::vector<float>{-1.25f, 3.75f, 126.25f});
  CHECK(t[1].name == "q16");
  // 1000 * 0.001 + 2 in double is 3 (0.001's error vanishes in the product's rounding).
  CHECK(t[1].tensor.toVector() == std::vector<float>{3.0f});
  CHECK(t[2].tensor.shape() == qs::Shape{2, 2});
  const auto h = t[2].tensor.toVector();
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == std::numeric_limits<float>::infinity());
  CHECK(h[3] == std::ldexp(1.0f, -24));
  REQUIRE(t[3].tensor.dtype() == DType::Int32);
  CHECK(t[3].tensor.as<int32_t>()[0] == -2);
  REQUIRE(t[4].tensor.dtype() == DType::Bool);
  CHECK(t[4].tensor.as<bool>()[0]);
  CHECK(!t[4].tensor.as<bool>()[1]);
  CHECK(t[5].tensor.shape().empty());
  CHECK(t[5].tensor.toVector() == std::vector<float>{-10.0f});
}

TEST_CASE("tfjs: the scale and min are doubles, rounded once at the end", "[weights]") {
  // min = 2^24 + 1 is not a float32. In double, q + min is exact and then rounded once (ties to
  // even): q = 1 -> 2^24 + 2, q = 0 -> 2^24, q = 2 -> 2^24 + 3 -> 2^24 + 4. Rounding min to
  // float32 first (2^24) would give 2^24, 2^24 and 2^24 + 2.
  TfjsFiles f;
  oneWeight(f, R"({"dtype":"uint8","scale":1.0,"min":16777217.0})", bytesOf({1, 0, 2}));
  const auto t = qs::readTfjsWeights(f.manifest);
  CHECK(t[0].tensor.toVector() == std::vector<float>{16777218.0f, 16777216.0f, 16777220.0f});
}

TEST_CASE("tfjs: shards that lie about their size, and missing ones", "[weights]") {
  {
    TfjsFiles f;
    oneWeight(f, R"({"dtype":"uint8","scale":1,"min":0})", bytesOf({1, 2}));
    CHECK_THAT(f.error(),
               Contains("m.json: group 0: its shards hold 2 bytes but its weights need 3"));
  }
  {
    TfjsFiles f;
    oneWeight(f, R"({"dtype":"uint8","scale":1,"min":0})", bytesOf({1, 2, 3, 4}));
    CHECK_THAT(f.error(),
               Contains("m.json: group 0: its shards hold more than the 3 bytes its weights need"));
  }
  {
    TfjsFiles f;
    oneWeight(f, R"({"dtype":"uint8","scale":1,"min":0})", "abc", "missing.bin");
    CHECK_THAT(f.error(), Contains("missing.bin"));
  }
}

TEST_CASE("tfjs: hostile and unreadable manifests", "[weights]") {
  const std::string q8 = R"({"dtype":"uint8","scale":1,"min":0})";
  for (const char* path : {"../s.bin", "/etc/passwd", "a/../../s.bin"}) {
    TfjsFiles f;
    oneWeight(f, q8, "abc", path);
    CHECK_THAT(f.error(),
               Contains(std::string("shard path \"") + path + "\" leaves the manifest's folder"));
  }
  {
    TfjsFiles f;
    oneWeight(f, R"({"dtype":"int8","scale":1,"min":0})", "abc");
    CHECK_THAT(f.error(), Contains("weight 'w': quantization dtype \"int8\" is not one of"));
  }
  {
    TfjsFiles f;
    oneWeight(f, R"({"dtype":"uint8","min":0})", "abc");
    CHECK_THAT(f.error(), Contains("weight 'w': quantization"));
    CHECK_THAT(f.error(), Contains("has no number \"scale\""));
  }
  auto error = [](const std::string& manifest) {
    try {
      qs::parseTfjsWeights(manifest, "m.json",
                           [](const std::string&) { return std::string(8, '\0'); });
    } catch (const qs::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error(R"({"modelTopology":{}})"), Contains("without \"weightsManifest\""));
  CHECK_THAT(error(R"("x")"), Contains("must be a list of groups"));
  CHECK_THAT(error(R"([{"paths":["a"]}])"), Contains("group 0: must be an object with"));
  CHECK_THAT(error(R"([{"paths":["a"],"weights":[{"name":"s","shape":[2],"dtype":"string"}]}])"),
             Contains("weight 's': dtype \"string\" is not read"));
  CHECK_THAT(error(R"([{"paths":["a"],"weights":[{"name":"x","shape":[1],"dtype":"float32"},)"
                   R"({"name":"x","shape":[1],"dtype":"float32"}]}])"),
             Contains("two weights are named 'x'"));
  CHECK_THAT(error(R"([{"paths":["a"],"weights":[)"
                   R"({"name":"big","shape":[4000000000,4000000000],"dtype":"float32"}]}])"),
             Contains("weight 'big': a float32 tensor of shape [4000000000, 4000000000] needs"));
  CHECK_THAT(error(R"([{"paths":["a"],"weights":[{"name":"s","dtype":"float32"}]}])"),
             Contains("weight 's': has no \"shape\""));
}

}  // namespace test_weight_files
