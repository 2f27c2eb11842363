// quantspace-run as a user runs it (docs/formats.md): a real process, real files, every bad input
// it documents with its exit status and message.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "runtime/Npy.h"
#include "test_runner_support.h"

namespace test_runner_cli {

using qs::test::requireNoCrash;
using qs::test::RunResult;
using qs::test::runRunner;
using qs::test::TempDir;

namespace {

const std::string kFq = "FakeQuantWithMinMaxVarsPerChannel";

std::string pageText(const std::string& blocks, const std::string& links) {
  return R"({"format": "quantspace-page", "version": 1, "name": "t", "blocks": [)" + blocks +
         R"(], "links": [)" + links + "]}";
}

// The seed page's three Consts, a FakeQuant `fq` wired to them, and an unrelated Const `ok` that
// must still be computed and printed when `fq` fails.
std::string fqPage(const std::string& fqAttrs, const std::string& xShape = "[2, 4]",
                   const std::string& loShape = "[4]", const std::string& hiShape = "[4]") {
  auto constOf = [](const std::string& id, const std::string& shape) {
    // As many values as the shape needs: 0, 1, 2, 3, 4, 0, ...
    std::string s = shape.substr(1, shape.size() - 2), values;
    int64_t count = 1;
    size_t pos = 0;
    while (!s.empty() && pos != std::string::npos) {
      size_t comma = s.find(',', pos);
      count *= std::stoll(s.substr(pos, comma == std::string::npos ? comma : comma - pos));
      pos = comma == std::string::npos ? comma : comma + 1;
    }
    for (int64_t i = 0; i < count; ++i) values += (i ? ", " : "") + std::to_string(i % 5);
    return R"({"id": ")" + id + R"(", "type": "Const", "attrs": {"shape": )" + shape +
           R"(, "values": [)" + values + "]}}";
  };
  return pageText(constOf("x", xShape) + ", " + constOf("lo", loShape) + ", " +
                      constOf("hi", hiShape) + R"(, {"id": "fq", "type": ")" + kFq +
                      R"(", "attrs": )" + fqAttrs + "}, " + constOf("ok", "[3]"),
                  R"({"from": ["x", "output"], "to": ["fq", "inputs"]},
                     {"from": ["lo", "output"], "to": ["fq", "min"]},
                     {"from": ["hi", "output"], "to": ["fq", "max"]})");
}

// A page that reads but has a bad block: exit 1, the message on stderr in the documented form,
// and the rest of the page evaluated and printed.
void requireBlockError(const std::string& text, const std::string& block, const std::string& type,
                       const std::string& message) {
  TempDir dir;
  const auto page = dir.write("p.page.json", text);
  const RunResult r = runRunner({page.string()});
  requireNoCrash(r);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("error: block '" + block + "' (" + type + "): " + message) != std::string::npos);
  CHECK(r.out.find("ok.result_output  [3]  [0, 1, 2]") != std::string::npos);
}

void requireUnreadable(const std::string& text, const std::string& message) {
  TempDir dir;
  const auto page = dir.write("bad.page.json", text);
  const RunResult r = runRunner({page.string()});
  requireNoCrash(r);
  INFO("stderr: " << r.err);
  CHECK(r.status == 2);
  CHECK(r.err.find(page.string()) != std::string::npos);
  CHECK(r.err.find(message) != std::string::npos);
  CHECK(r.out.empty());
}

}  // namespace

TEST_CASE("runner: a good page exits 0 and prints the seed example's result", "[runner]") {
  const RunResult r =
      runRunner({std::string(QS_SOURCE_DIR) + "/assets/examples/using_method.page.json"});
  requireNoCrash(r);
  INFO(r.err);
  CHECK(r.status == 0);
  // enuSpace's "Using Method": [-1, 0, 5, 6] in [0, 5] at 8 bits gives [0, 0, 5, 5].
  CHECK(r.out.find("fq.result_output  [4]  [0, 0, 5, 5]") != std::string::npos);
  CHECK(r.err.empty());
}

TEST_CASE("runner: malformed JSON exits 2 naming file, line and column", "[runner]") {
  // The stray second comma is on line 3, column 16.
  requireUnreadable(
      "{\n  \"format\": \"quantspace-page\",\n  \"version\": 1,,\n  \"blocks\": []\n}\n",
      "bad.page.json:3:16: syntax error");
  requireUnreadable("", "bad.page.json:1:1:");
  requireUnreadable("{\"format\": \"quantspace-page\", \"version\": 1, \"blocks\": [}",
                    "bad.page.json:1:56:");
}

