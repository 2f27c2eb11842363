#include "editor_bridge/LayoutTools.h"

#include <algorithm>
#include <cmath>

#include "editor_bridge/BlockItem.h"
#include "editor_bridge/PageCommands.h"

namespace qs::editor {

QPointF snapToGrid(QPointF p, qreal step) {
  return {std::round(p.x() / step) * step, std::round(p.y() / step) * step};
}

namespace {
QRectF box(const BlockItem* item) {
  return item->mapRectToScene(item->boxRect());
}

void addMove(std::vector<PageModel::Move>& moves, const BlockItem* item, QPointF to) {
  if (to != item->pos()) moves.push_back({item->blockId(), item->pos(), to});
}
}  // namespace

std::vector<PageModel::Move> alignMoves(const std::vector<const BlockItem*>& items, Align how) {
  std::vector<PageModel::Move> moves;
  if (items.size() < 2) return moves;
  QRectF all;
  for (const BlockItem* item : items) all |= box(item);
  for (const BlockItem* item : items) {
    const QRectF b = box(item);
    QPointF shift;
    switch (how) {
      case Align::Left:
        shift = {all.left() - b.left(), 0};
        break;
      case Align::Right:
        shift = {all.right() - b.right(), 0};
        break;
      case Align::Top:
        shift = {0, all.top() - b.top()};
        break;
      case Align::Bottom:
        shift = {0, all.bottom() - b.bottom()};
        break;
      case Align::HorizontalCentre:
        shift = {all.center().x() - b.center().x(), 0};
        break;
      case Align::VerticalCentre:
        shift = {0, all.center().y() - b.center().y()};
        break;
    }
    addMove(moves, item, item->pos() + shift);
  }
  return moves;
}

std::vector<PageModel::Move> distributeMoves(const std::vector<const BlockItem*>& items,
                                             Qt::Orientation direction) {
  std::vector<PageModel::Move> moves;
  if (items.size() < 3) return moves;
  const bool h = direction == Qt::Horizontal;
  auto start = [h](const BlockItem* i) { return h ? box(i).left() : box(i).top(); };
  auto length = [h](const BlockItem* i) { return h ? box(i).width() : box(i).height(); };
  std::vector<const BlockItem*> sorted = items;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const BlockItem* a, const BlockItem* b) { return start(a) < start(b); });
  const qreal first = start(sorted.front());
  const qreal end = std::max(first, start(sorted.back()) + length(sorted.back()));
  qreal total = 0;
  for (const BlockItem* i : sorted) total += length(i);
  const qreal gap = (end - first - total) / static_cast<qreal>(sorted.size() - 1);
  qreal at = first;
  for (const BlockItem* i : sorted) {
    const qreal shift = at - start(i);
    addMove(moves, i, i->pos() + (h ? QPointF(shift, 0) : QPointF(0, shift)));
    at += length(i) + gap;
  }
  return moves;
}

QPointF clearSpotBelow(const PageModel& model, const std::string& type, QPointF want) {
  constexpr qreal kGap = 20;  // between the new block and its neighbours
  const BlockRegistry& registry = model.registry();
  std::vector<QRectF> taken;
  for (const Block& b : model.page().blocks())
    if (b.position)
      taken.emplace_back((*b.position)[0] - kGap, (*b.position)[1] - kGap,
                         BlockItem::kWidth + 2 * kGap,
                         BlockItem::heightFor(b.type, registry.find(b.type)) + 2 * kGap);
  QRectF box(want, QSizeF(BlockItem::kWidth, BlockItem::heightFor(type, registry.find(type))));
  // Each move passes the bottom of a block in the way, so there are at most as many as blocks.
  for (size_t moves = 0; moves <= taken.size(); ++moves) {
    qreal below = box.top();
    for (const QRectF& r : taken)
      if (r.intersects(box)) below = std::max(below, r.bottom());
    if (below == box.top()) break;
    box.moveTop(below);
  }
  return box.topLeft();
}

const PortDescriptor* inputTaking(const BlockDescriptor& type, std::optional<DType> dtype) {
  for (const PortDescriptor& p : type.ports)
    if (p.direction == PortDirection::Input && p.kind == PortKind::Tensor &&
        (!dtype || p.takes(*dtype)))
      return &p;
  return nullptr;
}

const PortDescriptor* firstTensorOutput(const BlockDescriptor& type) {
  for (const PortDescriptor& p : type.ports)
    if (p.direction == PortDirection::Output && p.kind == PortKind::Tensor) return &p;
  return nullptr;
}

QStringList typesTaking(const BlockRegistry& registry, std::optional<DType> dtype,
                        bool needOutput) {
  QStringList types;
  for (const BlockDescriptor* d : registry.all())
    if (inputTaking(*d, dtype) && (!needOutput || firstTensorOutput(*d)))
      types << QString::fromStdString(d->type);
  return types;
}

BlockId addWiredBlock(PageModel* model, const PortRef& from, std::optional<DType> dtype,
                      const std::string& type, QPointF pos) {
  const BlockDescriptor* d = model->registry().find(type);
  const PortDescriptor* in = d ? inputTaking(*d, dtype) : nullptr;
  Block b;
  b.id = BlockId(model->freshId(type));
  b.type = type;
  b.position = std::array<double, 2>{std::round(pos.x()), std::round(pos.y())};
  const BlockId id = b.id;
  std::vector<Link> links;
  if (in) links.push_back({from, {id, PortName(in->name)}});
  model->addBlocks({std::move(b)}, std::move(links),
                   QObject::tr("Add %1 wired from %2.%3")
                       .arg(QString::fromStdString(type), QString::fromStdString(from.block.str()),
                            QString::fromStdString(from.port.str())));
  return id;
}

QString insertIntoWire(PageModel* model, Link wire, const BlockId& id, std::optional<DType> dtype,
                       std::optional<Block> add) {
  const Page& page = model->page();
  if (!page.hasLink(wire)) return QObject::tr("the wire no longer exists");
  const std::string type = add ? add->type : (page.find(id) ? page.find(id)->type : "");
  const BlockDescriptor* d = model->registry().find(type);
  if (!d)
    return QObject::tr("'%1' has an unknown block type").arg(QString::fromStdString(id.str()));
  const PortDescriptor* in = inputTaking(*d, dtype);
  const PortDescriptor* out = firstTensorOutput(*d);
  if (!in || !out)
    return QObject::tr("%1 has no input for this wire's value, or no output")
        .arg(QString::fromStdString(type));
  if (!add) {
    const int index = page.indexOf(id);
    if (index < 0) return QObject::tr("the block no longer exists");
    if (!page.incomingLinks(index).empty() || !page.outgoingLinks(index).empty())
      return QObject::tr("'%1' already has wires").arg(QString::fromStdString(id.str()));
  }
  QUndoStack* undo = model->undoStack();
  undo->beginMacro(
      QObject::tr("Insert %1 into %2")
          .arg(QString::fromStdString(id.str()), QString::fromStdString(linkText(wire))));
  if (add) undo->push(new AddItemsCommand(model, {std::move(*add)}, {}, {}));
  undo->push(new ConnectCommand(model, wire, false));
  undo->push(new ConnectCommand(model, {wire.from, {id, PortName(in->name)}}, true));
  undo->push(new ConnectCommand(model, {{id, PortName(out->name)}, wire.to}, true));
  undo->endMacro();
  return {};
}

}  // namespace qs::editor
