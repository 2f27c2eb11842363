// quantspace-run's flags for pages that learn (docs/formats.md, "Steps, logs and state files"):
// --steps, --log, --log-every, --save-state, --load-state, Ctrl-C between steps. Run as a user
// runs them: a real process and real files, read back with our own readers.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"
#include "runtime/PageJson.h"
#include "runtime/StateFile.h"
#include "test_runner_support.h"

namespace test_runner_steps {

using qs::test::requireNoCrash;
using qs::test::RunResult;
using qs::test::runRunner;
using qs::test::slurp;
using qs::test::TempDir;

namespace {

std::string pageText(const std::string& blocks, const std::string& links) {
  return R"({"format": "quantspace-page", "version": 1, "name": "t", "blocks": [)" + blocks +
         R"(], "links": [)" + links + "]}";
}

std::string constBlock(const std::string& id, const std::string& shape, const std::string& values) {
  return R"({"id": ")" + id + R"(", "type": "Const", "attrs": {"shape": )" + shape +
         R"(, "values": )" + values + "}}";
}

std::string link(const std::string& from, const std::string& port, const std::string& to,
                 const std::string& toPort) {
  return R"({"from": [")" + from + R"(", ")" + port + R"("], "to": [")" + to + R"(", ")" + toPort +
         R"("]})";
}

// A Variable `w` (initial [1, -2]) and `s`, a scalar Variable (initial 0.1), neither updated; `c`
// a Const. Their values never change, whatever the number of steps.
std::string variablesPage() {
  return pageText(constBlock("w0", "[2]", "[1, -2]") + ", " + constBlock("s0", "[]", "[0.1]") +
                      R"(, {"id": "w", "type": "Variable"}, {"id": "s", "type": "Variable"}, )" +
                      constBlock("c", "[3]", "[1, 2, 3]"),
                  link("w0", "output", "w", "initial_value") + ", " +
                      link("s0", "output", "s", "initial_value"));
}

// `w` (initial [1, -2]) moved by ApplyGradientDescent with alpha 0.5 and delta [0.25, -0.5]:
// w -= [0.125, -0.25] each step, exact in float32. `loss` is the sum of w.
std::string descentPage() {
  return pageText(
      constBlock("w0", "[2]", "[1, -2]") + ", " + constBlock("alpha", "[]", "[0.5]") + ", " +
          constBlock("delta", "[2]", "[0.25, -0.5]") +
          R"(, {"id": "w", "type": "Variable"},
                       {"id": "opt", "type": "ApplyGradientDescent"},
                       {"id": "loss", "type": "Sum"})",
      link("w0", "output", "w", "initial_value") + ", " + link("w", "output", "opt", "var") + ", " +
          link("alpha", "output", "opt", "alpha") + ", " + link("delta", "output", "opt", "delta") +
          ", " + link("w", "output", "loss", "input"));
}

std::vector<float> jsonValues(const std::string& out, const std::string& name) {
  const nlohmann::json doc = nlohmann::json::parse(out);
  std::vector<float> v;
  for (const auto& x : doc.at("results").at(name).at("values")) v.push_back(x.get<float>());
  return v;
}

// A state file read back with our .npz reader: each member's tensor, and __step__ exactly.
struct State {
  std::vector<std::string> keys;  // in the archive's order
  std::map<std::string, qs::Tensor> values;
  int64_t step = -1;
};
State readState(const std::filesystem::path& path) {
  State s;
  for (const qs::NpzMember& m : qs::readNpz(path)) {
    s.keys.push_back(m.key);
    if (m.key == "__step__")
      s.step = qs::parseNpyInt64(m.bytes, m.key);
    else
      s.values.emplace(m.key, qs::parseNpy(m.bytes, m.key));
  }
  return s;
}