TEST_CASE("runner: pages that cannot be read exit 2", "[runner]") {
  requireUnreadable(R"({"format": "something-else", "version": 1, "blocks": []})",
                    "not a Quant Space page");
  requireUnreadable(R"([1, 2])", "not a Quant Space page");
  requireUnreadable(R"({"format": "quantspace-page", "version": 2, "blocks": []})",
                    "unknown page format version 2");
  requireUnreadable(R"({"format": "quantspace-page", "blocks": []})", "no integer \"version\"");
  requireUnreadable(R"({"format": "quantspace-page", "version": 1, "blocks": {"a": 1}})",
                    "\"blocks\" must be a list, not object");
  requireUnreadable(pageText(R"({"id": "a", "type": "Const"}, {"id": "a", "type": "Const"})", ""),
                    "block id 'a' is used twice");
  requireUnreadable(pageText(R"({"id": "a", "type": "Const", "attrs": {"values": [1]}})",
                             R"({"from": ["a", "output"], "to": ["nowhere", "inputs"]})"),
                    "block 'nowhere', which does not exist");
  requireUnreadable(pageText(R"({"id": "a b", "type": "Const"})", ""),
                    "block id 'a b' is not valid");
  requireUnreadable(R"({"format": "quantspace-page", "version": 1, "blocks": [], "blocks": []})",
                    "bad.page.json:1:59: key \"blocks\" appears twice in one object");

  TempDir dir;
  const RunResult missing = runRunner({(dir / "nothere.page.json").string()});
  requireNoCrash(missing);
  CHECK(missing.status == 2);
  CHECK(missing.err.find("nothere.page.json") != std::string::npos);
  CHECK(missing.err.find("No such file") != std::string::npos);
}

