// Assign, AssignAdd, AssignSub and TensorFlow's Apply* optimizers: blocks that update a Variable.
// Each computes the value its Variable (and each of its slots) takes after the step; the evaluator
// applies it once the whole step has succeeded.

#include <algorithm>
#include <span>

#include "blocks/Chunks.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/TfShape.h"
#include "blocks/state/OptimizerMath.h"
#include "runtime/Error.h"

namespace qs {

namespace {

// ---- Shared checks and values -----------------------------------------------------------------

void requireScalar(const BlockContext& ctx, const std::string& port) {
  const Shape& s = ctx.inputShape(port);
  if (!s.empty()) throw Error(port + " is not a scalar: " + tfShape(s));
}

float scalarInput(const BlockContext& ctx, const std::string& port) {
  return ctx.input(port).values()[0];
}

// The shape of a slot at the start of the step: the wired tensor's, the held one's, or none yet
// (the slot then starts from zeros of var's shape).
const Shape* slotShape(const BlockContext& ctx, const std::string& slot) {
  if (ctx.hasInput(slot)) return &ctx.inputShape(slot);
  if (const Tensor* held = ctx.held(slot)) return &held->shape();
  return nullptr;
}

// TensorFlow's "var and accum do not have the same shape[2] [3]" for a wired slot. A held slot
// can only disagree after var was rewired to a Variable of another shape.
void requireLikeVar(const BlockContext& ctx, const std::string& slot) {
  const Shape& var = ctx.inputShape("var");
  const Shape* s = slotShape(ctx, slot);
  if (!s || *s == var) return;
  if (!ctx.hasInput(slot))
    throw Error("holds " + slot + " of shape " + tfShape(*s) + " but var has shape " +
                tfShape(var) + "; reset the page's state to start " + slot + " again");
  throw Error("var and " + slot + " do not have the same shape" + tfShape(var) + " " + tfShape(*s));
}

Tensor copyOf(const Tensor& t) {
  Tensor r = Tensor::uninitialized(t.shape());
  std::copy(t.values().begin(), t.values().end(), r.mutableValues().begin());
  return r;
}

// A new tensor holding the slot's value at the start of the step, for the update to write into.
Tensor slotStart(const BlockContext& ctx, const std::string& slot, const Shape& varShape) {
  if (ctx.hasInput(slot)) return copyOf(ctx.input(slot));
  if (const Tensor* held = ctx.held(slot)) return copyOf(*held);
  return Tensor::zeros(varShape);
}

// Runs fn(begin, end) over the elements in chunks, so that a cancelled run stops early. Every
// update is elementwise, so chunking does not change a bit.
template <typename Fn>
void updateInChunks(const BlockContext& ctx, int64_t n, Fn&& fn) {
  forEachChunk(ctx, 0, n, kCancelChunkElements, [&](int64_t b, int64_t e) {
    fn(static_cast<size_t>(b), static_cast<size_t>(e - b));
  });
}

PortDescriptor optionalInput(std::string name, RankRule rank, std::string doc) {
  PortDescriptor p = tensorInput(std::move(name), rank, std::move(doc));
  p.required = false;
  return p;
}

AttrDescriptor nesterovAttr(std::string doc) {
  return {.name = "use_nesterov",
          .type = AttrType::Bool,
          .defaultValue = AttrValue{false},
          .doc = std::move(doc)};
}

const char* kVarDoc =
    "The Variable to update: wired straight from a Variable's `output`, whose value at the "
    "start of the step it carries.";

// ---- Assign, AssignAdd, AssignSub -------------------------------------------------------------

enum class AssignKind { Set, Add, Sub };

void assignCheck(BlockContext& ctx, AssignKind kind) {
  const Shape& ref = ctx.inputShape("ref");
  const Shape& value = ctx.inputShape("value");
  if (ref != value) {
    if (kind == AssignKind::Set)
      throw Error("Assign requires shapes of both tensors to match. lhs shape= " + tfShape(ref) +
                  " rhs shape= " + tfShape(value));
    throw Error("Parameters and update must be the same size: ref shape= " + tfShape(ref) +
                " value shape= " + tfShape(value));
  }
  ctx.setOutputShape("output_ref", ref);
}

void assignCompute(BlockContext& ctx, AssignKind kind) {
  const Tensor& value = ctx.input("value");
  if (kind == AssignKind::Set) {
    // Tensors are read-only once published, so the Variable may share the value's storage.
    ctx.setOutput("output_ref", value);
    return;
  }
  const Tensor& ref = ctx.input("ref");
  Tensor out = Tensor::uninitialized(ref.shape());
  const float* r = ref.data();
  const float* v = value.data();
  float* o = out.mutableData();
  updateInChunks(ctx, ref.size(), [&](size_t b, size_t n) {
    for (size_t i = b; i < b + n; ++i) o[i] = kind == AssignKind::Add ? r[i] + v[i] : r[i] - v[i];
  });
  ctx.setOutput("output_ref", std::move(out));
}

void registerAssign(BlockRegistry& registry, const std::string& type, AssignKind kind,
                    const std::string& formula, const std::string& valueDoc) {
  BlockDescriptor d;
  d.type = type;
  d.category = "Training";
  d.summary = "Gives a Variable the value " + formula + " after the step (tf." +
              (kind == AssignKind::Set   ? "assign"
               : kind == AssignKind::Add ? "assign_add"
                                         : "assign_sub") +
              ").";
  d.doc = "TensorFlow's `" + type +
          "` on a Variable wired to `ref`: once every block of the step " +
          "has computed, the Variable holds " + formula +
          ", where `ref` is its value at the start of the step. Blocks that read the Variable in "
          "the same step see the value from the start of the step, whatever the order of the "
          "blocks. `output_ref` is the value the Variable will hold. `ref` and `value` must have "
          "the same shape.";
  d.ports =
      opPorts({tensorInput("ref", RankRule::any(), kVarDoc),
               tensorInput("value", RankRule::any(), valueDoc)},
              {tensorOutput("output_ref", RankRule::any(),
                            "The value the Variable holds after this step: " + formula + ".")});
  d.check = [kind](BlockContext& ctx) { assignCheck(ctx, kind); };
  d.compute = [kind](BlockContext& ctx) { assignCompute(ctx, kind); };
  d.stateSlots = {{.input = "ref", .output = "output_ref", .mustBeWired = true}};
  registry.add(std::move(d));
}

// ---- ApplyGradientDescent ---------------------------------------------------------------------

void gradientDescentCheck(BlockContext& ctx) {
  requireScalar(ctx, "alpha");
  const Shape& var = ctx.inputShape("var");
  const Shape& delta = ctx.inputShape("delta");
  if (var != delta)
    throw Error("var and delta do not have the same shape" + tfShape(var) + " " + tfShape(delta));
  ctx.setOutputShape("out", var);
}

void gradientDescentCompute(BlockContext& ctx) {
  Tensor out = copyOf(ctx.input("var"));
  const float alpha = scalarInput(ctx, "alpha");
  std::span<float> var = out.mutableValues();
  std::span<const float> delta = ctx.input("delta").values();
  updateInChunks(ctx, out.size(), [&](size_t b, size_t n) {
    optim::applyGradientDescent(var.subspan(b, n), alpha, delta.subspan(b, n));
  });
  ctx.setOutput("out", std::move(out));
}

void registerGradientDescent(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "ApplyGradientDescent";
  d.category = "Training";
  d.summary = "One step of gradient descent on a Variable: var - delta * alpha.";
  d.doc =
      "TensorFlow's `ApplyGradientDescent`: the Variable wired to `var` holds "
      "`var - delta * alpha` (float32, one rounding per operation) after the step. `alpha` is a "
      "scalar (rank 0, e.g. a `Const` with `shape: []`); `delta`, usually the output of a "
      "`Gradients` block, has the shape of `var`.";
  d.ports = opPorts({tensorInput("var", RankRule::any(), kVarDoc),
                     tensorInput("alpha", RankRule::exactly(0), "The learning rate, a scalar."),
                     tensorInput("delta", RankRule::any(), "The gradient, of the shape of var.")},
                    {tensorOutput("out", RankRule::any(),
                                  "The Variable's value after this step: var - delta * alpha.")});
  d.check = gradientDescentCheck;
  d.compute = gradientDescentCompute;
  d.stateSlots = {{.input = "var", .output = "out", .mustBeWired = true}};
  registry.add(std::move(d));
}

// ---- ApplyMomentum ----------------------------------------------------------------------------

void momentumCheck(BlockContext& ctx) {
  requireScalar(ctx, "lr");
  requireLikeVar(ctx, "accum");
  requireLikeVar(ctx, "grad");
  requireScalar(ctx, "momentum");
  const Shape& var = ctx.inputShape("var");
  ctx.setOutputShape("out", var);
  ctx.setOutputShape("accum", var);
}

void momentumCompute(BlockContext& ctx) {
  Tensor out = copyOf(ctx.input("var"));
  Tensor accum = slotStart(ctx, "accum", out.shape());
  const float lr = scalarInput(ctx, "lr"), momentum = scalarInput(ctx, "momentum");
  const bool nesterov = ctx.attrs().getBool("use_nesterov");
  std::span<float> var = out.mutableValues(), acc = accum.mutableValues();
  std::span<const float> grad = ctx.input("grad").values();
  updateInChunks(ctx, out.size(), [&](size_t b, size_t n) {
    optim::applyMomentum(var.subspan(b, n), acc.subspan(b, n), lr, grad.subspan(b, n), momentum,
                         nesterov);
  });
  ctx.setOutput("out", std::move(out));
  ctx.setOutput("accum", std::move(accum));
}

void registerMomentum(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "ApplyMomentum";
  d.category = "Training";
  d.summary = "One step of gradient descent with momentum on a Variable.";
  d.doc =
      "TensorFlow's `ApplyMomentum`, float32 in TensorFlow's order: `accum = accum * momentum + "
      "grad`, then `var = var - accum * lr`, or with `use_nesterov` "
      "`var = var - (grad * lr + accum * momentum * lr)` with the new `accum`. The Variable wired "
      "to `var` holds the new value after the step. The accumulator is the block's own (zeros at "
      "the first step and after a reset, saved with the page's state as `<block id>.accum`) "
      "unless `accum` is wired from another Variable, which then holds it, as in TensorFlow. "
      "`lr` and `momentum` are scalars (rank 0); `grad` and `accum` have the shape of `var`.";
  d.ports = opPorts(
      {tensorInput("var", RankRule::any(), kVarDoc),
       optionalInput("accum", RankRule::any(),
                     "The accumulator at the start of the step, from a Variable that holds it; "
                     "unwired, the block holds it (zeros at first)."),
       tensorInput("lr", RankRule::exactly(0), "The learning rate, a scalar."),
       tensorInput("grad", RankRule::any(), "The gradient, of the shape of var."),
       tensorInput("momentum", RankRule::exactly(0), "The momentum, a scalar.")},
      {tensorOutput("out", RankRule::any(), "The Variable's value after this step."),
       tensorOutput("accum", RankRule::any(), "The accumulator after this step.")});
  d.attrs = {
      nesterovAttr("Use Nesterov momentum: the update looks ahead along the new "
                   "accumulator.")};
  d.check = momentumCheck;
  d.compute = momentumCompute;
  d.stateSlots = {{.input = "var", .output = "out", .mustBeWired = true},
                  {.input = "accum", .output = "accum"}};
  registry.add(std::move(d));
}

// ---- ApplyAdam --------------------------------------------------------------------------------

void adamCheck(BlockContext& ctx) {
  for (const char* p : {"beta1_power", "beta2_power"})
    if (const Shape* s = slotShape(ctx, p); s && !s->empty())
      throw Error(std::string(p) + " is not a scalar: " + tfShape(*s));
  for (const char* p : {"lr", "beta1", "beta2", "epsilon"}) requireScalar(ctx, p);
  for (const char* p : {"m", "v", "grad"}) requireLikeVar(ctx, p);
  const Shape& var = ctx.inputShape("var");
  for (const char* p : {"out", "m", "v"}) ctx.setOutputShape(p, var);
  ctx.setOutputShape("beta1_power", {});
  ctx.setOutputShape("beta2_power", {});
}

// A beta power at the start of the step: wired, held, or (the first step) beta itself.
float powerStart(const BlockContext& ctx, const std::string& slot, float beta) {
  if (ctx.hasInput(slot)) return scalarInput(ctx, slot);
  if (const Tensor* held = ctx.held(slot)) return held->values()[0];
  return beta;
}

void adamCompute(BlockContext& ctx) {
  Tensor out = copyOf(ctx.input("var"));
  Tensor m = slotStart(ctx, "m", out.shape());
  Tensor v = slotStart(ctx, "v", out.shape());
  optim::AdamParams p{};
  p.lr = scalarInput(ctx, "lr");
  p.beta1 = scalarInput(ctx, "beta1");
  p.beta2 = scalarInput(ctx, "beta2");
  p.epsilon = scalarInput(ctx, "epsilon");
  p.beta1Power = powerStart(ctx, "beta1_power", p.beta1);
  p.beta2Power = powerStart(ctx, "beta2_power", p.beta2);
  p.nesterov = ctx.attrs().getBool("use_nesterov");
  std::span<float> var = out.mutableValues(), ms = m.mutableValues(), vs = v.mutableValues();
  std::span<const float> grad = ctx.input("grad").values();
  updateInChunks(ctx, out.size(), [&](size_t b, size_t n) {
    optim::applyAdam(var.subspan(b, n), ms.subspan(b, n), vs.subspan(b, n), p, grad.subspan(b, n));
  });
  ctx.setOutput("out", std::move(out));
  ctx.setOutput("m", std::move(m));
  ctx.setOutput("v", std::move(v));
  // tf.train.AdamOptimizer's _finish: each power times its beta, in float32.
  ctx.setOutput("beta1_power", Tensor::scalar(p.beta1Power * p.beta1));
  ctx.setOutput("beta2_power", Tensor::scalar(p.beta2Power * p.beta2));
}

std::vector<PortDescriptor> adamPorts() {
  const char* slotDoc =
      " at the start of the step, from a Variable that holds it; unwired, the "
      "block holds it (zeros at first).";
  const char* powerDoc =
      " at the start of the step, a scalar, read from a Variable (which this "
      "block does not update); unwired, the block holds it, starting at ";
  return opPorts(
      {tensorInput("var", RankRule::any(), kVarDoc),
       optionalInput("m", RankRule::any(), std::string("The first moment") + slotDoc),
       optionalInput("v", RankRule::any(), std::string("The second moment") + slotDoc),
       optionalInput("beta1_power", RankRule::exactly(0),
                     std::string("beta1^t") + powerDoc + "beta1."),
       optionalInput("beta2_power", RankRule::exactly(0),
                     std::string("beta2^t") + powerDoc + "beta2."),
       tensorInput("lr", RankRule::exactly(0), "The learning rate, a scalar."),
       tensorInput("beta1", RankRule::exactly(0), "Decay of the first moment, a scalar."),
       tensorInput("beta2", RankRule::exactly(0), "Decay of the second moment, a scalar."),
       tensorInput("epsilon", RankRule::exactly(0), "Added to sqrt(v), a scalar."),
       tensorInput("grad", RankRule::any(), "The gradient, of the shape of var.")},
      {tensorOutput("out", RankRule::any(), "The Variable's value after this step."),
       tensorOutput("m", RankRule::any(), "The first moment after this step."),
       tensorOutput("v", RankRule::any(), "The second moment after this step."),
       tensorOutput("beta1_power", RankRule::exactly(0),
                    "beta1^(t+1): the power for the next step (beta1_power * beta1)."),
       tensorOutput("beta2_power", RankRule::exactly(0),
                    "beta2^(t+1): the power for the next step (beta2_power * beta2).")});
}

void registerAdam(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "ApplyAdam";
  d.category = "Training";
  d.summary = "One step of Adam on a Variable.";
  d.doc =
      "TensorFlow's `ApplyAdam`, float32 in TensorFlow's order: `alpha = lr * sqrt(1 - "
      "beta2_power) / (1 - beta1_power)`; `m = m + (grad - m) * (1 - beta1)`; "
      "`v = v + (grad * grad - v) * (1 - beta2)`; `var = var - (m * alpha) / (sqrt(v) + "
      "epsilon)`, or with `use_nesterov` `var = var - ((grad * (1 - beta1) + beta1 * m) * "
      "alpha) / (sqrt(v) + epsilon)`. The Variable wired to `var` holds the new value after the "
      "step.\n\n"
      "`m` and `v` are the block's own (zeros at the first step and after a reset) unless they "
      "are wired from Variables, which then hold them. The beta powers, unwired, are held by "
      "the block as `tf.train.AdamOptimizer` keeps them: `beta1` and `beta2` at the first step, "
      "multiplied by them (float32) after each step. Wired, they are only read, as by "
      "TensorFlow's op: the page updates their Variables itself (e.g. with an `Assign` from "
      "`result_beta1_power`). Held slots are saved with the page's state as `<block id>.m`, "
      "`<block id>.v`, `<block id>.beta1_power`, `<block id>.beta2_power`. `lr`, `beta1`, "
      "`beta2`, `epsilon` and the powers are scalars (rank 0); `m`, `v` and `grad` have the "
      "shape of `var`.";
  d.ports = adamPorts();
  d.attrs = {
      nesterovAttr("Use Nesterov momentum: the update uses beta1 * m plus the current "
                   "gradient's share instead of m.")};
  d.check = adamCheck;
  d.compute = adamCompute;
  d.stateSlots = {{.input = "var", .output = "out", .mustBeWired = true},
                  {.input = "m", .output = "m"},
                  {.input = "v", .output = "v"},
                  {.input = "beta1_power", .output = "beta1_power", .updatesWired = false},
                  {.input = "beta2_power", .output = "beta2_power", .updatesWired = false}};
  registry.add(std::move(d));
}

}  // namespace

void registerOptimizerBlocks(BlockRegistry& registry) {
  registerAssign(registry, "Assign", AssignKind::Set, "`value`", "The Variable's next value.");
  registerAssign(registry, "AssignAdd", AssignKind::Add, "`ref + value`",
                 "Added to the Variable's value.");
  registerAssign(registry, "AssignSub", AssignKind::Sub, "`ref - value`",
                 "Subtracted from the Variable's value.");
  registerGradientDescent(registry);
  registerMomentum(registry);
  registerAdam(registry);
}

}  // namespace qs
