#include <catch2/catch.hpp>
#include <cstring>

#include "runtime/Error.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"
#include "test_runner_support.h"

namespace test_npz {

using qs::NpzMember;
using qs::test::TempDir;

namespace {

std::vector<NpzMember> sampleMembers() {
  return {
      {"w", qs::npyBytes(qs::Tensor::fromValues({2, 3}, {0.5f, -1.25f, 3.0f, 1e-8f, -0.0f, 7.0f}))},
      {"opt.m", qs::npyBytes(qs::Tensor::fromValues({3}, {1.0f, 2.0f, 3.0f}))},
      {"s", qs::npyBytes(qs::Tensor::scalar(42.0f))},
  };
}

// Replaces every occurrence of `from` by `to` (same length) in an archive's bytes: zip stores a
// member's name twice, in its local header and in the central directory.
std::string renamed(std::string bytes, const std::string& from, const std::string& to) {
  REQUIRE(from.size() == to.size());
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1))
    bytes.replace(at, from.size(), to);
  return bytes;
}

std::string errorOf(const std::string& archive, const qs::NpzLimits& limits) {
  try {
    qs::parseNpz(archive, "s.npz", limits);
  } catch (const qs::Error& e) {
    return e.what();
  }
  return "";
}

std::string errorOf(const std::string& archive) {
  return errorOf(archive, qs::NpzLimits::defaults());
}

}  // namespace

TEST_CASE("npz: members written stored or deflated read back unchanged, in order", "[npz]") {
  const auto members = sampleMembers();
  for (bool compress : {false, true}) {
    CAPTURE(compress);
    const std::string bytes = qs::npzBytes(members, compress);
    CHECK(bytes.substr(0, 4) == std::string("PK\x03\x04", 4));
    const auto back = qs::parseNpz(bytes, "s.npz");
    REQUIRE(back.size() == members.size());
    for (size_t i = 0; i < members.size(); ++i) {
      CHECK(back[i].key == members[i].key);
      CHECK(back[i].bytes == members[i].bytes);
    }
    // No time or place goes into the bytes.
    CHECK(qs::npzBytes(members, compress) == bytes);
  }
  // Deflate shrinks an array of zeros; storing does not.
  const std::vector<NpzMember> zeros{{"z", qs::npyBytes(qs::Tensor::zeros({4096}))}};
  CHECK(qs::npzBytes(zeros, true).size() < 1024);
  CHECK(qs::npzBytes(zeros, false).size() > 4096 * 4);
}

TEST_CASE("npz: an archive without members", "[npz]") {
  const std::string bytes = qs::npzBytes({}, false);
  CHECK(bytes.size() == 22);
  CHECK(qs::parseNpz(bytes, "s.npz").empty());
}

TEST_CASE("npz: writeNpz and readNpz go through a file", "[npz]") {
  TempDir dir;
  const auto path = dir / "state.npz";
  qs::writeNpz(path, sampleMembers(), true);
  const auto back = qs::readNpz(path);
  REQUIRE(back.size() == 3);
  const qs::Tensor w = qs::parseNpy(back[0].bytes, "w.npy");
  CHECK(w.shape() == qs::Shape{2, 3});
  CHECK(w.toVector() == std::vector<float>{0.5f, -1.25f, 3.0f, 1e-8f, -0.0f, 7.0f});
  CHECK_THROWS_WITH(qs::readNpz(dir / "missing.npz"), Catch::Contains("missing.npz"));
}