TEST_CASE("runner: bad blocks exit 1 and the rest of the page still evaluates", "[runner]") {
  SECTION("unknown type") {
    requireBlockError(
        pageText(
            R"({"id": "m", "type": "NoSuchOp"}, {"id": "ok", "type": "Const", "attrs": {"values": [0, 1, 2]}})",
            ""),
        "m", "NoSuchOp", "unknown block type 'NoSuchOp'");
  }
  SECTION("num_bits 1 and 17: TensorFlow's message") {
    for (const char* bits : {"1", "17"})
      requireBlockError(fqPage(std::string(R"({"num_bits": )") + bits + "}"), "fq", kFq,
                        "num_bits must be between 2 and 16, inclusive");
  }
  SECTION("num_bits of the wrong type") {
    requireBlockError(fqPage(R"({"num_bits": "8"})"), "fq", kFq,
                      "attribute 'num_bits' must be an integer, not string \"8\"");
    requireBlockError(fqPage(R"({"num_bits": 8.5})"), "fq", kFq,
                      "attribute 'num_bits' must be a whole number, not 8.5");
    requireBlockError(fqPage(R"({"narrow_range": 1})"), "fq", kFq,
                      "attribute 'narrow_range' must be true or false, not number 1");
  }
  SECTION("wrong shapes: TensorFlow's messages") {
    requireBlockError(fqPage("{}", "[2, 4]", "[3]"), "fq", kFq,
                      "min has incorrect size, expected 4 was 3");
    requireBlockError(fqPage("{}", "[2, 4]", "[4]", "[5]"), "fq", kFq,
                      "max has incorrect size, expected 4 was 5");
    requireBlockError(fqPage("{}", "[2, 4]", "[1, 4]"), "fq", kFq,
                      "`min` must be rank 1 but is rank 2");
    requireBlockError(fqPage("{}", "[2, 4]", "[4]", "[]"), "fq", kFq,
                      "`max` must be rank 1 but is rank 0");
    requireBlockError(fqPage("{}", "[]", "[1]", "[1]"), "fq", kFq, "input must be at least rank 1");
  }
  SECTION("a cycle") {
    requireBlockError(pageText(R"({"id": "lo", "type": "Const", "attrs": {"values": [0]}},
                    {"id": "hi", "type": "Const", "attrs": {"values": [1]}},
                    {"id": "a", "type": ")" +
                                   kFq + R"("}, {"id": "b", "type": ")" + kFq + R"("},
                    {"id": "ok", "type": "Const", "attrs": {"values": [0, 1, 2]}})",
                               R"({"from": ["a", "output"], "to": ["b", "inputs"]},
                    {"from": ["b", "output"], "to": ["a", "inputs"]},
                    {"from": ["lo", "output"], "to": ["a", "min"]}, {"from": ["hi", "output"], "to": ["a", "max"]},
                    {"from": ["lo", "output"], "to": ["b", "min"]}, {"from": ["hi", "output"], "to": ["b", "max"]})"),
                      "a", kFq, "is part of a cycle: a -> b -> a");
  }
  SECTION("a missing .npy names the file") {
    TempDir dir;
    const auto page =
        dir.write("p.page.json",
                  pageText(R"({"id": "x", "type": "Const", "attrs": {"npy": "data/missing.npy"}},
                    {"id": "ok", "type": "Const", "attrs": {"values": [0, 1, 2]}})",
                           ""));
    const RunResult r = runRunner({page.string()});
    requireNoCrash(r);
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find("error: block 'x' (Const): cannot open '" +
                     (dir / "data/missing.npy").string() + "': No such file or directory") !=
          std::string::npos);
    CHECK(r.out.find("ok.result_output") != std::string::npos);
  }
  SECTION("a values count that does not match the shape") {
    requireBlockError(
        pageText(R"({"id": "x", "type": "Const", "attrs": {"shape": [2, 3], "values": [1, 2, 3]}},
                                  {"id": "ok", "type": "Const", "attrs": {"values": [0, 1, 2]}})",
                 ""),
        "x", "Const", "shape [2, 3] needs 6 values, but \"values\" has 3");
  }
  SECTION("an unwired input") {
    std::string text = fqPage("{}");
    const std::string maxLink = R"({"from": ["hi", "output"], "to": ["fq", "max"]})";
    text.replace(text.find(maxLink), maxLink.size(),
                 R"({"from": ["hi", "output"], "to": ["ok2", "nothing"]})");
    text.replace(text.find("\"blocks\": ["), 11,
                 R"("blocks": [{"id": "ok2", "type": "Const", "attrs": {"values": [1]}}, )");
    // ok2 is a Const: it has no input 'nothing'.
    TempDir dir;
    const RunResult r = runRunner({dir.write("p.page.json", text).string()});
    requireNoCrash(r);
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(r.err.find("error: block 'fq' (" + kFq + "): input 'max' is not wired") !=
          std::string::npos);
    CHECK(r.err.find("error: block 'ok2' (Const): has no input 'nothing'") != std::string::npos);
    CHECK(r.out.find("ok.result_output") != std::string::npos);
  }
  SECTION("an undeclared attribute") {
    requireBlockError(fqPage(R"({"num_bit": 4})"), "fq", kFq,
                      "unknown attribute 'num_bit' (" + kFq + " has: num_bits, narrow_range)");
  }
  SECTION("a value beyond float32") {
    requireBlockError(pageText(R"({"id": "x", "type": "Const", "attrs": {"values": [1, 1e39]}},
                                  {"id": "ok", "type": "Const", "attrs": {"values": [0, 1, 2]}})",
                               ""),
                      "x", "Const",
                      "attribute 'values' element 1 is 1e+39, outside the float32 range");
  }
  SECTION("what depends on a failed block fails too, naming it") {
    TempDir dir;
    const RunResult r =
        runRunner({dir.write("p.page.json", fqPage("{}", "[2, 4]", "[3]")).string()});
    requireNoCrash(r);
    CHECK(r.status == 1);
    CHECK(r.out.find("x.result_output") != std::string::npos);
    CHECK(r.out.find("fq.result_output") == std::string::npos);
  }
}

TEST_CASE("runner: a tensor too large for memory is refused with its size", "[runner][limits]") {
  requireBlockError(
      pageText(
          R"({"id": "big", "type": "Const", "attrs": {"shape": [100000, 100000, 100000], "values": []}},
                                {"id": "ok", "type": "Const", "attrs": {"values": [0, 1, 2]}})",
          ""),
      "big", "Const",
      "a float32 tensor of shape [100000, 100000, 100000] needs 4.0 PB, more than the limit of");
}

