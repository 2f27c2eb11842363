// quantspace --screenshot --inspect RESULT: a result the page does not have is a mistake on the
// command line (exit 2, a message naming the result, and the block if it exists).
#include <QFile>
#include <QImage>
#include <QProcess>
#include <QTemporaryDir>
#include <catch2/catch.hpp>

namespace test_editor_inspect_cli {

TEST_CASE("quantspace --screenshot --inspect of a missing result exits 2 naming it", "[gui][cli]") {
  QTemporaryDir dir;
  const QString page = dir.filePath("p.page.json");
  {
    QFile f(page);
    REQUIRE(f.open(QIODevice::WriteOnly));
    f.write(R"({"format": "quantspace-page", "version": 1, "name": "p", "blocks": [
      {"id": "x", "type": "Const", "attrs": {"shape": [2], "values": [1, 2]}},
      {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "attrs": {}}],
      "links": [{"from": ["x", "output"], "to": ["fq", "inputs"]}]})");
  }
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("QT_QPA_PLATFORM", "offscreen");
  env.insert("QS_RECOVERY_DIR", dir.filePath("recovery"));
  p.setProcessEnvironment(env);
  const QString out = dir.filePath("x.png");
  auto shoot = [&](const QString& result) {
    p.start(QS_EDITOR_PATH, {"--screenshot", out, "--inspect", result, page});
    REQUIRE(p.waitForFinished(120000));
    return p.exitCode();
  };
  CHECK(shoot("fq.result_nope") == 2);
  CHECK(p.readAllStandardError().contains(
      "quantspace: --inspect fq.result_nope: block 'fq' (FakeQuantWithMinMaxArgs) has no "
      "result 'result_nope' (it has: fq.result_output)\n"));
  CHECK(shoot("ghost.result_output") == 2);
  CHECK(p.readAllStandardError().contains(
      "quantspace: --inspect ghost.result_output: no block 'ghost' on the page\n"));
  CHECK(shoot("fq") == 2);
  CHECK(p.readAllStandardError().contains("not a result name"));
  CHECK_FALSE(QFile::exists(out));
  CHECK(shoot("fq.result_output") == 0);
  CHECK(QFile::exists(out));
}

}  // namespace test_editor_inspect_cli
