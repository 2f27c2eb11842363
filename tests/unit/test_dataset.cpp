// The Dataset block on pages run step after step: which examples each batch holds (against
// positions worked out with plain arithmetic), the wrap at the end of an epoch, the shuffle's
// determinism, reading the files once, and the messages for bad data.
#include <catch2/catch.hpp>
#include <set>

#include "blocks/RegisterBlocks.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"
#include "runtime/Page.h"
#include "test_runner_support.h"

namespace test_dataset {

using namespace qs;
using Catch::Matchers::Contains;
using qs::test::TempDir;

namespace {

// Example r has features [2, 3] with element k = 100 r + k, and label r.
Tensor features(int64_t n) {
  std::vector<float> v;
  for (int64_t r = 0; r < n; ++r)
    for (int k = 0; k < 6; ++k) v.push_back(static_cast<float>(100 * r + k));
  return Tensor::fromValues({n, 2, 3}, v);
}
Tensor labels(int64_t n) {
  std::vector<float> v;
  for (int64_t r = 0; r < n; ++r) v.push_back(static_cast<float>(r));
  return Tensor::fromValues({n}, v);
}

struct DatasetPage {
  TempDir dir;
  Page page;
  Evaluator ev{builtinRegistry()};

  explicit DatasetPage(Json attrs, int64_t n = 10) {
    writeNpy(dir / "x.npy", features(n));
    writeNpy(dir / "y.npy", labels(n));
    Block b;
    b.id = BlockId("ds");
    b.type = "Dataset";
    b.attrs = std::move(attrs);
    page.addBlock(b);
  }
  EvalReport step() { return ev.evaluate(page, {.pageDir = dir.path(), .step = true}); }
  Tensor result(const std::string& port) { return *ev.result("ds.result_" + port); }
  std::string error() {
    step();
    return ev.state(BlockId("ds"))->error;
  }
  // The examples of the batch just computed, checking that features and labels stay paired.
  std::vector<int64_t> batchExamples() {
    const Tensor x = result("features"), y = result("labels");
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < y.size(); ++i) {
      const auto r = static_cast<int64_t>(y.values()[i]);
      for (int k = 0; k < 6; ++k) REQUIRE(x.values()[6 * i + k] == static_cast<float>(100 * r + k));
      rows.push_back(r);
    }
    return rows;
  }
  int64_t scalar(const std::string& port) {
    const Tensor t = result(port);
    REQUIRE(t.dtype() == DType::Int64);
    REQUIRE(t.shape().empty());
    return t.as<int64_t>()[0];
  }
};

Json attrs(int64_t batch, bool shuffle = false, int64_t seed = 0) {
  return Json{{"features", "x.npy"},
              {"labels", "y.npy"},
              {"batch_size", batch},
              {"shuffle", shuffle},
              {"seed", seed}};
}

}  // namespace