TEST_CASE("runner: --json output parses back, floats round-trip to the same float32", "[runner]") {
  // Values chosen to need the shortest round-trip form: a denormal, the largest float, -0.
  const std::vector<float> expect = {0.1f,
                                     1e-45f,
                                     3.4028235e38f,
                                     -0.0f,
                                     1.0f / 3.0f,
                                     16777216.0f,
                                     std::numeric_limits<float>::quiet_NaN(),
                                     std::numeric_limits<float>::infinity(),
                                     -std::numeric_limits<float>::infinity()};
  TempDir dir;
  const auto page = dir.write(
      "p.page.json", pageText(R"({"id": "v", "type": "Const", "attrs": {"shape": [3, 3], "values":
                   [0.1, 1e-45, 3.4028235e38, -0.0, 0.33333334, 16777216, "nan", "inf", "-inf"]}},
                  {"id": "bad", "type": "Const", "attrs": {"shape": [2], "values": [1]}})",
                              ""));
  const RunResult r = runRunner({page.string(), "--json"});
  requireNoCrash(r);
  CHECK(r.status == 1);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  REQUIRE(doc.is_object());
  REQUIRE(doc.size() == 2);
  const auto& res = doc.at("results").at("v.result_output");
  CHECK(res.at("shape") == nlohmann::json::array({3, 3}));
  CHECK(res.at("dtype") == "float32");
  const auto& values = res.at("values");
  REQUIRE(values.size() == expect.size());
  for (size_t i = 0; i < expect.size(); ++i) {
    INFO("element " << i << ": " << values[i].dump());
    if (std::isnan(expect[i])) {
      CHECK(values[i] == "nan");
    } else if (std::isinf(expect[i])) {
      CHECK(values[i] == (expect[i] > 0 ? "inf" : "-inf"));
    } else {
      REQUIRE(values[i].is_number());
      // A JSON reader's double, rounded to float32, must give back the very bits.
      const float got = static_cast<float>(values[i].get<double>());
      CHECK(std::memcmp(&got, &expect[i], 4) == 0);
    }
  }
  CHECK(doc.at("results").size() == 1);
  CHECK(doc.at("errors").at("bad") == "shape [2] needs 2 values, but \"values\" has 1");
}

TEST_CASE("runner: --save-npy writes <f4 C-order files", "[runner]") {
  TempDir dir;
  const auto page = dir.write("p.page.json", fqPage(R"({"num_bits": 8})"));
  const auto out = dir / "results";
  const RunResult r = runRunner({page.string(), "--save-npy", out.string()});
  requireNoCrash(r);
  REQUIRE(r.status == 0);
  const qs::Tensor fq = qs::readNpy(out / "fq.result_output.npy");
  CHECK(fq.shape() == qs::Shape{2, 4});
  const qs::Tensor x = qs::readNpy(out / "x.result_output.npy");
  CHECK(x.toVector() == std::vector<float>{0, 1, 2, 3, 4, 0, 1, 2});
  // The header is exactly numpy's for a little-endian float32 C-order array.
  const std::string bytes = qs::test::slurp(out / "x.result_output.npy");
  CHECK(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }") == 10);
  CHECK((bytes.size() - 8 * 4) % 64 == 0);

  std::string missing;
  const std::string py = qs::test::pythonWithNumpy(&missing);
  if (py.empty()) FAIL("numpy.load must read what --save-npy writes, but " << missing);
  const std::string script =
      "import numpy, sys\n"
      "a = numpy.load(sys.argv[1])\n"
      "print(a.dtype.str, a.shape, a.flags['C_CONTIGUOUS'], ' '.join(repr(float(v)) for v in "
      "a.ravel()))\n";
  const auto scriptPath = dir.write("load.py", script);
  const RunResult np =
      qs::test::runProgram(py, {scriptPath.string(), (out / "x.result_output.npy").string()});
  INFO(np.err);
  CHECK(np.status == 0);
  CHECK(np.out == "<f4 (2, 4) True 0.0 1.0 2.0 3.0 4.0 0.0 1.0 2.0\n");
}

