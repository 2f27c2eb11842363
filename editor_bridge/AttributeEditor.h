#pragma once

#include <QSpinBox>
#include <QWidget>
#include <map>
#include <optional>

#include "runtime/BlockDescriptor.h"
#include "runtime/Evaluator.h"
#include "runtime/Json.h"
#include "runtime/StrongId.h"

class QLabel;
class QFormLayout;
class QLineEdit;
class QCheckBox;

namespace qs::editor {

class PageModel;

// A spin box whose arrows stop at the descriptor's range but whose text accepts any integer, so
// that a typed out-of-range value is refused with the descriptor's message instead of being
// silently clamped (QSpinBox's own range would clamp it).
class AttrSpinBox : public QSpinBox {
  Q_OBJECT
 public:
  AttrSpinBox(std::optional<double> min, std::optional<double> max, QWidget* parent);
  void stepBy(int steps) override;

 protected:
  StepEnabled stepEnabled() const override;

 private:
  std::optional<double> min_, max_;
};

// The attributes of the selected block, generated from its descriptor: a spin box for int
// attributes, a check box for bool, line edits for floats, strings and lists, and a tensor
// editor (shape, values, load .npy) for blocks that take `shape` + `values`. Every change is
// checked with the runtime's resolveAttrs before it becomes an undoable edit; a refused value
// shows the message and the field goes back to the block's value.
class AttributeEditor : public QWidget {
  Q_OBJECT
 public:
  explicit AttributeEditor(PageModel* model, QWidget* parent = nullptr);

  void showBlock(const std::optional<BlockId>& id);
  const std::optional<BlockId>& block() const { return block_; }
  void setBlockStatus(BlockStatus status, const std::string& error);

  // The field editing attribute `name` (for tests), or nullptr.
  QWidget* field(const std::string& name) const;
  // The last refusal message ("" when the last edit was accepted).
  QString message() const;
  // Loads a .npy file as the value of the shown block's shape + values.
  bool loadNpy(const QString& path);

 protected:
  // A text field's tooltip: the attribute's description, and the whole value when it is wider
  // than the field (a weights path shows only its end).
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void rebuild();
  void refreshValues();
  // Applies one attribute change (nullopt removes it); false (with the message shown) if refused.
  bool commit(const std::string& name, std::optional<Json> value);
  bool commitAttrs(const Json& attrs, const QString& text);
  void refuse(const QString& why);
  std::optional<Json> parseField(const AttrDescriptor& a, const QString& text, QString* error);

  PageModel* model_;
  std::optional<BlockId> block_;
  const BlockDescriptor* desc_ = nullptr;
  QWidget* form_ = nullptr;
  QLabel* header_;
  QLabel* status_;
  QLabel* message_;
  std::map<std::string, QWidget*> fields_;
};

// "[1, 2, 3]" for a JSON list, the number for a number, "" when absent.
QString attrFieldText(const AttrDescriptor& a, const Json* value);

}  // namespace qs::editor