TEST_CASE("Dataset: batch k in file order, wrapping after the last whole batch", "[dataset]") {
  // 10 examples in batches of 3: three batches an epoch, example 9 left over.
  DatasetPage p(attrs(3));
  for (int64_t k = 0; k < 8; ++k) {
    INFO("step " << k);
    const EvalReport r = p.step();
    REQUIRE(r.failed.empty());
    CHECK(r.computed == std::vector<BlockId>{BlockId("ds")});
    CHECK(p.result("features").shape() == Shape{3, 2, 3});
    const int64_t index = k % 3;
    CHECK(p.batchExamples() == std::vector<int64_t>{3 * index, 3 * index + 1, 3 * index + 2});
    CHECK(p.scalar("epoch") == k / 3);
    CHECK(p.scalar("index") == index);
  }
  // Without a step taken, the next batch is shown and kept.
  p.ev.evaluate(p.page, {.pageDir = p.dir.path()});
  CHECK(p.batchExamples() == std::vector<int64_t>{6, 7, 8});
  CHECK(p.ev.evaluate(p.page, {.pageDir = p.dir.path()}).reused ==
        std::vector<BlockId>{BlockId("ds")});
  // After a reset the data starts again.
  p.ev.resetState();
  p.step();
  CHECK(p.batchExamples() == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("Dataset: a shuffle per epoch, the same for the same seed", "[dataset]") {
  auto run = [](int64_t seed) {
    DatasetPage p(attrs(4, true, seed), 9);  // two batches an epoch, one example left over
    std::vector<std::vector<int64_t>> epochs;
    for (int64_t k = 0; k < 12; ++k) {
      p.step();
      if (k % 2 == 0) epochs.emplace_back();
      const auto rows = p.batchExamples();
      epochs.back().insert(epochs.back().end(), rows.begin(), rows.end());
      CHECK(p.scalar("epoch") == k / 2);
    }
    return epochs;
  };
  const auto a = run(7);
  CHECK(run(7) == a);
  CHECK(run(8) != a);
  std::set<std::vector<int64_t>> distinct;
  for (const auto& e : a) {
    // Eight different examples of the nine in each epoch.
    REQUIRE(std::set<int64_t>(e.begin(), e.end()).size() == 8);
    for (int64_t r : e) REQUIRE((r >= 0 && r < 9));
    distinct.insert(e);
  }
  // Six epochs, each in a new order (the chance of a repeat among 9!/1 orders is negligible).
  CHECK(distinct.size() == 6);
  CHECK(a[0] != std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("Dataset: arrays of an .npz archive", "[dataset]") {
  DatasetPage p(Json{{"features", "d.npz:images"}, {"labels", "d.npz:labels"}, {"batch_size", 5}});
  writeNpz(p.dir / "d.npz", {{"images", npyBytes(features(5))}, {"labels", npyBytes(labels(5))}});
  REQUIRE(p.step().failed.empty());
  CHECK(p.batchExamples() == std::vector<int64_t>{0, 1, 2, 3, 4});
  p.page.setAttrs(BlockId("ds"), Json{{"features", "d.npz:pixels"}, {"labels", "d.npz:labels"}});
  CHECK_THAT(p.error(), Contains("has no array named 'pixels'"));
}

TEST_CASE("Dataset: files are read once, again when they change", "[dataset]") {
  DatasetPage p(attrs(2));
  p.step();
  const auto path = p.dir / "x.npy";
  const auto time = std::filesystem::last_write_time(path);
  // New values of the same size, with the old time: the kept array is used.
  Tensor other = features(10);
  for (float& v : other.mutableValues()) v = -v;
  writeNpy(path, other);
  std::filesystem::last_write_time(path, time);
  p.step();
  CHECK(p.result("features").values()[0] == 200.0f);  // example 2, not -200
  std::filesystem::last_write_time(path, time + std::chrono::seconds(5));
  p.step();
  CHECK(p.result("features").values()[0] == -400.0f);  // example 4 of the new file
}

TEST_CASE("Dataset: missing files, mismatched counts and oversized batches", "[dataset]") {
  {
    DatasetPage p(Json{{"features", "nothere.npy"}, {"labels", "y.npy"}});
    const std::string e = p.error();
    CHECK_THAT(e, Contains("attribute 'features'"));
    CHECK_THAT(e, Contains((p.dir / "nothere.npy").string()));
  }
  {
    DatasetPage p(attrs(2));
    writeNpy(p.dir / "y.npy", labels(9));
    CHECK_THAT(p.error(), Contains("features hold 10 examples but labels hold 9"));
  }
  {
    DatasetPage p(attrs(11));
    CHECK_THAT(p.error(), Contains("batch_size 11 is larger than the 10 examples of the data"));
  }
  {
    DatasetPage p(attrs(2));
    writeNpy(p.dir / "y.npy", Tensor::scalar(1));
    CHECK_THAT(p.error(), Contains("must have a first dimension"));
  }
}

}  // namespace test_dataset
