// Which FakeQuant kernel paths (portable, AVX2, AVX-512) the tests ran on this machine, and which
// it could not run. The tests that compare the kernels (TensorFlow's vectors, the property tests,
// the midpoint cases) run on every path supportedSimdLevels() lists; the others go untested here.
// tests/CMakeLists.txt also adds one CTest entry per path ("kernel path: avx512", ...) that runs
// the hidden case below: it passes where the path ran and is reported as skipped where the CPU
// lacks it, so the summary of every ctest run says so, even when everything passes.
#include <bit>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "blocks/array_ops/FakeQuantKernels.h"
#include "runtime/Error.h"
#include "test_math_helpers.h"

namespace test_kernel_paths {

namespace {

using qs::fq::SimdLevel;

constexpr SimdLevel kAllLevels[] = {SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512};

std::string levelList(bool supported) {
  std::string s;
  for (SimdLevel l : kAllLevels) {
    if (qs::fq::simdLevelSupported(l) != supported) continue;
    s += (s.empty() ? "" : ", ") + std::string(qs::fq::simdLevelName(l));
  }
  return s.empty() ? "none" : s;
}

struct Restore {
  ~Restore() { qs::fq::setKernelOverride({}); }
};

}  // namespace

TEST_CASE("FakeQuant kernel paths: which ran here and which this CPU cannot run", "[simd]") {
  const std::string ran = levelList(true);
  const std::string notRun = levelList(false);
  // WARN is reported even when the test passes, so the line is in every log of the run.
  WARN("FakeQuant kernel paths tested: " << ran << "; not run (this CPU lacks them): " << notRun);
  const auto levels = qs::fq::supportedSimdLevels();
  REQUIRE(!levels.empty());
  CHECK(levels.front() == SimdLevel::Portable);
  for (SimdLevel l : kAllLevels) {
    INFO(qs::fq::simdLevelName(l));
    if (qs::fq::simdLevelSupported(l)) {
      CHECK_NOTHROW(qs::fq::setKernelOverride({l}));
      CHECK(qs::fq::activeSimdLevel() == l);
    } else {
      // A path the CPU lacks cannot be forced, so no test can claim to have run it.
      CHECK_THROWS_AS(qs::fq::setKernelOverride({l}), qs::Error);
    }
    qs::fq::setKernelOverride({});
  }
}

// Run by the "kernel path: <name>" CTest entries with QS_KERNEL_PATH=<name>.
TEST_CASE("one FakeQuant kernel path, named by QS_KERNEL_PATH", "[.][kernel-path]") {
  const char* name = std::getenv("QS_KERNEL_PATH");
  REQUIRE(name != nullptr);
  const SimdLevel* level = nullptr;
  for (const SimdLevel& l : kAllLevels)
    if (std::string(qs::fq::simdLevelName(l)) == name) level = &l;
  REQUIRE(level != nullptr);
  if (!qs::fq::simdLevelSupported(*level)) {
    // CTest reports the entry as skipped when it sees this sentence.
    std::printf("the %s kernel path is not run on this CPU: it lacks the instructions\n", name);
    return;
  }
  Restore restore;
  qs::fq::setKernelOverride({*level});
  // One known value on this path: range [-6, 6], 8 bits, x = -4.63529444f, where multiplying by
  // the inverse scale (Args) and dividing by the scale (Vars) give neighbouring levels
  // (test_fakequant_midpoints.cpp derives both).
  const std::vector<float> x(40, -4.63529444f);
  const auto args = qs::testing::runBlock("FakeQuantWithMinMaxArgs",
                                          {{"num_bits", 8}, {"min", -6.0}, {"max", 6.0}},
                                          {{"inputs", qs::testing::vec(x)}});
  const auto vars = qs::testing::runBlock("FakeQuantWithMinMaxVars", {{"num_bits", 8}},
                                          {{"inputs", qs::testing::vec(x)},
                                           {"min", qs::Tensor::scalar(-6.0f)},
                                           {"max", qs::Tensor::scalar(6.0f)}});
  REQUIRE(args.ok);
  REQUIRE(vars.ok);
  for (int64_t i = 0; i < 40; ++i) {
    CHECK(args.out("output").data()[i] == -4.61176491f);
    CHECK(vars.out("output").data()[i] == -4.65882349f);
  }
  std::printf("the %s kernel path runs on this CPU, and the FakeQuant tests ran on it\n", name);
}

}  // namespace test_kernel_paths