void writeState(const std::filesystem::path& path,
                const std::vector<std::pair<std::string, qs::Tensor>>& values, int64_t step,
                bool withStep = true) {
  std::vector<qs::NpzMember> members;
  for (const auto& [k, t] : values) members.push_back({k, qs::npyBytes(t)});
  if (withStep) members.push_back({"__step__", qs::npyInt64Bytes(step)});
  qs::writeNpz(path, members);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> r;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    r.push_back(text.substr(pos, nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("runner steps: bad step flags exit 2 with a message and the usage", "[runner][steps]") {
  TempDir dir;
  const std::string page = dir.write("p.page.json", variablesPage()).string();
  const std::string wholeNumber = "takes a whole number of at least 1, not ";
  const std::string stepCount = "--steps takes a whole number of at least 0, not ";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{page, "--steps", "-1"}, stepCount + "'-1'"},
      {{page, "--steps", "-3"}, stepCount + "'-3'"},
      {{page, "--steps", "1.5"}, stepCount + "'1.5'"},
      {{page, "--steps", "ten"}, stepCount + "'ten'"},
      {{page, "--steps="}, stepCount + "''"},
      {{page, "--steps", "99999999999999999999"}, stepCount},
      {{page, "--steps"}, "--steps needs a value"},
      {{page, "--log-every", "0", "--log", "l.csv", "--fetch", "s.result_output"},
       "--log-every " + wholeNumber + "'0'"},
      {{page, "--log", "l.csv"}, "--log needs at least one --fetch"},
      {{page, "--log-every", "2"}, "--log-every needs --log"},
      {{page, "--log-every", "1"}, "--log-every needs --log"},
      {{page, "--save-state"}, "--save-state needs a value"},
      {{page, "--load-state"}, "--load-state needs a value"},
  };
  for (const auto& [args, message] : cases) {
    const RunResult r = runRunner(args);
    requireNoCrash(r);
    INFO(r.err);
    CHECK(r.status == 2);
    CHECK(contains(r.err, "quantspace-run: " + message));
    CHECK(contains(r.err, "usage: quantspace-run"));
    CHECK(r.out.empty());
  }
  // Nothing ran, so no log was started.
  CHECK_FALSE(std::filesystem::exists(dir / "l.csv"));
}

TEST_CASE("runner steps: --steps 0 evaluates the loaded state without a step", "[runner][steps]") {
  TempDir dir;
  const std::string page = dir.write("p.page.json", descentPage()).string();
  const std::string state = (dir / "s.npz").string();
  // Two steps: w = [1, -2] - 2 * [0.125, -0.25] = [0.75, -1.5], exact in float32.
  REQUIRE(runRunner({page, "--steps", "2", "--save-state", state}).status == 0);
  const RunResult r = runRunner({page, "--steps", "0", "--load-state", state, "--json", "--fetch",
                                 "w.result_output", "--save-state", (dir / "t.npz").string()});
  requireNoCrash(r);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(jsonValues(r.out, "w.result_output") == std::vector<float>{0.75f, -1.5f});
  // Nothing applied: the state written again is the loaded one, __step__ included.
  CHECK(slurp(dir / "t.npz") == slurp(state));
  // Without a state, --steps 0 shows the initial values.
  const RunResult fresh = runRunner({page, "--steps", "0", "--json", "--fetch", "w.result_output"});
  REQUIRE(fresh.status == 0);
  CHECK(jsonValues(fresh.out, "w.result_output") == std::vector<float>{1.0f, -2.0f});
}

TEST_CASE("runner steps: --help describes the step flags", "[runner][steps]") {
  const RunResult r = runRunner({"--help"});
  CHECK(r.status == 0);
  for (const char* flag : {"--steps N", "--log FILE.csv", "--log-every K", "--save-state FILE.npz",
                           "--load-state FILE.npz", "Ctrl-C", "130"})
    CHECK(contains(r.out, flag));
}

TEST_CASE("runner steps: a page without Variables prints the same whatever --steps",
          "[runner][steps]") {
  TempDir dir;
  const auto page = dir.write(
      "p.page.json",
      pageText(constBlock("c", "[3]", "[1, 2, 3]") + ", " + constBlock("bad", "[2]", "[1]"), ""));
  const RunResult once = runRunner({page.string()});
  CHECK(once.status == 1);
  CHECK(contains(once.out, "c.result_output  [3]  [1, 2, 3]"));
  const RunResult many = runRunner({page.string(), "--steps", "5"});
  CHECK(many.status == once.status);
  CHECK(many.out == once.out);
  CHECK(many.err == once.err);  // no word of steps for a page that has none

  const auto good = dir.write("g.page.json", pageText(constBlock("c", "[3]", "[1, 2, 3]"), ""));
  const RunResult json1 = runRunner({good.string(), "--json"});
  const RunResult json5 = runRunner({good.string(), "--json", "--steps", "5"});
  CHECK(json1.status == 0);
  CHECK(json5.status == 0);
  CHECK(json5.out == json1.out);
  CHECK(json5.err.empty());

  // Its state file holds only the step count.
  const RunResult saved =
      runRunner({good.string(), "--steps", "4", "--save-state", (dir / "s.npz").string()});
  REQUIRE(saved.status == 0);
  const State s = readState(dir / "s.npz");
  CHECK(s.keys == std::vector<std::string>{"__step__"});
  CHECK(s.step == 4);
}

TEST_CASE("runner steps: Variables keep their value over steps and are saved with __step__",
          "[runner][steps]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", variablesPage());
  const auto state = dir / "state.npz";
  const RunResult r =
      runRunner({page.string(), "--steps", "3", "--json", "--save-state", state.string()});
  requireNoCrash(r);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  CHECK(jsonValues(r.out, "w.result_output") == std::vector<float>{1, -2});
  CHECK(jsonValues(r.out, "s.result_output") == std::vector<float>{0.1f});

  // Members as documented: "<block id>.npy" for each Variable, "__step__.npy" an int64 scalar.
  const State s = readState(state);
  CHECK(s.keys == std::vector<std::string>{"s", "w", "__step__"});
  CHECK(s.step == 3);
  CHECK(s.values.at("w").shape() == qs::Shape{2});
  CHECK(s.values.at("w").toVector() == std::vector<float>{1, -2});
  CHECK(s.values.at("s").shape() == qs::Shape{});
  CHECK(s.values.at("s").toVector() == std::vector<float>{0.1f});
  const std::string bytes = slurp(state);
  CHECK(contains(bytes, "{'descr': '<i8', 'fortran_order': False, 'shape': (), }"));
  CHECK(contains(bytes, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"));
}

TEST_CASE("runner steps: --load-state starts from the saved values and step count",
          "[runner][steps]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", variablesPage());
  const auto in = dir / "in.npz";
  const auto out = dir / "out.npz";
  writeState(in,
             {{"w", qs::Tensor::fromValues({2}, {7, 8})}, {"s", qs::Tensor::fromValues({}, {-3})}},
             10);
  const RunResult r = runRunner({page.string(), "--load-state", in.string(), "--steps", "2",
                                 "--json", "--save-state", out.string(), "--fetch",
                                 "s.result_output", "--log", (dir / "l.csv").string()});
  requireNoCrash(r);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(jsonValues(r.out, "s.result_output") == std::vector<float>{-3});
  // Steps continue the loaded count: 11 and 12.
  CHECK(slurp(dir / "l.csv") == "step,s.result_output\n11,-3\n12,-3\n");
  const RunResult all = runRunner({page.string(), "--load-state", in.string(), "--json"});
  REQUIRE(all.status == 0);
  CHECK(jsonValues(all.out, "w.result_output") == std::vector<float>{7, 8});
  const State s = readState(out);
  CHECK(s.step == 12);
  CHECK(s.values.at("w").toVector() == std::vector<float>{7, 8});
  CHECK(s.values.at("s").toVector() == std::vector<float>{-3});
}

TEST_CASE("runner steps: --load-state-partial starts what the file lacks from its initial value",
          "[runner][steps]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", variablesPage());
  const auto in = dir / "in.npz";
  // Only `w`: `s` is a Variable the saving page did not have.
  writeState(in, {{"w", qs::Tensor::fromValues({2}, {7, 8})}}, 5);
  const RunResult plain = runRunner({page.string(), "--load-state", in.string()});
  CHECK(plain.status == 2);
  CHECK(contains(plain.err, "the state has no 's'"));
  const auto out = dir / "out.npz";
  const RunResult r = runRunner({page.string(), "--load-state-partial", in.string(), "--steps", "1",
                                 "--json", "--save-state", out.string()});
  requireNoCrash(r);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(jsonValues(r.out, "w.result_output") == std::vector<float>{7, 8});
  CHECK(jsonValues(r.out, "s.result_output") == std::vector<float>{0.1f});
  const State s = readState(out);
  CHECK(s.step == 6);
  // What the file holds is still checked: a member the page does not have is refused.
  const auto extra = dir / "extra.npz";
  writeState(extra,
             {{"w", qs::Tensor::fromValues({2}, {7, 8})}, {"u", qs::Tensor::fromValues({}, {1})}},
             5);
  const RunResult bad = runRunner({page.string(), "--load-state-partial=" + extra.string()});
  CHECK(bad.status == 2);
  CHECK(contains(bad.err, "'u' is not a Variable or slot of this page"));
}

