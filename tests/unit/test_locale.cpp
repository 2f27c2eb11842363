// Numbers never depend on the locale: with a C locale whose decimal separator is a comma (what Qt
// sets up from the environment in the editor), pages, .npy headers, attribute values and the
// runner's output read and write exactly as in the "C" locale.
#include <catch2/catch.hpp>
#include <clocale>
#include <cstdlib>
#include <cstring>
#include <locale>
#include <sstream>

#include "apps/runner/Runner.h"
#include "blocks/RegisterBlocks.h"
#include "runtime/AttrJson.h"
#include "runtime/Npy.h"
#include "runtime/PageJson.h"
#include "test_runner_support.h"

namespace test_locale {

namespace {

constexpr const char* kCommaLocale = "de_DE.UTF-8";

// Switches the C and C++ locales to de_DE.UTF-8 for its lifetime. A missing locale fails the test:
// skipping would let the check pass on exactly the machines that cannot run it.
class CommaLocale {
 public:
  CommaLocale() : previous_(std::setlocale(LC_ALL, nullptr)) {
    if (!std::setlocale(LC_ALL, kCommaLocale))
      FAIL("the " << kCommaLocale
                  << " locale is not installed; scripts/install-deps.sh generates it (run it as "
                     "root, or: uncomment it in /etc/locale.gen and run locale-gen)");
    std::locale::global(std::locale(kCommaLocale));
    // The locale really reads "0,5": otherwise these tests would prove nothing.
    REQUIRE(std::strcmp(std::localeconv()->decimal_point, ",") == 0);
    REQUIRE(std::strtod("0.5", nullptr) == 0.0);
    REQUIRE(std::strtod("0,5", nullptr) == 0.5);
  }
  ~CommaLocale() {
    std::locale::global(std::locale::classic());
    std::setlocale(LC_ALL, previous_.c_str());
  }

 private:
  std::string previous_;
};

const char* kPage = R"({
  "format": "quantspace-page",
  "version": 1,
  "name": "comma",
  "blocks": [
    {"id": "x", "type": "Const", "position": [40.5, 60.25],
     "attrs": {"shape": [2, 3], "values": [0.5, -1.25, 0.1, 3.75e-3, 1e-40, "nan"]}},
    {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "position": [300, 60],
     "attrs": {"min": -0.75, "max": 2.5, "num_bits": 8}},
    {"id": "y", "type": "Const", "attrs": {"shape": [2], "values": [0.5, 0.25]}}
  ],
  "links": [{"from": ["x", "output"], "to": ["fq", "inputs"]}]
})";

std::string runInProcess(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int status = qs::runCli(args, qs::builtinRegistry(), out, err);
  return std::to_string(status) + "\n" + out.str() + "\n" + err.str();
}

}  // namespace

TEST_CASE("pages read and write the same numbers under a comma locale", "[locale]") {
  const std::string inC = qs::pageToText(qs::parsePage(kPage, "c.page.json").page);
  CommaLocale comma;
  const qs::LoadedPage loaded = qs::parsePage(kPage, "comma.page.json");
  const qs::Block* x = loaded.page.find(qs::BlockId("x"));
  REQUIRE(x);
  CHECK((*x->position)[0] == 40.5);
  CHECK((*x->position)[1] == 60.25);
  const qs::Json& v = x->attrs.at("values");
  CHECK(qs::floatFromJson(v[0], "v") == 0.5f);
  CHECK(qs::floatFromJson(v[1], "v") == -1.25f);
  CHECK(qs::floatFromJson(v[2], "v") == 0.1f);
  CHECK(qs::floatFromJson(v[3], "v") == 3.75e-3f);
  CHECK(qs::floatFromJson(v[4], "v") == 1e-40f);  // a subnormal, rounded once
  const qs::Json& fqAttrs = loaded.page.find(qs::BlockId("fq"))->attrs;
  CHECK(qs::floatFromJson(fqAttrs.at("min"), "min") == -0.75f);

  const std::string text = qs::pageToText(loaded.page);
  CHECK(text == inC);
  CHECK(text.find(R"("values": [0.5, -1.25, 0.1, 0.00375, 1e-40, "nan"])") != std::string::npos);
  CHECK(text.find(R"("position": [40.5, 60.25])") != std::string::npos);
  CHECK(text.find("0,5") == std::string::npos);
  // And what was written reads back the same.
  CHECK(qs::pageToText(qs::parsePage(text, "again.page.json").page) == inC);
}

TEST_CASE("attribute values resolve the same under a comma locale", "[locale]") {
  const qs::BlockDescriptor* d = qs::builtinRegistry().find("FakeQuantWithMinMaxArgs");
  REQUIRE(d);
  CommaLocale comma;
  const qs::Json attrs = qs::parseJson(R"({"min": -0.25, "max": 1.5, "num_bits": 4})", "attrs");
  const qs::AttrValues values = qs::resolveAttrs(*d, attrs);
  CHECK(values.getFloat("min") == -0.25);
  CHECK(values.getFloat("max") == 1.5);
  CHECK(qs::attrValueToString(values.get("min")) == "-0.25");
  CHECK(qs::formatFloat(0.1f) == "0.1");
  CHECK(qs::formatBytes(51400000) == "51.4 MB");
}

