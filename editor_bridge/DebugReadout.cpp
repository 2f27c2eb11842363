#include "editor_bridge/DebugReadout.h"

#include <QAbstractButton>
#include <QAbstractSpinBox>
#include <QAction>
#include <QApplication>
#include <QLabel>
#include <QLineEdit>
#include <QSaveFile>
#include <QStatusBar>
#include <QTreeWidget>
#include <cstdio>

#include "editor_bridge/AttributeEditor.h"
#include "editor_bridge/MainWindow.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/PageView.h"
#include "editor_bridge/PaletteWidget.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "runtime/Json.h"
#include "runtime/PageJson.h"

namespace qs::editor {

namespace {

constexpr int kPollMs = 100;
// The viewer's values are cut here: the read-out is for small results (a loss, a few channels).
constexpr size_t kMaxValues = 1024;

Json rectJson(const QRect& r) {
  return {{"x", r.x()}, {"y", r.y()}, {"w", r.width()}, {"h", r.height()}};
}

// The part of a widget that can be seen (not scrolled away or covered by a sibling) on the
// screen, or null while none of it can.
Json widgetRect(const QWidget* w) {
  if (!w || !w->isVisible()) return nullptr;
  const QRect r = w->visibleRegion().boundingRect();
  if (r.isEmpty()) return nullptr;
  return rectJson(QRect(w->mapToGlobal(r.topLeft()), r.size()));
}

std::string text(const QString& s) {
  return s.toStdString();
}

// The search field and every block type the palette tree shows in its viewport.
Json paletteJson(const PaletteWidget* palette) {
  Json items = Json::object();
  const QTreeWidget* tree = palette->tree();
  const QRect viewport = tree->viewport()->rect();
  for (int g = 0; g < tree->topLevelItemCount(); ++g) {
    const QTreeWidgetItem* group = tree->topLevelItem(g);
    for (int i = 0; i < group->childCount(); ++i) {
      const QTreeWidgetItem* item = group->child(i);
      const QRect r = tree->visualItemRect(item).intersected(viewport);
      if (item->isHidden() || group->isHidden() || r.height() < 4) continue;
      items[text(item->text(0))] =
          rectJson(QRect(tree->viewport()->mapToGlobal(r.topLeft()), r.size()));
    }
  }
  return {{"search", widgetRect(palette->searchField())}, {"items", items}};
}

// Each block: status, selection, its box and its pins on the screen ("in:x", "out:z",
// "result:z").
Json blocksJson(const MainWindow* window) {
  const PageView* view = window->view();
  const auto toScreen = [view](QPointF scenePos) {
    const QPoint p = view->viewport()->mapToGlobal(view->mapFromScene(scenePos));
    return Json::array({p.x(), p.y()});
  };
  Json blocks = Json::array();
  for (const Block& b : window->model()->page().blocks()) {
    const BlockItem* item = window->scene()->blockItem(b.id);
    if (!item) continue;
    // The part of the box inside the canvas (null when none is), so that its centre can be
    // clicked.
    const QRect box = view->mapFromScene(item->sceneBoundingRect())
                          .boundingRect()
                          .intersected(view->viewport()->rect());
    const Json boxJson =
        box.isEmpty() ? Json(nullptr)
                      : rectJson(QRect(view->viewport()->mapToGlobal(box.topLeft()), box.size()));
    Json ports = Json::object();
    for (const BlockItem::Port& p : item->ports()) {
      const char* side = p.result                                     ? "result:"
                         : p.desc->direction == PortDirection::Output ? "out:"
                                                                      : "in:";
      ports[side + p.desc->name] = toScreen(item->mapToScene(p.pos));
    }
    blocks.push_back({{"id", b.id.str()},
                      {"type", b.type},
                      {"status", statusName(item->status())},
                      {"error", item->error()},
                      {"selected", item->isSelected()},
                      {"box", boxJson},
                      {"ports", ports}});
  }
  return blocks;
}

Json attributesJson(const MainWindow* window) {
  const AttributeEditor* editor = window->attributeEditor();
  Json fields = Json::object();
  if (editor->block()) {
    const BlockItem* item = window->scene()->blockItem(*editor->block());
    if (item && item->descriptor()) {
      for (const AttrDescriptor& a : item->descriptor()->attrs) {
        const QWidget* w = editor->field(a.name);
        if (!w) continue;
        Json f = {{"rect", widgetRect(w)}};
        if (const auto* edit = qobject_cast<const QLineEdit*>(w)) f["text"] = text(edit->text());
        fields[a.name] = f;
      }
    }
  }
  return {{"block", editor->block() ? Json(editor->block()->str()) : Json(nullptr)},
          {"message", text(editor->message())},
          {"fields", fields}};
}

Json viewerJson(const TensorViewer* viewer) {
  Json values = Json::array();
  size_t count = 0;
  if (!viewer->showsMessage()) {
    const std::vector<float> shown = viewer->shownValues();
    count = shown.size();
    for (size_t i = 0; i < shown.size() && i < kMaxValues; ++i)
      values.push_back(floatToJson(shown[i]));
  }
  return {{"result", text(viewer->currentResultName())},
          {"message", viewer->showsMessage() ? text(viewer->messageText()) : ""},
          {"count", count},
          {"values", values}};
}

// Every named action: tests find run controls by objectName and see whether they are enabled.
Json actionsJson(const MainWindow* window) {
  Json actions = Json::object();
  for (const QAction* a : window->findChildren<QAction*>()) {
    if (a->objectName().isEmpty()) continue;
    actions[text(a->objectName())] = {
        {"text", text(a->text())},
        {"enabled", a->isEnabled()},
        {"checked", a->isChecked()},
        {"shortcut", text(a->shortcut().toString(QKeySequence::PortableText))}};
  }
  return actions;
}

// Every named spin box of the window (a toolbar's step count, ...): where it is and its text.
Json spinBoxesJson(const MainWindow* window) {
  Json boxes = Json::object();
  for (const QAbstractSpinBox* b : window->findChildren<QAbstractSpinBox*>())
    if (!b->objectName().isEmpty())
      boxes[text(b->objectName())] = {{"rect", widgetRect(b)}, {"text", text(b->text())}};
  return boxes;
}

Json statusJson(const MainWindow* window) {
  Json labels = Json::array();
  for (const QLabel* l : window->statusBar()->findChildren<QLabel*>())
    if (l->isVisible() && !l->text().isEmpty()) labels.push_back(text(l->text()));
  return {{"message", text(window->statusBar()->currentMessage())}, {"labels", labels}};
}

// The modal dialog in front, if any (a "save changes?" prompt, a file dialog): its title, its
// buttons and line edits on the screen.
Json modalJson() {
  const QWidget* modal = QApplication::activeModalWidget();
  if (!modal) return nullptr;
  Json buttons = Json::object();
  for (const QAbstractButton* b : modal->findChildren<QAbstractButton*>())
    if (b->isVisible() && !b->text().isEmpty())
      buttons[text(b->text().remove('&'))] = widgetRect(b);
  Json edits = Json::array();
  for (const QLineEdit* e : modal->findChildren<QLineEdit*>())
    if (e->isVisible()) edits.push_back({{"rect", widgetRect(e)}, {"text", text(e->text())}});
  return {{"class", modal->metaObject()->className()},
          {"title", text(modal->windowTitle())},
          {"buttons", buttons},
          {"edits", edits}};
}

}  // namespace

DebugReadout::DebugReadout(MainWindow* window, const QString& path)
    : QObject(window), window_(window), path_(path) {
  timer_.setInterval(kPollMs);
  connect(&timer_, &QTimer::timeout, this, &DebugReadout::update);
  timer_.start();
}

std::string DebugReadout::snapshot() const {
  const QWidget* focus = QApplication::focusWidget();
  Json j = {{"window",
             {{"title", text(window_->windowTitle())},
              {"active", window_->isActiveWindow()},
              {"rect", widgetRect(window_)}}},
            {"focus", focus ? Json(std::string(focus->metaObject()->className()) + " " +
                                   text(focus->objectName()))
                            : Json(nullptr)},
            {"canvas", widgetRect(window_->view()->viewport())},
            {"palette", paletteJson(window_->palette())},
            {"blocks", blocksJson(window_)},
            {"attributes", attributesJson(window_)},
            {"viewer", viewerJson(window_->viewer())},
            {"actions", actionsJson(window_)},
            {"spinBoxes", spinBoxesJson(window_)},
            {"status", statusJson(window_)},
            {"modal", modalJson()},
            {"page", parseJson(pageToText(window_->model()->page()), "page")}};
  return writeJson(j);
}

bool DebugReadout::update() {
  std::string now = snapshot();
  if (now == last_) return true;
  QSaveFile file(path_);
  const bool ok = file.open(QIODevice::WriteOnly) &&
                  file.write(now.data(), qint64(now.size())) == qint64(now.size()) && file.commit();
  if (!ok && !warned_)
    std::fprintf(stderr, "quantspace: --debug-readout: cannot write %s: %s\n", qPrintable(path_),
                 qPrintable(file.errorString()));
  warned_ = !ok;
  if (ok) last_ = std::move(now);
  return ok;
}

}  // namespace qs::editor