TEST_CASE("runner: --fetch runs only what the result needs", "[runner]") {
  TempDir dir;
  // fq is broken (num_bits 17); fetching ok's result must not run it, so nothing fails.
  const auto page = dir.write("p.page.json", fqPage(R"({"num_bits": 17})"));
  const RunResult r = runRunner({page.string(), "--fetch", "ok.result_output", "--json"});
  requireNoCrash(r);
  INFO(r.err);
  CHECK(r.status == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  CHECK(doc.at("results").size() == 1);
  CHECK(doc.at("results").contains("ok.result_output"));
  CHECK(doc.at("errors").empty());

  const RunResult both =
      runRunner({page.string(), "--fetch=fq.result_output", "--fetch", "x.result_output"});
  requireNoCrash(both);
  CHECK(both.status == 1);
  CHECK(both.err.find("num_bits must be between 2 and 16") != std::string::npos);
  CHECK(both.out.find("x.result_output") != std::string::npos);
  CHECK(both.out.find("ok.result_output") == std::string::npos);

  for (const char* bad : {"nothere.result_output", "ok.output", "ok.result_nothing"}) {
    const RunResult b = runRunner({page.string(), "--fetch", bad});
    requireNoCrash(b);
    INFO(bad << ": " << b.err);
    CHECK(b.status == 2);
    CHECK(b.err.find(std::string("--fetch ") + bad) != std::string::npos);
  }
}

TEST_CASE("runner: --feed replaces a Const or fills a Placeholder", "[runner]") {
  TempDir dir;
  qs::writeNpy(dir / "x.npy", qs::Tensor::fromValues({1, 4}, {-1, 0, 5, 6}));
  const auto page = dir.write(
      "p.page.json", pageText(R"({"id": "p", "type": "Placeholder", "attrs": {"shape": [-1, 4]}},
                  {"id": "lo", "type": "Const", "attrs": {"values": [0, 0, 0, 0]}},
                  {"id": "hi", "type": "Const", "attrs": {"values": [5, 5, 5, 5]}},
                  {"id": "fq", "type": ")" +
                                  kFq + R"("})",
                              R"({"from": ["p", "output"], "to": ["fq", "inputs"]},
                  {"from": ["lo", "output"], "to": ["fq", "min"]},
                  {"from": ["hi", "output"], "to": ["fq", "max"]})"));
  const RunResult unfed = runRunner({page.string()});
  requireNoCrash(unfed);
  CHECK(unfed.status == 1);
  CHECK(unfed.err.find(
            "error: block 'p' (Placeholder): no value fed: give one with --feed p=FILE.npy") !=
        std::string::npos);

  const RunResult fed =
      runRunner({page.string(), "--feed", "p=" + (dir / "x.npy").string(), "--json"});
  requireNoCrash(fed);
  INFO(fed.err);
  REQUIRE(fed.status == 0);
  const nlohmann::json doc = nlohmann::json::parse(fed.out);
  CHECK(doc["results"]["fq.result_output"]["values"] == nlohmann::json::array({0, 0, 5, 5}));

  // A Const fed from the command line: its own values are replaced.
  qs::writeNpy(dir / "hi.npy", qs::Tensor::fromValues({4}, {1, 1, 1, 1}));
  const RunResult constFed = runRunner({page.string(), "--feed", "p=" + (dir / "x.npy").string(),
                                        "--feed", "hi=" + (dir / "hi.npy").string(), "--json"});
  REQUIRE(constFed.status == 0);
  CHECK(nlohmann::json::parse(constFed.out)["results"]["fq.result_output"]["values"] ==
        nlohmann::json::array({0, 0, 1, 1}));

  const RunResult wrongShape =
      runRunner({page.string(), "--feed", "p=" + (dir / "hi.npy").string()});
  requireNoCrash(wrongShape);
  CHECK(wrongShape.status == 1);
  CHECK(wrongShape.err.find("the fed value has shape [4] but the placeholder wants [-1, 4]") !=
        std::string::npos);

  const RunResult missing =
      runRunner({page.string(), "--feed", "p=" + (dir / "none.npy").string()});
  requireNoCrash(missing);
  CHECK(missing.status == 1);
  CHECK(missing.err.find("error: block 'p' (Placeholder): cannot use --feed: cannot open") !=
        std::string::npos);

  const RunResult unknown = runRunner({page.string(), "--feed", "zz=" + (dir / "x.npy").string()});
  requireNoCrash(unknown);
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("no block 'zz' on the page") != std::string::npos);

  // A big-endian file is converted to native order, and the runner says so.
  std::string be = qs::test::slurp(dir / "x.npy");
  const std::string header = "{'descr': '<f4'";
  be.replace(be.find(header), header.size(), "{'descr': '>f4'");
  for (size_t i = be.size() - 16; i < be.size(); i += 4) {
    // 2.0f is 0x40000000, 7.0f is 0x40e00000: big-endian [2, 2, 2, 7].
    be[i] = 0x40, be[i + 1] = static_cast<char>(i == be.size() - 4 ? 0xe0 : 0), be[i + 2] = 0;
    be[i + 3] = 0;
  }
  dir.write("be.npy", be);
  const RunResult converted =
      runRunner({page.string(), "--feed", "p=" + (dir / "be.npy").string(), "--json"});
  requireNoCrash(converted);
  INFO(converted.err);
  CHECK(converted.status == 0);
  CHECK(converted.err.find("note: --feed p=" + (dir / "be.npy").string() +
                           ": converted from dtype '>f4' to float32") != std::string::npos);
  CHECK(nlohmann::json::parse(converted.out)["results"]["p.result_output"]["values"] ==
        nlohmann::json::array({2, 2, 2, 7}));

  // An int32 file stays int32: the placeholder gives it, the float32 input it is wired to refuses.
  qs::Tensor ints = qs::Tensor::uninitialized({1, 4}, qs::DType::Int32);
  for (int i = 0; i < 4; ++i) ints.mutableAs<int32_t>()[i] = 3 - i;
  qs::writeNpy(dir / "i.npy", ints);
  const RunResult typed =
      runRunner({page.string(), "--feed", "p=" + (dir / "i.npy").string(), "--json"});
  requireNoCrash(typed);
  CHECK(typed.status == 1);
  CHECK(typed.err.find("error: block 'fq' (" + kFq +
                       "): input 'inputs' takes float32, not int32") != std::string::npos);
  const nlohmann::json typedDoc = nlohmann::json::parse(typed.out);
  CHECK(typedDoc["results"]["p.result_output"] ==
        nlohmann::json::parse(R"({"shape": [1, 4], "dtype": "int32", "values": [3, 2, 1, 0]})"));

  const RunResult notFeedable = runRunner({page.string(), "--feed", "p=" + (dir / "x.npy").string(),
                                           "--feed", "fq=" + (dir / "x.npy").string()});
  requireNoCrash(notFeedable);
  CHECK(notFeedable.status == 1);
  CHECK(notFeedable.err.find("error: block 'fq' (" + kFq + "): cannot be fed") !=
        std::string::npos);
}