TEST_CASE("runner steps: --log writes a row per K-th step and the last", "[runner][steps]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", variablesPage());
  const auto log = dir / "log.csv";
  SECTION("every step") {
    const RunResult r = runRunner(
        {page.string(), "--steps", "3", "--fetch", "s.result_output", "--log", log.string()});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(slurp(log) == "step,s.result_output\n1,0.1\n2,0.1\n3,0.1\n");
    // The printed results are the fetched ones, as without --log.
    CHECK(r.out == "s.result_output  []  [0.1]  min 0.1  max 0.1  mean 0.1\n");
  }
  SECTION("every 3rd and the last") {
    const RunResult r = runRunner({page.string(), "--steps=7", "--fetch=s.result_output",
                                   "--log=" + log.string(), "--log-every=3"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(slurp(log) == "step,s.result_output\n3,0.1\n6,0.1\n7,0.1\n");
  }
  SECTION("the last step a K-th one is written once") {
    const RunResult r = runRunner({page.string(), "--steps", "4", "--fetch", "s.result_output",
                                   "--log", log.string(), "--log-every", "2"});
    REQUIRE(r.status == 0);
    CHECK(slurp(log) == "step,s.result_output\n2,0.1\n4,0.1\n");
  }
  SECTION("K beyond the steps: only the last") {
    const RunResult r = runRunner({page.string(), "--steps", "4", "--fetch", "s.result_output",
                                   "--log", log.string(), "--log-every", "100"});
    REQUIRE(r.status == 0);
    CHECK(slurp(log) == "step,s.result_output\n4,0.1\n");
  }
  SECTION("a result of shape [1, 1] is one number") {
    const auto p = dir.write("one.page.json", pageText(constBlock("v0", "[1, 1]", R"(["-inf"])") +
                                                           R"(, {"id": "v", "type": "Variable"})",
                                                       link("v0", "output", "v", "initial_value")));
    const RunResult r = runRunner(
        {p.string(), "--steps", "2", "--fetch", "v.result_output", "--log", log.string()});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(slurp(log) == "step,v.result_output\n1,-inf\n2,-inf\n");
  }
}

TEST_CASE("runner steps: a logged result that is not one number exits 2 naming it",
          "[runner][steps]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", variablesPage());
  const auto state = dir.write("old.npz", "old state");
  const RunResult r = runRunner({page.string(), "--steps", "3", "--fetch", "s.result_output",
                                 "--fetch", "w.result_output", "--log", (dir / "log.csv").string(),
                                 "--save-state", state.string()});
  requireNoCrash(r);
  INFO(r.err);
  CHECK(r.status == 2);
  CHECK(contains(r.err,
                 "error: --log: w.result_output has shape [2]; a logged result must be a "
                 "scalar or hold one element"));
  CHECK(r.out.empty());
  CHECK(slurp(state) == "old state");
  CHECK_FALSE(std::filesystem::exists(dir / "log.csv"));

  const RunResult unwritable = runRunner({page.string(), "--fetch", "s.result_output", "--log",
                                          (dir / "no" / "such" / "log.csv").string()});
  requireNoCrash(unwritable);
  CHECK(unwritable.status == 2);
  CHECK(contains(unwritable.err, "error: --log " + (dir / "no/such/log.csv").string() +
                                     ": cannot be written: No such file or directory"));
}