TEST_CASE("npz: refuses names, duplicates and sizes it cannot trust", "[npz]") {
  const std::string good = qs::npzBytes(sampleMembers(), true);
  // Two members named w.npy.
  CHECK_THAT(errorOf(renamed(good, "s.npy", "w.npy")),
             Catch::Contains("two members have the same name"));
  // A member that is not an array.
  CHECK_THAT(errorOf(renamed(good, "s.npy", "s.txt")),
             Catch::Contains("member 's.txt' is not an array"));
  // Limits are checked from the directory, before inflating.
  qs::NpzLimits small = qs::NpzLimits::defaults();
  small.maxMemberBytes = 100;
  CHECK_THAT(errorOf(good, small), Catch::Contains("member 'w.npy' would inflate to"));
  small = qs::NpzLimits::defaults();
  small.maxTotalBytes = 300;
  CHECK_THAT(errorOf(good, small), Catch::Contains("more than 300 bytes together"));
  small = qs::NpzLimits::defaults();
  small.maxMembers = 2;
  CHECK_THAT(errorOf(good, small), Catch::Contains("holds 3 members"));
  CHECK_THAT(errorOf("not a zip at all"), Catch::Contains("s.npz: not a valid .npz (zip) archive"));
  CHECK_THROWS_WITH(qs::npzBytes({{"a", "x"}, {"a", "y"}}, false),
                    Catch::Contains("two .npz members are named 'a'"));
}

TEST_CASE("npz: a flipped data byte fails the CRC check", "[npz]") {
  std::string bytes = qs::npzBytes(sampleMembers(), false);
  // The first member's data: its float 0.5 (0x3f000000) in the stored .npy.
  const std::string half("\x00\x00\x00\x3f", 4);
  const size_t at = bytes.find(half);
  REQUIRE(at != std::string::npos);
  bytes[at + 3] = '\x3e';
  CHECK_THAT(errorOf(bytes), Catch::Contains("member 'w.npy'"));
}

TEST_CASE("npz: every truncation of an archive is refused with a message", "[npz]") {
  for (bool compress : {false, true}) {
    const std::string good = qs::npzBytes(sampleMembers(), compress);
    for (size_t n = 0; n < good.size(); ++n) {
      CAPTURE(compress, n);
      CHECK_FALSE(errorOf(good.substr(0, n)).empty());
    }
  }
}

TEST_CASE("npz: numpy reads ours, and we read numpy.savez and savez_compressed", "[npz][numpy]") {
  std::string missing;
  const std::string py = qs::test::pythonWithNumpy(&missing);
  if (py.empty()) FAIL("numpy must read our .npz and write what we read, but " << missing);
  TempDir dir;
  qs::writeNpz(dir / "ours_stored.npz", sampleMembers(), false);
  qs::writeNpz(dir / "ours_deflated.npz", sampleMembers(), true);
  const auto script = dir.write("t.py",
                                "import numpy, sys\n"
                                "d = sys.argv[1]\n"
                                "for name in ('ours_stored', 'ours_deflated'):\n"
                                "    z = numpy.load(d + '/' + name + '.npz')\n"
                                "    print(name, sorted(z.files), z['w'].dtype.str, z['w'].shape,\n"
                                "          [float(v) for v in z['w'].ravel()], float(z['s']))\n"
                                "a = numpy.arange(6, dtype=numpy.float32).reshape(2, 3) / 4\n"
                                "numpy.savez(d + '/np.npz', first=a, second=-a[0])\n"
                                "numpy.savez_compressed(d + '/npc.npz', first=a, second=-a[0])\n");
  const auto r = qs::test::runProgram(py, {script.string(), dir.path().string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out ==
        "ours_stored ['opt.m', 's', 'w'] <f4 (2, 3) [0.5, -1.25, 3.0, 9.99999993922529e-09, -0.0, "
        "7.0] 42.0\n"
        "ours_deflated ['opt.m', 's', 'w'] <f4 (2, 3) [0.5, -1.25, 3.0, 9.99999993922529e-09, "
        "-0.0, 7.0] 42.0\n");
  for (const char* name : {"np.npz", "npc.npz"}) {
    CAPTURE(name);
    const auto members = qs::readNpz(dir / name);
    REQUIRE(members.size() == 2);
    CHECK(members[0].key == "first");
    CHECK(members[1].key == "second");
    const qs::Tensor first = qs::parseNpy(members[0].bytes, "first.npy");
    CHECK(first.shape() == qs::Shape{2, 3});
    CHECK(first.toVector() == std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 1.25f});
    CHECK(qs::parseNpy(members[1].bytes, "second.npy").toVector() ==
          std::vector<float>{-0.0f, -0.25f, -0.5f});
  }
}

}  // namespace test_npz