TEST_CASE("runner: every dtype in the summary, --json and --save-npy", "[runner][dtype]") {
  TempDir dir;
  const auto page =
      dir.write("p.page.json", pageText(R"({"id": "i", "type": "Const", "attrs": {"dtype": "int64",
                    "values": [9007199254740993, -2, 5]}},
                  {"id": "b", "type": "Const", "attrs": {"dtype": "bool",
                    "values": [true, false, true]}},
                  {"id": "h", "type": "Const", "attrs": {"dtype": "float16", "values": [0.1]}},
                  {"id": "u", "type": "Const", "attrs": {"dtype": "uint8", "values": [255, 0]}},
                  {"id": "c", "type": "Cast", "attrs": {"DstT": "int32"}},
                  {"id": "f", "type": "Const", "attrs": {"values": [1.5, -2.5]}})",
                                        R"({"from": ["f", "output"], "to": ["c", "x"]})"));
  const RunResult text = runRunner({page.string()});
  requireNoCrash(text);
  INFO(text.err);
  REQUIRE(text.status == 0);
  CHECK(text.out.find("i.result_output  [3]  int64  [9007199254740993, -2, 5]  min -2  max "
                      "9007199254740993  mean 3.0024e+15") != std::string::npos);
  CHECK(text.out.find("b.result_output  [3]  bool  [true, false, true]  true 2 of 3\n") !=
        std::string::npos);
  // float16 0.1 is 0x2e66 = 0.0999755859375, printed in float32's shortest form.
  CHECK(text.out.find("h.result_output  [1]  float16  [0.099975586]") != std::string::npos);
  CHECK(text.out.find("u.result_output  [2]  uint8  [255, 0]  min 0  max 255  mean 127.5") !=
        std::string::npos);
  CHECK(text.out.find("c.result_y  [2]  int32  [1, -2]") != std::string::npos);
  CHECK(text.out.find("f.result_output  [2]  [1.5, -2.5]") != std::string::npos);

  const auto out = dir / "npy";
  const RunResult json = runRunner({page.string(), "--json", "--save-npy", out.string()});
  requireNoCrash(json);
  REQUIRE(json.status == 0);
  const nlohmann::json doc = nlohmann::json::parse(json.out)["results"];
  CHECK(doc["i.result_output"] == nlohmann::json::parse(
                                      R"({"shape": [3], "dtype": "int64",
                                          "values": [9007199254740993, -2, 5]})"));
  CHECK(doc["b.result_output"]["values"] == nlohmann::json::parse("[true, false, true]"));
  CHECK(doc["b.result_output"]["dtype"] == "bool");
  CHECK(doc["h.result_output"]["dtype"] == "float16");
  // Read back as float32, then float16, it is the very value: 0x2e66.
  CHECK(
      qs::floatToHalf(static_cast<float>(doc["h.result_output"]["values"][0].get<double>())).bits ==
      0x2e66);
  CHECK(doc["u.result_output"]["values"] == nlohmann::json::parse("[255, 0]"));
  CHECK(doc["f.result_output"]["dtype"] == "float32");
  // The saved files keep the dtype: numpy's descr in the header.
  for (const auto& [name, descr] :
       {std::pair{"i", "<i8"}, {"b", "|b1"}, {"h", "<f2"}, {"u", "|u1"}, {"f", "<f4"}}) {
    const std::string bytes = qs::test::slurp(out / (std::string(name) + ".result_output.npy"));
    INFO(name);
    CHECK(bytes.find(std::string("{'descr': '") + descr + "'") == 10);
  }
  const qs::Tensor i = qs::readNpy(out / "i.result_output.npy");
  CHECK(i.as<int64_t>()[0] == 9007199254740993);
  CHECK(qs::readNpy(out / "c.result_y.npy").as<int32_t>()[1] == -2);
}

