#include "editor_bridge/PageScene.h"

#include <QGraphicsPathItem>
#include <QGraphicsSceneHelpEvent>
#include <QGraphicsSceneMouseEvent>
#include <QGraphicsView>
#include <QMenu>
#include <QPainter>
#include <QStyleOptionGraphicsItem>
#include <QToolTip>
#include <cmath>
#include <utility>

#include "editor_bridge/EditorStyle.h"
#include "editor_bridge/RangeWarning.h"
#include "editor_bridge/PortToolTip.h"
#include "editor_bridge/WireItem.h"
#include "runtime/EvalPlan.h"
#include "runtime/EvalWiring.h"
#include "runtime/Json.h"

namespace qs::editor {

PageScene::PageScene(PageModel* model, QObject* parent) : QGraphicsScene(parent), model_(model) {
  setBackgroundBrush(style::kCanvas);
  connect(model, &PageModel::pageReset, this, &PageScene::rebuild);
  connect(model, &PageModel::blockAdded, this, [this](const BlockId& id) {
    const int i = model_->page().indexOf(id);
    addBlockItem(model_->page().blocks()[i], i);
  });
  connect(model, &PageModel::blockRemoved, this, &PageScene::removeBlockItem);
  connect(model, &PageModel::linkAdded, this, &PageScene::addWireItem);
  connect(model, &PageModel::linkRemoved, this, &PageScene::removeWireItem);
  connect(model, &PageModel::blockMoved, this, [this](const BlockId& id) {
    BlockItem* item = blockItem(id);
    const int i = model_->page().indexOf(id);
    if (!item || i < 0) return;
    const QPointF pos = blockPosition(model_->page().blocks()[i], i);
    if (item->pos() != pos) item->setPos(pos);
  });
  connect(model, &PageModel::blockAttrsChanged, this, &PageScene::updateSummary);
  rebuild();
}

void PageScene::updateSummary(const BlockId& id) {
  BlockItem* item = blockItem(id);
  const Block* b = model_->page().find(id);
  if (!item || !b) return;
  QString text;
  auto values = b->attrs.find("values");
  auto npy = b->attrs.find("npy");
  if (values != b->attrs.end() && values->is_array()) {
    QStringList parts;
    for (size_t i = 0; i < values->size() && i < 8; ++i) {
      const Json& v = (*values)[i];
      // Floats in the shortest form that reads back to the same float32, as page files hold them.
      parts << QString::fromStdString(v.is_string()         ? v.get<std::string>()
                                      : v.is_number_float() ? formatFloat(v.get<float>())
                                                            : v.dump());
    }
    text = "[" + parts.join(", ") + (values->size() > 8 ? ", ...]" : "]");
  } else if (npy != b->attrs.end() && npy->is_string()) {
    text = QString::fromStdString(npy->get<std::string>());
  } else if (auto s = outputShapes_.find(id); s != outputShapes_.end()) {
    text = QString::fromStdString("out " + shapeToString(s->second));
  }
  item->setSummary(text);
}

void PageScene::rebuild() {
  clearSelection();
  dragPath_ = nullptr;
  dragging_ = false;
  detaching_.reset();
  moveStart_.clear();
  clear();
  cached_ = false;
  blocks_.clear();
  wires_ = new WireLayer;
  addItem(wires_);
  outputShapes_.clear();
  outputDTypes_.clear();
  portShapes_.clear();
  const Page& page = model_->page();
  blocks_.reserve(page.blockCount());
  rebuilding_ = true;
  for (size_t i = 0; i < page.blockCount(); ++i)
    addBlockItem(page.blocks()[i], static_cast<int>(i));
  for (const auto* list : {&page.links(), &page.danglingLinks()})
    for (const Link& l : *list) addWireItem(l);
  rebuilding_ = false;
  markCyclicWires();
  // Room to pan around the page and to drop new blocks beside it.
  setSceneRect(blocksBoundingRect().adjusted(-2000, -2000, 2000, 2000));
}

void PageScene::addBlockItem(const Block& block, int index) {
  auto* item = new BlockItem(block.id, block.type, model_->registry().find(block.type));
  item->setPos(blockPosition(block, index));
  if (cached_) item->setCacheMode(QGraphicsItem::DeviceCoordinateCache);
  addItem(item);
  wires_->obstacleChanged(item, item->sceneBodyRect());
  blocks_[block.id] = item;
  updateSummary(block.id);
  const QRectF r = item->sceneBoundingRect().adjusted(-1000, -1000, 1000, 1000);
  if (!sceneRect().contains(r)) setSceneRect(sceneRect().united(r));
}

void PageScene::addWireItem(const Link& link) {
  BlockItem* from = blockItem(link.from.block);
  BlockItem* to = blockItem(link.to.block);
  if (!from && !to) return;  // nothing on the page to draw it from (still kept and saved)
  WireItem* wire = wires_->add(link, from, to, model_->brokenReason(link));
  for (BlockItem* end : {from, to})
    if (end) end->wires().push_back(wire);
  // A link added back (undo, paste) may close a cycle again; a loaded page's are marked at once.
  if (from && to && !rebuilding_) wire->setCyclic(closesCycle(link));
}

bool PageScene::closesCycle(const Link& link) const {
  const int to = model_->page().indexOf(link.to.block);
  if (to < 0 || !model_->page().contains(link.from.block)) return false;
  return model_->upstreamOf(link.from.block)[static_cast<size_t>(to)] != 0;
}

void PageScene::markCyclicWires() {
  // Most pages have no cycle: one plan finds the blocks on cycles, and only links between two of
  // them are followed.
  const Page& page = model_->page();
  EvalPlan plan;
  try {
    plan = planEvaluation(page, model_->registry(), {}, false);
  } catch (const std::exception&) {
    return;  // a page the evaluator cannot plan says why when it runs
  }
  if (plan.cycleErrors.empty()) return;
  for (const Link& l : page.links()) {
    const int a = page.indexOf(l.from.block), b = page.indexOf(l.to.block);
    if (a < 0 || b < 0 || !plan.cycleError(a) || !plan.cycleError(b)) continue;
    if (WireItem* w = wires_->find(l)) w->setCyclic(closesCycle(l));
  }
}

void PageScene::removeWireItem(const Link& link) {
  WireItem* wire = wires_->find(link);
  if (!wire) return;
  for (BlockItem* b : {wire->fromItem(), wire->toItem()}) {
    if (!b) continue;
    auto& ws = b->wires();
    ws.erase(std::remove(ws.begin(), ws.end(), wire), ws.end());
  }
  wires_->remove(link);
}

void PageScene::removeBlockItem(const BlockId& id) {
  auto it = blocks_.find(id);
  if (it == blocks_.end()) return;
  BlockItem* item = it->second;
  std::vector<Link> attached;
  for (WireItem* w : item->wires()) attached.push_back(w->link());
  for (const Link& l : attached) removeWireItem(l);
  moveStart_.clear();
  blocks_.erase(it);
  wires_->obstacleChanged(item, QRectF());
  delete item;
}

BlockItem* PageScene::blockItem(const BlockId& id) const {
  auto it = blocks_.find(id);
  return it == blocks_.end() ? nullptr : it->second;
}

WireItem* PageScene::wireItem(const Link& link) const {
  return wires_->find(link);
}

std::vector<BlockId> PageScene::selectedBlocks() const {
  std::vector<BlockId> ids;
  // Page order, so that copy and delete keep the saved order.
  for (const Block& b : model_->page().blocks())
    if (BlockItem* item = blockItem(b.id); item && item->isSelected()) ids.push_back(b.id);
  return ids;
}

std::vector<Link> PageScene::selectedLinks() const {
  std::vector<Link> links;
  // Page order, so that the result does not depend on hashing.
  for (const auto* list : {&model_->page().links(), &model_->page().danglingLinks()})
    for (const Link& l : *list)
      if (WireItem* w = wires_->find(l); w && w->isSelected()) links.push_back(l);
  return links;
}

void PageScene::selectWire(const Link& link, bool add) {
  if (!add) {
    clearSelection();
    wires_->clearSelection();
  }
  if (WireItem* w = wires_->find(link)) w->setSelected(true);
}

void PageScene::selectWiresBetweenSelectedBlocks() {
  for (const auto& [id, item] : blocks_) {
    if (!item->isSelected()) continue;
    for (WireItem* w : item->wires())
      if (w->fromItem() == item && w->toItem() && w->toItem()->isSelected()) w->setSelected(true);
  }
}

void PageScene::selectBlocks(const std::vector<BlockId>& ids) {
  clearSelection();
  wires_->clearSelection();
  for (const BlockId& id : ids)
    if (BlockItem* item = blockItem(id)) item->setSelected(true);
}

void PageScene::setZoomForCaching(qreal zoom) {
  // Above this zoom blocks are drawn in full detail (BlockItem's text level).
  const bool cache = zoom >= BlockItem::kDetailLod;
  if (cache == cached_) return;
  cached_ = cache;
  for (const auto& [id, item] : blocks_)
    item->setCacheMode(cache ? QGraphicsItem::DeviceCoordinateCache : QGraphicsItem::NoCache);
}

void PageScene::invalidateBlocks() {
  for (const auto& [id, item] : blocks_) item->update();
}

void PageScene::blockGeometryChanged(BlockItem* item) {
  if (wires_) wires_->obstacleChanged(item, item->sceneBodyRect());
}

QRectF PageScene::blocksBoundingRect() const {
  QRectF r;
  for (const auto& [id, item] : blocks_) r |= item->sceneBoundingRect();
  // A wire to a missing block ends in a labelled stub beside its block: keep it in the picture.
  for (const Link& l : model_->page().danglingLinks())
    if (const WireItem* w = wires_ ? wires_->find(l) : nullptr) r |= w->boundingRect();
  return r;
}

void PageScene::applyResults(const ResultMap& results) {
  for (const auto& [id, r] : results) {
    setBlockStatus(id, r.status, r.error);
    portShapes_[id] = r.outputShapes;
    if (r.outputShapes.empty()) {
      outputDTypes_.erase(id);
    } else {
      auto& dtypes = outputDTypes_[id];
      dtypes.clear();
      for (const auto& [port, shape] : r.outputShapes) {
        auto dt = r.outputDTypes.find(port);
        dtypes[port] = dt == r.outputDTypes.end() ? DType::Float32 : dt->second;
      }
    }
    auto out = r.outputShapes.find("output");
    if (out == r.outputShapes.end() && !r.outputShapes.empty()) out = r.outputShapes.begin();
    if (out != r.outputShapes.end())
      outputShapes_[id] = out->second;
    else
      outputShapes_.erase(id);
    updateSummary(id);
  }
  for (const auto& [id, r] : results)
    if (BlockItem* item = blockItem(id); item && item->descriptor())
      if (const Block* b = model_->page().find(id)) item->setWarning(rangeWarning(model_->page(), *b, results));
  emit statusesChanged();
}

void PageScene::setBlockStatus(const BlockId& id, BlockStatus status, const std::string& error) {
  BlockItem* item = blockItem(id);
  if (!item) return;
  // A block at the end of a wire to a missing block is in error whatever the evaluator says: the
  // evaluator never sees such a wire.
  if (const std::string broken = model_->danglingError(id); !broken.empty())
    return item->setStatus(BlockStatus::Error,
                           status == BlockStatus::Error ? broken + "; " + error : broken);
  item->setStatus(status, error);
}

bool PageScene::acceptsDrop(const BlockItem* item, const BlockItem::Port& port) const {
  if (!dragging_ || port.result || port.desc->direction != PortDirection::Input) return false;
  if (port.desc->kind != dragKind_) return false;
  const PortRef target{item->blockId(), PortName(port.desc->name)};
  if (detaching_ && detaching_->to == target) return true;  // back where it was
  const int index = model_->page().indexOf(item->blockId());
  if (index < 0 || (index < static_cast<int>(dragUpstream_.size()) && dragUpstream_[index]))
    return false;
  return model_->linkInto(target) == nullptr && dtypeRefusal(dragFrom_, target).isEmpty();
}

QString PageScene::dtypeRefusal(const PortRef& from, const PortRef& to) const {
  auto known = outputDTypes_.find(from.block);
  if (known == outputDTypes_.end()) return {};
  auto port = known->second.find(from.port.str());
  if (port == known->second.end()) return {};
  const Block* b = model_->page().find(to.block);
  const BlockDescriptor* d = b ? model_->registry().find(b->type) : nullptr;
  const PortDescriptor* in = d ? d->findPort(to.port.str(), PortDirection::Input) : nullptr;
  if (!in || in->kind != PortKind::Tensor) return {};
  const std::string problem = dtypeProblem(*in, port->second);
  if (problem.empty()) return {};
  return QString::fromStdString("'" + to.block.str() + "' " + problem + " (from " +
                                from.block.str() + "." + from.port.str() + ")");
}

namespace {
// What a per-block, per-port map knows of one output.
template <typename T>
std::optional<T> portEntry(const std::unordered_map<BlockId, std::map<std::string, T>>& map,
                           const PortRef& output) {
  auto known = map.find(output.block);
  if (known == map.end()) return std::nullopt;
  auto port = known->second.find(output.port.str());
  if (port == known->second.end()) return std::nullopt;
  return port->second;
}
}  // namespace

std::optional<DType> PageScene::outputDType(const PortRef& output) const {
  return portEntry(outputDTypes_, output);
}

std::optional<Shape> PageScene::outputShape(const PortRef& output) const {
  return portEntry(portShapes_, output);
}

BlockItem* PageScene::blockAt(QPointF scenePos, int* port) const {
  // Pins stick out of the box, so look a little around the point.
  const QRectF probe(scenePos - QPointF(8, 8), QSizeF(16, 16));
  for (QGraphicsItem* item : items(probe, Qt::IntersectsItemBoundingRect)) {
    if (item->type() != BlockItem::Type) continue;
    auto* block = static_cast<BlockItem*>(item);
    const int p = block->portAt(block->mapFromScene(scenePos));
    if (p >= 0 || block->contains(block->mapFromScene(scenePos))) {
      if (port) *port = p;
      return block;
    }
  }
  if (port) *port = -1;
  return nullptr;
}

void PageScene::mousePressEvent(QGraphicsSceneMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    int port = -1;
    BlockItem* block = blockAt(event->scenePos(), &port);
    if (block && port >= 0) {
      const BlockItem::Port& p = block->ports()[port];
      if (p.result) {
        clearSelection();
        block->setSelected(true);
        emit resultPinClicked(block->blockId(), QString::fromStdString(p.desc->name));
        event->accept();
        return;
      }
      const Link* wired = p.desc->direction == PortDirection::Input
                              ? model_->linkInto({block->blockId(), PortName(p.desc->name)})
                              : nullptr;
      BlockItem* source = wired ? blockItem(wired->from.block) : block;
      if (p.desc->direction == PortDirection::Output || (wired && source)) {
        dragging_ = true;
        detaching_.reset();
        if (wired) {
          detaching_ = *wired;
          // The dashed drag line stands in for the wire until it is dropped.
          wires_->setHidden(wires_->find(*wired));
        }
        dragFrom_ = wired ? wired->from : PortRef{block->blockId(), PortName(p.desc->name)};
        dragKind_ = p.desc->kind;
        dragUpstream_ = model_->upstreamOf(source->blockId());
        dragStart_ = source->portScenePos(dragFrom_.port.str());
        dragPath_ = new QGraphicsPathItem;
        dragPath_->setPen(QPen(style::kHighlight, 2, Qt::DashLine));
        dragPath_->setZValue(10);
        dragPath_->setPath(WireItem::curve(dragStart_, event->scenePos()));
        addItem(dragPath_);
        invalidateBlocks();  // highlight the compatible inputs
        event->accept();
        return;
      }
      // Pressing a free input pin starts nothing: wires are drawn from output to input.
      emit message(tr("Drag from an output pin (right edge) to an input pin to make a wire"));
      event->accept();
      return;
    }
  }
  if (event->button() == Qt::LeftButton) {
    const bool add = event->modifiers() & (Qt::ControlModifier | Qt::ShiftModifier);
    if (!blockAt(event->scenePos(), nullptr)) {
      const qreal lod =
          views().isEmpty()
              ? 1.0
              : QStyleOptionGraphicsItem::levelOfDetailFromTransform(views().front()->transform());
      if (WireItem* w = wires_->wireAt(event->scenePos(), lod)) {
        if (!add) clearSelection();
        if (!add) wires_->clearSelection();
        w->setSelected(!add || !w->isSelected());
        event->accept();
        return;
      }
    }
    if (!add) wires_->clearSelection();
  }
  QGraphicsScene::mousePressEvent(event);
  moveStart_.clear();
  if (event->button() == Qt::LeftButton)
    for (QGraphicsItem* item : selectedItems())
      if (item->type() == BlockItem::Type)
        moveStart_.push_back({static_cast<BlockItem*>(item), item->pos()});
}

