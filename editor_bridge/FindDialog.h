#pragma once

#include <QDialog>
#include <functional>

#include "runtime/StrongId.h"

class QLineEdit;
class QListWidget;

namespace qs::editor {

class PageModel;

// Find a block by id or type (Ctrl+F): the list shows the blocks whose id or type contains the
// text (exact ids first); Enter or a click goes to the chosen block.
class FindDialog : public QDialog {
  Q_OBJECT
 public:
  FindDialog(const PageModel* model, std::function<void(const BlockId&)> go, QWidget* parent);
  void start();
  QLineEdit* searchField() const { return search_; }
  QListWidget* list() const { return list_; }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void fill(const QString& text);
  void accept() override;

  const PageModel* model_;
  std::function<void(const BlockId&)> go_;
  QLineEdit* search_;
  QListWidget* list_;
};

}  // namespace qs::editor
