// The FakeQuant family's block descriptors: ports exactly as docs/spec.md lists them and
// TensorFlow's validation messages in TensorFlow's order, seen through the page runtime.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "blocks/RegisterBlocks.h"
#include "runtime/Evaluator.h"
#include "runtime/Page.h"

namespace test_fakequant_blocks {

namespace {

using qs::Json;

std::vector<std::string> portNames(const std::vector<const qs::PortDescriptor*>& ports) {
  std::vector<std::string> r;
  for (const auto* p : ports) r.push_back(p->name);
  return r;
}

// A page with the op block `fq` of `type` and Const inputs of the given shapes (values 0.5).
struct OpPage {
  qs::Page page;
  explicit OpPage(const std::string& type, Json attrs = Json::object()) {
    qs::Block b;
    b.id = qs::BlockId("fq");
    b.type = type;
    b.attrs = std::move(attrs);
    page.addBlock(std::move(b));
  }
  OpPage& input(const std::string& port, const qs::Shape& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    qs::Block c;
    c.id = qs::BlockId("c_" + port);
    c.type = "Const";
    c.attrs = Json{{"shape", shape}, {"values", std::vector<float>(n, 0.5f)}};
    page.addBlock(std::move(c));
    page.addLink({{qs::BlockId("c_" + port), qs::PortName("output")},
                  {qs::BlockId("fq"), qs::PortName(port)}});
    return *this;
  }
  std::string error() {
    qs::Evaluator ev(qs::builtinRegistry());
    ev.evaluate(page);
    const qs::BlockState* st = ev.state(qs::BlockId("fq"));
    REQUIRE(st);
    return st->status == qs::BlockStatus::Ok ? "" : st->error;
  }
};

}  // namespace

TEST_CASE("the FakeQuant blocks have the ports of docs/spec.md", "[fakequant]") {
  struct Want {
    const char* type;
    std::vector<std::string> inputs, outputs;
  };
  const std::vector<Want> wants = {
      {"FakeQuantWithMinMaxVarsPerChannel", {"inputs", "min", "max"}, {"output"}},
      {"FakeQuantWithMinMaxVarsPerChannelGradient",
       {"gradients", "inputs", "min", "max"},
       {"backprops_wrt_input", "backprop_wrt_min", "backprop_wrt_max"}},
      {"FakeQuantWithMinMaxVars", {"inputs", "min", "max"}, {"output"}},
      {"FakeQuantWithMinMaxVarsGradient",
       {"gradients", "inputs", "min", "max"},
       {"backprops_wrt_input", "backprop_wrt_min", "backprop_wrt_max"}},
      {"FakeQuantWithMinMaxArgs", {"inputs"}, {"output"}},
      {"FakeQuantWithMinMaxArgsGradient", {"gradients", "inputs"}, {"backprops"}},
  };
  for (const auto& w : wants) {
    INFO(w.type);
    const qs::BlockDescriptor* d = qs::builtinRegistry().find(w.type);
    REQUIRE(d);
    CHECK(portNames(d->inputs()) == w.inputs);
    CHECK(portNames(d->outputs()) == w.outputs);
    CHECK(d->findPort("scope"));
    CHECK(d->findPort("attrs"));
    CHECK_FALSE(d->summary.empty());
    CHECK(d->doc.size() > 200);
    REQUIRE(d->findAttr("num_bits"));
    CHECK(std::get<int64_t>(*d->findAttr("num_bits")->defaultValue) == 8);
    REQUIRE(d->findAttr("narrow_range"));
    const bool args = std::string(w.type).find("Args") != std::string::npos;
    CHECK((d->findAttr("min") != nullptr) == args);
    if (args) {
      CHECK(std::get<double>(*d->findAttr("min")->defaultValue) == -6.0);
      CHECK(std::get<double>(*d->findAttr("max")->defaultValue) == 6.0);
    }
  }
}

TEST_CASE("the Args ops use their default range [-6, 6]", "[fakequant]") {
  OpPage p("FakeQuantWithMinMaxArgs");
  p.input("inputs", {3});
  qs::Evaluator ev(qs::builtinRegistry());
  ev.evaluate(p.page);
  // Worked by hand: scale 12/255, zero point 127.5 rounds to 128, so 0.5 lies 10.625 steps above
  // zero and rounds to 11 steps: 11 * 12/255 in float32.
  const float scale = 12.0f / 255.0f;
  CHECK(ev.result("fq.result_output")->toVector() ==
        std::vector<float>(3, std::floor(0.5f / scale + 0.5f) * scale));
}

TEST_CASE("FakeQuant validation messages are TensorFlow's, in TensorFlow's order", "[fakequant]") {
  SECTION("num_bits is checked first, on every op") {
    for (const char* type :
         {"FakeQuantWithMinMaxVarsPerChannel", "FakeQuantWithMinMaxVarsPerChannelGradient",
          "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsGradient", "FakeQuantWithMinMaxArgs",
          "FakeQuantWithMinMaxArgsGradient"}) {
      for (int bits : {1, 17}) {
        INFO(type << " num_bits " << bits);
        OpPage p(type, Json{{"num_bits", bits}});
        // Shapes that are wrong too: num_bits must still be the error reported.
        p.input("inputs", {2, 3});
        if (std::string(type).find("Gradient") != std::string::npos) p.input("gradients", {3});
        if (std::string(type).find("Args") == std::string::npos) {
          p.input("min", {5});
          p.input("max", {5});
        }
        CHECK_THAT(p.error(), Catch::Contains("num_bits must be between 2 and 16, inclusive"));
      }
    }
  }
  SECTION("PerChannel") {
    CHECK(OpPage("FakeQuantWithMinMaxVarsPerChannel")
              .input("inputs", {})
              .input("min", {1})
              .input("max", {1})
              .error() == "input must be at least rank 1");
    CHECK(OpPage("FakeQuantWithMinMaxVarsPerChannel")
              .input("inputs", {2, 4})
              .input("min", {1, 4})
              .input("max", {4})
              .error() == "`min` must be rank 1 but is rank 2");
    CHECK(OpPage("FakeQuantWithMinMaxVarsPerChannel")
              .input("inputs", {2, 4})
              .input("min", {3})
              .input("max", {2, 2})
              .error() == "min has incorrect size, expected 4 was 3");
    CHECK(OpPage("FakeQuantWithMinMaxVarsPerChannel")
              .input("inputs", {2, 4})
              .input("min", {4})
              .input("max", {})
              .error() == "`max` must be rank 1 but is rank 0");
    CHECK(OpPage("FakeQuantWithMinMaxVarsPerChannel")
              .input("inputs", {2, 4})
              .input("min", {4})
              .input("max", {5})
              .error() == "max has incorrect size, expected 4 was 5");
  }
  SECTION("PerChannel gradient: the sizes of gradients and inputs come first") {
    CHECK(OpPage("FakeQuantWithMinMaxVarsPerChannelGradient")
              .input("gradients", {2, 3})
              .input("inputs", {2, 4})
              .input("min", {1, 4})
              .input("max", {4})
              .error() == "gradient and input must be the same size");
    CHECK(OpPage("FakeQuantWithMinMaxVarsPerChannelGradient")
              .input("gradients", {2, 4})
              .input("inputs", {2, 4})
              .input("min", {4})
              .input("max", {3})
              .error() == "max has incorrect size, expected 4 was 3");
    CHECK(OpPage("FakeQuantWithMinMaxVarsPerChannelGradient")
              .input("gradients", {2, 4})
              .input("inputs", {2, 4})
              .input("min", {4})
              .input("max", {4})
              .error() == "");
  }
  SECTION("Vars: min and max are scalars") {
    CHECK(OpPage("FakeQuantWithMinMaxVars")
              .input("inputs", {2, 4})
              .input("min", {1})
              .input("max", {})
              .error() == "`min` must be rank 0 but is rank 1");
    CHECK(OpPage("FakeQuantWithMinMaxVars")
              .input("inputs", {2, 4})
              .input("min", {})
              .input("max", {2, 1})
              .error() == "`max` must be rank 0 but is rank 2");
    CHECK(OpPage("FakeQuantWithMinMaxVarsGradient")
              .input("gradients", {4})
              .input("inputs", {2, 4})
              .input("min", {1})
              .input("max", {})
              .error() == "gradient and input must be the same size");
    CHECK(OpPage("FakeQuantWithMinMaxVarsGradient")
              .input("gradients", {2, 4})
              .input("inputs", {2, 4})
              .input("min", {})
              .input("max", {1})
              .error() == "`max` must be rank 0 but is rank 1");
  }
  SECTION("Args: min < max, with the numbers as floats") {
    CHECK(OpPage("FakeQuantWithMinMaxArgs", Json{{"min", 1.0}, {"max", 1.0}})
              .input("inputs", {3})
              .error() == "min has to be smaller than max, was: 1 >= 1");
    CHECK(OpPage("FakeQuantWithMinMaxArgs", Json{{"min", 2.5}, {"max", -0.1}})
              .input("inputs", {3})
              .error() == "min has to be smaller than max, was: 2.5 >= -0.1");
    CHECK(OpPage("FakeQuantWithMinMaxArgsGradient", Json{{"min", 7.0}})
              .input("gradients", {3})
              .input("inputs", {3})
              .error() == "min has to be smaller than max, was: 7 >= 6");
    CHECK(OpPage("FakeQuantWithMinMaxArgsGradient")
              .input("gradients", {3})
              .input("inputs", {4})
              .error() == "gradient and input must be the same size");
  }
}

TEST_CASE("empty tensors give empty results and zero min/max gradients", "[fakequant]") {
  OpPage p("FakeQuantWithMinMaxVarsPerChannelGradient");
  p.input("gradients", {0, 3}).input("inputs", {0, 3}).input("min", {3}).input("max", {3});
  qs::Evaluator ev(qs::builtinRegistry());
  ev.evaluate(p.page);
  CHECK(ev.result("fq.result_backprops_wrt_input")->shape() == qs::Shape{0, 3});
  CHECK(ev.result("fq.result_backprop_wrt_min")->toVector() == std::vector<float>(3, 0.0f));
  CHECK(ev.result("fq.result_backprop_wrt_max")->toVector() == std::vector<float>(3, 0.0f));
}

}  // namespace test_fakequant_blocks