TEST_CASE("runner: --set changes a block's attribute for one run", "[runner]") {
  TempDir dir;
  const auto page = dir.write(
      "p.page.json", pageText(R"({"id": "x", "type": "Const", "attrs": {"values": [0.3, 1, 2.6]}},
                  {"id": "r", "type": "FakeQuantWithMinMaxArgs",
                   "attrs": {"min": 0, "max": 3, "num_bits": 8}})",
                              R"({"from": ["x", "output"], "to": ["r", "inputs"]})"));
  auto values = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args{page.string(), "--json", "--fetch", "r.result_output"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = runRunner(args);
    requireNoCrash(r);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return nlohmann::json::parse(r.out)["results"]["r.result_output"]["values"];
  };
  // Worked by hand: at 2 bits over [0, 3] the levels are 0, 1, 2, 3; at 8 bits 3/255 apart.
  CHECK(values({"--set", "r.num_bits=2"}) == nlohmann::json::array({0, 1, 3}));
  CHECK(values({}) != nlohmann::json::array({0, 1, 3}));
  // The later --set wins.
  CHECK(values({"--set=r.num_bits=8", "--set", "r.num_bits=2"}) ==
        nlohmann::json::array({0, 1, 3}));

  const RunResult noBlock = runRunner({page.string(), "--set", "y.num_bits=2"});
  requireNoCrash(noBlock);
  CHECK(noBlock.status == 2);
  CHECK(noBlock.err.find("error: --set y.num_bits=2: no block 'y' on the page") !=
        std::string::npos);
  // A bad value is the block's error, as in the page file.
  const RunResult bad = runRunner({page.string(), "--set", "r.num_bits=1"});
  requireNoCrash(bad);
  CHECK(bad.status == 1);
  CHECK(bad.err.find("num_bits must be between 2 and 16, inclusive") != std::string::npos);
}

TEST_CASE("runner: a wrong command line exits 2 with the usage", "[runner]") {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"--bogus"},
                                               {"a.page.json", "b.page.json"},
                                               {"p", "--fetch"},
                                               {"p", "--feed", "novalue"},
                                               {"p", "--threads", "0"},
                                               {"p", "--set", "noequals"},
                                               {"p", "--set", "nodot=1"},
                                               {"p", "--set", ".a=1"},
                                               {"p", "--set", "b.=1"}}) {
    const RunResult r = runRunner(args);
    requireNoCrash(r);
    CHECK(r.status == 2);
    CHECK(r.err.find("usage: quantspace-run") != std::string::npos);
  }
}

}  // namespace test_runner_cli
