// Assign, AssignAdd, AssignSub and the Apply* optimizers on pages run step after step: the
// updates bit for bit against tests/data/tf_optimizer_cases.json and literal values, and the step
// semantics (values from the start of the step, one update per Variable, reset, saved state,
// threads).
#include <atomic>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "blocks/RegisterBlocks.h"
#include "optimizer_cases.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"

namespace test_optimizer_blocks {

using namespace qs;

namespace {

// ---- Pages ------------------------------------------------------------------------------------

Block makeBlock(const std::string& id, const std::string& type, Json attrs = Json::object()) {
  Block b;
  b.id = BlockId(id);
  b.type = type;
  b.attrs = std::move(attrs);
  return b;
}

Block constBlock(const std::string& id, Shape shape, const std::vector<float>& values) {
  Json v = Json::array();
  for (float f : values) v.push_back(f);
  return makeBlock(id, "Const", Json{{"shape", shape}, {"values", v}});
}

Block scalarBlock(const std::string& id, float value) {
  return constBlock(id, {}, {value});
}

void link(Page& page, const std::string& from, const std::string& fromPort, const std::string& to,
          const std::string& toPort) {
  page.addLink({{BlockId(from), PortName(fromPort)}, {BlockId(to), PortName(toPort)}});
}

// A Variable `id` starting from the Const `<id>0`.
void addVariable(Page& page, const std::string& id, Shape shape, const std::vector<float>& v0) {
  page.addBlock(constBlock(id + "0", shape, v0));
  page.addBlock(makeBlock(id, "Variable"));
  link(page, id + "0", "output", id, "initial_value");
}

// ---- Expected values --------------------------------------------------------------------------

using testing::caseFloat;
using testing::caseFloats;
using testing::optimizerCase;
using Json = nlohmann::json;

void requireBits(const Tensor& got, const std::vector<float>& want, const std::string& what) {
  REQUIRE(got.size() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(what << ", element " << i << ": " << got.values()[i] << " vs " << want[i]);
    CHECK(std::bit_cast<uint32_t>(got.values()[i]) == std::bit_cast<uint32_t>(want[i]));
  }
}

bool sameBits(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || !bitwiseEqual(t, it->second)) return false;
  }
  return true;
}

template <typename V>
std::set<std::string> keys(const std::map<std::string, V>& m) {
  std::set<std::string> s;
  for (const auto& [k, v] : m) s.insert(k);
  return s;
}

EvalReport step(Evaluator& ev, const Page& page, int threads = 0) {
  EvalOptions o;
  o.step = true;
  o.threads = threads;
  return ev.evaluate(page, o);
}

const std::string& errorOf(const Evaluator& ev, const std::string& id) {
  const BlockState* st = ev.state(BlockId(id));
  REQUIRE(st != nullptr);
  return st->error;
}

// w (Variable from var0) updated by `opt` of type `type`, its grad from the Const `g` fed per step.
Page optimizerPage(const std::string& type, const Json& c,
                   const std::vector<std::string>& scalars) {
  Page page;
  const std::vector<float> var0 = caseFloats(c.at("var0"));
  const Shape shape{static_cast<int64_t>(var0.size())};
  addVariable(page, "w", shape, var0);
  page.addBlock(constBlock("g", shape, std::vector<float>(var0.size(), 0.0f)));
  Json attrs = Json::object();
  if (c.contains("use_nesterov")) attrs["use_nesterov"] = c.at("use_nesterov");
  page.addBlock(makeBlock("opt", type, attrs));
  link(page, "w", "output", "opt", "var");
  link(page, "g", "output", "opt", type == "ApplyGradientDescent" ? "delta" : "grad");
  for (const std::string& s : scalars) {
    page.addBlock(scalarBlock("k_" + s, caseFloat(c.at(s))));
    link(page, "k_" + s, "output", "opt", s);
  }
  return page;
}

void feedGrad(Evaluator& ev, const Json& c, size_t s) {
  const std::vector<float> g = caseFloats(c.at("grads")[s]);
  ev.setFeed(BlockId("g"), Tensor::fromValues({static_cast<int64_t>(g.size())}, g));
}

}  // namespace

// ---- Update formulas, bit for bit -------------------------------------------------------------

