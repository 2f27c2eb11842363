// Large pages: readable labels when zoomed out and the minimap.

#include <QAction>
#include <QImage>
#include <cmath>

#include "GuiTestUtil.h"
#include "editor_bridge/Minimap.h"

namespace test_editor_overview {

using namespace qs;
using namespace qs::editor;
using namespace qs::editor::test;

namespace {
// Near-white pixels inside the block's box on screen: the zoomed-out label's text (the fill is
// dark, the outline amber, the pins yellow and green, the badge coloured).
int lightPixelsInBlock(EditorFixture& f, const std::string& block) {
  f.w().view()->viewport()->repaint();
  const QImage shot = f.w().view()->viewport()->grab().toImage();
  BlockItem* item = f.w().scene()->blockItem(BlockId(block));
  REQUIRE(item != nullptr);
  const QRect box = f.w()
                        .view()
                        ->mapFromScene(item->mapToScene(QRectF(0, 0, BlockItem::kWidth, 60)))
                        .boundingRect()
                        .adjusted(2, 2, -2, -2);
  int light = 0;
  for (int y = box.top(); y <= box.bottom(); ++y)
    for (int x = box.left(); x <= box.right(); ++x) {
      const QColor c = shot.pixelColor(x, y);
      if (c.red() > 170 && c.green() > 170 && c.blue() > 170) ++light;
    }
  return light;
}
}  // namespace

TEST_CASE("editor: zoomed out, blocks show their id in a screen-sized font; far out, plain boxes",
          "[gui][editor]") {
  EditorFixture f;
  REQUIRE(f.w().openPage(QS_SOURCE_DIR "/assets/examples/using_method.page.json"));
  PageView* view = f.w().view();
  view->resetTransform();
  view->scale(0.4, 0.4);
  view->centerOn(f.w().scene()->blockItem(BlockId("fq"))->sceneBoundingRect().center());
  // At 0.4 a 7.5 pt title would be 4 px high; the label is drawn at 10 px and has many pixels.
  const int at40 = lightPixelsInBlock(f, "fq");
  CHECK(at40 > 25);
  view->resetTransform();
  view->scale(0.1, 0.1);
  view->centerOn(f.w().scene()->blockItem(BlockId("fq"))->sceneBoundingRect().center());
  CHECK(lightPixelsInBlock(f, "fq") == 0);
}

TEST_CASE("editor: the minimap shows while the page does not fit, and a drag on it pans the view",
          "[gui][editor]") {
  EditorFixture f;
  REQUIRE(f.w().openPage(QS_SOURCE_DIR "/assets/examples/calibration.page.json"));
  // Block statuses arriving from the evaluation redraw the minimap's blocks: let them all arrive
  // before counting redraws. The run that opening the page scheduled starts now, not after its
  // pause: waiting on the evaluation alone let it start, under the sanitizers, in mid-drag.
  REQUIRE(f.w().waitForEvaluation(120000));
  QTest::qWait(20);
  PageView* view = f.w().view();
  Minimap* map = view->minimap();
  REQUIRE(map != nullptr);
  view->fitPage();
  QTest::qWait(20);
  CHECK_FALSE(map->isVisible());  // the whole page is on screen: nothing to overview

  view->resetTransform();
  view->scale(1.5, 1.5);
  view->centerOn(f.w().scene()->blockItem(BlockId("noise"))->sceneBoundingRect().center());
  QTest::qWait(20);
  REQUIRE(map->isVisible());
  // In the canvas's bottom-right corner, over the viewport.
  const QRect vp = view->viewport()->geometry();
  CHECK(vp.contains(map->geometry()));
  CHECK(map->geometry().right() > vp.center().x());
  CHECK(map->geometry().bottom() > vp.center().y());
  const int builds = map->pixmapBuilds();

  // Drag from the visible frame (around `noise`, top left) to the right-hand blocks.
  const QPointF mseCentre = f.w().scene()->blockItem(BlockId("mse"))->sceneBoundingRect().center();
  const QPoint from = map->fromScene(view->mapToScene(view->viewport()->rect().center())).toPoint();
  const QPoint to = map->fromScene(mseCentre).toPoint();
  REQUIRE((to - from).manhattanLength() > 40);
  mouseDrag(map, from, to, 10);
  const QPointF centre = view->mapToScene(view->viewport()->rect().center());
  // Within a minimap pixel of where the mouse was let go.
  const qreal pixel = 1.0 / (map->fromScene(QPointF(1, 0)) - map->fromScene(QPointF(0, 0))).x();
  CHECK(std::abs(centre.x() - map->toScene(to).x()) <= 1.5 * pixel);
  CHECK(std::abs(centre.y() - map->toScene(to).y()) <= 1.5 * pixel);
  CHECK(std::abs(centre.x() - mseCentre.x()) <= 1.5 * pixel);
  // Panning redraws the frame only, not the blocks.
  QTest::qWait(20);
  CHECK(map->pixmapBuilds() == builds);
  // An edit of the layout redraws them (once for the block, and again if its check changes the
  // statuses before the first redraw ran), and then nothing more while nothing changes.
  f.w().model()->addBlock("Const", QPointF(-3000, -3000));
  REQUIRE(f.w().waitForEvaluation(120000));
  QTest::qWait(20);
  const int afterEdit = map->pixmapBuilds();
  CHECK(afterEdit > builds);
  CHECK(afterEdit <= builds + 2);
  QTest::qWait(50);
  CHECK(map->pixmapBuilds() == afterEdit);
  // View > Minimap turns it off.
  auto* action = f.w().findChild<QAction*>("minimapAction");
  REQUIRE(action != nullptr);
  action->trigger();
  CHECK_FALSE(map->isVisible());
  action->trigger();
  CHECK(map->isVisible());
}

}  // namespace test_editor_overview
