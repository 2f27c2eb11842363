// The canvas shows nothing cut, hidden or misleading: ids told apart when shortened, errors
// wrapped, a reversed range flagged, cycles and routes drawn as what they are, example pages
// without overlapping blocks, and the user guide's zoom levels those of the code.

#include <QDir>
#include <QFile>
#include <QFontMetrics>
#include <QImage>
#include <QSet>
#include <QTextStream>
#include <fstream>

#include "GuiTestUtil.h"
#include "editor_bridge/WireLayer.h"
#include "editor_bridge/WireRouter.h"
#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "test_viewer_helpers.h"

namespace test_canvas_craft {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {

QStringList examplePages() {
  QStringList out;
  const QDir dir(QS_SOURCE_DIR "/assets/examples");
  for (const QString& name : dir.entryList({"*.page.json"}, QDir::Files, QDir::Name))
    out << dir.filePath(name);
  return out;
}

// Writes a page file of `blocks` and `links` (JSON arrays) into `dir`.
QString writePage(const QTemporaryDir& dir, const char* name, const std::string& blocks,
                  const std::string& links) {
  const QString path = dir.filePath(name);
  std::ofstream(path.toStdString())
      << R"({"format": "quantspace-page", "version": 1, "name": "t",)"
      << R"("blocks": )" << blocks << R"(, "links": )" << links << "}";
  return path;
}

// Every run of the wire's drawn path that enters the body of a block the wire does not connect.
int runsThroughOtherBlocks(PageScene* scene, const WireItem* w) {
  int bad = 0;
  const auto& pts = w->points();
  for (const Block& b : scene->model()->page().blocks()) {
    BlockItem* item = scene->blockItem(b.id);
    if (item == w->fromItem() || item == w->toItem()) continue;
    const QRectF r = item->sceneBodyRect();
    for (size_t i = 1; i < pts.size(); ++i)
      if (segmentEntersRect(pts[i - 1], pts[i], r)) ++bad;
  }
  return bad;
}

}  // namespace

TEST_CASE("canvas: ids that share a prefix stay apart when shortened, whole in the tooltip",
          "[gui][canvas]") {
  QFont font;
  font.setPixelSize(10);
  font.setBold(true);
  const QFontMetrics m(font);
  const QStringList ids = {"spike_row", "spike_col", "spike_channel", "spike_at"};
  for (int width : {26, 36, 44, 52, 60}) {
    QSet<QString> seen;
    for (const QString& id : ids) {
      const QStringList lines = BlockItem::idLines(id, m, width);
      REQUIRE(lines.size() <= 2);
      for (const QString& line : lines) CHECK(m.horizontalAdvance(line) <= width);
      seen.insert(lines.join('\n'));
    }
    INFO("width " << width);
    CHECK(seen.size() == ids.size());
  }
  // Two lines break between words when both words then show whole, and inside a word otherwise.
  const QStringList splits = {"spike_|row", "channel_|scale", "learned|Min", "conv|2",
                              "fq.|result"};
  for (const QString& split : splits) {
    const QStringList words = split.split('|');
    const QString id = words.join(QString());
    // A pixel short of the whole id: a split by width alone would move only its last letter.
    const int width = m.horizontalAdvance(id) - 1;
    INFO(id.toStdString() << " in " << width << " pixels");
    CHECK(BlockItem::idLines(id, m, width) == words);
  }
  // A word with no break in it is broken between letters, its first part ending in a hyphen.
  const int narrow = m.horizontalAdvance("percent");
  const QStringList word = BlockItem::idLines("percentile", m, narrow);
  REQUIRE(word.size() == 2);
  CHECK(word[0].endsWith('-'));
  CHECK(word[0].chopped(1) + word[1] == "percentile");
  for (const QString& line : word) CHECK(m.horizontalAdvance(line) <= narrow);
  CHECK(BlockItem::linesShowWhole(word, "percentile"));
  CHECK_FALSE(BlockItem::linesShowWhole({"percen-", "ile"}, "percentile"));
  // Narrower than any letter: still at most two lines, and nothing read from outside the id.
  for (const QString& id : {QString("x"), QString("ab"), QString("a_b")})
    CHECK(BlockItem::idLines(id, m, 1).size() <= 2);

  // On the example pages fitted into the window, as a new user first sees them.
  EditorFixture f;
  for (const QSize size : {QSize(1600, 1000), QSize(1280, 800)}) {
    f.w().resize(size);
    QApplication::processEvents();
    for (const QString& path : {QString(QS_SOURCE_DIR "/assets/examples/calibration.page.json"),
                                QString(QS_SOURCE_DIR "/assets/examples/gradient.page.json")}) {
      REQUIRE(f.w().openPage(path));
      QApplication::processEvents();
      f.w().view()->fitPage();
      REQUIRE(f.w().view()->zoom() >= BlockItem::kLabelLod);  // labels are drawn at all
      f.w().view()->viewport()->repaint();
      QSet<QString> labels;
      int labelled = 0;
      for (const Block& b : f.w().model()->page().blocks()) {
        BlockItem* item = f.w().scene()->blockItem(b.id);
        CHECK(item->toolTipText().startsWith(QString::fromStdString(b.id.str())));
        const QString label = item->screenLabelId();
        if (label.isEmpty()) continue;  // drawn in full detail
        ++labelled;
        INFO(path.toStdString() << " " << b.id.str() << " drawn as " << label.toStdString());
        CHECK_FALSE(labels.contains(label));
        labels.insert(label);
      }
      CHECK(labelled > 0);
    }
  }
}

TEST_CASE("canvas: an input and an output on one row never overlap their names", "[gui][canvas]") {
  QFont font;
  font.setPixelSize(9);
  const QFontMetricsF m(font);
  const qreal room = 96;
  const auto fits = [&](const std::pair<QString, QString>& r) {
    return m.horizontalAdvance(r.first) + m.horizontalAdvance(r.second) <= room;
  };
  // Both fit: unchanged.
  CHECK(BlockItem::rowLabels("x", "y", m, room) == std::pair<QString, QString>{"x", "y"});
  // A short one stays whole and the long one gives way, in the middle.
  auto r = BlockItem::rowLabels("min", "histogram_bounds_of_the_channels", m, room);
  CHECK(r.first == "min");
  CHECK(r.second.contains(QChar(0x2026)));
  CHECK(r.second.startsWith("hist"));
  CHECK(fits(r));
  // Both long: each gets half.
  r = BlockItem::rowLabels("histogram_bounds", "histogram_bounds", m, room);
  CHECK(r.first.contains(QChar(0x2026)));
  CHECK(r.second.contains(QChar(0x2026)));
  CHECK(fits(r));

  // Every block type as the canvas draws it: rows whose two names would meet are shortened, so
  // that none overlaps (the calibrators' histogram_bounds in and out, for one).
  const BlockRegistry& reg = builtinRegistry();
  const QFontMetricsF labels(BlockItem::portLabelFont());
  int shortened = 0;
  for (const BlockDescriptor* d : reg.all()) {
    const std::string& type = d->type;
    BlockItem item(BlockId("b"), type, d);
    std::map<qreal, qreal> used;  // row -> width of its names
    for (const BlockItem::Port& p : item.ports()) {
      if (p.result) continue;
      used[p.pos.y()] += labels.horizontalAdvance(QString::fromStdString(p.label));
      shortened += p.label != p.desc->name;
    }
    for (const auto& [y, width] : used) {
      INFO(type << " row at " << y);
      CHECK(width <= BlockItem::kPortLabelRoom);
    }
  }
  CHECK(shortened > 0);
}

TEST_CASE("canvas: a block's error is wrapped inside it and whole in its tooltip",
          "[gui][canvas]") {
  const BlockRegistry& reg = builtinRegistry();
  BlockItem item(BlockId("fq"), "FakeQuantWithMinMaxArgs", reg.find("FakeQuantWithMinMaxArgs"));
  const std::string error = "num_bits must be between 2 and 16, inclusive (got 1)";
  item.setStatus(BlockStatus::Error, error);
  QFont font;
  font.setPointSizeF(6.5);
  const QFontMetricsF m(font);
  QStringList lines = item.errorLines();
  REQUIRE(lines.size() >= 2);  // one line of 108 px holds about twenty characters
  for (const QString& line : lines) CHECK(m.horizontalAdvance(line) <= BlockItem::kWidth - 12);
  CHECK(lines.join(' ').toStdString() == error);

  // Too long for the room: the last line says it goes on; the tooltip has all of it.
  std::string longer;
  for (int i = 0; i < 30; ++i) longer += "word" + std::to_string(i) + " ";
  longer += "END";
  item.setStatus(BlockStatus::Error, longer);
  lines = item.errorLines();
  REQUIRE(lines.size() >= 3);
  CHECK(lines.back().endsWith(QChar(0x2026)));
  CHECK_FALSE(lines.join(' ').contains("END"));
  CHECK(item.toolTipText().contains(QString::fromStdString(longer)));
}

TEST_CASE("canvas: min > max warns on the block, and the inspector says why it has no plots",
          "[gui][canvas]") {
  QTemporaryDir dir;
  const QString page = writePage(
      dir, "reversed.page.json",
      R"([{"id": "x", "type": "Const", "position": [40, 40], "attrs": {"shape": [3], "values": [0, 1, 2]}},
          {"id": "lo", "type": "Const", "position": [40, 220], "attrs": {"shape": [], "values": [2]}},
          {"id": "hi", "type": "Const", "position": [40, 400], "attrs": {"shape": [], "values": [1]}},
          {"id": "fq", "type": "FakeQuantWithMinMaxVars", "position": [300, 200], "attrs": {}},
          {"id": "ok", "type": "FakeQuantWithMinMaxArgs", "position": [300, 420], "attrs": {}},
          {"id": "args", "type": "FakeQuantWithMinMaxArgs", "position": [520, 420],
           "attrs": {"min": 3, "max": -3}}])",
      R"([{"from": ["x", "output"], "to": ["fq", "inputs"]},
          {"from": ["lo", "output"], "to": ["fq", "min"]},
          {"from": ["hi", "output"], "to": ["fq", "max"]},
          {"from": ["x", "output"], "to": ["ok", "inputs"]},
          {"from": ["x", "output"], "to": ["args", "inputs"]}])");
  EditorFixture f;
  REQUIRE(f.w().openPage(page));
  f.w().runNow();
  REQUIRE(f.w().evaluation()->waitIdle(60000));
  QTest::qWait(50);
  BlockItem* fq = f.w().scene()->blockItem(BlockId("fq"));
  // TensorFlow accepts the range: a warning, not an error.
  CHECK(fq->status() == BlockStatus::Ok);
  CHECK(fq->warning().contains("min 2 > max 1"));
  CHECK(fq->toolTipText().contains("Warning: min 2 > max 1"));
  CHECK(f.w().scene()->blockItem(BlockId("args"))->warning().contains("min 3 > max -3"));
  CHECK(f.w().scene()->blockItem(BlockId("ok"))->warning().isEmpty());
  CHECK(f.w().scene()->blockItem(BlockId("x"))->warning().isEmpty());

  // The badge is amber on screen, where a sound block's is green.
  f.w().view()->resetTransform();
  f.w().view()->centerOn(fq->sceneBoundingRect().center());
  f.w().view()->viewport()->repaint();
  const QImage shot = f.w().view()->viewport()->grab().toImage();
  auto badge = [&](const char* id) {
    BlockItem* item = f.w().scene()->blockItem(BlockId(id));
    return shot.pixelColor(f.toViewport(item->mapToScene(QPointF(BlockItem::kWidth - 2 - 5, 2))));
  };
  const QColor warned = badge("fq");
  CHECK(warned.red() > 200);
  CHECK(warned.green() > 120);
  CHECK(warned.blue() < 80);

  // The inspector of such a channel: no plots, and the reason in their place.
  TensorViewer viewer;
  viewer.resize(1000, 700);
  viewer.showBlock(testing::perChannelBlock(Tensor::fromValues({2, 2}, {0.f, 1.f, 2.f, 3.f}),
                                            {2, -1}, {1, 4}, 8));
  REQUIRE(testing::waitIdle(viewer));
  QuantInspector* in = viewer.inspector();
  in->selectChannel(0);
  REQUIRE(testing::waitIdle(viewer));
  for (PlotWidget* w : {in->inputPlot(), in->outputPlot(), in->transferPlot(), in->sweepPlot()}) {
    CHECK_FALSE(w->hasPlot());
    CHECK(w->message().contains("channel 0: min 2 > max 1"));
  }
  in->selectChannel(1);
  REQUIRE(testing::waitIdle(viewer));
  CHECK(in->inputPlot()->hasPlot());
  CHECK(in->sweepPlot()->hasPlot());
}