TEST_CASE("optimizer blocks: ApplyGradientDescent on a Variable, three steps bit for bit",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("gradient_descent");
  const Page page = optimizerPage("ApplyGradientDescent", c, {"alpha"});
  Evaluator ev(builtinRegistry());
  for (size_t s = 0; s < 3; ++s) {
    feedGrad(ev, c, s);
    const EvalReport r = step(ev, page);
    REQUIRE(r.failed.empty());
    REQUIRE(r.applied);
    const std::vector<float> want = caseFloats(c.at("steps")[s].at("var"));
    requireBits(ev.stateTensors().at("w"), want, "w after step " + std::to_string(s + 1));
    requireBits(*ev.result("opt.result_out"), want, "out");
  }
  CHECK(ev.stepCount() == 3);
  CHECK(keys(ev.stateTensors()) == std::set<std::string>{"w"});
}

TEST_CASE("optimizer blocks: ApplyMomentum with a held accumulator, with and without Nesterov",
          "[optimizer-blocks]") {
  for (const char* name : {"momentum", "momentum_nesterov"}) {
    CAPTURE(name);
    const Json& c = optimizerCase(name);
    const Page page = optimizerPage("ApplyMomentum", c, {"lr", "momentum"});
    Evaluator ev(builtinRegistry());
    for (size_t s = 0; s < 3; ++s) {
      feedGrad(ev, c, s);
      REQUIRE(step(ev, page).applied);
      const Json& want = c.at("steps")[s];
      const auto state = ev.stateTensors();
      CHECK(keys(state) == std::set<std::string>{"w", "opt.accum"});
      requireBits(state.at("w"), caseFloats(want.at("var")), "var");
      requireBits(state.at("opt.accum"), caseFloats(want.at("accum")), "accum");
      requireBits(*ev.result("opt.result_accum"), caseFloats(want.at("accum")), "result_accum");
    }
  }
}

TEST_CASE("optimizer blocks: ApplyMomentum's accumulator wired from a Variable is held there",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("momentum");
  Page page = optimizerPage("ApplyMomentum", c, {"lr", "momentum"});
  addVariable(page, "acc", {5}, std::vector<float>(5, 0.0f));
  link(page, "acc", "output", "opt", "accum");
  Evaluator ev(builtinRegistry());
  for (size_t s = 0; s < 3; ++s) {
    feedGrad(ev, c, s);
    REQUIRE(step(ev, page).applied);
    const auto state = ev.stateTensors();
    CHECK(keys(state) == std::set<std::string>{"w", "acc"});
    requireBits(state.at("w"), caseFloats(c.at("steps")[s].at("var")), "var");
    requireBits(state.at("acc"), caseFloats(c.at("steps")[s].at("accum")), "acc");
  }
  CHECK(keys(ev.stateLayout(page)) == std::set<std::string>{"w", "acc"});
}

TEST_CASE("optimizer blocks: ApplyAdam's first steps with held slots and beta powers",
          "[optimizer-blocks]") {
  for (const char* name : {"adam", "adam_nesterov"}) {
    CAPTURE(name);
    const Json& c = optimizerCase(name);
    const Page page = optimizerPage("ApplyAdam", c, {"lr", "beta1", "beta2", "epsilon"});
    Evaluator ev(builtinRegistry());
    for (size_t s = 0; s < 3; ++s) {
      const Json& want = c.at("steps")[s];
      if (s > 0) {
        // The powers this step uses are the ones held since the last.
        const auto held = ev.stateTensors();
        requireBits(held.at("opt.beta1_power"), {caseFloat(want.at("beta1_power"))}, "beta1_power");
        requireBits(held.at("opt.beta2_power"), {caseFloat(want.at("beta2_power"))}, "beta2_power");
      }
      feedGrad(ev, c, s);
      REQUIRE(step(ev, page).applied);
      const auto state = ev.stateTensors();
      CHECK(keys(state) ==
            std::set<std::string>{"w", "opt.m", "opt.v", "opt.beta1_power", "opt.beta2_power"});
      requireBits(state.at("opt.m"), caseFloats(want.at("m")), "m");
      requireBits(state.at("opt.v"), caseFloats(want.at("v")), "v");
      requireBits(state.at("w"), caseFloats(want.at("var")), "var");
    }
  }
}

