#pragma once

#include <QFontMetricsF>
#include <QGraphicsItem>
#include <QStaticText>
#include <QStringList>
#include <string>
#include <utility>
#include <vector>

#include "runtime/BlockDescriptor.h"
#include "runtime/Evaluator.h"
#include "runtime/StrongId.h"

namespace qs::editor {

class WireItem;
class PageScene;

// One block drawn the enuSpace way: a dark box with an amber outline and the op name as title;
// inputs on the left (scope as a black dot, tensors yellow, attrs grey), outputs on the right
// (green), result pins on the bottom (grey), and a status badge. Zoomed out it becomes a plain
// box whose fill shows the status, so that errors stay visible on a fitted page of thousands.
class BlockItem : public QGraphicsItem {
 public:
  enum { Type = UserType + 1 };
  static constexpr qreal kWidth = 120;
  static constexpr qreal kMinHeight = 130;
  static constexpr qreal kPortRadius = 5;
  // At and above this zoom a block is drawn in full detail (title, port names) and cached as a
  // device pixmap; below it the id and type are drawn in a screen-sized font.
  static constexpr qreal kDetailLod = 0.8;
  // Below this zoom (a fitted page of thousands) a block is a plain box without text.
  static constexpr qreal kLabelLod = 0.18;
  // Below this zoom a block is a plain box filled with its status colour (no pins, no badge).
  static constexpr qreal kPlainLod = 0.3;
  // The height of a block of `type` (desc: its descriptor, null for an unknown type), as drawn.
  static qreal heightFor(const std::string& type, const BlockDescriptor* desc);

  struct Port {
    const PortDescriptor* desc;
    QPointF pos;  // in item coordinates
    bool result;  // a result pin on the bottom edge (for output P: result_P)
    // The name as drawn beside the pin: shortened in the middle where an input and an output
    // on one row would otherwise overlap (the port's tooltip has it whole).
    std::string label = {};
  };
  // The font of the names beside the pins, and the room an input's and an output's names share
  // on one row: between the pins' 9-pixel insets, with a gap between the two.
  static const QFont& portLabelFont();
  static constexpr qreal kPortLabelRoom = kWidth - 2 * 9 - 6;
  // The labels of an input and an output on one row, each `width` pixels or less of `metrics`
  // together with the gap between them: either whole when both fit, else the shorter whole and the
  // other shortened in the middle, or both shortened to half.
  static std::pair<QString, QString> rowLabels(const QString& in, const QString& out,
                                               const QFontMetricsF& metrics, qreal width);

  BlockItem(const BlockId& id, const std::string& type, const BlockDescriptor* desc);
  int type() const override { return Type; }

  const BlockId& blockId() const { return id_; }
  const std::string& blockType() const { return type_; }
  const BlockDescriptor* descriptor() const { return desc_; }
  const std::vector<Port>& ports() const { return ports_; }
  // The box without its pins and badge (item coordinates), for aligning blocks.
  QRectF boxRect() const { return QRectF(0, 0, kWidth, height_); }
  // Index into ports() of the pin under `itemPos`, or -1.
  int portAt(QPointF itemPos) const;
  // Where a wire attaches to the port named `port` (scene coordinates). A port the block does not
  // have (or a block of unknown type) attaches at the top corner of that side, beside no pin.
  QPointF portScenePos(const std::string& port, bool result = false) const;
  bool hasPort(const std::string& port, PortDirection direction) const;

  void setStatus(BlockStatus status, const std::string& error);
  BlockStatus status() const { return status_; }
  const std::string& error() const { return error_; }
  // Something TensorFlow accepts but that is almost surely a mistake (min > max): an amber badge
  // and the reason in the tooltip. Empty: none.
  void setWarning(const QString& warning);
  const QString& warning() const { return warning_; }
  // The error as drawn inside the block at full detail: wrapped to the box's width in the room
  // below the pins, the last line ending in "…" when the whole does not fit (the tooltip has it).
  QStringList errorLines() const;
  // The id as the zoomed-out label last drew it ("spi…row": the end kept, so that ids sharing a
  // prefix stay apart).
  QString screenLabelId() const;
  // An id shortened to `width` pixels of `metrics`, keeping its start and its end.
  static QString elidedId(const QString& id, const QFontMetrics& metrics, int width);
  // The id on up to two lines of `width` pixels: as much of its start as fits on the first, the
  // rest on the second, its end kept when it too is shortened. One line when it fits. Lines break
  // between words where they can; a word broken between two letters ends its first line in a
  // hyphen ("percen-", "tile").
  static QStringList idLines(const QString& id, const QFontMetrics& metrics, int width);
  // Whether idLines() shows every character of the id (its hyphen aside).
  static bool linesShowWhole(const QStringList& lines, const QString& id);
  // What hovering the block shows: id, type, summary, and the status or the error message.
  QString toolTipText() const;

  // One line near the bottom: a Const's values, or the output shape once known.
  void setSummary(const QString& text);
  const QString& summary() const { return summary_; }

  std::vector<WireItem*>& wires() { return wires_; }
  // The box without its pins and badge, in scene coordinates: what wires are routed around.
  QRectF sceneBodyRect() const { return QRectF(pos(), QSizeF(kWidth, height_)); }

  QRectF boundingRect() const override;
  void paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

 protected:
  QVariant itemChange(GraphicsItemChange change, const QVariant& value) override;

 private:
  PageScene* pageScene() const;
  // The id, type and error drawn in device pixels when zoomed out, elided to the box's width on
  // screen; re-elided only when that width changes, so that a steady zoom builds no strings.
  void paintScreenLabel(QPainter* p, bool onStatusFill);

  BlockId id_;
  std::string type_;
  const BlockDescriptor* desc_;
  std::vector<Port> ports_;
  qreal height_ = kMinHeight;
  qreal portTop_ = 0;
  BlockStatus status_ = BlockStatus::Stale;
  std::string error_;
  QString warning_;
  std::vector<WireItem*> wires_;
  QStaticText title_;
  QStaticText idText_;
  QString summary_;
  int labelWidthPx_ = -1;
  bool smallId_ = false;  // the id needed the smaller font to show whole or nearly
  QStaticText labelId_, labelId2_, labelType_, labelError_;
};

}  // namespace qs::editor
