#pragma once

#include <QFrame>
#include <QPointF>
#include <QStringList>
#include <functional>

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
  // Offers only `types` (a wire dragged into empty canvas: the blocks that can take it); the
  // choice goes to `onChosen` instead of the chosen() signal.
  void popupFor(QPoint globalPos, QPointF scenePos, const QStringList& types, const QString& title,
                std::function<void(const QString& type)> onChosen);
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
  QStringList only_;  // empty: every type
  std::function<void(const QString&)> onChosen_;
};

}  // namespace qs::editor
