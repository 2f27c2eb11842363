#pragma once

#include <QTreeWidget>
#include <QWidget>

class QFontMetrics;
class QLineEdit;

namespace qs {
class BlockRegistry;
}

namespace qs::editor {

// A block type's name shortened to `width` pixels as the palette shows it: the first four
// characters, an ellipsis, and as much of the end as fits. Block types that share a long prefix
// differ at the end ("...MinMaxArgsGradient", "...MinMaxVarsGradient"), so the entries stay
// distinct where Qt's middle or right elision makes several read the same.
QString elidedTypeName(const QString& type, const QFontMetrics& metrics, int width);

// The tree of block types the palette shows, grouped by category; items drag as kBlockMimeType.
class PaletteTree : public QTreeWidget {
  Q_OBJECT
 public:
  using QTreeWidget::QTreeWidget;
  // The payload a drag of `items` carries (what mimeData() gives the drag).
  QMimeData* dragData(const QList<QTreeWidgetItem*>& items) const { return mimeData(items); }

 protected:
  QMimeData* mimeData(const QList<QTreeWidgetItem*>& items) const override;
  QStringList mimeTypes() const override;
};

// Every registered block type, grouped by category, with a search field. Built from the
// registry's descriptors only, so a new block type shows up with no change here.
class PaletteWidget : public QWidget {
  Q_OBJECT
 public:
  PaletteWidget(const BlockRegistry& registry, QWidget* parent = nullptr);
  QLineEdit* searchField() const { return search_; }
  QTreeWidget* tree() const { return tree_; }
  // The tree item of a block type (for tests and keyboard use).
  QTreeWidgetItem* itemFor(const QString& type) const;

 signals:
  // Double-click or Enter on a type.
  void activated(const QString& type);

 private:
  void filter(const QString& text);

  QLineEdit* search_;
  PaletteTree* tree_;
};

}  // namespace qs::editor
