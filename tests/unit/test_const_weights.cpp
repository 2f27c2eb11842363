// Const's `weights` + `tensor`: one tensor taken by name from an .npz archive, a safetensors file
// or a TensorFlow.js manifest, each built by hand here; and the refusals, which name the file and
// the tensor.
#include <catch2/catch.hpp>

#include "runtime/Npy.h"
#include "runtime/Npz.h"
#include "test_math_helpers.h"
#include "test_runner_support.h"

namespace test_const_weights {

using namespace qs;
using Catch::Matchers::Contains;
using qs::test::TempDir;
using qs::testing::runBlock;

namespace {

std::string bytesOf(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

testing::BlockRun runConst(const Json& attrs, const TempDir& dir) {
  EvalOptions options;
  options.pageDir = dir.path();
  return runBlock("Const", attrs, {}, options);
}

// A folder with one file of each kind:
//   w.npz          "a" = float32 [2] {1.5, -2}, "b" = int32 [1] {7}
//   w.safetensors  "x" = float32 [1, 2] {0.25, 3}, "y/z" = int64 [1] {-5}
//   m.json + s.bin "conv/w" = uint8-quantized float32 [3] {0, 10, 255} * 0.5 - 1.25
struct WeightFolder {
  TempDir dir;
  WeightFolder() {
    Tensor b = Tensor::uninitialized({1}, DType::Int32);
    b.mutableAs<int32_t>()[0] = 7;
    writeNpz(dir / "w.npz",
             {{"a", npyBytes(Tensor::fromValues({2}, {1.5f, -2.0f}))}, {"b", npyBytes(b)}});
    const std::string header = R"({"x":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
                               R"("y/z":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}})";
    std::string st;
    for (int i = 0; i < 8; ++i) st += static_cast<char>(i == 0 ? header.size() : 0);
    st += header;
    st += bytesOf({0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x40, 0x40,    // 0.25, 3
                   0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});  // -5
    dir.write("w.safetensors", st);
    dir.write("m.json", R"([{"paths":["s.bin"],"weights":[{"name":"conv/w","shape":[3],)"
                        R"("dtype":"float32","quantization":)"
                        R"({"dtype":"uint8","scale":0.5,"min":-1.25}}]}])");
    dir.write("s.bin", bytesOf({0, 10, 255}));
  }
};

}  // namespace

TEST_CASE("Const weights: a tensor by name from .npz, safetensors and TensorFlow.js files",
          "[const][weights]") {
  WeightFolder f;
  {
    const auto r = runConst(Json{{"weights", "w.npz"}, {"tensor", "a"}}, f.dir);
    REQUIRE(r.error == "");
    CHECK(r.out("output").shape() == Shape{2});
    CHECK(r.out("output").toVector() == std::vector<float>{1.5f, -2.0f});
  }
  {
    const auto r = runConst(Json{{"weights", "w.npz"}, {"tensor", "b"}}, f.dir);
    REQUIRE(r.error == "");
    REQUIRE(r.out("output").dtype() == DType::Int32);
    CHECK(r.out("output").as<int32_t>()[0] == 7);
  }
  {
    const auto r = runConst(Json{{"weights", "w.safetensors"}, {"tensor", "x"}}, f.dir);
    REQUIRE(r.error == "");
    CHECK(r.out("output").shape() == Shape{1, 2});
    CHECK(r.out("output").toVector() == std::vector<float>{0.25f, 3.0f});
  }
  {
    const auto r = runConst(Json{{"weights", "w.safetensors"}, {"tensor", "y/z"}}, f.dir);
    REQUIRE(r.error == "");
    REQUIRE(r.out("output").dtype() == DType::Int64);
    CHECK(r.out("output").as<int64_t>()[0] == -5);
  }
  {
    const auto r = runConst(Json{{"weights", "m.json"}, {"tensor", "conv/w"}}, f.dir);
    REQUIRE(r.error == "");
    CHECK(r.out("output").toVector() == std::vector<float>{-1.25f, 3.75f, 126.25f});
  }
  {  // a dtype set beside the file's must agree
    const auto r = runConst(Json{{"weights", "w.npz"}, {"tensor", "b"}, {"dtype", "int32"}}, f.dir);
    CHECK(r.error == "");
  }
}

TEST_CASE("Const weights: missing tensors, files and attributes are refused by name",
          "[const][weights]") {
  WeightFolder f;
  CHECK(runConst(Json{{"weights", "w.npz"}, {"tensor", "c"}}, f.dir).error ==
        "'w.npz' has no tensor named 'c' (it holds: a, b)");
  CHECK(runConst(Json{{"weights", "m.json"}, {"tensor", "conv/W"}}, f.dir).error ==
        "'m.json' has no tensor named 'conv/W' (it holds: conv/w)");
  CHECK(runConst(Json{{"weights", "w.npz"}}, f.dir).error ==
        "attribute 'weights' needs attribute 'tensor', the name of a tensor in 'w.npz'");
  CHECK(runConst(Json{{"tensor", "a"}}, f.dir).error ==
        "attribute 'tensor' names a tensor of a weights file: set \"weights\" too");
  CHECK(runConst(Json{{"weights", "w.npz"}, {"tensor", "a"}, {"npy", "a.npy"}}, f.dir).error ==
        "give one of \"weights\" (with \"tensor\"), \"npy\", or \"shape\" and \"values\"");
  CHECK(runConst(Json{{"weights", "a.npy"}, {"tensor", "a"}}, f.dir).error ==
        "attribute 'weights': 'a.npy' is an .npy file, which holds one tensor: give it as "
        "\"npy\" instead");
  CHECK(runConst(Json{{"weights", "w.npz"}, {"tensor", "b"}, {"dtype", "float32"}}, f.dir).error ==
        "tensor 'b' of 'w.npz' is int32 but attribute 'dtype' is float32 (leave 'dtype' unset to "
        "take the file's, or convert with a Cast block)");
  CHECK_THAT(runConst(Json{{"weights", "gone.safetensors"}, {"tensor", "x"}}, f.dir).error,
             Contains("attribute 'weights': ") && Contains("gone.safetensors"));
  f.dir.write("w.txt", "hello");
  CHECK_THAT(runConst(Json{{"weights", "w.txt"}, {"tensor", "x"}}, f.dir).error,
             Contains("w.txt: not a weights file Quant Space reads"));
  // A truncated shard: the reader's message, behind the attribute's name.
  f.dir.write("s.bin", bytesOf({0, 10}));
  CHECK_THAT(runConst(Json{{"weights", "m.json"}, {"tensor", "conv/w"}}, f.dir).error,
             Contains("attribute 'weights': ") && Contains("m.json"));
}

}  // namespace test_const_weights
