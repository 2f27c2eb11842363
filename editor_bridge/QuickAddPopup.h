#pragma once

#include <QFrame>
#include <QPointF>

class QLineEdit;
class QListWidget;

namespace qs {
class BlockRegistry;
}

namespace qs::editor {

// A small searchable list of block types that pops up on the canvas; Enter or a click adds the
// chosen type where the popup was opened.
class QuickAddPopup : public QFrame {
  Q_OBJECT
 public:
  QuickAddPopup(const BlockRegistry& registry, QWidget* parent);
  void popup(QPoint globalPos, QPointF scenePos);
  QLineEdit* searchField() const { return search_; }
  QListWidget* list() const { return list_; }

 signals:
  void chosen(const QString& type, QPointF scenePos);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void filter(const QString& text);
  void accept();

  QLineEdit* search_;
  QListWidget* list_;
  QPointF scenePos_;
};

}  // namespace qs::editor
