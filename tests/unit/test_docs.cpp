// The block reference in docs/blocks/ is generated from the descriptors; a block added or changed
// without regenerating it fails here with the command that fixes it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "blocks/RegisterBlocks.h"
#include "runtime/BlockDocs.h"
#include "test_runner_support.h"

namespace {

const std::filesystem::path kDocsDir = std::filesystem::path(QS_SOURCE_DIR) / "docs" / "blocks";
const char* kRegenerate = "regenerate with: build/quantspace-docs docs/blocks";

}  // namespace

TEST_CASE("docs: every block's reference page is committed and up to date", "[docs]") {
  const auto all = qs::builtinRegistry().all();
  REQUIRE(!all.empty());
  std::set<std::string> expected{"README.md"};
  for (const qs::BlockDescriptor* d : all) {
    const std::string name = qs::blockReferenceFileName(*d);
    expected.insert(name);
    const auto path = kDocsDir / name;
    INFO("docs/blocks/" << name << " is missing or out of date; " << kRegenerate);
    REQUIRE(std::filesystem::exists(path));
    CHECK(qs::test::slurp(path) == qs::blockReferencePage(*d));
  }
  {
    INFO("docs/blocks/README.md is out of date; " << kRegenerate);
    CHECK(qs::test::slurp(kDocsDir / "README.md") == qs::blockReferenceIndex(all));
  }
  for (const auto& entry : std::filesystem::directory_iterator(kDocsDir)) {
    const std::string name = entry.path().filename().string();
    INFO("docs/blocks/" << name << " documents no registered block; " << kRegenerate);
    CHECK(expected.count(name) == 1);
  }
}

TEST_CASE("docs: a block page shows ports, attributes with defaults and ranges, and results",
          "[docs]") {
  const qs::BlockDescriptor* fq = qs::builtinRegistry().find("FakeQuantWithMinMaxVarsPerChannel");
  REQUIRE(fq != nullptr);
  const std::string page = qs::blockReferencePage(*fq);
  CHECK(page.rfind("# FakeQuantWithMinMaxVarsPerChannel\n", 0) == 0);
  CHECK(page.find("| `scope` | input | scope |  | bound to the page, never wired |") !=
        std::string::npos);
  CHECK(page.find("| `inputs` | input | float32 tensor | rank >= 1 | required |") !=
        std::string::npos);
  CHECK(page.find("| `min` | input | float32 tensor | rank 1 | required |") != std::string::npos);
  CHECK(page.find("| `num_bits` | int | `8` | 2 to 16 (else: \"num_bits must be between 2 and 16, "
                  "inclusive\") |") != std::string::npos);
  CHECK(page.find("| `narrow_range` | bool | `false` |  |") != std::string::npos);
  CHECK(page.find("| `output` | `result_output` | `<block id>.result_output` |") !=
        std::string::npos);
  CHECK(
      page.find(
          R"({"id":"b","type":"FakeQuantWithMinMaxVarsPerChannel","attrs":{"num_bits":8,"narrow_range":false}})") !=
      std::string::npos);
  const std::string index = qs::blockReferenceIndex(qs::builtinRegistry().all());
  CHECK(
      index.find("| [FakeQuantWithMinMaxVarsPerChannel](FakeQuantWithMinMaxVarsPerChannel.md) |") !=
      std::string::npos);
}

TEST_CASE("docs: no page promises a block that does not exist", "[docs]") {
  // The attrs pin is enuSpace's; it stands for the block's own attributes. A page may speak of
  // wiring it from an Attrs block only once such a block is registered.
  const auto all = qs::builtinRegistry().all();
  if (qs::builtinRegistry().find("Attrs") != nullptr) return;
  for (const qs::BlockDescriptor* d : all) {
    const std::string page = qs::blockReferencePage(*d);
    INFO(d->type);
    CHECK(page.find("Attrs block") == std::string::npos);
    const qs::PortDescriptor* attrs = d->findPort("attrs");
    if (attrs == nullptr) continue;
    CHECK(attrs->doc.find("takes no wire") != std::string::npos);
    CHECK(page.find("| `attrs` | input | attrs |  | never wired |") != std::string::npos);
  }
  // The committed pages and the guides, too.
  const auto docs = std::filesystem::path(QS_SOURCE_DIR) / "docs";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(docs)) {
    if (entry.path().extension() != ".md") continue;
    INFO(entry.path().string());
    CHECK(qs::test::slurp(entry.path()).find("Attrs block") == std::string::npos);
  }
}

TEST_CASE("docs: the Args pages say what the blocks refuse, the Vars pages what they accept",
          "[docs]") {
  for (const char* type : {"FakeQuantWithMinMaxArgs", "FakeQuantWithMinMaxArgsGradient"}) {
    const std::string page = qs::blockReferencePage(*qs::builtinRegistry().find(type));
    INFO(type);
    CHECK(page.find("min == max and min > max are errors") != std::string::npos);
    CHECK(page.find("None of these is an error") == std::string::npos);
  }
  for (const char* type : {"FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel"}) {
    const std::string page = qs::blockReferencePage(*qs::builtinRegistry().find(type));
    INFO(type);
    CHECK(page.find("None of these is an error") != std::string::npos);
    CHECK(page.find("TensorFlow's op names this output `outputs`") != std::string::npos);
  }
}
