#include "editor_bridge/FindDialog.h"

#include <QKeyEvent>
#include <QLineEdit>
#include <QListWidget>
#include <QVBoxLayout>

#include "editor_bridge/PageModel.h"

namespace qs::editor {

namespace {
constexpr int kMaxMatches = 200;  // a list of thousands helps nobody; typing narrows it
}

FindDialog::FindDialog(const PageModel* model, std::function<void(const BlockId&)> go,
                       QWidget* parent)
    : QDialog(parent), model_(model), go_(std::move(go)) {
  setObjectName("findBlockDialog");
  setWindowTitle(tr("Find block"));
  auto* layout = new QVBoxLayout(this);
  search_ = new QLineEdit(this);
  search_->setPlaceholderText(tr("Block id or type"));
  search_->setClearButtonEnabled(true);
  list_ = new QListWidget(this);
  layout->addWidget(search_);
  layout->addWidget(list_);
  resize(320, 300);
  connect(search_, &QLineEdit::textChanged, this, &FindDialog::fill);
  connect(search_, &QLineEdit::returnPressed, this, &FindDialog::accept);
  connect(list_, &QListWidget::itemActivated, this, &FindDialog::accept);
  search_->installEventFilter(this);
}

void FindDialog::start() {
  search_->clear();
  fill({});
  show();
  raise();
  activateWindow();
  search_->setFocus();
}

void FindDialog::fill(const QString& text) {
  list_->clear();
  const QString wanted = text.trimmed();
  std::vector<const Block*> exact, partial;
  for (const Block& b : model_->page().blocks()) {
    const QString id = QString::fromStdString(b.id.str());
    if (id.compare(wanted, Qt::CaseInsensitive) == 0)
      exact.push_back(&b);
    else if (id.contains(wanted, Qt::CaseInsensitive) ||
             QString::fromStdString(b.type).contains(wanted, Qt::CaseInsensitive))
      partial.push_back(&b);
  }
  int shown = 0;
  for (const auto* list : {&exact, &partial})
    for (const Block* b : *list) {
      if (shown++ == kMaxMatches) break;
      auto* item = new QListWidgetItem(QString::fromStdString(b->id.str() + "  (" + b->type + ")"));
      item->setData(Qt::UserRole, QString::fromStdString(b->id.str()));
      list_->addItem(item);
    }
  list_->setCurrentRow(list_->count() ? 0 : -1);
}

bool FindDialog::eventFilter(QObject* watched, QEvent* event) {
  if (watched == search_ && event->type() == QEvent::KeyPress) {
    auto* key = static_cast<QKeyEvent*>(event);
    if (key->key() == Qt::Key_Down || key->key() == Qt::Key_Up) {
      const int row = list_->currentRow() + (key->key() == Qt::Key_Down ? 1 : -1);
      if (row >= 0 && row < list_->count()) list_->setCurrentRow(row);
      return true;
    }
  }
  return QDialog::eventFilter(watched, event);
}

void FindDialog::accept() {
  QListWidgetItem* item = list_->currentItem();
  if (!item) return;
  const BlockId id(item->data(Qt::UserRole).toString().toStdString());
  QDialog::accept();
  go_(id);
}

}  // namespace qs::editor