TEST_CASE("optimizer blocks: ApplyAdam's beta powers after a step, worked out in double",
          "[optimizer-blocks]") {
  // beta1 = 0.9f, beta2 = 0.999f; each power is the float32 product of the last and beta.
  const Json& c = optimizerCase("adam");
  const Page page = optimizerPage("ApplyAdam", c, {"lr", "beta1", "beta2", "epsilon"});
  Evaluator ev(builtinRegistry());
  const double b1 = 0.8999999761581421, b2 = 0.9990000128746033;
  float p1 = static_cast<float>(b1), p2 = static_cast<float>(b2);
  for (size_t s = 0; s < 4; ++s) {
    feedGrad(ev, c, s % 3);
    REQUIRE(step(ev, page).applied);
    p1 = static_cast<float>(static_cast<double>(p1) * b1);
    p2 = static_cast<float>(static_cast<double>(p2) * b2);
    requireBits(ev.stateTensors().at("opt.beta1_power"), {p1}, "beta1_power");
    requireBits(ev.stateTensors().at("opt.beta2_power"), {p2}, "beta2_power");
  }
}

TEST_CASE("optimizer blocks: ApplyAdam with every slot wired from Variables, powers only read",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("adam_nesterov");
  Page page = optimizerPage("ApplyAdam", c, {"lr", "beta1", "beta2", "epsilon"});
  addVariable(page, "m", {5}, std::vector<float>(5, 0.0f));
  addVariable(page, "v", {5}, std::vector<float>(5, 0.0f));
  addVariable(page, "b1p", {}, {caseFloat(c.at("beta1"))});
  addVariable(page, "b2p", {}, {caseFloat(c.at("beta2"))});
  for (const char* s : {"m", "v"}) link(page, s, "output", "opt", s);
  link(page, "b1p", "output", "opt", "beta1_power");
  link(page, "b2p", "output", "opt", "beta2_power");
  // The page advances the powers itself, as tf.train.AdamOptimizer's graph does.
  page.addBlock(makeBlock("next1", "Assign"));
  page.addBlock(makeBlock("next2", "Assign"));
  link(page, "b1p", "output", "next1", "ref");
  link(page, "opt", "beta1_power", "next1", "value");
  link(page, "b2p", "output", "next2", "ref");
  link(page, "opt", "beta2_power", "next2", "value");
  Evaluator ev(builtinRegistry());
  for (size_t s = 0; s < 3; ++s) {
    const Json& want = c.at("steps")[s];
    feedGrad(ev, c, s);
    const EvalReport r = step(ev, page);
    REQUIRE(r.failed.empty());
    const auto state = ev.stateTensors();
    CHECK(keys(state) == std::set<std::string>{"w", "m", "v", "b1p", "b2p"});
    requireBits(state.at("m"), caseFloats(want.at("m")), "m");
    requireBits(state.at("v"), caseFloats(want.at("v")), "v");
    requireBits(state.at("w"), caseFloats(want.at("var")), "var");
    if (s + 1 < 3)
      requireBits(state.at("b1p"), {caseFloat(c.at("steps")[s + 1].at("beta1_power"))}, "b1p");
  }
}

TEST_CASE("optimizer blocks: Assign, AssignAdd and AssignSub, step after step",
          "[optimizer-blocks]") {
  Page page;
  addVariable(page, "a", {3}, {1, 2, 3});
  addVariable(page, "b", {3}, {1, 2, 3});
  addVariable(page, "c", {3}, {1, 2, 3});
  page.addBlock(constBlock("d", {3}, {0.5f, 0.25f, -1}));
  page.addBlock(makeBlock("set", "Assign"));
  page.addBlock(makeBlock("add", "AssignAdd"));
  page.addBlock(makeBlock("sub", "AssignSub"));
  const std::pair<const char*, const char*> wires[] = {{"a", "set"}, {"b", "add"}, {"c", "sub"}};
  for (const auto& [var, op] : wires) {
    link(page, var, "output", op, "ref");
    link(page, "d", "output", op, "value");
  }
  Evaluator ev(builtinRegistry());
  REQUIRE(step(ev, page).applied);
  CHECK(ev.stateTensors().at("a").toVector() == std::vector<float>{0.5f, 0.25f, -1});
  CHECK(ev.stateTensors().at("b").toVector() == std::vector<float>{1.5f, 2.25f, 2});
  CHECK(ev.stateTensors().at("c").toVector() == std::vector<float>{0.5f, 1.75f, 4});
  CHECK(ev.result("add.result_output_ref")->toVector() == std::vector<float>{1.5f, 2.25f, 2});
  REQUIRE(step(ev, page).applied);
  CHECK(ev.stateTensors().at("a").toVector() == std::vector<float>{0.5f, 0.25f, -1});
  CHECK(ev.stateTensors().at("b").toVector() == std::vector<float>{2, 2.5f, 1});
  CHECK(ev.stateTensors().at("c").toVector() == std::vector<float>{0, 1.5f, 5});
  // An evaluation that is not a step reads the values and changes nothing.
  const EvalReport r = ev.evaluate(page);
  CHECK_FALSE(r.applied);
  CHECK(ev.result("a.result_output")->toVector() == std::vector<float>{0.5f, 0.25f, -1});
  CHECK(ev.result("b.result_output")->toVector() == std::vector<float>{2, 2.5f, 1});
  CHECK(ev.stateTensors().at("b").toVector() == std::vector<float>{2, 2.5f, 1});
  CHECK(ev.stepCount() == 2);
}

