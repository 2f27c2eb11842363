// The blocks' registered gradients against references written here: central finite differences of
// double-precision forwards (plain loops, independent of the blocks), TensorFlow's tie rule for
// Min/Max worked out element by element, the *Gradient blocks bit for bit, and whole pages with the
// Gradients block against gradients derived by hand.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <set>

#include "blocks/RegisterBlocks.h"
#include "nn_dense_reference.h"
#include "nn_reference.h"
#include "runtime/AttrJson.h"
#include "runtime/BlockDocs.h"
#include "runtime/Error.h"
#include "runtime/Gradient.h"
#include "test_math_helpers.h"

namespace test_gradients {

using qs::Json;
using qs::Shape;
using qs::Tensor;

namespace {

// ---- Double-precision references --------------------------------------------------------------

struct DT {
  Shape shape;
  std::vector<double> v;
};
using Inputs = std::map<std::string, DT>;
using Forward = std::function<DT(const Inputs&)>;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Integer tensors (labels) become their values in double.
DT toDT(const Tensor& t) {
  const Tensor f = qs::castTensor(t, qs::DType::Float32);
  return {t.shape(), std::vector<double>(f.values().begin(), f.values().end())};
}

std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> c(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    c[k] = i % s[k];
    i /= s[k];
  }
  return c;
}

// Flat index in `small` (aligned on the right, dimensions of 1 broadcast) of coordinates in a
// larger shape.
int64_t smallIndex(const std::vector<int64_t>& coords, const Shape& small) {
  int64_t r = 0;
  const size_t off = coords.size() - small.size();
  for (size_t k = 0; k < small.size(); ++k)
    r = r * small[k] + (small[k] == 1 ? 0 : coords[k + off]);
  return r;
}

DT refBinary(char op, const DT& x, const DT& y) {
  const size_t rank = std::max(x.shape.size(), y.shape.size());
  Shape s(rank, 1);
  for (size_t k = 0; k < rank; ++k) {
    if (k + x.shape.size() >= rank) s[k] = std::max(s[k], x.shape[k + x.shape.size() - rank]);
    if (k + y.shape.size() >= rank) s[k] = std::max(s[k], y.shape[k + y.shape.size() - rank]);
  }
  DT z{s, std::vector<double>(numel(s))};
  for (int64_t i = 0; i < numel(s); ++i) {
    const auto c = unravel(i, s);
    const double a = x.v[smallIndex(c, x.shape)], b = y.v[smallIndex(c, y.shape)];
    z.v[i] = op == '+' ? a + b : op == '-' ? a - b : a * b;
  }
  return z;
}

DT refUnary(const std::string& op, const DT& x) {
  DT y = x;
  for (double& v : y.v) v = op == "Square" ? v * v : std::fabs(v);
  return y;
}

// Reduced axes as a mask; an empty list reduces all.
std::vector<bool> reducedMask(const std::vector<int64_t>& axes, size_t rank) {
  std::vector<bool> m(rank, axes.empty());
  for (int64_t a : axes) m[a < 0 ? a + static_cast<int64_t>(rank) : a] = true;
  return m;
}

DT refReduce(const std::string& op, const DT& x, const std::vector<int64_t>& axes, bool keep) {
  const auto mask = reducedMask(axes, x.shape.size());
  Shape kept, out;
  for (size_t k = 0; k < x.shape.size(); ++k) {
    kept.push_back(mask[k] ? 1 : x.shape[k]);
    if (!mask[k] || keep) out.push_back(kept.back());
  }
  const double init = op == "Min" ? INFINITY : op == "Max" ? -INFINITY : 0.0;
  DT y{out, std::vector<double>(numel(out), init)};
  for (int64_t i = 0; i < numel(x.shape); ++i) {
    double& acc = y.v[smallIndex(unravel(i, x.shape), kept)];
    acc = op == "Min" ? std::min(acc, x.v[i]) : op == "Max" ? std::max(acc, x.v[i]) : acc + x.v[i];
  }
  if (op == "Mean")
    for (double& v : y.v)
      v /= static_cast<double>(numel(x.shape) / std::max<int64_t>(1, numel(kept)));
  return y;
}

// What TensorFlow's FakeQuant gradient differentiates: the clamp to [min, max] (the rounding
// passes straight through). Per channel when min has one element per last dimension.
DT refClamp(const DT& x, const DT& min, const DT& max) {
  DT y = x;
  const int64_t d = static_cast<int64_t>(min.v.size());
  for (size_t i = 0; i < y.v.size(); ++i)
    y.v[i] = std::min(std::max(x.v[i], min.v[i % d]), max.v[i % d]);
  return y;
}

// d(sum w * f(inputs))/d(inputs[port]) by central differences in double.
std::vector<double> finiteDiff(const Forward& f, const Inputs& inputs, const DT& w,
                               const std::string& port, double h = 1e-3) {
  auto loss = [&](const Inputs& in) {
    const DT y = f(in);
    REQUIRE(y.shape == w.shape);
    double s = 0;
    for (size_t i = 0; i < y.v.size(); ++i) s += w.v[i] * y.v[i];
    return s;
  };
  std::vector<double> g(inputs.at(port).v.size());
  for (size_t j = 0; j < g.size(); ++j) {
    Inputs p = inputs, m = inputs;
    p[port].v[j] += h;
    m[port].v[j] -= h;
    g[j] = (loss(p) - loss(m)) / (2 * h);
  }
  return g;
}

void requireClose(const Tensor& got, const std::vector<double>& want, double tol = 1e-4) {
  REQUIRE(got.size() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": got " << got.data()[i] << ", want " << want[i]);
    CHECK(std::fabs(got.data()[i] - want[i]) <= tol * (1 + std::fabs(want[i])));
  }
}

// ---- Running one block's gradient ---------------------------------------------------------------

std::mt19937& rng() {
  static std::mt19937 r(12);
  return r;
}

Tensor randomTensor(const Shape& s, float lo = -2, float hi = 2) {
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::uninitialized(s);
  for (float& v : t.mutableValues()) v = u(rng());
  return t;
}

struct Grad {
  std::map<std::string, Tensor> forward;  // the block's outputs
  std::map<std::string, Tensor> inputGrads;
};

