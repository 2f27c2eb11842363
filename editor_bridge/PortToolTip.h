#pragma once

#include <QString>

#include "editor_bridge/BlockItem.h"

namespace qs::editor {

class PageScene;

// What hovering a pin shows: the port's name and direction, its doc, the dtypes it takes or
// gives, and the shape (and dtype) of its last result: an output's own, an input's from the wire
// into it.
QString portToolTip(const PageScene& scene, const BlockItem& block, const BlockItem::Port& port);

}  // namespace qs::editor