void PageScene::mouseMoveEvent(QGraphicsSceneMouseEvent* event) {
  if (dragging_) {
    dragPath_->setPath(WireItem::curve(dragStart_, event->scenePos()));
    // Over an input the wire's dtype does not fit: say why now, not only on the drop.
    int port = -1;
    BlockItem* block = blockAt(event->scenePos(), &port);
    const BlockItem::Port* p = block && port >= 0 ? &block->ports()[port] : nullptr;
    if (p && !p->result && p->desc->direction == PortDirection::Input) {
      const PortRef target{block->blockId(), PortName(p->desc->name)};
      const QString why = dtypeRefusal(dragFrom_, target);
      if (!why.isEmpty() && !(hoverRefused_ == target)) {
        hoverRefused_ = target;
        emit message(tr("Wire refused: %1").arg(why));
        QToolTip::showText(event->screenPos(), tr("Wire refused: %1").arg(why));
      }
    } else {
      hoverRefused_ = {};
    }
    event->accept();
    return;
  }
  QGraphicsScene::mouseMoveEvent(event);
}

void PageScene::mouseReleaseEvent(QGraphicsSceneMouseEvent* event) {
  if (dragging_) {
    finishWireDrag(event->scenePos(), event->screenPos());
    event->accept();
    return;
  }
  QGraphicsScene::mouseReleaseEvent(event);
  std::vector<PageModel::Move> moves;
  for (const auto& [item, from] : moveStart_)
    if (item->pos() != from) moves.push_back({item->blockId(), from, item->pos()});
  moveStart_.clear();
  model_->moveBlocks(std::move(moves));
}

