// Nothing the result viewer or the inspector writes is cut: every label, button, tab, table cell
// and plot text of every example page's first FakeQuant result (or last result) on every tab, in
// windows of 1280x800 and 1600x1000, measured with the widgets' own font metrics.

#include <QAbstractButton>
#include <QComboBox>
#include <QDir>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QTabBar>
#include <QTabWidget>
#include <QTableView>
#include <QTextDocument>
#include <QTextDocumentFragment>
#include <cmath>

#include "GuiTestUtil.h"
#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "editor_bridge/viewer/QuantPlots.h"
#include "editor_bridge/viewer/TensorViewer.h"

namespace test_viewer_text_fits {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

QString plain(const QString& text) {
  return Qt::mightBeRichText(text) ? QTextDocumentFragment::fromHtml(text).toPlainText() : text;
}

QString labelCut(QLabel* l) {
  const QString text = plain(l->text());
  if (text.isEmpty()) return {};
  const QRect room =
      l->contentsRect().adjusted(l->margin(), l->margin(), -l->margin(), -l->margin());
  if (l->wordWrap()) {
    // Laid out as the label lays it out: wrapped at its width; all of it must fit its height, and
    // no word may be wider than the label.
    QTextDocument doc;
    doc.setDefaultFont(l->font());
    doc.setDocumentMargin(0);
    if (Qt::mightBeRichText(l->text()))
      doc.setHtml(l->text());
    else
      doc.setPlainText(l->text());
    doc.setTextWidth(room.width());
    if (doc.idealWidth() > room.width() + 1 || doc.size().height() > room.height() + 2)
      return QStringLiteral("label '%1' needs %2 x %3 px, has %4 x %5")
          .arg(text)
          .arg(doc.idealWidth())
          .arg(doc.size().height())
          .arg(room.width())
          .arg(room.height());
    return {};
  }
  const int need = l->fontMetrics().horizontalAdvance(text.split('\n').first());
  if (need > room.width())
    return QStringLiteral("label '%1' needs %2 px, has %3").arg(text).arg(need).arg(room.width());
  return {};
}

QString tableCuts(QTableView* t) {
  QStringList out;
  const QFontMetrics fm(t->font());
  QAbstractItemModel* m = t->model();
  const QRect vp = t->viewport()->rect();
  for (int r = 0; r < m->rowCount() && r < 200; ++r) {
    if (t->isRowHidden(r) || t->rowViewportPosition(r) > vp.bottom()) continue;
    for (int c = 0; c < m->columnCount() && c < 200; ++c) {
      if (t->columnViewportPosition(c) > vp.right() || t->isColumnHidden(c)) continue;
      const QString text = m->data(m->index(r, c), Qt::DisplayRole).toString();
      // The style's cell margin on each side (3 px in Fusion).
      if (fm.horizontalAdvance(text) + 6 > t->columnWidth(c))
        out << QStringLiteral("cell (%1, %2) '%3' in %4 px")
                   .arg(r)
                   .arg(c)
                   .arg(text)
                   .arg(t->columnWidth(c));
    }
  }
  QHeaderView* h = t->horizontalHeader();
  for (int c = 0; c < m->columnCount() && c < 200; ++c) {
    if (h->isSectionHidden(c) || h->sectionViewportPosition(c) > h->viewport()->width()) continue;
    const QString text = m->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString();
    if (QFontMetrics(h->font()).horizontalAdvance(text) + 6 > h->sectionSize(c))
      out << QStringLiteral("header '%1' in %2 px").arg(text).arg(h->sectionSize(c));
  }
  return out.join("; ");
}

// Every cut text among the visible widgets under `root`.
QStringList cutsUnder(QWidget* root) {
  QStringList cuts;
  for (QWidget* w : root->findChildren<QWidget*>()) {
    if (!w->isVisible() || w->width() <= 0) continue;
    QString cut;
    if (auto* l = qobject_cast<QLabel*>(w)) {
      cut = labelCut(l);
    } else if (auto* b = qobject_cast<QAbstractButton*>(w)) {
      if (!b->text().isEmpty() && b->width() < b->minimumSizeHint().width())
        cut = QStringLiteral("button '%1' %2 px of %3")
                  .arg(b->text())
                  .arg(b->width())
                  .arg(b->minimumSizeHint().width());
    } else if (auto* c = qobject_cast<QComboBox*>(w)) {
      if (c->width() < c->sizeHint().width())
        cut = QStringLiteral("combo '%1' %2 px of %3")
                  .arg(c->currentText())
                  .arg(c->width())
                  .arg(c->sizeHint().width());
    } else if (auto* tb = qobject_cast<QTabBar*>(w)) {
      for (int i = 0; i < tb->count(); ++i)
        if (tb->fontMetrics().horizontalAdvance(tb->tabText(i)) + 8 > tb->tabRect(i).width())
          cut += QStringLiteral("tab '%1' ").arg(tb->tabText(i));
    } else if (auto* t = qobject_cast<QTableView*>(w)) {
      cut = tableCuts(t);
    } else if (auto* p = qobject_cast<PlotWidget*>(w)) {
      QImage image(p->size(), QImage::Format_ARGB32);
      QPainter painter(&image);
      painter.setFont(p->font());
      plotTextCuts() = 0;
      p->render(painter, QRectF(p->rect()));
      if (plotTextCuts() > 0)
        cut =
            QStringLiteral("plot %1: %2 text(s) shortened").arg(p->plotName()).arg(plotTextCuts());
    }
    if (!cut.isEmpty()) cuts << w->metaObject()->className() + QStringLiteral(": ") + cut;
  }
  return cuts;
}

// The result the screenshots show: the first FakeQuant block's, else the last block's.
QString resultToShow(const Page& page) {
  for (const Block& b : page.blocks())
    if (b.type.rfind("FakeQuant", 0) == 0 && b.type.find("Gradient") == std::string::npos)
      return QString::fromStdString(b.id.str()) + ".result_output";
  return {};
}

}  // namespace

