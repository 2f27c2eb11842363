// The pictures in docs/images/ must be what scripts/make_doc_images.sh renders with this build's
// editor: a change to what the editor draws fails here until the pictures are made again, so the
// documentation never shows an older editor. Hidden from the default run (it renders twelve
// windows, several seconds); CTest runs it as its own test, labelled GUI.
#include <QDir>
#include <QFileInfo>
#include <QImage>
#include <QProcess>
#include <QTemporaryDir>
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <sstream>
#include <string>

namespace test_doc_images {

namespace {

const QString kSourceDir = QStringLiteral(QS_SOURCE_DIR);

// A pixel differs when one of its channels is off by more than this (of 255): anti-aliased
// edges that land a little differently stay below it.
constexpr int kChannelTolerance = 24;
// A picture may differ in this fraction of its pixels: room for glyph rasterization, far less
// than a moved legend, a new column or a different palette.
constexpr double kPixelFraction = 0.002;

struct Difference {
  QString problem;  // empty when the pictures agree
  double fraction = 0;
  QRect box;  // the differing pixels' bounding box
};

Difference compare(const QImage& committed, const QImage& rendered) {
  Difference d;
  if (committed.isNull()) return {QStringLiteral("cannot be read"), 0, {}};
  if (committed.size() != rendered.size()) {
    d.problem = QStringLiteral("is %1x%2, the script renders %3x%4")
                    .arg(committed.width())
                    .arg(committed.height())
                    .arg(rendered.width())
                    .arg(rendered.height());
    return d;
  }
  const QImage a = committed.convertToFormat(QImage::Format_RGB32);
  const QImage b = rendered.convertToFormat(QImage::Format_RGB32);
  int64_t differing = 0;
  for (int y = 0; y < a.height(); ++y) {
    const auto* ra = reinterpret_cast<const QRgb*>(a.constScanLine(y));
    const auto* rb = reinterpret_cast<const QRgb*>(b.constScanLine(y));
    for (int x = 0; x < a.width(); ++x) {
      const int dr = std::abs(qRed(ra[x]) - qRed(rb[x]));
      const int dg = std::abs(qGreen(ra[x]) - qGreen(rb[x]));
      const int db = std::abs(qBlue(ra[x]) - qBlue(rb[x]));
      if (std::max({dr, dg, db}) <= kChannelTolerance) continue;
      ++differing;
      d.box |= QRect(x, y, 1, 1);
    }
  }
  d.fraction = double(differing) / (double(a.width()) * a.height());
  if (d.fraction > kPixelFraction)
    d.problem =
        QStringLiteral("differs in %1% of its pixels (allowed %2%), within x %3..%4, y %5..%6")
            .arg(100 * d.fraction, 0, 'f', 3)
            .arg(100 * kPixelFraction, 0, 'f', 1)
            .arg(d.box.left())
            .arg(d.box.right())
            .arg(d.box.top())
            .arg(d.box.bottom());
  return d;
}

std::set<QString> pngs(const QString& dir) {
  std::set<QString> names;
  for (const QString& name : QDir(dir).entryList({QStringLiteral("*.png")}, QDir::Files))
    names.insert(name);
  return names;
}

}  // namespace

TEST_CASE("docs/images are what scripts/make_doc_images.sh renders", "[.doc-images]") {
  QTemporaryDir out;
  REQUIRE(out.isValid());
  QProcess script;
  script.setProcessChannelMode(QProcess::MergedChannels);
  script.start(QStringLiteral("sh"), {kSourceDir + QStringLiteral("/scripts/make_doc_images.sh"),
                                      out.path(), QStringLiteral(QS_EDITOR_PATH)});
  REQUIRE(script.waitForFinished(120000));
  INFO(script.readAll().toStdString());
  REQUIRE(script.exitStatus() == QProcess::NormalExit);
  REQUIRE(script.exitCode() == 0);

  const QString imagesDir = kSourceDir + QStringLiteral("/docs/images");
  const std::set<QString> committed = pngs(imagesDir);
  const std::set<QString> rendered = pngs(out.path());
  REQUIRE(rendered.size() >= 10);
  std::ostringstream problems;
  for (const QString& name : committed)
    if (!rendered.count(name))
      problems << "docs/images/" << name.toStdString()
               << " is not made by scripts/make_doc_images.sh: add it there or delete it\n";
  for (const QString& name : rendered) {
    if (!committed.count(name)) {
      problems << "docs/images/" << name.toStdString() << " is missing\n";
      continue;
    }
    const Difference d =
        compare(QImage(imagesDir + QLatin1Char('/') + name), QImage(out.filePath(name)));
    if (!d.problem.isEmpty())
      problems << "docs/images/" << name.toStdString() << " " << d.problem.toStdString() << "\n";
  }
  if (!problems.str().empty()) {
    // Keep the new pictures to look at.
    out.setAutoRemove(false);
    problems << "The script's pictures are in " << out.path().toStdString()
             << "; if the change is intended, run scripts/make_doc_images.sh and commit "
                "docs/images/";
  }
  INFO(problems.str());
  CHECK(problems.str().empty());
}

}  // namespace test_doc_images