void PageScene::finishWireDrag(QPointF scenePos, QPointF screenPos) {
  dragging_ = false;
  delete dragPath_;
  dragPath_ = nullptr;
  dragUpstream_.clear();
  hoverRefused_ = {};
  const std::optional<Link> detached = std::exchange(detaching_, std::nullopt);
  wires_->setHidden(nullptr);
  invalidateBlocks();
  int port = -1;
  BlockItem* block = blockAt(scenePos, &port);
  if (!block || port < 0) {
    // Dropped off every pin: a detached wire end deletes the wire; a new wire let go over empty
    // canvas offers the blocks that can take it.
    if (detached)
      model_->disconnectLink(*detached);
    else if (!block)
      emit wireDroppedOnCanvas(dragFrom_, scenePos);
    return;
  }
  const BlockItem::Port& p = block->ports()[port];
  const Link target{dragFrom_, {block->blockId(), PortName(p.desc->name)}};
  if (detached && !p.result && target == *detached) return;  // put back where it was
  QString why;
  if (p.result)
    why = tr("a result pin is for viewing results; drop the wire on an input pin (left edge)");
  else
    why = model_->connectRefusal(target.from, target.to);
  if (why.isEmpty()) why = dtypeRefusal(target.from, target.to);
  if (why.isEmpty()) {
    lastRefusal_.clear();
    if (detached)
      model_->reconnect(*detached, target);
    else
      model_->connectPorts(target);
    return;
  }
  lastRefusal_ = why;
  emit message(tr("Wire refused: %1").arg(why));
  QToolTip::showText(screenPos.toPoint(), tr("Wire refused: %1").arg(why));
}