// ---- Step semantics ---------------------------------------------------------------------------

TEST_CASE("optimizer blocks: every block sees the values from the start of the step",
          "[optimizer-blocks]") {
  // Two Variables swapped by two Assigns in one step, and a Square reading one of them.
  Page page;
  page.addBlock(makeBlock("swap_ab", "Assign"));  // listed first: page order must not matter
  page.addBlock(makeBlock("swap_ba", "Assign"));
  addVariable(page, "a", {2}, {1, 2});
  addVariable(page, "b", {2}, {3, 4});
  page.addBlock(makeBlock("sq", "Square"));
  link(page, "a", "output", "swap_ab", "ref");
  link(page, "b", "output", "swap_ab", "value");
  link(page, "b", "output", "swap_ba", "ref");
  link(page, "a", "output", "swap_ba", "value");
  link(page, "a", "output", "sq", "x");
  Evaluator ev(builtinRegistry());
  REQUIRE(step(ev, page).applied);
  CHECK(ev.stateTensors().at("a").toVector() == std::vector<float>{3, 4});
  CHECK(ev.stateTensors().at("b").toVector() == std::vector<float>{1, 2});
  CHECK(ev.result("sq.result_y")->toVector() == std::vector<float>{1, 4});
  REQUIRE(step(ev, page).applied);
  CHECK(ev.stateTensors().at("a").toVector() == std::vector<float>{1, 2});
  CHECK(ev.stateTensors().at("b").toVector() == std::vector<float>{3, 4});
  CHECK(ev.result("sq.result_y")->toVector() == std::vector<float>{9, 16});
}

TEST_CASE("optimizer blocks: a page without Variables steps as it evaluates",
          "[optimizer-blocks]") {
  Page page;
  page.addBlock(constBlock("x", {3}, {-1, 2, 3}));
  page.addBlock(makeBlock("sq", "Square"));
  link(page, "x", "output", "sq", "x");
  Evaluator plain(builtinRegistry()), stepped(builtinRegistry());
  plain.evaluate(page);
  const EvalReport r = step(stepped, page);
  CHECK(r.failed.empty());
  CHECK(bitwiseEqual(*plain.result("sq.result_y"), *stepped.result("sq.result_y")));
  CHECK(stepped.stateTensors().empty());
  // Nothing changed, so the next step computes nothing again.
  const EvalReport again = step(stepped, page);
  CHECK(again.computed.empty());
  CHECK(again.reused.size() == 2);
}

TEST_CASE("optimizer blocks: two updates of one Variable in a step name each other, none applied",
          "[optimizer-blocks]") {
  Page page;
  addVariable(page, "w", {2}, {1, 2});
  page.addBlock(constBlock("d", {2}, {1, 1}));
  page.addBlock(scalarBlock("lr", 0.5f));
  page.addBlock(makeBlock("inc", "AssignAdd"));
  page.addBlock(makeBlock("gd", "ApplyGradientDescent"));
  page.addBlock(makeBlock("other", "AssignSub"));  // a Variable of its own: unaffected
  addVariable(page, "u", {2}, {5, 5});
  link(page, "w", "output", "inc", "ref");
  link(page, "d", "output", "inc", "value");
  link(page, "w", "output", "gd", "var");
  link(page, "lr", "output", "gd", "alpha");
  link(page, "d", "output", "gd", "delta");
  link(page, "u", "output", "other", "ref");
  link(page, "d", "output", "other", "value");
  Evaluator ev(builtinRegistry());
  const EvalReport r = step(ev, page);
  CHECK_FALSE(r.applied);
  const std::string& inc = errorOf(ev, "inc");
  const std::string& gd = errorOf(ev, "gd");
  CHECK(inc.find("Variable 'w'") != std::string::npos);
  CHECK(inc.find("block 'gd'") != std::string::npos);
  CHECK(gd.find("block 'inc'") != std::string::npos);
  CHECK(ev.state(BlockId("other"))->status == BlockStatus::Ok);
  CHECK(ev.stateTensors().empty());
  CHECK(ev.stepCount() == 0);
}