TEST_CASE("canvas: a wire is routed around a block in its way, and straightens when it leaves",
          "[gui][canvas]") {
  QTemporaryDir dir;
  // `mid` sits on the straight line from a's output to b's input, `low` below the first detour.
  const QString page = writePage(
      dir, "tempting.page.json",
      R"([{"id": "a", "type": "Const", "position": [0, 0], "attrs": {"shape": [], "values": [1]}},
          {"id": "mid", "type": "Const", "position": [260, 0], "attrs": {"shape": [], "values": [2]}},
          {"id": "low", "type": "Const", "position": [260, 240], "attrs": {"shape": [], "values": [3]}},
          {"id": "b", "type": "Abs", "position": [520, 0], "attrs": {}},
          {"id": "c", "type": "Abs", "position": [520, 300], "attrs": {}}])",
      R"([{"from": ["a", "output"], "to": ["b", "x"]},
          {"from": ["a", "output"], "to": ["c", "x"]}])");
  EditorFixture f;
  REQUIRE(f.w().openPage(page));
  PageScene* scene = f.w().scene();
  const Link ab{{BlockId("a"), PortName("output")}, {BlockId("b"), PortName("x")}};
  const Link ac{{BlockId("a"), PortName("output")}, {BlockId("c"), PortName("x")}};
  WireItem* w = scene->wireItem(ab);
  REQUIRE(w != nullptr);
  // The plain curve would cross `mid`: the route does not.
  const std::vector<QPointF> plain = wireCurve(w->start(), w->end());
  bool plainCrosses = false;
  const QRectF mid = scene->blockItem(BlockId("mid"))->sceneBodyRect();
  for (size_t i = 1; i < plain.size(); ++i)
    plainCrosses |= segmentEntersRect(plain[i - 1], plain[i], mid);
  REQUIRE(plainCrosses);
  CHECK(w->routed());
  CHECK(runsThroughOtherBlocks(scene, w) == 0);
  CHECK(runsThroughOtherBlocks(scene, scene->wireItem(ac)) == 0);
  CHECK(w->points().front() == w->start());
  CHECK(w->points().back() == w->end());

  // Moved out of the way, the block frees the wire, which is the plain curve again; moved back
  // in, the wire goes around it again.
  f.w().model()->moveBlocks({{BlockId("mid"), QPointF(260, 0), QPointF(260, -600)}});
  CHECK_FALSE(w->routed());
  f.w().model()->moveBlocks({{BlockId("mid"), QPointF(260, -600), QPointF(260, 0)}});
  CHECK(w->routed());
  CHECK(runsThroughOtherBlocks(scene, w) == 0);

  // On the screen, at 100% and zoomed out to straight lines, nothing of the wire is drawn over
  // the middle of `mid` (its pixels there are the block's dark fill).
  for (qreal zoom : {1.0, 0.4}) {
    f.w().view()->resetTransform();
    f.w().view()->scale(zoom, zoom);
    f.w().view()->centerOn(mid.center());
    f.w().view()->viewport()->repaint();
    const QImage shot = f.w().view()->viewport()->grab().toImage();
    // Around the pins' height, where the straight wire would run, clear of the block's texts
    // (the port label at full detail, the screen-sized id and type zoomed out).
    const QRectF probe = zoom == 1.0 ? QRectF(mid.left() + 42, mid.top() + 42, 30, 16)
                                     : QRectF(mid.left() + 82, mid.top() + 42, 28, 16);
    const QRect inside = f.w().view()->mapFromScene(probe).boundingRect();
    int light = 0;
    for (int y = inside.top(); y <= inside.bottom(); ++y)
      for (int x = inside.left(); x <= inside.right(); ++x)
        if (qGray(shot.pixel(x, y)) > 150) ++light;
    INFO("zoom " << zoom);
    CHECK(light < 10);  // a Const's port label or summary text, not a wire across
  }
}

