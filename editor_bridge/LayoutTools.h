#pragma once

#include <QPointF>
#include <QString>
#include <QStringList>
#include <optional>
#include <vector>

#include "editor_bridge/PageModel.h"
#include "runtime/Tensor.h"

namespace qs::editor {

class BlockItem;

// The nearest point of a square grid of `step`.
QPointF snapToGrid(QPointF p, qreal step);

enum class Align { Left, Right, Top, Bottom, HorizontalCentre, VerticalCentre };
// Moves that line the blocks' boxes up on the selection's left edge, right edge, ... (only the
// blocks that move).
std::vector<PageModel::Move> alignMoves(const std::vector<const BlockItem*>& items, Align how);
// Moves that space the boxes evenly (equal gaps) between the outermost two, left to right or top
// to bottom; needs three or more.
std::vector<PageModel::Move> distributeMoves(const std::vector<const BlockItem*>& items,
                                             Qt::Orientation direction);

// Where a block of `type` goes near `want` (its top-left corner) without covering a block of the
// page: `want` itself if that is clear, else straight below the blocks in the way.
QPointF clearSpotBelow(const PageModel& model, const std::string& type, QPointF want);

// The first tensor input of `type` that takes `dtype` (any tensor input when it is not known).
const PortDescriptor* inputTaking(const BlockDescriptor& type, std::optional<DType> dtype);
const PortDescriptor* firstTensorOutput(const BlockDescriptor& type);
// Block types with an input that takes `dtype`; with `needOutput`, only those that also have a
// tensor output (to go in the middle of a wire).
QStringList typesTaking(const BlockRegistry& registry, std::optional<DType> dtype, bool needOutput);

// Adds a block of `type` at `pos` with its first fitting input wired from `from`, in one undo
// step; returns its id.
BlockId addWiredBlock(PageModel* model, const PortRef& from, std::optional<DType> dtype,
                      const std::string& type, QPointF pos);
// Puts block `id`, which has no wires, in the middle of `wire` (its first fitting input from the
// wire's source, its first output to the wire's input) in one undo step; a fresh block (`add`)
// is added in the same step. `wire` is taken by value: a WireItem's own link goes with the item.
// Refuses (returns why, changing nothing) a block that already has wires or has no fitting input or
// output.
QString insertIntoWire(PageModel* model, Link wire, const BlockId& id, std::optional<DType> dtype,
                       std::optional<Block> add = std::nullopt);

}  // namespace qs::editor
