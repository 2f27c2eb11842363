// Large pages: readable labels when zoomed out and the minimap.

#include <QImage>

#include "GuiTestUtil.h"

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