TEST_CASE("runner steps: a bad state file exits 2 naming the member", "[runner][steps]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", variablesPage());
  const auto file = dir / "s.npz";
  const qs::Tensor w = qs::Tensor::fromValues({2}, {7, 8});
  const qs::Tensor s = qs::Tensor::fromValues({}, {-3});
  auto run = [&] {
    const RunResult r = runRunner({page.string(), "--load-state", file.string()});
    requireNoCrash(r);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    return r.err;
  };
  const std::string prefix = "error: --load-state " + file.string() + ": ";
  writeState(file, {{"w", w}}, 1);
  CHECK(contains(run(), prefix + "the state has no 's'"));
  writeState(file, {{"w", qs::Tensor::fromValues({3}, {1, 2, 3})}, {"s", s}}, 1);
  CHECK(contains(run(), prefix + "'w' has shape [3] but the page's is [2]"));
  writeState(file, {{"w", w}, {"s", s}, {"extra", s}}, 1);
  CHECK(contains(run(), prefix + "'extra' is not a Variable or slot of this page"));
  writeState(file, {{"w", w}, {"s", s}}, 1, false);
  CHECK(contains(run(), prefix + "no member '__step__.npy'"));
  writeState(file, {{"w", w}, {"s", s}}, -1);
  CHECK(contains(run(), prefix + "member '__step__.npy': a step count cannot be negative"));
  qs::writeNpz(file,
               {{"w", qs::npyBytes(w)}, {"s", qs::npyBytes(s)}, {"__step__", qs::npyBytes(s)}});
  CHECK(contains(run(), prefix + "member '__step__.npy': must hold an integer, not dtype '<f4'"));
  qs::writeNpz(file,
               {{"w", "not npy"}, {"s", qs::npyBytes(s)}, {"__step__", qs::npyInt64Bytes(1)}});
  CHECK(contains(run(), prefix + "member 'w.npy': not a .npy file"));

  // Every truncation of a good file, and a few hostile ones: refused with a message that starts
  // with the file, through the function the runner calls (in this process: a runner for each
  // took 23 s under the sanitizers), and by the runner itself, exit 2, for two of them.
  writeState(dir / "good.npz", {{"w", w}, {"s", s}}, 1);
  const std::string good = slurp(dir / "good.npz");
  std::vector<std::string> bad;
  for (size_t n = 0; n < good.size(); n += 7) bad.push_back(good.substr(0, n));
  for (const std::string& hostile : {std::string("PK\x03\x04", 4) + std::string(100, '\xff'),
                                     std::string(5000, '\0'), std::string("not a zip at all")})
    bad.push_back(hostile);
  const qs::Page loaded = qs::loadPage(page.string()).page;
  qs::Evaluator evaluator(qs::builtinRegistry());
  for (size_t i = 0; i < bad.size(); ++i) {
    CAPTURE(i, bad[i].size());
    dir.write("s.npz", bad[i]);
    try {
      qs::loadStateFile(file, loaded, evaluator);
      FAIL("the state file was taken");
    } catch (const qs::Error& e) {
      CHECK(std::string(e.what()).starts_with(file.string()));
    }
  }
  for (const std::string& b : {good.substr(0, good.size() / 2), bad.back()}) {
    dir.write("s.npz", b);
    CHECK(contains(run(), "error: --load-state " + file.string()));
  }
  const RunResult missing = runRunner({page.string(), "--load-state", (dir / "none.npz").string()});
  CHECK(missing.status == 2);
  CHECK(contains(missing.err, "none.npz"));
}