// Runs `type` forward through the evaluator, then its registered gradient with `outGrads`.
Grad runGrad(const std::string& type, const Json& attrs, const std::map<std::string, Tensor>& in,
             const std::map<std::string, Tensor>& outGrads, std::set<std::string> wanted = {}) {
  const qs::BlockDescriptor* desc = qs::builtinRegistry().find(type);
  REQUIRE(desc != nullptr);
  const qs::testing::BlockRun fwd = qs::testing::runBlock(type, attrs, in);
  INFO(fwd.error);
  REQUIRE(fwd.ok);
  if (wanted.empty())
    for (const auto& [port, t] : in) wanted.insert(port);
  qs::GradientCall call;
  call.inputs = in;
  call.outputs = fwd.outputs;
  call.outputGrads = outGrads;
  call.wanted = wanted;
  const qs::AttrValues resolved = qs::resolveAttrs(*desc, attrs.is_null() ? Json::object() : attrs);
  // Deep copies: a gradient must leave the tensors it reads (shared storage) as they were.
  auto copyOf = [](const std::map<std::string, Tensor>& m) {
    std::map<std::string, Tensor> r;
    for (const auto& [port, t] : m) {
      r[port] = Tensor::uninitialized(t.shape(), t.dtype());
      if (t.bytes()) std::memcpy(r[port].mutableRawData(), t.rawData(), t.bytes());
    }
    return r;
  };
  const auto before = copyOf(in), gradsBefore = copyOf(outGrads), outsBefore = copyOf(fwd.outputs);
  Grad g{fwd.outputs, qs::runGradient(*desc, "b", resolved, call)};
  for (const auto& [saved, now] : {std::pair{&before, &in}, std::pair{&gradsBefore, &outGrads},
                                   std::pair{&outsBefore, &fwd.outputs}})
    for (const auto& [port, t] : *saved) {
      INFO(type << "'s gradient changed the tensor at " << port);
      CHECK(qs::bitwiseEqual(t, now->at(port)));
    }
  return g;
}

Inputs toInputs(const std::map<std::string, Tensor>& in) {
  Inputs r;
  for (const auto& [port, t] : in) r[port] = toDT(t);
  return r;
}

// Checks the gradient of `type` with respect to each input (those in `ports`, all when empty)
// against finite differences of `f`.
void checkAgainstFiniteDiff(const std::string& type, const Json& attrs,
                            const std::map<std::string, Tensor>& in, const std::string& outPort,
                            const Forward& f, std::set<std::string> ports = {}) {
  const Shape outShape = f(toInputs(in)).shape;
  const Tensor w = randomTensor(outShape);
  const Grad g = runGrad(type, attrs, in, {{outPort, w}}, ports);
  for (const auto& [port, t] : in) {
    if (!ports.empty() && !ports.count(port)) continue;
    INFO(type << " d/d" << port << ", input shapes "
              << qs::shapeToString(in.begin()->second.shape()) << " / "
              << qs::shapeToString(in.rbegin()->second.shape()));
    requireClose(g.inputGrads.at(port), finiteDiff(f, toInputs(in), toDT(w), port));
  }
}

}  // namespace

// ---- Per block, against finite differences
// -------------------------------------------------------

TEST_CASE("gradients: the registered ones are exactly the differentiable blocks", "[gradients]") {
  const std::set<std::string> expected{"Add",
                                       "Sub",
                                       "Mul",
                                       "Square",
                                       "Abs",
                                       "Sum",
                                       "Mean",
                                       "Min",
                                       "Max",
                                       "Identity",
                                       "Relu",
                                       "Relu6",
                                       "MaxPool",
                                       "AvgPool",
                                       "Reshape",
                                       "Transpose",
                                       "Softmax",
                                       "SparseSoftmaxCrossEntropyWithLogits",
                                       "Cast",
                                       "FakeQuantWithMinMaxArgs",
                                       "FakeQuantWithMinMaxVars",
                                       "FakeQuantWithMinMaxVarsPerChannel",
                                       "MatMul",
                                       "BiasAdd",
                                       "Conv2D",
                                       "DepthwiseConv2dNative"};
  std::set<std::string> registered;
  for (const qs::BlockDescriptor* d : qs::builtinRegistry().all())
    if (d->gradient) registered.insert(d->type);
  CHECK(registered == expected);
}

TEST_CASE("gradients: Add, Sub, Mul with broadcasting match finite differences", "[gradients]") {
  std::vector<std::pair<Shape, Shape>> shapes{
      {{2, 3, 4}, {4}},      {{2, 3, 4}, {3, 1}}, {{2, 3, 4}, {1}},       {{2, 3, 4}, {}},
      {{}, {2, 3, 4}},       {{3, 1}, {2, 1, 4}}, {{1, 3, 1}, {2, 1, 4}}, {{}, {}},
      {{2, 3}, {2, 3}},      {{4}, {2, 3, 4}},    {{2, 1, 4}, {1, 3, 1}}, {{2, 3, 1}, {2, 3, 4}},
      {{1, 3, 4}, {1, 3, 1}}};
  // And random ones: y takes x's trailing dimensions, some set to 1.
  std::uniform_int_distribution<int> dim(1, 4), rank(0, 3), coin(0, 1);
  for (int k = 0; k < 12; ++k) {
    Shape x(rank(rng()));
    for (int64_t& d : x) d = dim(rng());
    Shape y(x.end() - std::min<int64_t>(x.size(), rank(rng())), x.end());
    for (int64_t& d : y)
      if (coin(rng())) d = 1;
    if (coin(rng())) std::swap(x, y);
    shapes.emplace_back(x, y);
  }
  for (const auto& [sx, sy] : shapes) {
    for (const char op : {'+', '-', '*'}) {
      const std::string type = op == '+' ? "Add" : op == '-' ? "Sub" : "Mul";
      checkAgainstFiniteDiff(
          type, Json::object(), {{"x", randomTensor(sx)}, {"y", randomTensor(sy)}}, "z",
          [op](const Inputs& in) { return refBinary(op, in.at("x"), in.at("y")); });
    }
  }
}

TEST_CASE("gradients: MatMul and BiasAdd match finite differences", "[gradients]") {
  namespace nnref = qs::testing::nnref;
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      const Shape as = ta ? Shape{4, 3} : Shape{3, 4}, bs = tb ? Shape{2, 4} : Shape{4, 2};
      checkAgainstFiniteDiff(
          "MatMul", Json{{"transpose_a", ta}, {"transpose_b", tb}},
          {{"a", randomTensor(as)}, {"b", randomTensor(bs)}}, "product", [&](const Inputs& in) {
            const nnref::Ref r = nnref::matMul(in.at("a").v, in.at("a").shape, in.at("b").v,
                                               in.at("b").shape, ta, tb);
            return DT{r.shape, r.v};
          });
    }
  for (const Shape& vs : std::vector<Shape>{{2, 3}, {2, 2, 3}, {1, 2, 1, 4}})
    checkAgainstFiniteDiff("BiasAdd", Json::object(),
                           {{"value", randomTensor(vs)}, {"bias", randomTensor({vs.back()})}},
                           "output", [](const Inputs& in) {
                             const nnref::Ref r = nnref::biasAdd(
                                 in.at("value").v, in.at("value").shape, in.at("bias").v);
                             return DT{r.shape, r.v};
                           });
}

