// The thread pool under exceptions and nesting: a throwing range becomes the caller's exception
// (never std::terminate), the call waits for every other range before it rethrows, the pool stays
// usable, a nested parallelFor runs inline instead of deadlocking, and an evaluator turns a
// worker's exception into the block's error.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/BlockRegistry.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"
#include "runtime/ThreadPool.h"

namespace test_thread_pool {

using namespace qs;

namespace {

// The ranges a parallelFor over [0, n) handed out, and on which threads.
struct Coverage {
  std::mutex m;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::set<std::thread::id> threads;
  void add(int64_t b, int64_t e) {
    std::lock_guard lock(m);
    ranges.emplace_back(b, e);
    threads.insert(std::this_thread::get_id());
  }
  int64_t covered() {
    std::lock_guard lock(m);
    int64_t c = 0;
    for (auto [b, e] : ranges) c += e - b;
    return c;
  }
};

// A plain parallel sum of 0..n-1, checked against n(n-1)/2: the pool still works.
void checkUsable(ThreadPool& pool) {
  const int64_t n = 100000;
  std::atomic<int64_t> sum{0};
  pool.parallelFor(n, 1, pool.size(), [&](int64_t b, int64_t e) {
    int64_t s = 0;
    for (int64_t i = b; i < e; ++i) s += i;
    sum += s;
  });
  CHECK(sum.load() == n * (n - 1) / 2);
}

std::string messageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

TEST_CASE("thread pool: an exception in the caller's range waits for the workers, then propagates",
          "[threadpool]") {
  ThreadPool pool(4);
  Coverage cov;
  // The workers' ranges are slow, so the caller's exception is thrown while they still run; the
  // call must not return (and destroy what the ranges use) before they end.
  const std::string msg = messageOf([&] {
    pool.parallelFor(4, 1, 4, [&](int64_t b, int64_t e) {
      if (b == 0) throw Error("caller range failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      cov.add(b, e);
    });
  });
  CHECK(msg == "caller range failed");
  CHECK(cov.covered() == 3);  // every worker range had ended before parallelFor returned
  checkUsable(pool);
}

TEST_CASE("thread pool: an exception in a worker's range propagates to the caller",
          "[threadpool]") {
  ThreadPool pool(3);
  for (int round = 0; round < 20; ++round) {
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> workerThrew{false};
    const std::string msg = messageOf([&] {
      pool.parallelFor(3, 1, 3, [&](int64_t b, int64_t) {
        if (b == 2) {
          workerThrew = std::this_thread::get_id() != caller;
          throw std::runtime_error("worker range failed");
        }
      });
    });
    CHECK(msg == "worker range failed");
    CHECK(workerThrew.load());
  }
  checkUsable(pool);
}

TEST_CASE("thread pool: when several ranges throw, the lowest range's exception is the one seen",
          "[threadpool]") {
  ThreadPool pool(4);
  for (int round = 0; round < 20; ++round) {
    // Every range throws, with the later ranges throwing first.
    CHECK(messageOf([&] {
            pool.parallelFor(4, 1, 4, [&](int64_t b, int64_t) {
              std::this_thread::sleep_for(std::chrono::microseconds(200 * (3 - b)));
              throw Error("range " + std::to_string(b));
            });
          }) == "range 0");
    // Only workers throw.
    CHECK(messageOf([&] {
            pool.parallelFor(4, 1, 4, [&](int64_t b, int64_t) {
              if (b >= 2) throw Error("range " + std::to_string(b));
            });
          }) == "range 2");
  }
  checkUsable(pool);
}

TEST_CASE("thread pool: a nested parallelFor runs inline on the range's own thread",
          "[threadpool]") {
  ThreadPool pool(3);
  ThreadPool other(2);
  std::mutex m;
  std::vector<int64_t> hits(3 * 1000, 0);
  bool sameThread = true;
  pool.parallelFor(3, 1, 3, [&](int64_t b, int64_t e) {
    for (int64_t part = b; part < e; ++part) {
      const std::thread::id outer = std::this_thread::get_id();
      // The same pool (whose workers are all busy here) and another pool.
      ThreadPool& inner = part == 1 ? other : pool;
      inner.parallelFor(1000, 1, 3, [&](int64_t ib, int64_t ie) {
        std::lock_guard lock(m);
        sameThread = sameThread && std::this_thread::get_id() == outer;
        for (int64_t i = ib; i < ie; ++i) ++hits[part * 1000 + i];
      });
    }
  });
  CHECK(sameThread);
  for (int64_t h : hits) REQUIRE(h == 1);
  // An exception from a nested loop goes out through both loops.
  CHECK(messageOf([&] {
          pool.parallelFor(3, 1, 3, [&](int64_t b, int64_t) {
            pool.parallelFor(10, 1, 3, [&](int64_t ib, int64_t) {
              if (b == 1 && ib == 0) throw Error("nested failure");
            });
          });
        }) == "nested failure");
  checkUsable(pool);
  checkUsable(other);
}

TEST_CASE("thread pool: destroyed while idle, never used, or right after a failed loop",
          "[threadpool]") {
  for (int threads = 1; threads <= 8; ++threads) {
    ThreadPool unused(threads);
    CHECK(unused.size() == threads);
  }
  for (int round = 0; round < 20; ++round) {
    ThreadPool pool(4);
    CHECK_THROWS_AS(pool.parallelFor(4, 1, 4,
                                     [](int64_t b, int64_t) {
                                       if (b == 3) throw Error("last range");
                                     }),
                    Error);
  }
  ThreadPool pool(2);
  checkUsable(pool);
}

namespace {

// A block that splits its work over the evaluator's pool and throws in one range: `range` 0 is
// the evaluating thread's own share, the others run on workers.
BlockRegistry throwingRegistry() {
  BlockRegistry r;
  BlockDescriptor d;
  d.type = "ThrowInRange";
  d.category = "Test";
  d.summary = "throws from one range of a parallel loop";
  d.ports = opPorts({}, {{"output", PortDirection::Output, PortKind::Tensor, RankRule::any(), true,
                          "never produced"}});
  d.attrs = {{.name = "range", .type = AttrType::Int, .defaultValue = AttrValue{int64_t{0}}}};
  d.check = [](BlockContext& ctx) { ctx.setOutputShape("output", {1}); };
  d.compute = [](BlockContext& ctx) {
    const int64_t which = ctx.attrs().getInt("range");
    ctx.pool()->parallelFor(ctx.threads(), 1, ctx.threads(), [&](int64_t b, int64_t e) {
      if (which >= b && which < e) throw Error("range " + std::to_string(which) + " failed");
    });
    ctx.setOutput("output", Tensor::scalar(1.0f));
  };
  r.add(std::move(d));
  return r;
}

}  // namespace

TEST_CASE("thread pool: an exception in any range becomes the block's error in the evaluator",
          "[threadpool][evaluator]") {
  static const BlockRegistry registry = throwingRegistry();
  for (int64_t range : {0, 1, 2}) {
    Page page;
    Block b;
    b.id = BlockId("t");
    b.type = "ThrowInRange";
    b.attrs = Json{{"range", range}};
    page.addBlock(b);
    Evaluator ev(registry);
    EvalOptions opts;
    opts.threads = 3;
    const EvalReport report = ev.evaluate(page, opts);
    REQUIRE(report.failed.size() == 1);
    const BlockState* st = ev.state(BlockId("t"));
    REQUIRE(st);
    CHECK(st->status == BlockStatus::Error);
    CHECK(st->error == "range " + std::to_string(range) + " failed");
    CHECK(st->outputs.empty());
  }
}

}  // namespace test_thread_pool