TEST_CASE("runner steps: --save-state is atomic and left alone when the run fails",
          "[runner][steps]") {
  TempDir dir;
  // The Variables' page plus a block that fails (num_bits 17): the first step fails.
  std::string text = variablesPage();
  text.replace(text.find("\"links\": ["), 10,
               R"("links": [{"from": ["c", "output"], "to": ["fq", "inputs"]},
                  {"from": ["s0", "output"], "to": ["fq", "min"]},
                  {"from": ["s0", "output"], "to": ["fq", "max"]}, )");
  text.replace(
      text.find("\"blocks\": ["), 11,
      R"("blocks": [{"id": "fq", "type": "FakeQuantWithMinMaxVars", "attrs": {"num_bits": 17}}, )");
  const auto page = dir.write("p.page.json", text);
  const auto state = dir.write("state.npz", "the previous state");
  const RunResult r = runRunner({page.string(), "--steps", "5", "--save-state", state.string(),
                                 "--fetch", "s.result_output", "--fetch", "fq.result_output",
                                 "--log", (dir / "l.csv").string()});
  requireNoCrash(r);
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(contains(r.err,
                 "error: block 'fq' (FakeQuantWithMinMaxVars): num_bits must be between 2 "
                 "and 16, inclusive\n"));
  CHECK(contains(r.err,
                 "error: stopped at step 1 (1 of 5 in this run): a block failed, so that "
                 "step's updates were not applied\n"));
  CHECK(slurp(state) == "the previous state");
  // The log has its header and no row: no step was taken.
  CHECK(slurp(dir / "l.csv") == "step,s.result_output,fq.result_output\n");

  // The save itself: no temporary file is left beside it.
  const RunResult ok = runRunner(
      {dir.write("v.page.json", variablesPage()).string(), "--save-state", state.string()});
  REQUIRE(ok.status == 0);
  CHECK(readState(state).step == 1);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    const std::string name = entry.path().filename().string();
    CHECK((name == "state.npz" || name.ends_with(".page.json") || name == "l.csv"));
  }

  const RunResult noFolder = runRunner(
      {(dir / "v.page.json").string(), "--save-state", (dir / "nowhere" / "s.npz").string()});
  requireNoCrash(noFolder);
  CHECK(noFolder.status == 2);
  CHECK(contains(noFolder.err, "--save-state " + (dir / "nowhere/s.npz").string() +
                                   ": the folder " + (dir / "nowhere").string() +
                                   " does not exist"));
}