TEST_CASE("gradients: Conv2D and DepthwiseConv2dNative match finite differences", "[gradients]") {
  namespace nnref = qs::testing::nnref;
  struct Geometry {
    Shape x, w;
    nnref::Conv conv;
  };
  const std::vector<Geometry> geometries{{{1, 5, 5, 2}, {3, 3, 2, 3}, {1, 1, 1, 1, true}},
                                         {{2, 6, 5, 2}, {2, 3, 2, 2}, {2, 1, 1, 1, false}},
                                         {{1, 7, 6, 1}, {3, 2, 1, 2}, {2, 2, 2, 1, true}},
                                         {{1, 4, 4, 3}, {1, 1, 3, 2}, {1, 1, 1, 1, false}},
                                         {{2, 5, 4, 2}, {2, 2, 2, 1}, {3, 3, 2, 2, true}},
                                         {{1, 6, 6, 2}, {3, 3, 2, 2}, {2, 2, 1, 1, false}}};
  for (const Geometry& g : geometries)
    for (const bool depthwise : {false, true}) {
      const Json attrs{{"strides", {1, g.conv.strideRows, g.conv.strideCols, 1}},
                       {"dilations", {1, g.conv.dilationRows, g.conv.dilationCols, 1}},
                       {"padding", g.conv.same ? "SAME" : "VALID"}};
      checkAgainstFiniteDiff(depthwise ? "DepthwiseConv2dNative" : "Conv2D", attrs,
                             {{"input", randomTensor(g.x)}, {"filter", randomTensor(g.w)}},
                             "output", [&](const Inputs& in) {
                               const nnref::Ref r = nnref::conv(
                                   in.at("input").v, in.at("input").shape, in.at("filter").v,
                                   in.at("filter").shape, g.conv, depthwise);
                               return DT{r.shape, r.v};
                             });
    }
}

TEST_CASE("gradients: Sub's gradient of y is the negated sum over the broadcast dimensions",
          "[gradients]") {
  // Worked by hand: z = x - y with x [2,2] and y [2] broadcast over rows; dz = [[1,2],[3,4]].
  const Grad g =
      runGrad("Sub", Json::object(),
              {{"x", qs::testing::tensor({2, 2}, {0, 0, 0, 0})}, {"y", qs::testing::vec({0, 0})}},
              {{"z", qs::testing::tensor({2, 2}, {1, 2, 3, 4})}});
  CHECK(g.inputGrads.at("x").toVector() == std::vector<float>{1, 2, 3, 4});
  CHECK(g.inputGrads.at("y").toVector() == std::vector<float>{-4, -6});
  CHECK(g.inputGrads.at("y").shape() == Shape{2});
}

TEST_CASE("gradients: Square and Abs match finite differences; sign(0) is 0", "[gradients]") {
  for (const Shape& s : std::vector<Shape>{{}, {5}, {2, 3}, {2, 1, 3}}) {
    Tensor x = randomTensor(s);
    for (float& v : x.mutableValues())
      if (std::fabs(v) < 0.01f) v = 0.5f;  // Abs has a kink at 0
    for (const std::string type : {"Square", "Abs"})
      checkAgainstFiniteDiff(type, Json::object(), {{"x", x}}, "y",
                             [type](const Inputs& in) { return refUnary(type, in.at("x")); });
  }
  const Grad g = runGrad("Abs", Json::object(), {{"x", qs::testing::vec({-2, 0, -0.0f, 3})}},
                         {{"y", qs::testing::vec({5, 5, 5, 5})}});
  CHECK(g.inputGrads.at("x").toVector() == std::vector<float>{-5, 0, 0, 5});
}

TEST_CASE("gradients: Sum and Mean over various axes match finite differences", "[gradients]") {
  struct Axes {
    Shape shape;
    std::vector<int64_t> axes;
  };
  const std::vector<Axes> cases{
      {{2, 3, 4}, {}},        {{2, 3, 4}, {0}},    {{2, 3, 4}, {1}},
      {{2, 3, 4}, {-1}},      {{2, 3, 4}, {0, 2}}, {{2, 3, 4}, {2, 0, -1}},
      {{2, 3, 4}, {0, 1, 2}}, {{5}, {0}},          {{}, {}},
      {{2, 1, 3}, {1}},       {{3, 4}, {-2}}};
  for (const Axes& c : cases)
    for (const bool keep : {false, true})
      for (const std::string type : {"Sum", "Mean"}) {
        const Json attrs{{"axis", c.axes}, {"keep_dims", keep}};
        checkAgainstFiniteDiff(
            type, attrs, {{"input", randomTensor(c.shape)}}, "output",
            [&](const Inputs& in) { return refReduce(type, in.at("input"), c.axes, keep); });
      }
}

TEST_CASE("gradients: Min and Max without ties match finite differences", "[gradients]") {
  for (const Shape& s : std::vector<Shape>{{2, 3, 4}, {6}, {3, 1, 2}})
    for (const auto& axes : std::vector<std::vector<int64_t>>{{}, {0}, {-1}, {0, 2}})
      for (const bool keep : {false, true})
        for (const std::string type : {"Min", "Max"}) {
          const auto rank = static_cast<int64_t>(s.size());
          if (std::any_of(axes.begin(), axes.end(), [&](int64_t a) { return a >= rank; })) continue;
          // Distinct values 0.05 apart: the extreme of each slice is unique and stays so under
          // the finite difference's step.
          std::vector<float> v(numel(s));
          for (size_t i = 0; i < v.size(); ++i) v[i] = 0.05f * static_cast<float>(i) - 1.0f;
          std::shuffle(v.begin(), v.end(), rng());
          const Json attrs{{"axis", axes}, {"keep_dims", keep}};
          checkAgainstFiniteDiff(
              type, attrs, {{"input", Tensor::fromValues(s, v)}}, "output",
              [&](const Inputs& in) { return refReduce(type, in.at("input"), axes, keep); });
        }
}

TEST_CASE("gradients: Min and Max share the gradient equally among ties", "[gradients]") {
  // Worked by hand: max over the rows of [[1,3,3],[2,2,2]] is [3,2]; upstream [6,3] gives
  // [[0,3,3],[1,1,1]].
  const Grad h = runGrad("Max", Json{{"axis", {1}}},
                         {{"input", qs::testing::tensor({2, 3}, {1, 3, 3, 2, 2, 2})}},
                         {{"output", qs::testing::vec({6, 3})}});
  CHECK(h.inputGrads.at("input").toVector() == std::vector<float>{0, 3, 3, 1, 1, 1});

  // A NaN result selects nothing: 0 / 0 gives NaN for its whole slice, as in TensorFlow.
  const Grad n = runGrad("Max", Json::object(), {{"input", qs::testing::vec({1, NAN, 2})}},
                         {{"output", Tensor::scalar(1)}});
  for (float v : n.inputGrads.at("input").values()) CHECK(std::isnan(v));

  // Random values from {-1, 0, 1, 2}: many ties. The rule, element by element: each output's
  // gradient divided by the number of inputs equal to that output, given to those inputs.
  std::uniform_int_distribution<int> level(-1, 2);
  for (const auto& axes : std::vector<std::vector<int64_t>>{{}, {0}, {1}, {-1}, {0, 2}})
    for (const bool keep : {false, true})
      for (const std::string type : {"Min", "Max"}) {
        const Shape s{3, 4, 5};
        Tensor x = Tensor::uninitialized(s);
        for (float& v : x.mutableValues()) v = static_cast<float>(level(rng()));
        const DT y = refReduce(type, toDT(x), axes, keep);
        const Tensor w = randomTensor(y.shape);
        const Grad g = runGrad(type, Json{{"axis", axes}, {"keep_dims", keep}}, {{"input", x}},
                               {{"output", w}});
        const auto mask = reducedMask(axes, s.size());
        Shape kept;
        for (size_t k = 0; k < s.size(); ++k) kept.push_back(mask[k] ? 1 : s[k]);
        std::vector<int> ties(numel(kept), 0);
        for (int64_t i = 0; i < numel(s); ++i) {
          const int64_t o = smallIndex(unravel(i, s), kept);
          ties[o] += x.data()[i] == y.v[o];
        }
        std::vector<double> want(numel(s));
        for (int64_t i = 0; i < numel(s); ++i) {
          const int64_t o = smallIndex(unravel(i, s), kept);
          want[i] = x.data()[i] == y.v[o] ? w.data()[o] / ties[o] : 0.0;
        }
        INFO(type << " keep_dims " << keep << " axes " << Json(axes).dump());
        requireClose(g.inputGrads.at("input"), want, 1e-6);
      }
}