TEST_CASE("optimizer blocks: one block updating a Variable through two slots is an error",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("momentum");
  Page page = optimizerPage("ApplyMomentum", c, {"lr", "momentum"});
  link(page, "w", "output", "opt", "accum");
  Evaluator ev(builtinRegistry());
  CHECK_FALSE(step(ev, page).applied);
  CHECK(errorOf(ev, "opt").find("twice") != std::string::npos);
}

TEST_CASE("optimizer blocks: var or ref not wired straight from a Variable is an error",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("gradient_descent");
  Page page = optimizerPage("ApplyGradientDescent", c, {"alpha"});
  page.removeLink({{BlockId("w"), PortName("output")}, {BlockId("opt"), PortName("var")}});
  page.addBlock(constBlock("k", {5}, {1, 2, 3, 4, 5}));
  link(page, "k", "output", "opt", "var");
  Evaluator ev(builtinRegistry());
  CHECK_FALSE(step(ev, page).applied);
  CHECK(errorOf(ev, "opt") ==
        "input 'var' must be wired straight from the output of the Variable it updates, but it "
        "comes from k.output (Const)");
  // Through another block: also refused, and the message names it.
  Page viaSquare;
  addVariable(viaSquare, "w", {2}, {1, 2});
  viaSquare.addBlock(makeBlock("sq", "Square"));
  viaSquare.addBlock(makeBlock("set", "Assign"));
  link(viaSquare, "w", "output", "sq", "x");
  link(viaSquare, "sq", "y", "set", "ref");
  link(viaSquare, "w", "output", "set", "value");
  Evaluator ev2(builtinRegistry());
  CHECK_FALSE(step(ev2, viaSquare).applied);
  CHECK(errorOf(ev2, "set").find("sq.y (Square)") != std::string::npos);
  CHECK(ev2.stateTensors().empty());
}

TEST_CASE("optimizer blocks: TensorFlow's messages for shapes and scalars", "[optimizer-blocks]") {
  auto errorFor = [](const std::string& type, const std::map<std::string, Shape>& inputs,
                     Shape varShape = {2}) {
    Page page;
    addVariable(page, "w", varShape, std::vector<float>(static_cast<size_t>(varShape[0]), 1.0f));
    page.addBlock(makeBlock("opt", type));
    link(page, "w", "output", "opt", type.rfind("Assign", 0) == 0 ? "ref" : "var");
    for (const auto& [port, shape] : inputs) {
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      // Slots the block updates must come from Variables; the rest may be Consts.
      const bool slot = port == "accum" || port == "m" || port == "v";
      const std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
      if (slot)
        addVariable(page, "k_" + port, shape, zeros);
      else
        page.addBlock(constBlock("k_" + port, shape, zeros));
      link(page, "k_" + port, "output", "opt", port);
    }
    Evaluator ev(builtinRegistry());
    const EvalReport r = step(ev, page);
    const std::string error = errorOf(ev, "opt");
    CHECK(r.applied == error.empty());
    CHECK(ev.stateTensors().empty() == !r.applied);
    return error;
  };
  CHECK(errorFor("Assign", {{"value", {3}}}) ==
        "Assign requires shapes of both tensors to match. lhs shape= [2] rhs shape= [3]");
  CHECK(errorFor("AssignAdd", {{"value", {2, 1}}}) ==
        "Parameters and update must be the same size: ref shape= [2] value shape= [2,1]");
  CHECK(errorFor("AssignSub", {{"value", {}}}) ==
        "Parameters and update must be the same size: ref shape= [2] value shape= []");
  CHECK(errorFor("ApplyGradientDescent", {{"alpha", {2}}, {"delta", {2}}}) ==
        "alpha is not a scalar: [2]");
  CHECK(errorFor("ApplyGradientDescent", {{"alpha", {}}, {"delta", {3}}}) ==
        "var and delta do not have the same shape[2] [3]");
  const std::map<std::string, Shape> momentum{{"lr", {}}, {"grad", {2}}, {"momentum", {}}};
  auto with = [](std::map<std::string, Shape> m, const std::string& port, Shape s) {
    m[port] = std::move(s);
    return m;
  };
  CHECK(errorFor("ApplyMomentum", with(momentum, "lr", {1})) == "lr is not a scalar: [1]");
  CHECK(errorFor("ApplyMomentum", with(momentum, "grad", {3})) ==
        "var and grad do not have the same shape[2] [3]");
  CHECK(errorFor("ApplyMomentum", with(momentum, "accum", {2, 2})) ==
        "var and accum do not have the same shape[2] [2,2]");
  CHECK(errorFor("ApplyMomentum", with(momentum, "momentum", {2})) ==
        "momentum is not a scalar: [2]");
  const std::map<std::string, Shape> adam{
      {"lr", {}}, {"beta1", {}}, {"beta2", {}}, {"epsilon", {}}, {"grad", {2}}};
  CHECK(errorFor("ApplyAdam", with(adam, "beta1_power", {2})) ==
        "beta1_power is not a scalar: [2]");
  CHECK(errorFor("ApplyAdam", with(adam, "beta2", {1, 1})) == "beta2 is not a scalar: [1,1]");
  CHECK(errorFor("ApplyAdam", with(adam, "v", {3})) ==
        "var and v do not have the same shape[2] [3]");
  CHECK(errorFor("ApplyAdam", with(adam, "grad", {4})) ==
        "var and grad do not have the same shape[2] [4]");
  CHECK(errorFor("ApplyAdam", adam) == "");  // the same page, valid
}

