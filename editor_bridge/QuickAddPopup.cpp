#include "editor_bridge/QuickAddPopup.h"

#include <QKeyEvent>
#include <QLineEdit>
#include <QListWidget>
#include <QVBoxLayout>
#include <utility>

#include "runtime/BlockRegistry.h"

namespace qs::editor {

QuickAddPopup::QuickAddPopup(const BlockRegistry& registry, QWidget* parent)
    : QFrame(parent, Qt::Popup) {
  setFrameStyle(QFrame::StyledPanel | QFrame::Raised);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  search_ = new QLineEdit(this);
  search_->setPlaceholderText(tr("Add block: type to search"));
  search_->setClearButtonEnabled(true);
  list_ = new QListWidget(this);
  layout->addWidget(search_);
  layout->addWidget(list_);
  for (const BlockDescriptor* d : registry.all()) {
    auto* item = new QListWidgetItem(QString::fromStdString(d->type), list_);
    item->setToolTip(QString::fromStdString(d->category + ": " + d->summary));
  }
  resize(300, 260);
  connect(search_, &QLineEdit::textChanged, this, &QuickAddPopup::filter);
  connect(search_, &QLineEdit::returnPressed, this, &QuickAddPopup::accept);
  connect(list_, &QListWidget::itemActivated, this, &QuickAddPopup::accept);
  connect(list_, &QListWidget::itemClicked, this, &QuickAddPopup::accept);
  search_->installEventFilter(this);
}

void QuickAddPopup::popup(QPoint globalPos, QPointF scenePos) {
  only_.clear();
  onChosen_ = nullptr;
  search_->setPlaceholderText(tr("Add block: type to search"));
  scenePos_ = scenePos;
  search_->clear();
  filter({});
  move(globalPos);
  show();
  search_->setFocus();
}

void QuickAddPopup::popupFor(QPoint globalPos, QPointF scenePos, const QStringList& types,
                             const QString& title, std::function<void(const QString&)> onChosen) {
  popup(globalPos, scenePos);
  only_ = types;
  onChosen_ = std::move(onChosen);
  search_->setPlaceholderText(title);
  filter({});
}

void QuickAddPopup::filter(const QString& text) {
  QListWidgetItem* first = nullptr;
  for (int i = 0; i < list_->count(); ++i) {
    QListWidgetItem* item = list_->item(i);
    const bool allowed = only_.isEmpty() || only_.contains(item->text());
    const bool match =
        allowed && (text.isEmpty() || item->text().contains(text, Qt::CaseInsensitive) ||
                    item->toolTip().contains(text, Qt::CaseInsensitive));
    item->setHidden(!match);
    if (match && !first) first = item;
  }
  list_->setCurrentItem(first);
}

bool QuickAddPopup::eventFilter(QObject* watched, QEvent* event) {
  // Up and Down in the search field move through the list, as in every command palette.
  if (watched == search_ && event->type() == QEvent::KeyPress) {
    auto* key = static_cast<QKeyEvent*>(event);
    if (key->key() == Qt::Key_Down || key->key() == Qt::Key_Up) {
      int row = list_->currentRow();
      const int step = key->key() == Qt::Key_Down ? 1 : -1;
      for (int r = row + step; r >= 0 && r < list_->count(); r += step)
        if (!list_->item(r)->isHidden()) {
          list_->setCurrentRow(r);
          break;
        }
      return true;
    }
  }
  return QFrame::eventFilter(watched, event);
}

void QuickAddPopup::accept() {
  QListWidgetItem* item = list_->currentItem();
  if (!item || item->isHidden()) return;
  hide();
  if (auto handler = std::exchange(onChosen_, nullptr))
    handler(item->text());
  else
    emit chosen(item->text(), scenePos_);
}

}  // namespace qs::editor