TEST_CASE("gradients: Identity shares its input and passes the gradient through", "[gradients]") {
  const Tensor x = randomTensor({2, 3});
  const Tensor w = randomTensor({2, 3});
  const Grad g = runGrad("Identity", Json::object(), {{"input", x}}, {{"output", w}});
  CHECK(g.forward.at("output").sharesStorageWith(x));
  CHECK(qs::bitwiseEqual(g.inputGrads.at("input"), w));
  // No gradient flowing into the output stands for zeros.
  const Grad z = runGrad("Identity", Json::object(), {{"input", x}}, {});
  CHECK(z.inputGrads.at("input").toVector() == std::vector<float>(6, 0.0f));
}

// ---- The neural-network layers ---------------------------------------------------------------

namespace {

// Values at least `gap` apart, shuffled: the maximum of every window is unique and stays so under
// the finite difference's step.
Tensor distinctValues(const Shape& s, float gap) {
  std::vector<float> v(numel(s));
  for (size_t i = 0; i < v.size(); ++i) v[i] = gap * static_cast<float>(i) - 1.0f;
  std::shuffle(v.begin(), v.end(), rng());
  return Tensor::fromValues(s, v);
}

}  // namespace

TEST_CASE("gradients: Relu and Relu6 match finite differences away from their kinks",
          "[gradients]") {
  for (const Shape& s : std::vector<Shape>{{}, {7}, {3, 4}, {2, 3, 2, 2}}) {
    Tensor x = randomTensor(s, -8, 8);
    for (float& v : x.mutableValues())
      if (std::fabs(v) < 0.01f || std::fabs(v - 6) < 0.01f) v = 3.5f;
    for (const std::string type : {"Relu", "Relu6"})
      checkAgainstFiniteDiff(
          type, Json::object(), {{"features", x}}, "activations", [type](const Inputs& in) {
            DT y = in.at("features");
            for (double& v : y.v)
              v = type == "Relu" ? std::max(v, 0.0) : std::min(std::max(v, 0.0), 6.0);
            return y;
          });
  }
}

TEST_CASE("gradients: MaxPool and AvgPool match finite differences", "[gradients]") {
  std::uniform_int_distribution<int> batch(1, 2), side(1, 6), chans(1, 3), win(1, 3), step(1, 3);
  std::bernoulli_distribution coin;
  for (int k = 0; k < 24;) {
    const Shape in{batch(rng()), side(rng()), side(rng()), chans(rng())};
    const qs::nnref::PoolSpec p{k % 2 == 0,  win(rng()),  win(rng()),
                                step(rng()), step(rng()), coin(rng())};
    if (!p.same && (p.kh > in[1] || p.kw > in[2])) continue;
    ++k;
    const Json attrs{{"ksize", {1, p.kh, p.kw, 1}},
                     {"strides", {1, p.sh, p.sw, 1}},
                     {"padding", p.same ? "SAME" : "VALID"}};
    const std::string port = p.max ? "input" : "value";
    checkAgainstFiniteDiff(
        p.max ? "MaxPool" : "AvgPool", attrs, {{port, distinctValues(in, 0.05f)}}, "output",
        [&](const Inputs& x) {
          const DT& v = x.at(port);
          return DT{qs::nnref::poolShape(v.shape, p), qs::nnref::pool(v.v, v.shape, p)};
        });
  }
}

TEST_CASE("gradients: MaxPool sends a tied window's gradient to its first maximum", "[gradients]") {
  // Worked by hand: a 2x2 window over [[1, 3], [3, 2]] picks the 3 at (0, 1); the overlapping
  // windows of a 1x3 row [5, 5, 5] with ksize 2, stride 1 both pick their first element.
  const Json k2{{"ksize", {1, 2, 2, 1}}, {"strides", {1, 2, 2, 1}}, {"padding", "VALID"}};
  const Grad g =
      runGrad("MaxPool", k2, {{"input", qs::testing::tensor({1, 2, 2, 1}, {1, 3, 3, 2})}},
              {{"output", qs::testing::tensor({1, 1, 1, 1}, {7})}});
  CHECK(g.inputGrads.at("input").toVector() == std::vector<float>{0, 7, 0, 0});
  const Json k12{{"ksize", {1, 1, 2, 1}}, {"strides", {1, 1, 1, 1}}, {"padding", "VALID"}};
  const Grad h = runGrad("MaxPool", k12, {{"input", qs::testing::tensor({1, 1, 3, 1}, {5, 5, 5})}},
                         {{"output", qs::testing::tensor({1, 1, 2, 1}, {1, 10})}});
  CHECK(h.inputGrads.at("input").toVector() == std::vector<float>{1, 10, 0});
}

TEST_CASE("gradients: Softmax, Reshape and Transpose match finite differences", "[gradients]") {
  for (const Shape& s : std::vector<Shape>{{5}, {3, 4}, {2, 2, 3}, {4, 1}})
    checkAgainstFiniteDiff("Softmax", Json::object(), {{"logits", randomTensor(s)}}, "softmax",
                           [](const Inputs& in) {
                             const DT& x = in.at("logits");
                             return DT{x.shape, qs::nnref::softmax(x.v, x.shape.back())};
                           });
  checkAgainstFiniteDiff("Reshape", Json{{"shape", {-1, 2}}}, {{"tensor", randomTensor({2, 3, 2})}},
                         "output", [](const Inputs& in) {
                           return DT{{6, 2}, in.at("tensor").v};
                         });
  const std::vector<int64_t> perm{2, 0, 3, 1};
  checkAgainstFiniteDiff("Transpose", Json{{"perm", perm}}, {{"x", randomTensor({2, 3, 4, 2})}},
                         "y", [&](const Inputs& in) {
                           const DT& x = in.at("x");
                           return DT{{4, 2, 2, 3}, qs::nnref::transpose(x.v, x.shape, perm)};
                         });
}

