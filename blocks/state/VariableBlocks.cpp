// Variable (a tensor held across steps) and Gradients (the evaluator's backward pass).

#include "blocks/RegisterBlocks.h"
#include "runtime/Error.h"

namespace qs {

namespace {

void variableCheck(BlockContext& ctx) {
  const Shape& initial = ctx.inputShape("initial_value");
  if (const Tensor* held = ctx.held(""); held && held->shape() != initial)
    throw Error("holds a value of shape " + shapeToString(held->shape()) +
                " but its initial_value now has shape " + shapeToString(initial) +
                "; reset the page's state to start again from the initial value");
  ctx.setOutputShape("output", initial);
}

void variableCompute(BlockContext& ctx) {
  const Tensor* held = ctx.held("");
  ctx.setOutput("output", held ? *held : ctx.input("initial_value"));
}

void gradientsCheck(BlockContext& ctx) {
  if (ctx.hasInput("grad_ys") && ctx.inputShape("grad_ys") != ctx.inputShape("ys"))
    throw Error("grad_ys has shape " + shapeToString(ctx.inputShape("grad_ys")) +
                " but ys has shape " + shapeToString(ctx.inputShape("ys")) +
                "; they must be the same");
  ctx.setOutputShape("output", ctx.inputShape("xs"));
}

void gradientsCompute(BlockContext& ctx) {
  ctx.setOutput("output", ctx.symbolicGradient("ys", "xs", "grad_ys"));
}

}  // namespace

void registerVariableBlocks(BlockRegistry& registry) {
  {
    BlockDescriptor d;
    d.type = "Variable";
    d.category = "Training";
    d.summary = "A tensor held across steps, starting from its initial value.";
    d.doc =
        "TensorFlow's `VariableV2` with its initializer in one block. At the first step, and at "
        "every reset of the page's state, `output` is `initial_value`; afterwards it is the "
        "value the Variable holds at the start of the step. The blocks whose `var` or `ref` is "
        "wired from `output` (Assign, AssignAdd, AssignSub, the Apply* optimizers) give it its "
        "value for the next step, once every block of the step has computed. A Variable takes "
        "at most one update per step. Its shape is that of `initial_value`.";
    d.ports =
        opPorts({tensorInput("initial_value", RankRule::any(),
                             "The value at the first step and after a reset.")},
                {tensorOutput("output", RankRule::any(), "The value at the start of this step.")});
    d.attrs = {{.name = "trainable",
                .type = AttrType::Bool,
                .defaultValue = AttrValue{true},
                .doc = "TensorFlow's flag for the variables an optimizer trains. The page wires "
                       "its own updates, so it changes nothing here; it is kept in the page and "
                       "shown as a mark for readers."}};
    d.check = variableCheck;
    d.compute = variableCompute;
    d.variable = true;
    registry.add(std::move(d));
  }
  {
    BlockDescriptor d;
    d.type = "Gradients";
    d.category = "Training";
    d.summary = "The gradient of the sum of ys with respect to xs (tf.gradients).";
    d.doc =
        "Computes d(sum of `ys`)/d`xs`, each element of `ys` weighted by `grad_ys` when that is "
        "wired (its shape must be that of `ys`), as TensorFlow's `AddSymbolicGradients`: from "
        "the gradient each block type registers, applied in reverse order over the blocks on "
        "the paths from `xs` to `ys`, with the forward results of the same evaluation. "
        "Gradients that meet at a block are added. If `ys` does not depend on `xs`, the result "
        "is zeros. A block on a path from `xs` to `ys` without a gradient (see each block's "
        "reference page) is an error that names it. The result has the shape of `xs`.";
    PortDescriptor gradYs =
        tensorInput("grad_ys", RankRule::any(), "Weights of the elements of ys (default ones).");
    gradYs.required = false;
    d.ports =
        opPorts({tensorInput("ys", RankRule::any(), "The tensor whose sum is differentiated."),
                 tensorInput("xs", RankRule::any(), "The tensor to differentiate with respect to."),
                 std::move(gradYs)},
                {tensorOutput("output", RankRule::any(), "d(sum ys)/d xs, of the shape of xs.")});
    d.check = gradientsCheck;
    d.compute = gradientsCompute;
    d.readsUpstream = true;
    registry.add(std::move(d));
  }
}

}  // namespace qs