TEST_CASE("canvas: no wire of an example page runs through a block it does not connect",
          "[gui][canvas]") {
  EditorFixture f;
  for (const QString& path : examplePages()) {
    REQUIRE(f.w().openPage(path));
    for (const auto& [link, wire] : f.w().scene()->wireLayer()->wires()) {
      INFO(path.toStdString() << ": " << link.from.block.str() << " -> " << link.to.block.str());
      CHECK(runsThroughOtherBlocks(f.w().scene(), wire.get()) == 0);
    }
  }
}

TEST_CASE("canvas: a cycle's links are drawn as such and go around their blocks", "[gui][canvas]") {
  QTemporaryDir dir;
  const QString page = writePage(
      dir, "cycle.page.json",
      R"([{"id": "c", "type": "Const", "position": [0, 0], "attrs": {"shape": [], "values": [1]}},
          {"id": "p", "type": "Add", "position": [240, 0], "attrs": {}},
          {"id": "q", "type": "Abs", "position": [480, 0], "attrs": {}}])",
      R"([{"from": ["c", "output"], "to": ["p", "x"]},
          {"from": ["p", "z"], "to": ["q", "x"]},
          {"from": ["q", "y"], "to": ["p", "y"]}])");
  EditorFixture f;
  REQUIRE(f.w().openPage(page));
  PageScene* scene = f.w().scene();
  const Link in{{BlockId("c"), PortName("output")}, {BlockId("p"), PortName("x")}};
  const Link fwd{{BlockId("p"), PortName("z")}, {BlockId("q"), PortName("x")}};
  const Link back{{BlockId("q"), PortName("y")}, {BlockId("p"), PortName("y")}};
  REQUIRE(scene->wireItem(back) != nullptr);
  CHECK_FALSE(scene->wireItem(in)->cyclic());
  CHECK(scene->wireItem(fwd)->cyclic());
  CHECK(scene->wireItem(back)->cyclic());
  // The back edge leaves q's right edge and enters p's left: it goes around both, not under them.
  const WireItem* w = scene->wireItem(back);
  CHECK(w->routed());
  for (const char* id : {"p", "q"}) {
    const QRectF r = scene->blockItem(BlockId(id))->sceneBodyRect();
    for (size_t i = 1; i < w->points().size(); ++i)
      CHECK_FALSE(segmentEntersRect(w->points()[i - 1], w->points()[i], r));
  }
  // Its colour on screen is the cycle's, not a working wire's grey.
  f.w().view()->resetTransform();
  f.w().view()->centerOn(scene->blockItem(BlockId("p"))->sceneBoundingRect().center());
  f.w().view()->viewport()->repaint();
  const QImage shot = f.w().view()->viewport()->grab().toImage();
  int cyclePixels = 0;
  for (const QPointF& pt : w->points()) {
    const QPoint v = f.toViewport(pt);
    for (int dy = -2; dy <= 2; ++dy)
      for (int dx = -2; dx <= 2; ++dx) {
        const QColor c = shot.pixelColor(v + QPoint(dx, dy));
        if (c.red() > 200 && c.blue() > 150 && c.green() < 170) ++cyclePixels;
      }
  }
  CHECK(cyclePixels > 20);
}