TEST_CASE("gradients: SparseSoftmaxCrossEntropyWithLogits matches finite differences",
          "[gradients]") {
  for (const auto& bc : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {1, 5}, {4, 3}, {6, 10}}) {
    // Plain copies: lambdas below capture them (clang 14 cannot capture structured bindings).
    const int64_t b = bc.first, c = bc.second;
    const Tensor f = randomTensor({b, c});
    Tensor labels = Tensor::uninitialized({b}, qs::DType::Int32);
    for (int64_t i = 0; i < b; ++i)
      labels.mutableAs<int32_t>()[i] = static_cast<int32_t>((i * 7 + 3) % c);
    const std::vector<int64_t> lab(labels.valuesAs<int32_t>().begin(),
                                   labels.valuesAs<int32_t>().end());
    const std::map<std::string, Tensor> in{{"features", f}, {"labels", labels}};
    INFO("features [" << b << "," << c << "]");
    // Through `loss` alone, then `backprop` (softmax - onehot) alone, then both at once.
    checkAgainstFiniteDiff("SparseSoftmaxCrossEntropyWithLogits", Json::object(), in, "loss",
                           [&](const Inputs& x) {
                             return DT{{b}, qs::nnref::xentLoss(x.at("features").v, lab, c)};
                           },
                           {"features"});
    const auto backprop = [&](const Inputs& x) {
      DT y{{b, c}, qs::nnref::softmax(x.at("features").v, c)};
      for (int64_t i = 0; i < b; ++i) y.v[i * c + lab[i]] -= 1;
      return y;
    };
    checkAgainstFiniteDiff("SparseSoftmaxCrossEntropyWithLogits", Json::object(), in, "backprop",
                           backprop, {"features"});
    const Tensor wl = randomTensor({b}), wb = randomTensor({b, c});
    const Grad g = runGrad("SparseSoftmaxCrossEntropyWithLogits", Json::object(), in,
                           {{"loss", wl}, {"backprop", wb}}, {"features"});
    const Forward both = [&](const Inputs& x) {
      DT y{{b + b * c}, qs::nnref::xentLoss(x.at("features").v, lab, c)};
      const DT bp = backprop(x);
      y.v.insert(y.v.end(), bp.v.begin(), bp.v.end());
      return y;
    };
    DT w{{b + b * c}, toDT(wl).v};
    const DT wbd = toDT(wb);
    w.v.insert(w.v.end(), wbd.v.begin(), wbd.v.end());
    requireClose(g.inputGrads.at("features"), finiteDiff(both, toInputs(in), w, "features"));
  }
  // Labels are integers: asking for their gradient is refused.
  const qs::BlockDescriptor* desc =
      qs::builtinRegistry().find("SparseSoftmaxCrossEntropyWithLogits");
  qs::GradientCall call;
  Tensor l = Tensor::zeros({2}, qs::DType::Int64);
  call.inputs = {{"features", randomTensor({2, 3})}, {"labels", l}};
  call.outputs = {{"loss", randomTensor({2})}, {"backprop", randomTensor({2, 3})}};
  call.wanted = {"labels"};
  CHECK_THROWS_WITH(qs::runGradient(*desc, "x", qs::resolveAttrs(*desc, Json::object()), call),
                    "labels are class indices (integers) and have no gradient");
}

// ---- The FakeQuant family ----------------------------------------------------------------------

namespace {

// Values in [-3, 3], each more than two quantization steps away from its channel's min and max,
// where the clamp has its kinks (the op's masks use the nudged ends, within a step of them).
Tensor awayFromKinks(const Shape& s, const std::vector<float>& mins, const std::vector<float>& maxs,
                     int levels) {
  std::uniform_real_distribution<float> u(-3, 3);
  Tensor t = Tensor::uninitialized(s);
  const size_t d = mins.size();
  for (int64_t i = 0; i < t.size(); ++i) {
    const float lo = mins[i % d], hi = maxs[i % d], margin = 2 * (hi - lo) / levels;
    float v;
    do v = u(rng());
    while (std::fabs(v - lo) <= margin || std::fabs(v - hi) <= margin);
    t.mutableData()[i] = v;
  }
  return t;
}

int levelsOf(int bits, bool narrow) {
  return (1 << bits) - 1 - (narrow ? 1 : 0);
}

Json fqAttrs(int bits, bool narrow) {
  return Json{{"num_bits", bits}, {"narrow_range", narrow}};
}

Forward clampForward() {
  return [](const Inputs& in) { return refClamp(in.at("inputs"), in.at("min"), in.at("max")); };
}

}  // namespace

TEST_CASE("gradients: the FakeQuant family matches finite differences of its clamp",
          "[gradients]") {
  for (const int bits : {4, 8})
    for (const bool narrow : {false, true}) {
      const int levels = levelsOf(bits, narrow);
      for (const Shape& s : std::vector<Shape>{{}, {7}, {2, 3, 4}}) {
        INFO("num_bits " << bits << " narrow_range " << narrow << " shape "
                         << qs::shapeToString(s));
        // Args: the range is a pair of attributes, only `inputs` gets a gradient.
        Json args = fqAttrs(bits, narrow);
        args["min"] = -1.25;
        args["max"] = 0.75;
        const Forward argsClamp = [](const Inputs& in) {
          return refClamp(in.at("inputs"), DT{{}, {-1.25}}, DT{{}, {0.75}});
        };
        checkAgainstFiniteDiff("FakeQuantWithMinMaxArgs", args,
                               {{"inputs", awayFromKinks(s, {-1.25f}, {0.75f}, levels)}}, "output",
                               argsClamp);
        // Vars: scalar min and max get the gradients of the clipped values.
        checkAgainstFiniteDiff("FakeQuantWithMinMaxVars", fqAttrs(bits, narrow),
                               {{"inputs", awayFromKinks(s, {-0.7f}, {1.1f}, levels)},
                                {"min", Tensor::scalar(-0.7f)},
                                {"max", Tensor::scalar(1.1f)}},
                               "output", clampForward());
      }
      for (const Shape& s : std::vector<Shape>{{3}, {5, 3}, {2, 2, 3}}) {
        const std::vector<float> mins{-0.5f, -2.0f, -1.1f}, maxs{0.6f, 1.7f, 2.2f};
        checkAgainstFiniteDiff("FakeQuantWithMinMaxVarsPerChannel", fqAttrs(bits, narrow),
                               {{"inputs", awayFromKinks(s, mins, maxs, levels)},
                                {"min", qs::testing::vec(mins)},
                                {"max", qs::testing::vec(maxs)}},
                               "output", clampForward());
      }
    }
}