TEST_CASE("runner steps: numpy.load reads a state file", "[runner][steps][numpy]") {
  std::string missing;
  const std::string py = qs::test::pythonWithNumpy(&missing);
  if (py.empty()) FAIL("numpy.load must read the runner's state files, but " << missing);
  TempDir dir;
  const auto state = dir / "s.npz";
  const RunResult r = runRunner({dir.write("p.page.json", variablesPage()).string(), "--steps", "6",
                                 "--save-state", state.string()});
  REQUIRE(r.status == 0);
  const auto script = dir.write("t.py",
                                "import numpy, sys\n"
                                "z = numpy.load(sys.argv[1])\n"
                                "print(sorted(z.files))\n"
                                "print(z['__step__'].dtype.str, z['__step__'].shape, "
                                "int(z['__step__']))\n"
                                "print(z['w'].dtype.str, z['w'].shape, z['w'].tolist())\n"
                                "print(z['s'].dtype.str, z['s'].shape, float(z['s']))\n");
  const RunResult np = qs::test::runProgram(py, {script.string(), state.string()});
  INFO(np.err);
  CHECK(np.status == 0);
  CHECK(np.out ==
        "['__quantspace__/page.json', '__quantspace__/version.txt', '__step__', 's', 'w']\n"
        "<i8 () 6\n<f4 (2,) [1.0, -2.0]\n<f4 () 0.10000000149011612\n");
}

