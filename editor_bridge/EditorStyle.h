#pragma once

#include <QColor>
#include <QFont>

#include "runtime/BlockDescriptor.h"
#include "runtime/Evaluator.h"

namespace qs::editor {

// The enuSpace look, in one place.
namespace style {
inline const QColor kBlockFill{42, 42, 42};
inline const QColor kBlockOutline{255, 191, 40};
inline const QColor kBlockOutlineSelected{255, 245, 190};
inline const QColor kTitle{240, 240, 240};
inline const QColor kLabel{190, 190, 190};
inline const QColor kCanvas{28, 30, 34};
inline const QColor kGrid{40, 43, 48};
inline const QColor kWire{205, 205, 205};
inline const QColor kWireSelected{255, 191, 40};
inline const QColor kWireBroken{235, 70, 60};
inline const QColor kWireCycle{255, 120, 220};  // a link on a cycle: neither good nor broken
inline const QColor kHighlight{0, 230, 255};
inline const QColor kWarning{255, 176,
                             0};  // the badge of a block TensorFlow accepts, but doubtfully

// Block titles and the labels of broken wires' loose ends.
inline const QFont& boldFont() {
  static const QFont f = [] {
    QFont font;
    font.setPointSizeF(7.5);
    font.setBold(true);
    return font;
  }();
  return f;
}

inline QColor portColor(PortKind kind, PortDirection dir, bool result) {
  if (result) return {150, 150, 150};
  if (kind == PortKind::Scope) return {0, 0, 0};
  if (kind == PortKind::Attrs) return {150, 150, 150};
  return dir == PortDirection::Output ? QColor(80, 200, 90) : QColor(255, 215, 0);
}

inline QColor statusColor(BlockStatus s) {
  switch (s) {
    case BlockStatus::Ok:
      return {70, 190, 90};
    case BlockStatus::Running:
      return {70, 140, 255};
    case BlockStatus::Error:
      return {230, 60, 50};
    case BlockStatus::Stale:
      break;
  }
  return {135, 135, 135};
}
}  // namespace style

}  // namespace qs::editor