TEST_CASE("gradients: the FakeQuant gradients are the *Gradient blocks' results, bit for bit",
          "[gradients]") {
  // Random values, some exactly on the ends of the range and on the nudged ends' neighbours.
  auto values = [](const Shape& s, float lo, float hi) {
    Tensor t = randomTensor(s, -3, 3);
    const float special[] = {lo, hi, std::nextafter(lo, -10.0f), std::nextafter(hi, 10.0f), 0.0f};
    for (int64_t i = 0; i < t.size(); i += 3) t.mutableData()[i] = special[(i / 3) % 5];
    return t;
  };
  for (const int bits : {2, 5, 8, 16})
    for (const bool narrow : {false, true}) {
      INFO("num_bits " << bits << " narrow_range " << narrow);
      const Json attrs = fqAttrs(bits, narrow);
      {
        const Shape s{4, 6, 3};
        const Tensor mn = qs::testing::vec({-0.9f, -2.0f, 0.0f});
        const Tensor mx = qs::testing::vec({0.45f, 1.3f, 0.0f});  // the last: min == max == 0
        const Tensor x = values(s, -0.9f, 0.45f), g = randomTensor(s);
        const Grad got = runGrad("FakeQuantWithMinMaxVarsPerChannel", attrs,
                                 {{"inputs", x}, {"min", mn}, {"max", mx}}, {{"output", g}});
        const auto want =
            qs::testing::runBlock("FakeQuantWithMinMaxVarsPerChannelGradient", attrs,
                                  {{"gradients", g}, {"inputs", x}, {"min", mn}, {"max", mx}});
        REQUIRE(want.ok);
        CHECK(qs::bitwiseEqual(got.inputGrads.at("inputs"), want.out("backprops_wrt_input")));
        CHECK(qs::bitwiseEqual(got.inputGrads.at("min"), want.out("backprop_wrt_min")));
        CHECK(qs::bitwiseEqual(got.inputGrads.at("max"), want.out("backprop_wrt_max")));
      }
      {
        const Shape s{5, 7};
        const Tensor mn = Tensor::scalar(-1.3f), mx = Tensor::scalar(0.8f);
        const Tensor x = values(s, -1.3f, 0.8f), g = randomTensor(s);
        const Grad got = runGrad("FakeQuantWithMinMaxVars", attrs,
                                 {{"inputs", x}, {"min", mn}, {"max", mx}}, {{"output", g}});
        const auto want =
            qs::testing::runBlock("FakeQuantWithMinMaxVarsGradient", attrs,
                                  {{"gradients", g}, {"inputs", x}, {"min", mn}, {"max", mx}});
        REQUIRE(want.ok);
        CHECK(qs::bitwiseEqual(got.inputGrads.at("inputs"), want.out("backprops_wrt_input")));
        CHECK(qs::bitwiseEqual(got.inputGrads.at("min"), want.out("backprop_wrt_min")));
        CHECK(qs::bitwiseEqual(got.inputGrads.at("max"), want.out("backprop_wrt_max")));
      }
      {
        Json args = attrs;
        args["min"] = -0.4;
        args["max"] = 2.5;
        const Tensor x = values({9, 2}, -0.4f, 2.5f), g = randomTensor({9, 2});
        const Grad got = runGrad("FakeQuantWithMinMaxArgs", args, {{"inputs", x}}, {{"output", g}});
        const auto want = qs::testing::runBlock("FakeQuantWithMinMaxArgsGradient", args,
                                                {{"gradients", g}, {"inputs", x}});
        REQUIRE(want.ok);
        CHECK(qs::bitwiseEqual(got.inputGrads.at("inputs"), want.out("backprops")));
      }
    }
}

TEST_CASE("gradients: only the wanted inputs get a gradient; none flowing in means zeros",
          "[gradients]") {
  const Tensor x = qs::testing::vec({-2, 0.5f, 3});
  const Grad g = runGrad("FakeQuantWithMinMaxVars", fqAttrs(8, false),
                         {{"inputs", x}, {"min", Tensor::scalar(-1)}, {"max", Tensor::scalar(1)}},
                         {}, {"max"});
  REQUIRE(g.inputGrads.size() == 1);
  CHECK(g.inputGrads.at("max").toVector() == std::vector<float>{0});
}

TEST_CASE("gradients: a cancelled evaluation stops a gradient", "[gradients]") {
  const qs::BlockDescriptor* desc = qs::builtinRegistry().find("Mul");
  std::atomic<bool> cancel{true};
  qs::GradientCall call;
  call.inputs = {{"x", randomTensor({3, 4})}, {"y", randomTensor({4})}};
  call.outputs = {{"z", randomTensor({3, 4})}};
  call.outputGrads = {{"z", randomTensor({3, 4})}};
  call.wanted = {"y"};
  call.cancel = &cancel;
  CHECK_THROWS_AS(qs::runGradient(*desc, "m", qs::resolveAttrs(*desc, Json::object()), call),
                  qs::Cancelled);
}

// ---- Whole pages with the Gradients block
// ----------------------------------------------------------

namespace {

struct PageRun {
  qs::Page page;
  std::map<std::string, Tensor> feeds;
  qs::Evaluator ev;

  explicit PageRun(const qs::BlockRegistry& registry = qs::builtinRegistry()) : ev(registry) {}

  void block(const std::string& id, const std::string& type, Json attrs = Json::object()) {
    qs::Block b;
    b.id = qs::BlockId(id);
    b.type = type;
    b.attrs = std::move(attrs);
    page.addBlock(b);
  }
  void constant(const std::string& id, Tensor t) {
    block(id, "Const");
    feeds[id] = std::move(t);
  }
  void link(const std::string& from, const std::string& fromPort, const std::string& to,
            const std::string& toPort) {
    page.addLink(
        {{qs::BlockId(from), qs::PortName(fromPort)}, {qs::BlockId(to), qs::PortName(toPort)}});
  }
  void run() {
    for (const auto& [id, t] : feeds) ev.setFeed(qs::BlockId(id), t);
    ev.evaluate(page);
  }
  const qs::BlockState& state(const std::string& id) const {
    const qs::BlockState* s = ev.state(qs::BlockId(id));
    REQUIRE(s != nullptr);
    return *s;
  }
  const Tensor& out(const std::string& id, const std::string& port = "output") const {
    const qs::BlockState& s = state(id);
    INFO(id << ": " << s.error);
    REQUIRE(s.status == qs::BlockStatus::Ok);
    return s.outputs.at(port);
  }
};

}  // namespace

TEST_CASE("gradients: d/dw and d/db of sum((w*x + b - y)^2) through a page", "[gradients]") {
  // w [3] broadcast over the rows of x [6,3]; b [1] over everything.
  const Tensor x = randomTensor({6, 3}), y = randomTensor({6, 3});
  const Tensor w0 = randomTensor({3}), b = randomTensor({1});
  PageRun p;
  p.constant("x", x);
  p.constant("y", y);
  p.constant("w0", w0);
  p.constant("b", b);
  p.block("w", "Variable");
  p.block("mul", "Mul");
  p.block("add", "Add");
  p.block("sub", "Sub");
  p.block("sq", "Square");
  p.block("loss", "Sum");
  p.block("dw", "Gradients");
  p.block("db", "Gradients");
  p.link("w0", "output", "w", "initial_value");
  p.link("x", "output", "mul", "x");
  p.link("w", "output", "mul", "y");
  p.link("mul", "z", "add", "x");
  p.link("b", "output", "add", "y");
  p.link("add", "z", "sub", "x");
  p.link("y", "output", "sub", "y");
  p.link("sub", "z", "sq", "x");
  p.link("sq", "y", "loss", "input");
  for (const char* g : {"dw", "db"}) p.link("loss", "output", g, "ys");
  p.link("w", "output", "dw", "xs");
  p.link("b", "output", "db", "xs");
  p.run();
  std::vector<double> dw(3, 0.0), db(1, 0.0);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 3; ++j) {
      const double xv = x.data()[i * 3 + j];
      const double r = double(w0.data()[j]) * xv + b.data()[0] - y.data()[i * 3 + j];
      dw[j] += 2 * r * xv;
      db[0] += 2 * r;
    }
  CHECK(p.out("dw").shape() == Shape{3});
  requireClose(p.out("dw"), dw, 1e-5);
  CHECK(p.out("db").shape() == Shape{1});
  requireClose(p.out("db"), db, 1e-5);
}

