#include "editor_bridge/PaletteWidget.h"

#include <QHeaderView>
#include <QLineEdit>
#include <QMimeData>
#include <QVBoxLayout>

#include "editor_bridge/PageView.h"
#include "runtime/BlockRegistry.h"

namespace qs::editor {

namespace {
constexpr int kTypeRole = Qt::UserRole + 1;
}

QStringList PaletteTree::mimeTypes() const {
  return {kBlockMimeType};
}

QMimeData* PaletteTree::mimeData(const QList<QTreeWidgetItem*>& items) const {
  if (items.isEmpty()) return nullptr;
  const QString type = items.front()->data(0, kTypeRole).toString();
  if (type.isEmpty()) return nullptr;
  auto* mime = new QMimeData;
  mime->setData(kBlockMimeType, type.toUtf8());
  mime->setText(type);
  return mime;
}

PaletteWidget::PaletteWidget(const BlockRegistry& registry, QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  search_ = new QLineEdit(this);
  search_->setPlaceholderText(tr("Search blocks"));
  search_->setClearButtonEnabled(true);
  tree_ = new PaletteTree(this);
  tree_->setHeaderHidden(true);
  tree_->setDragEnabled(true);
  tree_->setDragDropMode(QAbstractItemView::DragOnly);
  tree_->setRootIsDecorated(true);
  // The FakeQuant names share a long prefix and differ at the end ("...VarsPerChannel",
  // "...VarsPerChannelGradient"): elided at the right, three of them read the same in a narrow dock.
  tree_->setTextElideMode(Qt::ElideMiddle);
  layout->addWidget(search_);
  layout->addWidget(tree_);

  QTreeWidgetItem* group = nullptr;
  for (const BlockDescriptor* d : registry.all()) {
    const QString category = QString::fromStdString(d->category.empty() ? "Other" : d->category);
    if (!group || group->text(0) != category) {
      group = new QTreeWidgetItem(tree_, {category});
      group->setFlags(Qt::ItemIsEnabled);
      QFont f = group->font(0);
      f.setBold(true);
      group->setFont(0, f);
    }
    auto* item = new QTreeWidgetItem(group, {QString::fromStdString(d->type)});
    item->setData(0, kTypeRole, QString::fromStdString(d->type));
    item->setToolTip(0, QString::fromStdString(d->summary));
    item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsDragEnabled);
  }
  tree_->expandAll();
  connect(search_, &QLineEdit::textChanged, this, &PaletteWidget::filter);
  connect(tree_, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) {
    const QString type = item->data(0, kTypeRole).toString();
    if (!type.isEmpty()) emit activated(type);
  });
}

QTreeWidgetItem* PaletteWidget::itemFor(const QString& type) const {
  for (int g = 0; g < tree_->topLevelItemCount(); ++g) {
    QTreeWidgetItem* group = tree_->topLevelItem(g);
    for (int i = 0; i < group->childCount(); ++i)
      if (group->child(i)->data(0, kTypeRole).toString() == type) return group->child(i);
  }
  return nullptr;
}

void PaletteWidget::filter(const QString& text) {
  for (int g = 0; g < tree_->topLevelItemCount(); ++g) {
    QTreeWidgetItem* group = tree_->topLevelItem(g);
    int shown = 0;
    for (int i = 0; i < group->childCount(); ++i) {
      QTreeWidgetItem* item = group->child(i);
      const bool match = text.isEmpty() || item->text(0).contains(text, Qt::CaseInsensitive) ||
                         item->toolTip(0).contains(text, Qt::CaseInsensitive) ||
                         group->text(0).contains(text, Qt::CaseInsensitive);
      item->setHidden(!match);
      shown += match;
    }
    group->setHidden(shown == 0);
  }
}

}  // namespace qs::editor