TEST_CASE("viewer: no text of the viewer or the inspector is cut, on any example page or tab",
          "[gui][viewer]") {
  EditorFixture f;
  const QDir dir(QS_SOURCE_DIR "/assets/examples");
  for (const QString& name : dir.entryList({"*.page.json"}, QDir::Files, QDir::Name)) {
    REQUIRE(f.w().openPage(dir.filePath(name)));
    f.w().runNow();
    REQUIRE(f.w().evaluation()->waitIdle(120000));
    QApplication::processEvents();
    const QString result = resultToShow(f.w().model()->page());
    if (result.isEmpty()) continue;
    QString error;
    REQUIRE(f.w().inspect(result, &error));
    TensorViewer* viewer = f.w().viewer();
    for (const QSize size : {QSize(1280, 800), QSize(1600, 1000)}) {
      f.w().resize(size);
      f.w().arrangeDocks();  // as a window opened at that size (and --screenshot) has them
      for (const QString& view : TensorViewer::viewNames()) {
        if (!viewer->showView(view)) continue;
        REQUIRE(viewer->waitForIdle(60000));
        QApplication::processEvents();
        INFO(name.toStdString() << " " << result.toStdString() << " at " << size.width() << "x"
                                << size.height() << ", tab " << view.toStdString());
        const QStringList cuts = cutsUnder(viewer);
        CAPTURE(cuts.join("\n").toStdString());
        CHECK(cuts.isEmpty());
      }
    }
  }
}

TEST_CASE("viewer: a per-channel inspector of 64 channels at 1280x800 cuts no text",
          "[gui][viewer]") {
  // The test above shows each page's first FakeQuant block, here per tensor; per channel, the
  // table of 64 channels leaves the four plots short, and their axis labels little room.
  EditorFixture f;
  REQUIRE(f.w().openPage(QS_SOURCE_DIR "/assets/examples/pretrained_depthwise.page.json"));
  f.w().runNow();
  REQUIRE(f.w().evaluation()->waitIdle(120000));
  REQUIRE(f.w().inspect(QStringLiteral("fq_channel_4.result_output")));
  f.w().resize(QSize(1280, 800));
  f.w().arrangeDocks();
  TensorViewer* viewer = f.w().viewer();
  REQUIRE(viewer->showView(QStringLiteral("quantization")));
  REQUIRE(viewer->waitForIdle(60000));
  QApplication::processEvents();
  const QStringList cuts = cutsUnder(viewer);
  CAPTURE(cuts.join("\n").toStdString());
  CHECK(cuts.isEmpty());
}

TEST_CASE("viewer: every axis gets at least three labelled ticks", "[gui][viewer]") {
  // Ranges worked out by hand: the ticks are multiples of a 1-2-5 step inside the range.
  const struct {
    double lo, hi;
    int target;
  } cases[] = {{0, 1, 2},    {0.4, 1.05, 2}, {-3.79, 40.15, 2}, {9.2, 10.1, 2}, {1.5, 16.5, 2},
               {0, 1e-6, 3}, {-1, 1, 1},     {100, 260, 2},     {0.91, 1.09, 2}};
  for (const auto& c : cases) {
    const std::vector<double> t = niceTicks(c.lo, c.hi, c.target);
    INFO(c.lo << " .. " << c.hi);
    REQUIRE(t.size() >= 3);
    const double step = t[1] - t[0];
    const double mag = std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    const double mantissa = step / mag;
    CHECK((std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 ||
           std::abs(mantissa - 5) < 1e-6));
    for (double v : t) {
      CHECK(v >= c.lo - 1e-12);
      CHECK(v <= c.hi + 1e-12);
    }
  }
}

TEST_CASE("viewer: the sweep's legend and value cover none of its points, runs or ring",
          "[gui][viewer]") {
  SweepData d;
  d.currentBits = 8;
  // Curves rising with the bit width (the usual shape) and one that rises, then flattens at the
  // top left, where the legend used to be.
  for (int b = 2; b <= 16; ++b) {
    d.wide.push_back({b, 6.0 * b - 5});
    d.narrow.push_back({b, 6.0 * b - 6});
  }
  for (const QSizeF size : {QSizeF(300, 200), QSizeF(420, 260), QSizeF(800, 500)}) {
    const SweepLayout l = layoutSweep(QRectF(QPointF(0, 0), size), d);
    REQUIRE_FALSE(l.legend.isNull());
    REQUIRE_FALSE(l.value.isNull());
    CHECK_FALSE(l.legend.intersects(l.value));
    for (const QRectF& box : {l.legend, l.value}) {
      CHECK(l.area.contains(box));
      CHECK_FALSE(box.intersects(l.currentRing));
      for (const QPointF& p : l.points) CHECK_FALSE(box.contains(p));
      // Each run sampled densely: no sample inside the box.
      for (const auto& [a, b] : l.runs)
        for (int k = 0; k <= 50; ++k) CHECK_FALSE(box.contains(a + (b - a) * (k / 50.0)));
    }
  }
}

TEST_CASE("viewer: counts read as English", "[gui][viewer]") {
  CHECK(counted(1, "sample", "samples") == "1 sample");
  CHECK(counted(0, "sample", "samples") == "0 samples");
  CHECK(counted(2500, "sample", "samples") == "2500 samples");
}

}  // namespace test_viewer_text_fits
