// Numbers in the running editor never depend on the locale. QApplication sets the C locale from
// the environment (setlocale(LC_ALL, "")), so the editor is started as its own process under
// LC_ALL=de_DE.UTF-8 (decimal comma) and under LC_ALL=C.UTF-8; each loads a page, edits float
// attributes and values with real key events, and saves: the two files must be the same bytes.
#include <QFile>
#include <QProcess>
#include <clocale>
#include <cstring>

#include "GuiTestUtil.h"

namespace test_editor_locale {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

const char* kPage = R"({
  "format": "quantspace-page",
  "version": 1,
  "name": "locale",
  "blocks": [
    {"id": "x", "type": "Const", "position": [40.5, 60.25],
     "attrs": {"shape": [4], "values": [1.5, -2.5, 0.125, 3]}},
    {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "position": [300, 60],
     "attrs": {"min": -1.5, "max": 1.5, "num_bits": 8}}
  ],
  "links": [{"from": ["x", "output"], "to": ["fq", "inputs"]}]
})";

QByteArray readAll(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

}  // namespace

// Run only as a child process by the test below (hidden from the normal run): QS_LOCALE_DIR says
// where to work, QS_LOCALE_DECIMAL which decimal separator the environment's locale must have
// given the process.
TEST_CASE("editor child: load, edit and save under the environment's locale", "[.locale-child]") {
  const QString dir = qEnvironmentVariable("QS_LOCALE_DIR");
  REQUIRE_FALSE(dir.isEmpty());
  const std::string decimal = qEnvironmentVariable("QS_LOCALE_DECIMAL").toStdString();
  INFO("LC_ALL=" << qEnvironmentVariable("LC_ALL").toStdString()
                 << "; scripts/install-deps.sh generates de_DE.UTF-8 (run it as root)");
  REQUIRE(std::string(std::localeconv()->decimal_point) == decimal);

  const QString page = dir + "/in.page.json";
  {
    QFile f(page);
    REQUIRE(f.open(QIODevice::WriteOnly));
    f.write(kPage);
  }
  EditorFixture f;
  QString error;
  REQUIRE(f.w().openPage(page, &error));
  f.w().view()->centerOn(QPointF(250, 150));
  clickBlock(f, "fq");
  typeAttr(f, "min", "-0.25");
  typeAttr(f, "max", "0.75");
  CHECK(floatFromJson(attrOf(f, "fq", "min"), "min") == -0.25f);
  CHECK(floatFromJson(attrOf(f, "fq", "max"), "max") == 0.75f);
  clickBlock(f, "x");
  typeAttr(f, "values", "[0.5, 0.1, -2.25, 1e-3]");
  const Json values = attrOf(f, "x", "values");
  REQUIRE(values.size() == 4);
  CHECK(floatFromJson(values[1], "v") == 0.1f);
  CHECK(floatFromJson(values[3], "v") == 1e-3f);
  // The values shown back in the field are the page's text, with points.
  auto* edit = qobject_cast<QLineEdit*>(f.w().attributeEditor()->field("values"));
  REQUIRE(edit);
  CHECK(edit->text() == "[0.5, 0.1, -2.25, 0.001]");
  REQUIRE(f.w().savePageAs(dir + "/out.page.json", &error));
}

TEST_CASE("editor: a page edited and saved under a comma locale has the same bytes as under C",
          "[gui][locale]") {
  // The locale must exist here, or the child could not tell a missing locale from a pass.
  const std::string previous = std::setlocale(LC_ALL, nullptr);
  const bool haveComma = std::setlocale(LC_ALL, "de_DE.UTF-8") != nullptr;
  std::setlocale(LC_ALL, previous.c_str());
  if (!haveComma)
    FAIL(
        "the de_DE.UTF-8 locale is not installed; scripts/install-deps.sh generates it (run it "
        "as root, or: uncomment it in /etc/locale.gen and run locale-gen)");

  auto runChild = [](const QString& locale, const QString& decimal, const QString& dir) {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("LC_ALL", locale);
    env.insert("QT_QPA_PLATFORM", "offscreen");
    env.insert("QS_LOCALE_DIR", dir);
    env.insert("QS_LOCALE_DECIMAL", decimal);
    p.setProcessEnvironment(env);
    p.start(QCoreApplication::applicationFilePath(), {"[locale-child]"});
    REQUIRE(p.waitForFinished(120000));
    INFO(locale.toStdString() << ":\n" << p.readAllStandardOutput().toStdString());
    REQUIRE(p.exitCode() == 0);
    return readAll(dir + "/out.page.json");
  };
  QTemporaryDir comma, plain;
  const QByteArray underComma = runChild("de_DE.UTF-8", ",", comma.path());
  const QByteArray underC = runChild("C.UTF-8", ".", plain.path());
  CHECK(underComma == underC);
  CHECK(underC.contains(R"("values": [0.5, 0.1, -2.25, 0.001])"));
  CHECK(underC.contains(R"("max": 0.75)"));
  CHECK(underC.contains(R"("min": -0.25)"));
  CHECK(underC.contains(R"("position": [40.5, 60.25])"));
}

}  // namespace test_editor_locale