TEST_CASE("canvas: no two blocks of a shipped example page overlap", "[gui][canvas]") {
  EditorFixture f;
  const QStringList pages = examplePages();
  REQUIRE(pages.size() >= 5);
  for (const QString& path : pages) {
    REQUIRE(f.w().openPage(path));
    const auto& blocks = f.w().model()->page().blocks();
    for (size_t i = 0; i < blocks.size(); ++i)
      for (size_t j = i + 1; j < blocks.size(); ++j) {
        // With pins and badge: two blocks touching pin to pin read as one.
        const QRectF a = f.w().scene()->blockItem(blocks[i].id)->sceneBoundingRect();
        const QRectF b = f.w().scene()->blockItem(blocks[j].id)->sceneBoundingRect();
        INFO(path.toStdString() << ": " << blocks[i].id.str() << " and " << blocks[j].id.str());
        CHECK_FALSE(a.intersects(b));
      }
  }
}

TEST_CASE("canvas: the user guide's zoom levels are the code's", "[gui][canvas]") {
  QFile file(QS_SOURCE_DIR "/docs/user-guide.md");
  REQUIRE(file.open(QIODevice::ReadOnly | QIODevice::Text));
  const QString guide = QTextStream(&file).readAll();
  auto pct = [](qreal lod) { return QString::number(qRound(lod * 100)) + "%"; };
  // The table's rows, from the constants the painting code uses.
  const QString label = pct(BlockItem::kLabelLod), plain = pct(BlockItem::kPlainLod),
                line = pct(WireLayer::kLineLod), detail = pct(BlockItem::kDetailLod);
  CHECK(label == "18%");  // what the guide's table was written for; update both together
  CHECK(guide.contains("| below " + label + " | plain boxes"));
  CHECK(guide.contains("| " + label + " to " + plain + " | plain boxes"));
  CHECK(guide.contains("| " + plain + " to " + line + " |"));
  CHECK(guide.contains("| " + line + " to " + detail + " |"));
  CHECK(guide.contains("| " + detail + " and above | full detail"));
}

}  // namespace test_canvas_craft