TEST_CASE("optimizer blocks: a held slot that no longer fits var asks for a reset",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("momentum");
  Page page = optimizerPage("ApplyMomentum", c, {"lr", "momentum"});
  Evaluator ev(builtinRegistry());
  feedGrad(ev, c, 0);
  REQUIRE(step(ev, page).applied);
  // var rewired to a Variable of another shape: the held accumulator has var's old shape.
  addVariable(page, "w2", {2}, {1, 2});
  page.removeLink({{BlockId("w"), PortName("output")}, {BlockId("opt"), PortName("var")}});
  link(page, "w2", "output", "opt", "var");
  ev.setFeed(BlockId("g"), Tensor::fromValues({2}, {1, 1}));
  const auto before = ev.stateTensors();
  CHECK_FALSE(step(ev, page).applied);
  CHECK(errorOf(ev, "opt") ==
        "holds accum of shape [5] but var has shape [2]; reset the page's state to start accum "
        "again");
  CHECK(sameBits(before, ev.stateTensors()));
  ev.resetState();
  CHECK(step(ev, page).applied);
}

TEST_CASE("optimizer blocks: resetState returns Variables and slots to their initial values",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("adam");
  const Page page = optimizerPage("ApplyAdam", c, {"lr", "beta1", "beta2", "epsilon"});
  Evaluator ev(builtinRegistry());
  feedGrad(ev, c, 0);
  REQUIRE(step(ev, page).applied);
  const auto first = ev.stateTensors();
  feedGrad(ev, c, 1);
  REQUIRE(step(ev, page).applied);
  CHECK_FALSE(sameBits(first, ev.stateTensors()));
  ev.resetState();
  CHECK(ev.stateTensors().empty());
  CHECK(ev.stepCount() == 0);
  ev.evaluate(page);
  requireBits(*ev.result("w.result_output"), caseFloats(c.at("var0")), "w after reset");
  feedGrad(ev, c, 0);
  REQUIRE(step(ev, page).applied);
  CHECK(sameBits(first, ev.stateTensors()));
  CHECK(ev.stepCount() == 1);
}