void PageScene::helpEvent(QGraphicsSceneHelpEvent* event) {
  // Tooltips are made when asked for instead of stored on thousands of items.
  int port = -1;
  if (BlockItem* block = blockAt(event->scenePos(), &port); block && port >= 0) {
    QToolTip::showText(event->screenPos(), portToolTip(*this, *block, block->ports()[port]),
                       event->widget());
    event->accept();
    return;
  }
  for (QGraphicsItem* item : items(event->scenePos())) {
    if (item->type() != BlockItem::Type) continue;
    QToolTip::showText(event->screenPos(), static_cast<BlockItem*>(item)->toolTipText(),
                       event->widget());
    event->accept();
    return;
  }
  QToolTip::hideText();
  event->ignore();
}

void PageScene::drawBackground(QPainter* painter, const QRectF& rect) {
  painter->fillRect(rect, style::kCanvas);
  // A dot grid only where it can be seen; at low zoom it would be noise and cost.
  const qreal lod = QStyleOptionGraphicsItem::levelOfDetailFromTransform(painter->worldTransform());
  if (lod < 0.5) return;
  painter->setRenderHint(QPainter::Antialiasing, false);
  constexpr qreal step = 40;
  painter->setPen(QPen(style::kGrid, 0));
  QVector<QLineF> lines;
  for (qreal x = std::floor(rect.left() / step) * step; x < rect.right(); x += step)
    lines.append(QLineF(x, rect.top(), x, rect.bottom()));
  for (qreal y = std::floor(rect.top() / step) * step; y < rect.bottom(); y += step)
    lines.append(QLineF(rect.left(), y, rect.right(), y));
  painter->drawLines(lines);
}

}  // namespace qs::editor