TEST_CASE("gradients: mean((fq(x) - x)^2) trains a PerChannel FakeQuant's min and max",
          "[gradients]") {
  // Ranges on a power-of-two grid at 4 bits: min = -a * s, max = (15 - a) * s, so the nudged range
  // is the range itself and a clipped value quantizes to min or max exactly.
  const std::vector<float> s{0.125f, 0.0625f, 0.25f}, a{8, 4, 10};
  std::vector<float> mins, maxs;
  for (int c = 0; c < 3; ++c) {
    mins.push_back(-a[c] * s[c]);
    maxs.push_back((15 - a[c]) * s[c]);
  }
  const int64_t rows = 40, n = rows * 3;
  const Tensor x = randomTensor({rows, 3}, -3, 3);
  PageRun p;
  p.constant("x", x);
  p.constant("mn", qs::testing::vec(mins));
  p.constant("mx", qs::testing::vec(maxs));
  p.block("fq", "FakeQuantWithMinMaxVarsPerChannel", fqAttrs(4, false));
  p.block("err", "Sub");
  p.block("sq", "Square");
  p.block("loss", "Mean");
  p.link("x", "output", "fq", "inputs");
  p.link("mn", "output", "fq", "min");
  p.link("mx", "output", "fq", "max");
  p.link("fq", "output", "err", "x");
  p.link("x", "output", "err", "y");
  p.link("err", "z", "sq", "x");
  p.link("sq", "y", "loss", "input");
  for (const char* xs : {"mn", "mx", "x"}) {
    const std::string g = std::string("d_") + xs;
    p.block(g, "Gradients");
    p.link("loss", "output", g, "ys");
    p.link(xs, "output", g, "xs");
  }
  p.run();
  // By hand: d loss/d fq_i = 2 (fq_i - x_i) / n; a value below the range quantizes to min and
  // sends that to min, above to max, inside to x (which also gets -2 (fq_i - x_i) / n from Sub).
  std::vector<double> dmin(3, 0.0), dmax(3, 0.0), dx(n, 0.0);
  int clipped = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 3);
    const double v = x.data()[i];
    const double q = v < mins[c]   ? mins[c]
                     : v > maxs[c] ? maxs[c]
                                   : mins[c] + std::floor((v - mins[c]) / s[c] + 0.5) * s[c];
    const double d = 2 * (q - v) / n;
    if (v < mins[c]) dmin[c] += d;
    if (v > maxs[c]) dmax[c] += d;
    dx[i] = (v >= mins[c] && v <= maxs[c] ? d : 0.0) - d;
    clipped += v < mins[c] || v > maxs[c];
  }
  REQUIRE(clipped > 10);
  requireClose(p.out("d_mn"), dmin, 1e-5);
  requireClose(p.out("d_mx"), dmax, 1e-5);
  requireClose(p.out("d_x"), dx, 1e-5);
  for (int c = 0; c < 3; ++c) {
    // Clipping pulls the range outwards: lowering min and raising max reduce the loss.
    CHECK(dmin[c] > 0);
    CHECK(dmax[c] < 0);
  }
}

TEST_CASE("gradients: a block without a gradient on the path is an error that names it",
          "[gradients]") {
  PageRun p;
  p.constant("x", qs::testing::vec({-2, 0.5f, 3, 1}));
  p.constant("g", qs::testing::vec({1, 1, 1, 1}));
  p.constant("mn", Tensor::scalar(-1));
  p.constant("mx", Tensor::scalar(1));
  p.constant("other", randomTensor({2, 2}));
  p.block("fqg", "FakeQuantWithMinMaxVarsGradient");
  p.block("s", "Sum");
  p.block("grad", "Gradients");
  p.block("unreached", "Gradients");
  p.link("g", "output", "fqg", "gradients");
  p.link("x", "output", "fqg", "inputs");
  p.link("mn", "output", "fqg", "min");
  p.link("mx", "output", "fqg", "max");
  p.link("fqg", "backprops_wrt_input", "s", "input");
  p.link("s", "output", "grad", "ys");
  p.link("x", "output", "grad", "xs");
  // xs that does not reach ys: zeros of its shape, even with the block above on ys's side.
  p.link("s", "output", "unreached", "ys");
  p.link("other", "output", "unreached", "xs");
  p.run();
  const qs::BlockState& st = p.state("grad");
  CHECK(st.status == qs::BlockStatus::Error);
  CHECK(st.error.find("'fqg'") != std::string::npos);
  CHECK(st.error.find("FakeQuantWithMinMaxVarsGradient") != std::string::npos);
  CHECK(st.error.find("no gradient") != std::string::npos);
  CHECK(p.out("unreached").shape() == Shape{2, 2});
  CHECK(p.out("unreached").toVector() == std::vector<float>(4, 0.0f));
}

TEST_CASE("gradients: grad_ys weights the elements of ys", "[gradients]") {
  PageRun p;
  p.constant("v", qs::testing::vec({1, -2, 3}));
  p.constant("w", qs::testing::vec({0.5f, 2, -1}));
  p.block("sq", "Square");
  p.block("id", "Identity");
  p.block("grad", "Gradients");
  p.link("v", "output", "id", "input");
  p.link("id", "output", "sq", "x");
  p.link("sq", "y", "grad", "ys");
  p.link("v", "output", "grad", "xs");
  p.link("w", "output", "grad", "grad_ys");
  p.run();
  // d(sum w * v^2)/dv = 2 v w, worked by hand.
  CHECK(p.out("grad").toVector() == std::vector<float>{1, -8, -6});
}

