#include "editor_bridge/PaletteWidget.h"

#include <QFontMetrics>
#include <QHeaderView>
#include <QLineEdit>
#include <QMimeData>
#include <QStyledItemDelegate>
#include <QVBoxLayout>

#include "editor_bridge/PageView.h"
#include "runtime/BlockRegistry.h"

namespace qs::editor {

namespace {
constexpr int kTypeRole = Qt::UserRole + 1;

// Draws each entry with elidedTypeName() in the room the item has.
class TypeNameDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;

 protected:
  void initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const override {
    QStyledItemDelegate::initStyleOption(option, index);
    // The style's own text margins, on both sides: what is left is the text's room.
    constexpr int kMargins = 8;
    if (option->rect.width() > kMargins)  // not for sizeHint(), which has no room yet
      option->text =
          elidedTypeName(option->text, option->fontMetrics, option->rect.width() - kMargins);
  }
};
}  // namespace

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
  tree_->setItemDelegate(new TypeNameDelegate(tree_));
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

QString elidedTypeName(const QString& type, const QFontMetrics& metrics, int width) {
  if (metrics.horizontalAdvance(type) <= width) return type;
  const QString head = type.left(4) + QChar(0x2026);
  int tail = static_cast<int>(type.size()) - 5;
  while (tail > 0 && metrics.horizontalAdvance(head + type.right(tail)) > width) --tail;
  // Too narrow for even that: the end alone, which is what tells these names apart.
  if (tail < 4) return metrics.elidedText(type, Qt::ElideLeft, width);
  return head + type.right(tail);
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
