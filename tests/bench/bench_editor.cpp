// Editor benchmarks (docs/formats.md): pages of N blocks with about 1.5 wires per block,
// generated here. Frames are rendered through the view's own paint path (QWidget::render of the
// viewport, which runs QGraphicsView::paintEvent) into a 32-bit image of the viewport's size.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <QApplication>
#include <QImage>
#include <QPainter>
#include <QTemporaryDir>
#include <cmath>
#include <map>
#include <memory>

#include "blocks/RegisterBlocks.h"
#include "editor_bridge/PageModel.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/PageView.h"
#include "runtime/PageJson.h"

using namespace qs;
using namespace qs::editor;

namespace {

constexpr int kViewWidth = 1600;
constexpr int kViewHeight = 1000;

// Every fourth block a Const; the others FakeQuant blocks whose `inputs` come from the previous
// FakeQuant (one deep chain through the page) and whose `min` comes from the nearest Const:
// 1.5 wires per block. `max` stays free, for the connect check.
Page makePage(int n) {
  Page page;
  page.name = "bench " + std::to_string(n);
  const int columns = std::max(1, static_cast<int>(std::lround(std::sqrt(n * 1.6))));
  std::string lastFq, lastConst;
  for (int i = 0; i < n; ++i) {
    Block b;
    const bool isConst = i % 4 == 0;
    b.id = BlockId((isConst ? "c" : "f") + std::to_string(i));
    b.type = isConst ? "Const" : "FakeQuantWithMinMaxVarsPerChannel";
    b.position = std::array<double, 2>{40.0 + (i % columns) * 190.0, 40.0 + (i / columns) * 260.0};
    if (isConst)
      b.attrs = Json::parse(R"({"shape": [4], "values": [0, 1, 2, 3]})");
    else
      b.attrs = Json::parse(R"({"num_bits": 8, "narrow_range": false})");
    page.addBlock(b);
    if (isConst) {
      lastConst = b.id.str();
    } else {
      const std::string src = lastFq.empty() ? lastConst : lastFq;
      page.addLink({{BlockId(src), PortName("output")}, {b.id, PortName("inputs")}});
      page.addLink({{BlockId(lastConst), PortName("output")}, {b.id, PortName("min")}});
      lastFq = b.id.str();
    }
  }
  return page;
}

const std::string& pageFile(int n) {
  static QTemporaryDir dir;
  static std::map<int, std::string> files;
  auto it = files.find(n);
  if (it != files.end()) return it->second;
  const std::string path = dir.filePath(QString("bench_%1.page.json").arg(n)).toStdString();
  savePage(makePage(n), path);
  return files[n] = path;
}

struct Editor {
  PageModel model{builtinRegistry()};
  PageScene scene{&model};
  PageView view{&scene};
  QImage image;
  Editor() {
    view.resize(kViewWidth, kViewHeight);
    view.show();
    QApplication::processEvents();
    image = QImage(view.viewport()->size(), QImage::Format_ARGB32_Premultiplied);
    // The empty editor as it stands on screen: painted once, its backing store allocated.
    view.repaint();
    frame();
    QApplication::processEvents();
  }
  void load(const std::string& path) { model.resetPage(loadPage(path).page); }
  void frame() {
    view.viewport()->render(&image);
    benchmark::DoNotOptimize(image.constBits());
  }
};

// Heap bytes in use (not RSS, which keeps what earlier benchmarks freed).
double heapMb() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd) / (1024.0 * 1024.0);
}

void BM_EditorLoad(benchmark::State& state) {
  const std::string& path = pageFile(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    auto model = std::make_unique<PageModel>(builtinRegistry());
    auto scene = std::make_unique<PageScene>(model.get());
    state.ResumeTiming();
    model->resetPage(loadPage(path).page);
    benchmark::DoNotOptimize(scene->items().size());
    state.PauseTiming();
    scene.reset();
    model.reset();
    state.ResumeTiming();
  }
  // Memory of the loaded page over an empty editor, measured once in a fresh editor.
  {
    Editor e;
    const double empty = heapMb();
    e.load(path);
    state.counters["MB_before_frame"] = heapMb() - empty;
    e.view.fitPage();
    e.frame();
    state.counters["MB_above_empty"] = heapMb() - empty;
  }
  {
    // Of which the runtime Page itself (the model's truth, not the drawing).
    const double before = heapMb();
    LoadedPage page = loadPage(path);
    state.counters["MB_page_only"] = heapMb() - before;
    benchmark::DoNotOptimize(page.page.blockCount());
  }
}