TEST_CASE("optimizer blocks: stateLayout, stateTensors and loadState name every held value",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("adam");
  Page page = optimizerPage("ApplyAdam", c, {"lr", "beta1", "beta2", "epsilon"});
  addVariable(page, "b1p", {}, {0.9f});
  link(page, "b1p", "output", "opt", "beta1_power");
  Evaluator ev(builtinRegistry());
  const std::map<std::string, Shape> layout = ev.stateLayout(page);
  const std::map<std::string, Shape> want{
      {"w", {5}}, {"b1p", {}}, {"opt.m", {5}}, {"opt.v", {5}}, {"opt.beta2_power", {}}};
  CHECK(layout == want);
  feedGrad(ev, c, 0);
  REQUIRE(step(ev, page).applied);
  const auto saved = ev.stateTensors();
  CHECK(keys(saved) == std::set<std::string>{"w", "b1p", "opt.m", "opt.v", "opt.beta2_power"});
  for (const auto& [name, shape] : want) CHECK(saved.at(name).shape() == shape);

  auto without = [&](const std::string& name) {
    auto m = saved;
    m.erase(name);
    return m;
  };
  Evaluator fresh(builtinRegistry());
  CHECK_THROWS_WITH(fresh.loadState(page, without("opt.m"), 1),
                    Catch::Contains("'opt.m'") && Catch::Contains("no"));
  auto wrong = saved;
  wrong["opt.v"] = Tensor::zeros({4});
  CHECK_THROWS_WITH(fresh.loadState(page, wrong, 1),
                    Catch::Contains("'opt.v'") && Catch::Contains("[4]"));
  auto extra = saved;
  extra["opt.accum"] = Tensor::zeros({5});
  CHECK_THROWS_WITH(fresh.loadState(page, extra, 1), Catch::Contains("'opt.accum'"));
  CHECK(fresh.stateTensors().empty());
  CHECK(fresh.stepCount() == 0);
  fresh.loadState(page, saved, 1);
  CHECK(sameBits(fresh.stateTensors(), saved));
  CHECK(fresh.stepCount() == 1);
  // A bad state loses nothing of what an evaluator holds.
  feedGrad(ev, c, 1);
  REQUIRE(step(ev, page).applied);
  const auto held = ev.stateTensors();
  CHECK_THROWS_WITH(ev.loadState(page, wrong, 1), Catch::Contains("'opt.v'"));
  CHECK(sameBits(ev.stateTensors(), held));
  CHECK(ev.stepCount() == 2);
}

namespace {

// A page with a larger Variable (several cancel chunks) trained by Adam, Momentum and gradient
// descent at once, its gradients made on the page: grad = w * w - t.
Page bigTrainingPage(int64_t n) {
  Page page;
  std::vector<float> w0(static_cast<size_t>(n)), t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    w0[static_cast<size_t>(i)] = std::sin(0.001f * static_cast<float>(i));
    t[static_cast<size_t>(i)] = 0.25f * std::cos(0.003f * static_cast<float>(i));
  }
  for (const char* v : {"wa", "wm", "wg"}) addVariable(page, v, {n}, w0);
  page.addBlock(constBlock("t", {n}, t));
  for (const auto& [k, value] : std::vector<std::pair<std::string, float>>{{"lr", 0.01f},
                                                                           {"beta1", 0.9f},
                                                                           {"beta2", 0.999f},
                                                                           {"epsilon", 1e-7f},
                                                                           {"momentum", 0.9f}})
    page.addBlock(scalarBlock(k, value));
  const std::pair<const char*, const char*> opts[] = {
      {"wa", "ApplyAdam"}, {"wm", "ApplyMomentum"}, {"wg", "ApplyGradientDescent"}};
  for (const auto& [v, type] : opts) {
    const std::string id(v);
    page.addBlock(makeBlock(id + "_sq", "Square"));
    page.addBlock(makeBlock(id + "_g", "Sub"));
    page.addBlock(
        makeBlock(id + "_opt", type, id == "wm" ? Json{{"use_nesterov", true}} : Json::object()));
    link(page, id, "output", id + "_sq", "x");
    link(page, id + "_sq", "y", id + "_g", "x");
    link(page, "t", "output", id + "_g", "y");
    link(page, id, "output", id + "_opt", "var");
    link(page, id + "_g", "z", id + "_opt", id == "wg" ? "delta" : "grad");
  }
  for (const char* k : {"lr", "beta1", "beta2", "epsilon"}) link(page, k, "output", "wa_opt", k);
  link(page, "lr", "output", "wm_opt", "lr");
  link(page, "momentum", "output", "wm_opt", "momentum");
  link(page, "lr", "output", "wg_opt", "alpha");
  return page;
}

}  // namespace

