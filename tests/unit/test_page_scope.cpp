// The page's scope (top-level "scope" of the page file): its thread count is read, validated,
// saved back, and is the number of worker threads an op is given unless the caller overrides it.
#include <catch2/catch.hpp>
#include <string>

#include "runtime/BlockRegistry.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/PageJson.h"
#include "runtime/ThreadPool.h"
#include "test_runner_support.h"

namespace test_page_scope {

using namespace qs;

namespace {

std::string pageText(const std::string& scope) {
  return R"({"format": "quantspace-page", "version": 1, "name": "p", )" + scope +
         R"("blocks": [{"id": "probe", "type": "ThreadProbe"}], "links": []})";
}

// A block whose result is what the evaluator gave it: ctx.threads() and the pool's size.
BlockRegistry probeRegistry() {
  BlockRegistry r;
  BlockDescriptor d;
  d.type = "ThreadProbe";
  d.category = "Test";
  d.summary = "reports its worker threads";
  d.ports = opPorts({}, {{"output", PortDirection::Output, PortKind::Tensor, RankRule::any(), true,
                          "threads, pool size"}});
  d.check = [](BlockContext& ctx) { ctx.setOutputShape("output", {2}); };
  d.compute = [](BlockContext& ctx) {
    ctx.setOutput("output", Tensor::fromValues(
                                {2}, {static_cast<float>(ctx.threads()),
                                      static_cast<float>(ctx.pool() ? ctx.pool()->size() : -1)}));
  };
  r.add(std::move(d));
  return r;
}

std::pair<int, int> threadsGiven(const Page& page, int optionThreads) {
  static const BlockRegistry registry = probeRegistry();
  Evaluator ev(registry);
  EvalOptions opts;
  opts.threads = optionThreads;
  ev.evaluate(page, opts);
  const auto t = ev.result("probe.result_output");
  REQUIRE(t);
  return {static_cast<int>(t->data()[0]), static_cast<int>(t->data()[1])};
}

}  // namespace

TEST_CASE("page scope: threads loads, saves back to the same bytes, absent stays absent",
          "[page][scope]") {
  const LoadedPage a = parsePage(pageText(R"("scope": {"threads": 3}, )"), "a");
  REQUIRE(a.page.scope);
  CHECK(a.page.scope->threads == 3);
  CHECK(a.page.extra.empty());
  CHECK(a.warnings.empty());
  const std::string saved = pageToText(a.page);
  const LoadedPage b = parsePage(saved, "b");
  REQUIRE(b.page.scope);
  CHECK(*b.page.scope == *a.page.scope);
  CHECK(pageToText(b.page) == saved);

  const LoadedPage none = parsePage(pageText(""), "none");
  CHECK_FALSE(none.page.scope);
  CHECK(pageToText(none.page).find("scope") == std::string::npos);

  // Unknown keys inside the scope are kept (with a warning), like unknown keys elsewhere.
  const LoadedPage more = parsePage(pageText(R"("scope": {"threads": 0, "later": [1, 2]}, )"), "m");
  REQUIRE(more.page.scope);
  CHECK(more.page.scope->threads == 0);
  CHECK(more.warnings.size() == 1);
  const LoadedPage more2 = parsePage(pageToText(more.page), "m2");
  CHECK(*more2.page.scope == *more.page.scope);
}

TEST_CASE("page scope: a bad thread count is refused with a message naming the key",
          "[page][scope]") {
  for (const std::string bad : {R"("scope": {"threads": -1}, )", R"("scope": {"threads": 2.5}, )",
                                R"("scope": {"threads": "4"}, )", R"("scope": {"threads": 1025}, )",
                                R"("scope": {"threads": true}, )", R"("scope": 4, )"}) {
    INFO(bad);
    try {
      parsePage(pageText(bad), "bad.page.json");
      FAIL("loaded");
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK(m.find("bad.page.json") != std::string::npos);
      CHECK(m.find("\"scope\"") != std::string::npos);
    }
  }
}

TEST_CASE("page scope: the op is given the scope's thread count; the caller's count overrides it",
          "[page][scope]") {
  Page page = parsePage(pageText(R"("scope": {"threads": 3}, )"), "p").page;
  CHECK(threadsGiven(page, 0) == std::pair{3, 3});
  CHECK(threadsGiven(page, 2) == std::pair{2, 2});  // the runner's --threads
  page.scope->threads = 0;
  const int cores = ThreadPool::hardwareThreads();
  CHECK(threadsGiven(page, 0) == std::pair{cores, cores});
  page.scope.reset();
  CHECK(threadsGiven(page, 0) == std::pair{cores, cores});
  CHECK(threadsGiven(page, 5) == std::pair{5, 5});
}

TEST_CASE("page scope: the runner refuses a bad thread count with exit status 2",
          "[runner][scope]") {
  test::TempDir dir;
  const auto bad = dir.write("bad.page.json", R"({"format": "quantspace-page", "version": 1,
    "scope": {"threads": -2},
    "blocks": [{"id": "x", "type": "Const", "attrs": {"shape": [1], "values": [1]}}]})");
  const test::RunResult r = test::runRunner({bad.string()});
  CHECK(r.status == 2);
  CHECK(r.err.find("\"threads\" must be a whole number") != std::string::npos);

  const auto good = dir.write("good.page.json", R"({"format": "quantspace-page", "version": 1,
    "scope": {"threads": 2},
    "blocks": [{"id": "x", "type": "Const", "attrs": {"shape": [1], "values": [1]}}]})");
  CHECK(test::runRunner({good.string()}).status == 0);
  CHECK(test::runRunner({good.string(), "--threads", "1"}).status == 0);
}

}  // namespace test_page_scope