void BM_EditorFirstFrame(benchmark::State& state) {
  const std::string& path = pageFile(static_cast<int>(state.range(0)));
  PageView* view = nullptr;
  std::unique_ptr<Editor> shell = std::make_unique<Editor>();  // a shown view, as on screen
  view = &shell->view;
  QImage image(view->viewport()->size(), QImage::Format_ARGB32_Premultiplied);
  for (auto _ : state) {
    state.PauseTiming();
    auto model = std::make_unique<PageModel>(builtinRegistry());
    auto scene = std::make_unique<PageScene>(model.get());
    state.ResumeTiming();
    model->resetPage(loadPage(path).page);
    view->setScene(scene.get());
    view->fitPage();
    view->viewport()->render(&image);
    benchmark::DoNotOptimize(image.constBits());
    state.PauseTiming();
    view->setScene(&shell->scene);
    scene.reset();
    model.reset();
    state.ResumeTiming();
  }
}

void BM_EditorPaintFitted(benchmark::State& state) {
  Editor e;
  e.load(pageFile(static_cast<int>(state.range(0))));
  e.view.fitPage();
  e.frame();
  bool in = true;
  for (auto _ : state) {
    // A zoom change each frame: nothing drawn for the previous zoom can be reused.
    const qreal f = in ? 1.02 : 1 / 1.02;
    e.view.scale(f, f);
    in = !in;
    e.frame();
  }
  state.counters["zoom"] = e.view.zoom();
}

// Zoomed out just enough for the screen-sized labels (BlockItem::kLabelLod): the most blocks
// with text in one frame. A zoom change each frame, so that every label is elided again.
void BM_EditorPaintLabelled(benchmark::State& state) {
  Editor e;
  e.load(pageFile(static_cast<int>(state.range(0))));
  e.view.resetTransform();
  e.view.scale(0.2, 0.2);
  e.view.centerOn(e.scene.blocksBoundingRect().center());
  e.frame();
  bool in = true;
  for (auto _ : state) {
    // 10%: enough to change each box's width on screen by whole pixels.
    const qreal f = in ? 1.1 : 1 / 1.1;
    e.view.scale(f, f);
    in = !in;
    e.frame();
  }
  state.counters["items_in_view"] = e.view.items(e.view.viewport()->rect()).size();
}

void BM_EditorPaint100(benchmark::State& state) {
  Editor e;
  e.load(pageFile(static_cast<int>(state.range(0))));
  e.view.resetTransform();
  e.view.centerOn(e.scene.blocksBoundingRect().center());
  e.frame();
  int dx = 1;
  for (auto _ : state) {
    e.view.translate(dx, 0);  // a small pan, so each frame is a new one
    dx = -dx;
    e.frame();
  }
  state.counters["items_in_view"] = e.view.items(e.view.viewport()->rect()).size();
}

void BM_ConnectCheck(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  PageModel model(builtinRegistry());
  model.resetPage(makePage(n));
  // Worst case: from the end of the deep chain back into its first block. The walk from the
  // first block visits the whole chain before it finds the cycle.
  std::string last;
  for (const Block& b : model.page().blocks())
    if (b.type != "Const") last = b.id.str();
  const PortRef from{BlockId(last), PortName("output")};
  const PortRef to{BlockId("f1"), PortName("max")};
  QString why = model.connectRefusal(from, to);  // builds the adjacency, as a drag's start does
  if (!why.contains("cycle")) state.SkipWithError("expected a cycle");
  for (auto _ : state) {
    why = model.connectRefusal(from, to);
    benchmark::DoNotOptimize(why);
  }
  // For comparison: an accepted wire (no cycle) between distant blocks.
  const PortRef ok{BlockId("c0"), PortName("output")};
  const PortRef okTo{BlockId(last), PortName("max")};
  if (!model.connectRefusal(ok, okTo).isEmpty()) state.SkipWithError("expected no refusal");
}

}  // namespace

BENCHMARK(BM_EditorLoad)->ArgName("blocks")->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EditorFirstFrame)
    ->ArgName("blocks")
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EditorPaintFitted)
    ->ArgName("blocks")
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EditorPaintLabelled)
    ->ArgName("blocks")
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EditorPaint100)
    ->ArgName("blocks")
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConnectCheck)->ArgName("blocks")->Arg(1000)->Arg(5000)->Unit(benchmark::kMicrosecond);