TEST_CASE("optimizer blocks: 1 and 2 threads give the same bits after N steps",
          "[optimizer-blocks]") {
  const Page page = bigTrainingPage(150000);
  Evaluator one(builtinRegistry()), two(builtinRegistry());
  for (int s = 0; s < 6; ++s) {
    REQUIRE(step(one, page, 1).applied);
    REQUIRE(step(two, page, 2).applied);
  }
  const auto a = one.stateTensors(), b = two.stateTensors();
  CHECK(keys(a) == std::set<std::string>{"wa", "wm", "wg", "wa_opt.m", "wa_opt.v",
                                         "wa_opt.beta1_power", "wa_opt.beta2_power",
                                         "wm_opt.accum"});
  CHECK(sameBits(a, b));
  // The Variables did learn.
  CHECK_FALSE(bitwiseEqual(a.at("wa"), *one.result("wa0.result_output")));
}

TEST_CASE("optimizer blocks: N/2 steps, save, load into a fresh evaluator, N/2 more == N steps",
          "[optimizer-blocks]") {
  const Page page = bigTrainingPage(1000);
  const int n = 8;
  Evaluator whole(builtinRegistry());
  for (int s = 0; s < n; ++s) REQUIRE(step(whole, page).applied);

  Evaluator firstHalf(builtinRegistry());
  for (int s = 0; s < n / 2; ++s) REQUIRE(step(firstHalf, page).applied);
  const auto saved = firstHalf.stateTensors();
  const int64_t steps = firstHalf.stepCount();
  CHECK(steps == n / 2);

  Evaluator secondHalf(builtinRegistry());
  secondHalf.loadState(page, saved, steps);
  for (int s = 0; s < n / 2; ++s) REQUIRE(step(secondHalf, page).applied);
  CHECK(secondHalf.stepCount() == n);
  CHECK(sameBits(whole.stateTensors(), secondHalf.stateTensors()));
  CHECK_FALSE(sameBits(whole.stateTensors(), saved));
}

TEST_CASE("optimizer blocks: a step that fetches a subset holds every Variable, so it loads back",
          "[optimizer-blocks]") {
  // `u` has no updater and nothing fetched reads it; it still belongs to the page's state.
  Page page;
  addVariable(page, "w", {2}, {1, 2});
  addVariable(page, "u", {2}, {7, 8});
  page.addBlock(constBlock("d", {2}, {1, 1}));
  page.addBlock(makeBlock("inc", "AssignAdd"));
  page.addBlock(makeBlock("sq", "Square"));
  link(page, "w", "output", "inc", "ref");
  link(page, "d", "output", "inc", "value");
  link(page, "u", "output", "sq", "x");
  Evaluator ev(builtinRegistry());
  EvalOptions o;
  o.step = true;
  o.fetch = {"w.result_output"};
  o.releaseIntermediates = true;
  REQUIRE(ev.evaluate(page, o).applied);
  const auto state = ev.stateTensors();
  CHECK(keys(state) == keys(ev.stateLayout(page)));
  CHECK(state.at("u").toVector() == std::vector<float>{7, 8});
  Evaluator fresh(builtinRegistry());
  CHECK_NOTHROW(fresh.loadState(page, state, ev.stepCount()));
}

TEST_CASE("optimizer blocks: a step cancelled after an update was staged applies nothing",
          "[optimizer-blocks]") {
  const Json& c = optimizerCase("gradient_descent");
  Page page = optimizerPage("ApplyGradientDescent", c, {"alpha"});
  page.addBlock(makeBlock("after", "Square"));  // runs after opt
  link(page, "opt", "out", "after", "x");
  Evaluator ev(builtinRegistry());
  feedGrad(ev, c, 0);
  std::atomic<bool> cancel{false};
  EvalOptions o;
  o.step = true;
  o.cancel = &cancel;
  o.onBlockFinished = [&](const BlockId& id, const BlockState&) {
    if (id.str() == "opt") cancel.store(true);
  };
  const EvalReport r = ev.evaluate(page, o);
  CHECK(r.cancelled);
  CHECK_FALSE(r.applied);
  CHECK(ev.stateTensors().empty());
  CHECK(ev.stepCount() == 0);
  cancel.store(false);
  o.onBlockFinished = nullptr;
  CHECK(ev.evaluate(page, o).applied);
  requireBits(ev.stateTensors().at("w"), caseFloats(c.at("steps")[0].at("var")), "w");
}

}  // namespace test_optimizer_blocks
