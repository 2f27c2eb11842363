// The canvas's context menus: on empty canvas, on a block, on a wire and on a frame's title.

#include <QCoreApplication>
#include <QDesktopServices>
#include <QDir>
#include <QFileInfo>
#include <QInputDialog>
#include <QMenu>
#include <QUrl>
#include <cmath>

#include "editor_bridge/BlockItem.h"
#include "editor_bridge/CanvasTools.h"
#include "editor_bridge/FrameItem.h"
#include "editor_bridge/MainWindow.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/PageView.h"
#include "editor_bridge/QuickAddPopup.h"
#include "editor_bridge/WireItem.h"

namespace qs::editor {

namespace {
struct Swatch {
  const char* name;
  const char* color;
};
constexpr Swatch kSwatches[] = {{"Blue", "#4a6fa5"}, {"Green", "#4f8a4f"},  {"Amber", "#b07d2b"},
                                {"Red", "#a54a4a"},  {"Purple", "#7a5aa5"}, {"Grey", "#6b6b6b"}};

// docs/blocks/<Type>.md beside the program or in a folder above it (a build tree or an install).
QString referencePage(const std::string& type) {
  QDir dir(QCoreApplication::applicationDirPath());
  const QString rel = QString::fromStdString("docs/blocks/" + type + ".md");
  for (int up = 0; up < 5; ++up) {
    for (const QString& candidate : {rel, "share/quantspace/" + rel})
      if (QFileInfo::exists(dir.filePath(candidate))) return dir.filePath(candidate);
    if (!dir.cdUp()) break;
  }
  return {};
}
}  // namespace

void CanvasTools::showContextMenu(QPoint viewportPos, QPoint globalPos) {
  PageView* view = window_->view();
  PageScene* scene = window_->scene();
  const QPointF at = view->mapToScene(viewportPos);
  delete lastMenu_.data();
  auto* menu = new QMenu(view);
  menu->setAttribute(Qt::WA_DeleteOnClose);
  lastMenu_ = menu;
  if (BlockItem* block = scene->blockAt(at, nullptr)) {
    // As in every editor: the menu is for what was clicked; a click outside the selection
    // selects the block.
    if (!block->isSelected()) scene->selectBlocks({block->blockId()});
    menu->setObjectName("blockContextMenu");
    fillBlockMenu(menu, block->blockId());
  } else if (FrameItem* frame = frames_->frameAt(at)) {
    menu->setObjectName("frameContextMenu");
    fillFrameMenu(menu, frame->index());
  } else if (WireItem* wire = wireUnder(at)) {
    scene->selectWire(wire->link());
    menu->setObjectName("wireContextMenu");
    fillWireMenu(menu, wire->link());
  } else {
    menu->setObjectName("canvasContextMenu");
    fillCanvasMenu(menu, at);
  }
  menu->popup(globalPos);
}

void CanvasTools::fillCanvasMenu(QMenu* menu, QPointF scenePos) {
  PageView* view = window_->view();
  menu->addAction(tr("Add Block Here..."), this,
                  [view, scenePos] { view->openQuickAdd(scenePos); });
  menu->addAction(tr("Paste"), window_, &MainWindow::paste);
  menu->addAction(tr("Select All"), this, [this] {
    for (QGraphicsItem* i : window_->scene()->items()) i->setSelected(true);
    window_->scene()->selectWiresBetweenSelectedBlocks();
  });
  menu->addAction(tr("Fit to View"), view, &PageView::fitPage);
}

void CanvasTools::fillBlockMenu(QMenu* menu, const BlockId& id) {
  const bool one = window_->scene()->selectedBlocks().size() == 1;
  menu->addAction(tr("Rename..."), this, &CanvasTools::renameSelected)->setEnabled(one);
  menu->addAction(tr("Duplicate"), window_, &MainWindow::duplicateSelection);
  menu->addAction(tr("Delete"), window_, &MainWindow::deleteSelection);
  menu->addAction(tr("Disconnect All"), this, [this, id] {
    const Page& page = window_->model()->page();
    std::vector<Link> links;
    for (const auto* list : {&page.links(), &page.danglingLinks()})
      for (const Link& l : *list)
        if (l.from.block == id || l.to.block == id) links.push_back(l);
    window_->model()->removeItems({}, links,
                                  tr("Disconnect %1").arg(QString::fromStdString(id.str())));
  });
  // Entries of other features (results, training) go here.
  if (!blockMenuHooks_.empty()) {
    menu->addSeparator();
    for (const BlockMenuHook& hook : blockMenuHooks_) hook(menu, id);
  }
  menu->addSeparator();
  const Block* b = window_->model()->page().find(id);
  const std::string type = b ? b->type : "";
  menu->addAction(tr("Open Reference Page (%1)").arg(QString::fromStdString(type)), this,
                  [this, type] { openReference(type); });
}

void CanvasTools::fillWireMenu(QMenu* menu, const Link& link) {
  menu->addAction(tr("Delete Wire"), this,
                  [this, link] { window_->model()->disconnectLink(link); });
  menu->addAction(tr("Insert Block..."), this, [this, link] { offerInsert(link); });
}

void CanvasTools::fillFrameMenu(QMenu* menu, int frame) {
  menu->addAction(tr("Rename Frame..."), this, [this, frame] { askFrameTitle(frame); });
  QMenu* colours = menu->addMenu(tr("Colour"));
  for (const Swatch& s : kSwatches)
    colours->addAction(tr(s.name), this, [this, frame, c = std::string(s.color)] {
      editFrame(
          frame, [&c](Frame& f) { f.color = c; }, tr("Recolour frame"));
    });
  menu->addAction(tr("Select Its Blocks"), this, [this, frame] {
    window_->scene()->selectBlocks(window_->model()->page().frames.at(frame).blocks);
  });
  menu->addAction(tr("Remove Frame (keeps the blocks)"), this, [this, frame] {
    std::vector<Frame> frames = window_->model()->page().frames;
    if (frame >= static_cast<int>(frames.size())) return;
    frames.erase(frames.begin() + frame);
    window_->model()->setFrames(std::move(frames), tr("Remove frame"));
  });
}

void CanvasTools::editFrame(int frame, const std::function<void(Frame&)>& change,
                            const QString& text) {
  std::vector<Frame> frames = window_->model()->page().frames;
  if (frame < 0 || frame >= static_cast<int>(frames.size())) return;
  change(frames[frame]);
  window_->model()->setFrames(std::move(frames), text);
}

void CanvasTools::askFrameTitle(int frame) {
  const auto& frames = window_->model()->page().frames;
  if (frame < 0 || frame >= static_cast<int>(frames.size())) return;
  auto* dialog = new QInputDialog(window_);
  dialog->setObjectName("frameTitleDialog");
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(tr("Rename frame"));
  dialog->setLabelText(tr("Frame title:"));
  dialog->setTextValue(QString::fromStdString(frames[frame].title));
  connect(dialog, &QInputDialog::textValueSelected, this, [this, frame](const QString& text) {
    editFrame(
        frame, [t = text.toStdString()](Frame& f) { f.title = t; }, tr("Rename frame"));
  });
  dialog->open();
}

void CanvasTools::offerInsert(const Link& link) {
  PageView* view = window_->view();
  const WireItem* wire = window_->scene()->wireItem(link);
  if (!wire) return;
  const QPointF mid = (wire->start() + wire->end()) / 2;
  const std::optional<DType> dtype = window_->scene()->outputDType(link.from);
  view->quickAddPopup()->popupFor(
      view->mapToGlobal(view->mapFromScene(mid)), mid,
      typesTaking(window_->model()->registry(), dtype, true),
      tr("Insert a block into %1").arg(QString::fromStdString(linkText(link))),
      [this, link, dtype, mid](const QString& type) {
        PageModel* model = window_->model();
        Block b;
        b.type = type.toStdString();
        b.id = BlockId(model->freshId(b.type));
        b.position = std::array<double, 2>{std::round(mid.x() - BlockItem::kWidth / 2),
                                           std::round(mid.y() - 60)};
        const BlockId id = b.id;
        const QString why = insertIntoWire(model, link, id, dtype, std::move(b));
        if (!why.isEmpty()) return message(tr("Not inserted: %1").arg(why));
        window_->scene()->selectBlocks({id});
      });
}

void CanvasTools::openReference(const std::string& type) {
  const QString page = referencePage(type);
  if (page.isEmpty())
    return message(tr("No reference page for %1 found (docs/blocks/%1.md beside the program)")
                       .arg(QString::fromStdString(type)));
  if (!QDesktopServices::openUrl(QUrl::fromLocalFile(page)))
    message(tr("Could not open %1").arg(page));
}

}  // namespace qs::editor