TEST_CASE(".npy headers and data read and write the same under a comma locale", "[locale]") {
  const qs::Tensor t = qs::Tensor::fromValues({2, 2}, {0.5f, -1.25f, 0.1f, 1e-3f});
  const std::string inC = qs::npyBytes(t);
  CommaLocale comma;
  const std::string bytes = qs::npyBytes(t);
  CHECK(bytes == inC);
  // The header exactly as numpy writes it.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  CHECK(bytes.substr(10, dict.size()) == dict);
  const qs::Tensor back = qs::parseNpy(bytes, "t.npy");
  REQUIRE(back.shape() == qs::Shape{2, 2});
  CHECK(back.data()[0] == 0.5f);
  CHECK(back.data()[2] == 0.1f);
  CHECK(back.data()[3] == 1e-3f);
  // A header with a two-digit dtype size and a large dimension, parsed under the comma locale.
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 123456789012), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string file = std::string("\x93NUMPY\x01\x00", 8);
  file += static_cast<char>(header.size() & 0xff);
  file += static_cast<char>(header.size() >> 8);
  file += header;
  // The dimensions are read whole: the refusal (an empty tensor's other dimensions must fit the
  // size limit) quotes them.
  CHECK_THROWS_WITH(qs::parseNpy(file, "h.npy"),
                    Catch::Contains("shape [0, 123456789012] is empty, but its other dimensions"));
}

TEST_CASE("the runner's output is the same under a comma locale", "[locale]") {
  qs::test::TempDir dir;
  const std::string page = dir.write("p.page.json", kPage).string();
  const std::vector<std::string> json = {page, "--json", "--save-npy", (dir / "c").string()};
  const std::vector<std::string> summary = {page};
  const std::string jsonC = runInProcess(json), summaryC = runInProcess(summary);
  const std::string npyC = qs::test::slurp(dir / "c" / "fq.result_output.npy");
  CommaLocale comma;
  const std::vector<std::string> jsonComma = {
      page, "--json", "--save-npy", (dir / "d").string(), "--threads", "2"};
  CHECK(runInProcess(jsonComma) == jsonC);
  CHECK(runInProcess(summary) == summaryC);
  CHECK(qs::test::slurp(dir / "d" / "fq.result_output.npy") == npyC);
  // The summary's mean as printf("%.6g") writes it in the C locale.
  CHECK(summaryC.find("x.result_output  [2, 3]  [0.5, -1.25, 0.1, 0.00375, 1e-40, nan]") !=
        std::string::npos);
  CHECK(summaryC.find("y.result_output  [2]  [0.5, 0.25]  min 0.25  max 0.5  mean 0.375\n") !=
        std::string::npos);
}

TEST_CASE("quantspace-run writes the same bytes under LC_ALL=de_DE.UTF-8 and C.UTF-8",
          "[locale][runner]") {
  { CommaLocale exists; }  // fails with the install-deps message when the locale is missing
  qs::test::TempDir dir;
  const std::string page = dir.write("p.page.json", kPage).string();
  auto run = [&](const std::string& locale, const std::vector<std::string>& args) {
    std::vector<std::string> all = {"LC_ALL=" + locale, QS_RUNNER_PATH};
    all.insert(all.end(), args.begin(), args.end());
    const qs::test::RunResult r = qs::test::runProgram("env", all);
    INFO(locale << ": " << r.err);
    CHECK(r.status == 0);
    return r.out + r.err;
  };
  for (const std::string mode : {"--json", ""}) {
    const std::string c = (dir / "c").string(), d = (dir / "d").string();
    std::vector<std::string> args = {page, "--save-npy"};
    if (!mode.empty()) args.push_back(mode);
    auto with = [&](const std::string& out) {
      auto a = args;
      a.insert(a.begin() + 2, out);
      return a;
    };
    const std::string comma = run("de_DE.UTF-8", with(d));
    const std::string plain = run("C.UTF-8", with(c));
    CHECK(comma == plain);
    CHECK(comma.find("0.5") != std::string::npos);
    for (const char* f : {"x.result_output.npy", "fq.result_output.npy", "y.result_output.npy"}) {
      INFO(f);
      const std::string bytes = qs::test::slurp(dir / "c" / f);
      CHECK(bytes.size() > 128);
      CHECK(qs::test::slurp(dir / "d" / f) == bytes);
    }
  }
}

TEST_CASE("the runner's step log is the same under a comma locale", "[locale][steps]") {
  qs::test::TempDir dir;
  const std::string page = dir.write("v.page.json", R"({
    "format": "quantspace-page", "version": 1, "name": "v",
    "blocks": [{"id": "s0", "type": "Const", "attrs": {"shape": [], "values": [0.1]}},
               {"id": "s", "type": "Variable"}],
    "links": [{"from": ["s0", "output"], "to": ["s", "initial_value"]}]
  })")
                               .string();
  CommaLocale comma;
  const std::string log = (dir / "log.csv").string();
  CHECK(runInProcess({page, "--steps", "3", "--fetch", "s.result_output", "--log", log,
                      "--log-every", "2"}) ==
        "0\ns.result_output  []  [0.1]  min 0.1  max 0.1  mean 0.1\n\n");
  CHECK(qs::test::slurp(log) == "step,s.result_output\n2,0.1\n3,0.1\n");
}

}  // namespace test_locale
