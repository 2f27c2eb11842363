// The evaluator's steps (held values, staged updates) and its backward pass, on small blocks
// declared here, so that the machinery is tested apart from the real blocks' math.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Gradient.h"

namespace test_steps_core {

using namespace qs;

namespace {

Tensor scaled(const Tensor& t, float k) {
  Tensor r = Tensor::uninitialized(t.shape());
  for (int64_t i = 0; i < t.size(); ++i) r.mutableData()[i] = t.data()[i] * k;
  return r;
}

BlockDescriptor op(const std::string& type, std::vector<PortDescriptor> in,
                   std::vector<PortDescriptor> out) {
  BlockDescriptor d;
  d.type = type;
  d.category = "Test";
  d.summary = type;
  d.ports = opPorts(std::move(in), std::move(out));
  d.check = [](BlockContext& ctx) {
    const Shape s = ctx.hasInput("x") ? ctx.inputShape("x") : Shape{};
    for (const PortDescriptor* o : ctx.descriptor().outputs()) ctx.setOutputShape(o->name, s);
  };
  return d;
}

PortDescriptor in(const std::string& name, bool required = true) {
  PortDescriptor p = tensorInput(name, RankRule::any(), name);
  p.required = required;
  return p;
}
PortDescriptor out(const std::string& name) {
  return tensorOutput(name, RankRule::any(), name);
}

void addSources(BlockRegistry& r) {
  BlockDescriptor d = op("In", {}, {out("y")});
  d.check = [](BlockContext& ctx) {
    if (!ctx.feed()) throw Error("not fed");
    ctx.setOutputShape("y", ctx.feed()->shape());
  };
  d.compute = [](BlockContext& ctx) { ctx.setOutput("y", *ctx.feed()); };
  d.feedable = true;
  r.add(std::move(d));
}

// y = 2x; Mul: y = x * w (same shapes); Split: p = x, q = 3x; NoGrad: y = x.
void addMath(BlockRegistry& r) {
  BlockDescriptor s = op("Scale2", {in("x")}, {out("y")});
  s.compute = [](BlockContext& ctx) { ctx.setOutput("y", scaled(ctx.input("x"), 2)); };
  s.gradient = [](GradientContext& ctx) { ctx.setInputGrad("x", scaled(*ctx.outputGrad("y"), 2)); };
  r.add(std::move(s));
  BlockDescriptor m = op("Mul", {in("x"), in("w")}, {out("y")});
  m.compute = [](BlockContext& ctx) {
    Tensor y = Tensor::uninitialized(ctx.input("x").shape());
    for (int64_t i = 0; i < y.size(); ++i)
      y.mutableData()[i] = ctx.input("x").data()[i] * ctx.input("w").data()[i];
    ctx.setOutput("y", y);
  };
  m.gradient = [](GradientContext& ctx) {
    const Tensor& g = *ctx.outputGrad("y");
    for (auto [port, other] : {std::pair{"x", "w"}, std::pair{"w", "x"}}) {
      if (!ctx.wantsGrad(port)) continue;
      Tensor r = Tensor::uninitialized(g.shape());
      for (int64_t i = 0; i < g.size(); ++i)
        r.mutableData()[i] = g.data()[i] * ctx.input(other).data()[i];
      ctx.setInputGrad(port, r);
    }
  };
  r.add(std::move(m));
  BlockDescriptor sp = op("Split", {in("x")}, {out("p"), out("q")});
  sp.compute = [](BlockContext& ctx) {
    ctx.setOutput("p", ctx.input("x"));
    ctx.setOutput("q", scaled(ctx.input("x"), 3));
  };
  sp.gradient = [](GradientContext& ctx) {
    Tensor g = Tensor::zeros(ctx.input("x").shape());
    if (const Tensor* gp = ctx.outputGrad("p"))
      for (int64_t i = 0; i < g.size(); ++i) g.mutableData()[i] += gp->data()[i];
    if (const Tensor* gq = ctx.outputGrad("q"))
      for (int64_t i = 0; i < g.size(); ++i) g.mutableData()[i] += 3 * gq->data()[i];
    ctx.setInputGrad("x", g);
  };
  r.add(std::move(sp));
  BlockDescriptor n = op("NoGrad", {in("x")}, {out("y")});
  n.compute = [](BlockContext& ctx) { ctx.setOutput("y", ctx.input("x")); };
  r.add(std::move(n));
  BlockDescriptor g = op("Grad", {in("ys"), in("xs"), in("grad_ys", false)}, {out("output")});
  g.check = [](BlockContext& ctx) { ctx.setOutputShape("output", ctx.inputShape("xs")); };
  g.compute = [](BlockContext& ctx) {
    ctx.setOutput("output", ctx.symbolicGradient("ys", "xs", "grad_ys"));
  };
  g.readsUpstream = true;
  r.add(std::move(g));
}

// Var: a Variable. Put: ref's next value is `value`. Bump: adds 1 to a counter it holds in
// slot `c` unless `c` is wired from a Variable.
void addState(BlockRegistry& r) {
  BlockDescriptor v = op("Var", {in("x")}, {out("output")});
  v.compute = [](BlockContext& ctx) {
    ctx.setOutput("output", ctx.held("") ? *ctx.held("") : ctx.input("x"));
  };
  v.variable = true;
  r.add(std::move(v));
  BlockDescriptor p = op("Put", {in("ref"), in("x")}, {out("output_ref")});
  p.compute = [](BlockContext& ctx) { ctx.setOutput("output_ref", ctx.input("x")); };
  p.stateSlots = {{.input = "ref", .output = "output_ref", .mustBeWired = true}};
  r.add(std::move(p));
  BlockDescriptor b = op("Bump", {in("c", false)}, {out("c")});
  b.check = [](BlockContext& ctx) { ctx.setOutputShape("c", {1}); };
  b.compute = [](BlockContext& ctx) {
    const Tensor* c = ctx.hasInput("c") ? &ctx.input("c") : ctx.held("c");
    ctx.setOutput("c", Tensor::fromValues({1}, {c ? c->data()[0] + 1 : 1}));
  };
  b.stateSlots = {{.input = "c", .output = "c"}};
  r.add(std::move(b));
}

const BlockRegistry& registry() {
  static const BlockRegistry r = [] {
    BlockRegistry reg;
    addSources(reg);
    addMath(reg);
    addState(reg);
    return reg;
  }();
  return r;
}

struct TestPage {
  Page page;
  Evaluator ev{registry()};