TEST_CASE("gradients: the block reference says which blocks have a gradient", "[gradients]") {
  const auto page = [](const char* type) {
    return qs::blockReferencePage(*qs::builtinRegistry().find(type));
  };
  CHECK(page("Mul").find("## Gradient\n\nWith respect to `x` and `y` (for the Gradients block).") !=
        std::string::npos);
  CHECK(page("FakeQuantWithMinMaxVars").find("With respect to `inputs`, `min` and `max`") !=
        std::string::npos);
  CHECK(page("FakeQuantWithMinMaxVarsGradient")
            .find("## Gradient\n\nNone: no gradient passes through this block") !=
        std::string::npos);
  CHECK(page("Const").find("## Gradient\n\nNone (the block has no tensor inputs).") !=
        std::string::npos);
  // Integer inputs get no gradient and are not listed; the ports say their dtypes.
  const std::string xent = page("SparseSoftmaxCrossEntropyWithLogits");
  CHECK(xent.find("## Gradient\n\nWith respect to `features` (for the Gradients block).") !=
        std::string::npos);
  CHECK(xent.find("| `labels` | input | int32 or int64 tensor | rank 1 |") != std::string::npos);
}

TEST_CASE("gradients: ArgMax on the path is an error that names it", "[gradients]") {
  // loss = xent(features, argmax(x)) depends on x only through the labels, which have no gradient.
  PageRun p;
  p.constant("x", randomTensor({3, 4}));
  p.constant("f", randomTensor({3, 4}));
  p.block("am", "ArgMax", Json{{"dimension", 1}});
  p.block("xent", "SparseSoftmaxCrossEntropyWithLogits");
  p.block("loss", "Sum");
  p.block("grad", "Gradients");
  p.block("df", "Gradients");
  p.link("x", "output", "am", "input");
  p.link("f", "output", "xent", "features");
  p.link("am", "output", "xent", "labels");
  p.link("xent", "loss", "loss", "input");
  p.link("loss", "output", "grad", "ys");
  p.link("x", "output", "grad", "xs");
  p.link("loss", "output", "df", "ys");
  p.link("f", "output", "df", "xs");
  p.run();
  const qs::BlockState& st = p.state("grad");
  CHECK(st.status == qs::BlockStatus::Error);
  CHECK(st.error.find("block 'am' (ArgMax)") != std::string::npos);
  CHECK(st.error.find("no gradient") != std::string::npos);
  // d(sum loss)/d features is the xent's own backprop output.
  const Tensor& df = p.out("df");
  const Tensor& bp = p.state("xent").outputs.at("backprop");
  CHECK(qs::bitwiseEqual(df, bp));
}

TEST_CASE("gradients: a tensor on the path that is not float32 is refused, named", "[gradients]") {
  // Test-only blocks that convert to int32 and back and claim a gradient, as a Cast would: the
  // backward pass must refuse the int32 tensor between them rather than read it as float.
  qs::BlockRegistry registry;
  qs::registerBuiltinBlocks(registry);
  for (const auto& [type, to] :
       {std::pair{"TestToInt", qs::DType::Int32}, std::pair{"TestToFloat", qs::DType::Float32}}) {
    qs::BlockDescriptor d;
    d.type = type;
    d.category = "Test";
    const std::vector<qs::DType> both{qs::DType::Float32, qs::DType::Int32};
    d.ports = qs::opPorts({qs::tensorInput("x", qs::RankRule::any(), both, "in")},
                          {qs::tensorOutput("y", qs::RankRule::any(), both, "out")});
    const qs::DType dt = to;
    d.check = [dt](qs::BlockContext& ctx) { ctx.setOutputShape("y", ctx.inputShape("x"), dt); };
    d.compute = [dt](qs::BlockContext& ctx) {
      ctx.setOutput("y", qs::castTensor(ctx.input("x"), dt));
    };
    d.gradient = [](qs::GradientContext& ctx) {
      ctx.setInputGrad("x", Tensor::zeros(ctx.inputShape("x")));
    };
    registry.add(std::move(d));
  }
  PageRun p(registry);
  p.constant("x", qs::testing::tensor({2, 2}, {1, 2, 3, 4}));
  p.block("toint", "TestToInt");
  p.block("reshape", "Reshape", Json{{"shape", {-1}}});
  p.block("tofloat", "TestToFloat");
  p.block("loss", "Sum");
  p.block("grad", "Gradients");
  p.link("x", "output", "toint", "x");
  p.link("toint", "y", "reshape", "tensor");
  p.link("reshape", "output", "tofloat", "x");
  p.link("tofloat", "y", "loss", "input");
  p.link("loss", "output", "grad", "ys");
  p.link("x", "output", "grad", "xs");
  p.run();
  const qs::BlockState& st = p.state("grad");
  CHECK(st.status == qs::BlockStatus::Error);
  CHECK(st.error ==
        "the int32 tensor from output 'y' of block 'toint' (TestToInt) into block 'reshape' "
        "(Reshape) is on the path from xs to ys; gradients pass through float32 tensors only");
}

TEST_CASE("gradients: a small network of the layers matches finite differences end to end",
          "[gradients]") {
  // sum(xent(reshape(relu(maxpool(x))), labels)) through a page, against the same composition in
  // double. Values 0.05 apart and at least 0.012 from 0: no ties in a window, no value at Relu's
  // kink, within the finite difference's step.
  const Shape s{2, 4, 4, 3};
  std::vector<float> v(numel(s));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.05f * static_cast<float>(i) - 1.0123f;
  std::shuffle(v.begin(), v.end(), rng());
  const Tensor x = Tensor::fromValues(s, v);
  Tensor labels = Tensor::uninitialized({2}, qs::DType::Int32);
  labels.mutableAs<int32_t>()[0] = 3;
  labels.mutableAs<int32_t>()[1] = 10;
  PageRun p;
  p.constant("x", x);
  p.constant("labels", labels);
  p.block("pool", "MaxPool",
          Json{{"ksize", {1, 2, 2, 1}}, {"strides", {1, 2, 2, 1}}, {"padding", "VALID"}});
  p.block("relu", "Relu");
  p.block("flat", "Reshape", Json{{"shape", {2, -1}}});
  p.block("xent", "SparseSoftmaxCrossEntropyWithLogits");
  p.block("loss", "Sum");
  p.block("grad", "Gradients");
  p.link("x", "output", "pool", "input");
  p.link("pool", "output", "relu", "features");
  p.link("relu", "activations", "flat", "tensor");
  p.link("flat", "output", "xent", "features");
  p.link("labels", "output", "xent", "labels");
  p.link("xent", "loss", "loss", "input");
  p.link("loss", "output", "grad", "ys");
  p.link("x", "output", "grad", "xs");
  p.run();
  const qs::nnref::PoolSpec spec{true, 2, 2, 2, 2, false};
  const Forward net = [&](const Inputs& in) {
    std::vector<double> h = qs::nnref::pool(in.at("x").v, s, spec);
    for (double& e : h) e = std::max(e, 0.0);
    const auto loss = qs::nnref::xentLoss(h, {3, 10}, 12);
    return DT{{}, {loss[0] + loss[1]}};
  };
  const Tensor& g = p.out("grad");
  REQUIRE(g.shape() == s);
  requireClose(g, finiteDiff(net, {{"x", toDT(x)}}, DT{{}, {1.0}}, "x"));
  int nonzero = 0;
  for (float e : g.values()) nonzero += e != 0;
  CHECK(nonzero > 5);  // the gradient reaches x through the windows' maxima
}

}  // namespace test_gradients