namespace {

// The runner started as a child process with its stdout and (unless `errFd` is given) stderr in
// files of `dir`; the caller signals and waits for it.
pid_t startRunner(const std::vector<std::string>& args, const TempDir& dir, int errFd = -1) {
  // Everything the child needs is made before fork(): between fork and exec in a process that may
  // have threads, only async-signal-safe calls (no allocation).
  const std::string outPath = (dir / "out").string(), errPath = (dir / "err").string();
  std::vector<char*> argv{const_cast<char*>(QS_RUNNER_PATH)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err =
        errFd >= 0 ? errFd : ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execv(QS_RUNNER_PATH, argv.data());
    ::_exit(127);
  }
  return pid;
}

// The child's exit status, or minus the signal that killed it. A child still running after 60 s is
// killed (SIGKILL: -9), so that a runner that does not stop fails the test instead of hanging it.
int waitStatus(pid_t pid) {
  int raw = 0;
  for (int i = 0; i < 6000 && ::waitpid(pid, &raw, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (::waitpid(pid, &raw, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &raw, 0);
  }
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -WTERMSIG(raw);
}

// Waits (up to 60 s) until `file` has at least `rows` lines.
bool waitForRows(const std::filesystem::path& file, size_t rows) {
  for (int i = 0; i < 6000; ++i) {
    if (lines(slurp(file)).size() >= rows) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("runner steps: Ctrl-C stops after the current step, saves the state and exits 130",
          "[runner][steps][signal]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", variablesPage());
  const auto log = dir / "log.csv";
  const auto state = dir / "state.npz";
  const pid_t pid =
      startRunner({page.string(), "--steps", "1000000000", "--fetch", "s.result_output", "--log",
                   log.string(), "--log-every", "1", "--save-state", state.string()},
                  dir);
  REQUIRE(pid > 0);
  // The log is flushed as it goes (at the latest every tenth of a second).
  const bool started = waitForRows(log, 4);
  ::kill(pid, SIGINT);
  const int status = waitStatus(pid);
  REQUIRE(started);
  const std::string err = slurp(dir / "err");
  INFO(err);
  CHECK(status == 130);
  // Not a terminal: no progress line.
  CHECK_FALSE(contains(err, "steps/s"));
  // The steps taken: the state's count, the log's last row and the message agree.
  const int64_t taken = readState(state).step;
  CHECK(taken >= 3);
  const auto rows = lines(slurp(log));
  REQUIRE(rows.size() >= 2);
  CHECK(rows.front() == "step,s.result_output");
  CHECK(rows.back() == std::to_string(taken) + ",0.1");
  CHECK(rows.size() == size_t(taken) + 1);
  CHECK(contains(err, "interrupted: stopped after step " + std::to_string(taken) + " (" +
                          std::to_string(taken) + " of 1000000000 in this run)"));
  // And the results of that state are printed.
  CHECK(slurp(dir / "out") == "s.result_output  []  [0.1]  min 0.1  max 0.1  mean 0.1\n");
}

TEST_CASE("runner steps: on a terminal a progress line is drawn in place and cleared",
          "[runner][steps][signal]") {
  int master = -1, slave = -1;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  TempDir dir;
  const auto page = dir.write("p.page.json", variablesPage());
  const pid_t pid = startRunner(
      {page.string(), "--steps", "1000000000", "--fetch", "s.result_output"}, dir, slave);
  ::close(slave);
  // Read the terminal until two progress lines have been drawn, then Ctrl-C.
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // False at the end of the output (the child closed the terminal) or at the deadline.
  auto readSome = [&] {
    pollfd p{master, POLLIN, 0};
    if (std::chrono::steady_clock::now() > deadline || ::poll(&p, 1, 200) < 0) return false;
    if (!(p.revents & (POLLIN | POLLHUP))) return true;
    char buf[4096];
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) seen.append(buf, size_t(n));
    return n > 0;
  };
  size_t drawn = 0;
  while (drawn < 2 && readSome()) {
    drawn = 0;
    for (size_t at = seen.find("steps/s"); at != std::string::npos;
         at = seen.find("steps/s", at + 1))
      ++drawn;
  }
  ::kill(pid, SIGINT);
  while (readSome()) {
  }
  ::close(master);
  const int status = waitStatus(pid);
  INFO(seen);
  CHECK(status == 130);
  REQUIRE(drawn >= 2);
  // Each drawing goes back to the start of the line and erases it: "\r\x1b[Kstep N/TOTAL  R
  // steps/s  T left"; the last one is erased before the messages.
  const size_t first = seen.find("\r\x1b[Kstep ");
  REQUIRE(first != std::string::npos);
  CHECK(contains(seen.substr(first), "/1000000000  "));
  CHECK(contains(seen, " left"));
  const size_t interrupted = seen.find("interrupted: stopped after step ");
  REQUIRE(interrupted != std::string::npos);
  CHECK(seen.substr(interrupted - 4, 4) == "\r\x1b[K");
  CHECK(seen.find("\r\x1b[Kstep", interrupted) == std::string::npos);
}

// ---- With the update blocks (Assign, AssignAdd, ApplyGradientDescent) ----

TEST_CASE("runner steps: N steps of gradient descent, logged before each update",
          "[runner][steps]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", descentPage());
  const auto log = dir / "log.csv";
  const RunResult r = runRunner({page.string(), "--steps", "4", "--json", "--fetch",
                                 "w.result_output", "--fetch", "opt.result_out"});
  requireNoCrash(r);
  INFO(r.err);
  REQUIRE(r.status == 0);
  // w_n = [1, -2] - n * [0.125, -0.25]: after 4 steps [0.5, -1]. The last evaluation applies
  // nothing, so opt's `out` is the value a fifth step would give.
  CHECK(jsonValues(r.out, "w.result_output") == std::vector<float>{0.5f, -1.0f});
  CHECK(jsonValues(r.out, "opt.result_out") == std::vector<float>{0.375f, -0.75f});
  // loss = sum(w) at the start of each step: -1, -0.875, -0.75, -0.625, -0.5.
  const RunResult logged =
      runRunner({page.string(), "--steps", "5", "--fetch", "loss.result_output", "--log",
                 log.string(), "--log-every", "2"});
  INFO(logged.err);
  REQUIRE(logged.status == 0);
  CHECK(slurp(log) == "step,loss.result_output\n2,-0.875\n4,-0.625\n5,-0.5\n");
  CHECK(logged.out == "loss.result_output  []  [-0.375]  min -0.375  max -0.375  mean -0.375\n");
}

TEST_CASE("runner steps: two runs of N/2 steps through a state file give one run's bits",
          "[runner][steps]") {
  TempDir dir;
  // alpha 0.1: the values are not exact, so any difference in the order of work shows.
  std::string text = descentPage();
  text.replace(text.find("[0.5]"), 5, "[0.1]");
  const auto page = dir.write("p.page.json", text);
  const auto whole = dir / "whole.npz", half = dir / "half.npz", rest = dir / "rest.npz";
  REQUIRE(runRunner({page.string(), "--steps", "10", "--save-state", whole.string()}).status == 0);
  REQUIRE(runRunner({page.string(), "--steps", "5", "--save-state", half.string()}).status == 0);
  REQUIRE(runRunner({page.string(), "--steps", "5", "--load-state", half.string(), "--save-state",
                     rest.string()})
              .status == 0);
  CHECK(readState(half).step == 5);
  CHECK(slurp(rest) == slurp(whole));
  const qs::Tensor w = readState(whole).values.at("w");
  // Worked out in float32 by hand: ten times w -= 0.1f * delta.
  float w0 = 1.0f, w1 = -2.0f;
  for (int i = 0; i < 10; ++i) {
    w0 -= 0.1f * 0.25f;
    w1 -= 0.1f * -0.5f;
  }
  CHECK(w.toVector() == std::vector<float>{w0, w1});
}

TEST_CASE("runner steps: Assign and AssignAdd through the runner", "[runner][steps]") {
  TempDir dir;
  // a += 2 each step; b = a at the start of the step (so b lags a by one step).
  const auto page = dir.write(
      "p.page.json",
      pageText(constBlock("zero", "[]", "[0]") + ", " + constBlock("two", "[]", "[2]") +
                   R"(, {"id": "a", "type": "Variable"}, {"id": "b", "type": "Variable"},
                      {"id": "inc", "type": "AssignAdd"}, {"id": "set", "type": "Assign"})",
               link("zero", "output", "a", "initial_value") + ", " +
                   link("zero", "output", "b", "initial_value") + ", " +
                   link("a", "output", "inc", "ref") + ", " +
                   link("two", "output", "inc", "value") + ", " +
                   link("b", "output", "set", "ref") + ", " + link("a", "output", "set", "value")));
  const auto log = dir / "log.csv";
  const RunResult r = runRunner({page.string(), "--steps", "3", "--fetch", "a.result_output",
                                 "--fetch", "b.result_output", "--fetch", "inc.result_output_ref",
                                 "--log", log.string(), "--save-state", (dir / "s.npz").string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(slurp(log) ==
        "step,a.result_output,b.result_output,inc.result_output_ref\n1,0,0,2\n2,2,0,4\n3,4,2,6\n");
  const State s = readState(dir / "s.npz");
  CHECK(s.keys == std::vector<std::string>{"a", "b", "__step__"});
  CHECK(s.values.at("a").toVector() == std::vector<float>{6});
  CHECK(s.values.at("b").toVector() == std::vector<float>{4});
}

}  // namespace test_runner_steps