  void add(const std::string& id, const std::string& type) {
    Block b;
    b.id = BlockId(id);
    b.type = type;
    page.addBlock(std::move(b));
  }
  void feed(const std::string& id, std::vector<float> v) {
    add(id, "In");
    const auto n = static_cast<int64_t>(v.size());
    ev.setFeed(BlockId(id), Tensor::fromValues({n}, v));
  }
  void wire(const std::string& from, const std::string& to, const std::string& port,
            const std::string& fromPort = "y") {
    page.addLink({{BlockId(from), PortName(fromPort)}, {BlockId(to), PortName(port)}});
  }
  EvalReport step() { return ev.evaluate(page, {.step = true}); }
  std::vector<float> value(const std::string& result) { return ev.result(result)->toVector(); }
  std::string error(const std::string& id) { return ev.state(BlockId(id))->error; }
};

}  // namespace

TEST_CASE("Backward pass: chain rule, fan-out, multiple outputs", "[steps]") {
  TestPage t;
  t.feed("x", {1, 2, 3});
  t.add("s", "Scale2");
  t.add("m", "Mul");
  t.wire("x", "s", "x");
  t.wire("s", "m", "x");
  t.wire("x", "m", "w");
  t.add("g", "Grad");
  t.wire("m", "g", "ys");
  t.wire("x", "g", "xs");
  // m = 2x * x = 2x^2, d/dx = 4x; x reaches m along two paths whose gradients are added.
  t.ev.evaluate(t.page);
  CHECK(t.value("g.result_output") == std::vector<float>{4, 8, 12});

  // Split: p = x, q = 3x; y = p * q = 3x^2, d/dx = 6x.
  TestPage u;
  u.feed("x", {1, -2});
  u.add("sp", "Split");
  u.add("m", "Mul");
  u.wire("x", "sp", "x");
  u.wire("sp", "m", "x", "p");
  u.wire("sp", "m", "w", "q");
  u.add("g", "Grad");
  u.wire("m", "g", "ys");
  u.wire("x", "g", "xs");
  u.ev.evaluate(u.page);
  CHECK(u.value("g.result_output") == std::vector<float>{6, -12});
}

TEST_CASE("Backward pass: off-path blocks, grad_ys, unreachable xs, ys == xs", "[steps]") {
  TestPage t;
  t.feed("x", {1, 2});
  t.feed("w", {5, 7});
  t.feed("gy", {10, 100});
  t.add("n", "NoGrad");  // not between x and ys: needs no gradient
  t.wire("w", "n", "x");
  t.add("m", "Mul");
  t.wire("x", "m", "x");
  t.wire("n", "m", "w");
  t.add("g", "Grad");
  t.wire("m", "g", "ys");
  t.wire("x", "g", "xs");
  t.wire("gy", "g", "grad_ys");
  t.add("zero", "Grad");  // w's NoGrad path does not reach x
  t.wire("x", "zero", "ys");
  t.wire("w", "zero", "xs");
  t.add("same", "Grad");
  t.wire("x", "same", "ys");
  t.wire("x", "same", "xs");
  t.ev.evaluate(t.page);
  CHECK(t.value("g.result_output") == std::vector<float>{50, 700});
  CHECK(t.value("zero.result_output") == std::vector<float>{0, 0});
  CHECK(t.value("same.result_output") == std::vector<float>{1, 1});
}

TEST_CASE("Backward pass: a block without a gradient on the path is named", "[steps]") {
  TestPage t;
  t.feed("x", {1, 2});
  t.add("n", "NoGrad");
  t.add("s", "Scale2");
  t.wire("x", "n", "x");
  t.wire("n", "s", "x");
  t.add("g", "Grad");
  t.wire("s", "g", "ys");
  t.wire("x", "g", "xs");
  t.ev.evaluate(t.page);
  CHECK(t.ev.state(BlockId("g"))->status == BlockStatus::Error);
  CHECK(t.error("g") ==
        "block 'n' (NoGrad) is on the path from xs to ys and has no gradient, so no gradient can "
        "pass through it");
  CHECK(t.ev.state(BlockId("s"))->status == BlockStatus::Ok);
}

TEST_CASE("Backward pass: Gradients blocks sharing ys go back once, each with its own errors",
          "[steps]") {
  TestPage t;
  t.feed("x", {1, 2});
  t.feed("w", {5, 7});
  t.add("s", "Scale2");
  t.add("n", "NoGrad");
  t.add("m", "Mul");
  t.wire("x", "s", "x");
  t.wire("w", "n", "x");
  t.wire("s", "m", "x");
  t.wire("n", "m", "w");
  for (const char* g : {"gx", "gw", "gx2"}) {
    t.add(g, "Grad");
    t.wire("m", g, "ys");
  }
  t.wire("x", "gx", "xs");
  t.wire("w", "gw", "xs");
  t.wire("x", "gx2", "xs");
  const EvalReport r = t.ev.evaluate(t.page);
  // m = 2x * w: d/dx = 2w; w's path goes through NoGrad.
  CHECK(t.value("gx.result_output") == std::vector<float>{10, 14});
  CHECK(t.value("gx2.result_output") == std::vector<float>{10, 14});
  CHECK(t.error("gw") ==
        "block 'n' (NoGrad) is on the path from xs to ys and has no gradient, so no gradient can "
        "pass through it");
  CHECK(r.failed == std::vector<BlockId>{BlockId("gw")});
}

TEST_CASE("Steps: values from the start of the step, updates applied after", "[steps]") {
  TestPage t;
  t.feed("a0", {1});
  t.feed("b0", {2});
  t.add("a", "Var");
  t.add("b", "Var");
  t.wire("a0", "a", "x");
  t.wire("b0", "b", "x");
  t.add("pa", "Put");  // a := b and b := a in one step swap them
  t.add("pb", "Put");
  t.wire("a", "pa", "ref", "output");
  t.wire("b", "pa", "x", "output");
  t.wire("b", "pb", "ref", "output");
  t.wire("a", "pb", "x", "output");
  CHECK(t.step().applied);
  CHECK(t.ev.stepCount() == 1);
  t.ev.evaluate(t.page);
  CHECK(t.value("a.result_output") == std::vector<float>{2});
  CHECK(t.value("b.result_output") == std::vector<float>{1});
  t.step();
  t.ev.evaluate(t.page);
  CHECK(t.value("a.result_output") == std::vector<float>{1});
  // A plain evaluation applies nothing.
  t.ev.evaluate(t.page);
  CHECK(t.value("a.result_output") == std::vector<float>{1});
  CHECK(t.ev.stepCount() == 2);
  t.ev.resetState();
  t.ev.evaluate(t.page);
  CHECK(t.value("b.result_output") == std::vector<float>{2});
  CHECK(t.ev.stepCount() == 0);
}

TEST_CASE("Steps: two updates of one Variable fail both and apply nothing", "[steps]") {
  TestPage t;
  t.feed("v0", {1});
  t.feed("k", {9});
  t.add("v", "Var");
  t.wire("v0", "v", "x");
  t.add("p1", "Put");
  t.add("p2", "Put");
  for (const char* p : {"p1", "p2"}) {
    t.wire("v", p, "ref", "output");
    t.wire("k", p, "x");
  }
  const EvalReport r = t.step();
  CHECK_FALSE(r.applied);
  CHECK(t.ev.stepCount() == 0);
  CHECK(t.error("p1") ==
        "updates Variable 'v' in the same step as block 'p2'; a Variable takes one update per "
        "step");
  CHECK(t.error("p2") ==
        "updates Variable 'v' in the same step as block 'p1'; a Variable takes one update per "
        "step");
  CHECK(t.ev.stateTensors().empty());
}

TEST_CASE("Steps: the updated input must come straight from a Variable", "[steps]") {
  TestPage t;
  t.feed("c", {1});
  t.add("p", "Put");
  t.wire("c", "p", "ref");
  t.wire("c", "p", "x");
  t.step();
  CHECK(t.error("p") ==
        "input 'ref' must be wired straight from the output of the Variable it updates, but it "
        "comes from c.y (In)");
}

TEST_CASE("Steps: held slots, state names, layout and loading", "[steps]") {
  TestPage t;
  t.add("h", "Bump");  // holds its counter
  t.feed("v0", {0});
  t.add("v", "Var");
  t.wire("v0", "v", "x");
  t.add("k", "Bump");  // counts in Variable v
  t.wire("v", "k", "c", "output");
  for (int i = 0; i < 3; ++i) {
    const EvalReport r = t.step();
    std::string why;
    for (const BlockId& f : r.failed) why += f.str() + ": " + t.error(f.str()) + "; ";
    INFO(why);
    REQUIRE(r.applied);
  }
  t.ev.evaluate(t.page);
  CHECK(t.value("h.result_c") == std::vector<float>{4});  // the next value after 3 steps
  auto state = t.ev.stateTensors();
  REQUIRE(state.size() == 2);
  CHECK(state.at("h.c").toVector() == std::vector<float>{3});
  CHECK(state.at("v").toVector() == std::vector<float>{3});
  auto layout = t.ev.stateLayout(t.page);
  CHECK(layout == std::map<std::string, Shape>{{"h.c", {1}}, {"v", {1}}});

  Evaluator fresh(registry());
  fresh.setFeed(BlockId("v0"), Tensor::fromValues({1}, {0}));
  CHECK_THROWS_WITH(fresh.loadState(t.page, {{"v", state.at("v")}}, 3), "the state has no 'h.c'");
  auto wrong = state;
  wrong["v"] = Tensor::fromValues({2}, {0, 0});
  CHECK_THROWS_WITH(fresh.loadState(t.page, wrong, 3), "'v' has shape [2] but the page's is [1]");
  auto extra = state;
  extra["q"] = Tensor::scalar(1);
  CHECK_THROWS_WITH(fresh.loadState(t.page, extra, 3),
                    "'q' is not a Variable or slot of this page");
  CHECK(fresh.stateTensors().empty());
  fresh.loadState(t.page, state, 3);
  CHECK(fresh.stepCount() == 3);
  fresh.evaluate(t.page, {.step = true});
  fresh.evaluate(t.page);
  CHECK(fresh.result("v.result_output")->toVector() == std::vector<float>{4});
}

TEST_CASE("Steps: what an edit leaves behind is no longer held", "[steps]") {
  TestPage t;
  t.add("h", "Bump");
  t.add("gone", "Bump");
  t.feed("v0", {0});
  t.add("v", "Var");
  t.wire("v0", "v", "x");
  REQUIRE(t.step().applied);
  CHECK(t.ev.stateTensors().size() == 3);
  t.wire("v", "h", "c", "output");  // the Variable holds the count now
  t.page.removeBlock(BlockId("gone"));
  t.ev.evaluate(t.page);
  auto state = t.ev.stateTensors();
  CHECK(state.size() == 1);
  CHECK(state.count("v") == 1);
}

TEST_CASE("Steps: a Variable reruns after an update and is reused otherwise", "[steps]") {
  TestPage t;
  t.feed("v0", {1});
  t.add("v", "Var");
  t.wire("v0", "v", "x");
  t.add("s", "Scale2");
  t.wire("v", "s", "x", "output");
  t.add("p", "Put");
  t.wire("v", "p", "ref", "output");
  t.wire("s", "p", "x");
  t.step();
  EvalReport r = t.ev.evaluate(t.page);
  CHECK(t.value("s.result_y") == std::vector<float>{4});
  CHECK(std::count(r.computed.begin(), r.computed.end(), BlockId("v")) == 1);
  r = t.ev.evaluate(t.page);
  CHECK(std::count(r.reused.begin(), r.reused.end(), BlockId("v")) == 1);
}

}  // namespace test_steps_core
