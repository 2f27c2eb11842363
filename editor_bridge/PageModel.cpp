#include "editor_bridge/PageModel.h"

#include <cctype>
#include <cmath>

#include "editor_bridge/PageCommands.h"
#include "runtime/Error.h"

namespace qs::editor {

namespace {
constexpr double kGridX = 190;
constexpr double kGridY = 260;  // a PerChannel block is about 215 high
constexpr int kGridColumns = 40;

QString portLabel(const PortRef& p) {
  return QString::fromStdString(p.block.str() + "." + p.port.str());
}
}  // namespace

QPointF defaultPosition(int index) {
  return {40 + (index % kGridColumns) * kGridX, 40 + (index / kGridColumns) * kGridY};
}

QPointF blockPosition(const Block& block, int index) {
  if (block.position) return {(*block.position)[0], (*block.position)[1]};
  return defaultPosition(index);
}

PageModel::PageModel(const BlockRegistry& registry, QObject* parent)
    : QObject(parent), registry_(registry) {
  connect(&undo_, &QUndoStack::indexChanged, this, [] {});
}

void PageModel::resetPage(Page page, std::filesystem::path dir) {
  undo_.clear();
  page_ = std::move(page);
  dir_ = std::move(dir);
  structureChanged();
  emit pageReset();
  emit contentChanged();
}

BlockId PageModel::addBlock(const std::string& type, QPointF pos) {
  Block b;
  b.id = BlockId(freshId(type));
  b.type = type;
  b.position = std::array<double, 2>{std::round(pos.x()), std::round(pos.y())};
  BlockId id = b.id;
  undo_.push(new AddItemsCommand(this, {std::move(b)}, {},
                                 tr("Add %1").arg(QString::fromStdString(type))));
  return id;
}

void PageModel::addBlocks(std::vector<Block> blocks, std::vector<Link> links, const QString& text) {
  if (blocks.empty()) return;
  undo_.push(new AddItemsCommand(this, std::move(blocks), std::move(links), text));
}

void PageModel::removeItems(const std::vector<BlockId>& blocks, const std::vector<Link>& links,
                            const QString& text) {
  if (blocks.empty() && links.empty()) return;
  undo_.push(new RemoveItemsCommand(this, blocks, links, text));
}

QString PageModel::connectPorts(const Link& link) {
  QString why = connectRefusal(link.from, link.to);
  if (!why.isEmpty()) return why;
  undo_.push(new ConnectCommand(this, link, true));
  return {};
}

void PageModel::disconnectLink(const Link& link) {
  if (page_.hasLink(link) || page_.hasDanglingLink(link))
    undo_.push(new ConnectCommand(this, link, false));
}

QString PageModel::reconnect(const Link& old, const Link& now) {
  if (!page_.hasLink(old)) return tr("the wire no longer exists");
  if (old == now) return {};
  // The source stays, so taking the old wire away cannot open a path that the check must see.
  const QString why = connectRefusal(now.from, now.to);
  if (!why.isEmpty()) return why;
  undo_.beginMacro(tr("Reconnect wire"));
  undo_.push(new ConnectCommand(this, old, false));
  undo_.push(new ConnectCommand(this, now, true));
  undo_.endMacro();
  return {};
}

void PageModel::moveBlocks(std::vector<Move> moves) {
  if (moves.empty()) return;
  auto* cmd = new MoveCommand(this, std::move(moves));
  // The items are already where the drag left them; redo() only records it in the page.
  undo_.push(cmd);
}

void PageModel::setAttrs(const BlockId& id, Json attrs, const QString& text) {
  const Block* b = page_.find(id);
  if (!b || b->attrs == attrs) return;
  undo_.push(new SetAttrsCommand(this, id, b->attrs, std::move(attrs), text));
}

QString PageModel::renameBlock(const BlockId& id, const std::string& newId) {
  if (!page_.contains(id)) return tr("the block no longer exists");
  if (id.str() == newId) return {};
  if (!isValidBlockId(newId))
    return tr("'%1' is not a valid id: use letters, digits and _, not starting with a digit")
        .arg(QString::fromStdString(newId));
  if (page_.idTaken(BlockId(newId)))
    return tr("the id '%1' is already taken").arg(QString::fromStdString(newId));
  undo_.push(new RenameCommand(this, id, BlockId(newId)));
  return {};
}

void PageModel::setFrames(std::vector<Frame> frames, const QString& text) {
  if (frames == page_.frames) return;
  undo_.push(new SetFramesCommand(this, page_.frames, std::move(frames), text));
}

// ---- Connect check ------------------------------------------------------------------------------

void PageModel::rebuildAdjacency() const {
  if (!adjacencyDirty_) return;
  const size_t n = page_.blockCount();
  succ_.assign(n, {});
  pred_.assign(n, {});
  for (size_t i = 0; i < n; ++i) {
    for (int li : page_.outgoingLinks(static_cast<int>(i))) {
      const int j = page_.indexOf(page_.links()[li].to.block);
      succ_[i].push_back(j);
      pred_[j].push_back(static_cast<int>(i));
    }
  }
  visited_.assign(n, 0);
  visitStamp_ = 0;
  adjacencyDirty_ = false;
}

const Link* PageModel::linkInto(const PortRef& input) const {
  const int to = page_.indexOf(input.block);
  if (to < 0) return nullptr;
  for (int li : page_.incomingLinks(to))
    if (page_.links()[li].to.port == input.port) return &page_.links()[li];
  return nullptr;
}

QString PageModel::brokenReason(const Link& link) const {
  for (const PortRef* end : {&link.from, &link.to}) {
    const Block* b = page_.find(end->block);
    if (!b) return tr("no block '%1' on the page").arg(QString::fromStdString(end->block.str()));
    const BlockDescriptor* d = registry_.find(b->type);
    if (!d) continue;  // an unknown type is the block's own error; its ports are unknown
    const PortDirection want = end == &link.from ? PortDirection::Output : PortDirection::Input;
    const PortDescriptor* p = d->findPort(end->port.str(), want);
    if (!p || p->direction != want)
      return tr("'%1' (%2) has no %3 '%4'")
          .arg(QString::fromStdString(b->id.str()), QString::fromStdString(b->type),
               want == PortDirection::Output ? tr("output") : tr("input"),
               QString::fromStdString(end->port.str()));
  }
  return {};
}

std::string PageModel::danglingError(const BlockId& id) const {
  std::string error;
  for (const Link& l : page_.danglingLinks()) {
    std::string what;
    if (l.to.block == id && !page_.contains(l.from.block))
      what = "input '" + l.to.port.str() + "' is wired from " + l.from.block.str() + "." +
             l.from.port.str() + ", but there is no block '" + l.from.block.str() + "'";
    else if (l.from.block == id && !page_.contains(l.to.block))
      what = "output '" + l.from.port.str() + "' is wired to " + l.to.block.str() + "." +
             l.to.port.str() + ", but there is no block '" + l.to.block.str() + "'";
    if (!what.empty()) error += (error.empty() ? "" : "; ") + what;
  }
  if (!error.empty()) error += " (delete the broken wire, then wire the block again)";
  return error;
}

QString PageModel::connectRefusal(const PortRef& from, const PortRef& to) const {
  const int fromIndex = page_.indexOf(from.block);
  const int toIndex = page_.indexOf(to.block);
  if (fromIndex < 0 || toIndex < 0) return tr("the block no longer exists");
  const BlockDescriptor* fd = registry_.find(page_.blocks()[fromIndex].type);
  const BlockDescriptor* td = registry_.find(page_.blocks()[toIndex].type);
  if (!fd)
    return tr("'%1' has an unknown block type").arg(QString::fromStdString(from.block.str()));
  if (!td) return tr("'%1' has an unknown block type").arg(QString::fromStdString(to.block.str()));
  // The right side first: an input and an output may share a name.
  const PortDescriptor* fp = fd->findPort(from.port.str(), PortDirection::Output);
  if (!fp) fp = fd->findPort(from.port.str());
  const PortDescriptor* tp = td->findPort(to.port.str(), PortDirection::Input);
  if (!tp) tp = td->findPort(to.port.str());
  if (!fp || !tp) return tr("no such port");
  if (fp->direction != PortDirection::Output || tp->direction != PortDirection::Input)
    return tr("wrong direction: a wire goes from an output (right edge) to an input (left edge); "
              "%1 and %2 are both %3")
        .arg(portLabel(from), portLabel(to),
             fp->direction == tp->direction
                 ? (fp->direction == PortDirection::Output ? tr("outputs") : tr("inputs"))
                 : tr("the wrong way round"));
  if (tp->kind == PortKind::Scope)
    return tr("the scope pin of '%1' is bound to the page and is never wired")
        .arg(QString::fromStdString(to.block.str()));
  if (tp->kind != fp->kind)
    return tr("the attrs pin of '%1' takes no wire: it stands for the block's attributes, which "
              "are set in the attribute editor")
        .arg(QString::fromStdString(to.block.str()));
  if (const Link* existing = linkInto(to))
    return tr("input %1 is already wired (from %2); delete that wire first")
        .arg(portLabel(to), portLabel(existing->from));
  for (const Link& l : page_.danglingLinks())
    if (l.to == to)
      return tr("input %1 has a broken wire (from %2, which is not on the page); delete that "
                "wire first")
          .arg(portLabel(to), portLabel(l.from));
  if (fromIndex == toIndex)
    return tr("would make a cycle: '%1' cannot feed itself")
        .arg(QString::fromStdString(to.block.str()));
  // from -> to closes a cycle iff `to` already reaches `from`.
  rebuildAdjacency();
  if (++visitStamp_ == 0) {
    std::fill(visited_.begin(), visited_.end(), 0);
    visitStamp_ = 1;
  }
  stack_.clear();
  stack_.push_back(toIndex);
  visited_[toIndex] = visitStamp_;
  while (!stack_.empty()) {
    const int b = stack_.back();
    stack_.pop_back();
    for (int n : succ_[b]) {
      if (n == fromIndex)
        return tr("would make a cycle: '%1' already feeds '%2'")
            .arg(QString::fromStdString(to.block.str()), QString::fromStdString(from.block.str()));
      if (visited_[n] != visitStamp_) {
        visited_[n] = visitStamp_;
        stack_.push_back(n);
      }
    }
  }
  return {};
}

std::vector<char> PageModel::upstreamOf(const BlockId& block) const {
  rebuildAdjacency();
  std::vector<char> up(page_.blockCount(), 0);
  const int start = page_.indexOf(block);
  if (start < 0) return up;
  std::vector<int> stack{start};
  up[start] = 1;
  while (!stack.empty()) {
    const int b = stack.back();
    stack.pop_back();
    for (int p : pred_[b])
      if (!up[p]) {
        up[p] = 1;
        stack.push_back(p);
      }
  }
  return up;
}

// ---- Ids ----------------------------------------------------------------------------------------

std::string PageModel::freshId(const std::string& type) const {
  // The capitals of the type name: "Const" -> "c", "FakeQuantWith..." -> "fq".
  std::string prefix;
  for (char c : type)
    if (std::isupper(static_cast<unsigned char>(c)) && prefix.size() < 2)
      prefix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (prefix.empty()) prefix = "b";
  for (int i = 1;; ++i) {
    std::string id = prefix + std::to_string(i);
    if (!page_.idTaken(BlockId(id))) return id;
  }
}

std::string PageModel::freshIdLike(const std::string& wanted) const {
  if (isValidBlockId(wanted) && !page_.idTaken(BlockId(wanted))) return wanted;
  std::string stem = wanted;
  while (!stem.empty() && std::isdigit(static_cast<unsigned char>(stem.back()))) stem.pop_back();
  if (!stem.empty() && stem.back() == '_') stem.pop_back();
  if (stem.empty() || !isValidBlockId(stem)) stem = "b";
  for (int i = 2;; ++i) {
    std::string id = stem + "_" + std::to_string(i);
    if (!page_.idTaken(BlockId(id))) return id;
  }
}

// ---- Raw mutators -------------------------------------------------------------------------------

void PageModel::rawAddBlock(Block block) {
  BlockId id = block.id;
  page_.addBlock(std::move(block));
  structureChanged();
  emit blockAdded(id);
  emit contentChanged();
  emit changed();
}

void PageModel::rawRemoveBlock(const BlockId& id) {
  // Links first, so that the scene removes their items before the block's.
  std::vector<Link> touching;
  for (const auto* list : {&page_.links(), &page_.danglingLinks()})
    for (const Link& l : *list)
      if (l.from.block == id || l.to.block == id) touching.push_back(l);
  for (const Link& l : touching) rawRemoveLink(l);
  emit blockRemoved(id);
  page_.removeBlock(id);
  structureChanged();
  emit contentChanged();
  emit changed();
}

void PageModel::rawAddLink(const Link& link) {
  if (page_.contains(link.from.block) && page_.contains(link.to.block))
    page_.addLink(link);
  else
    page_.addDanglingLink(link);
  structureChanged();
  emit linkAdded(link);
  emit contentChanged();
  emit changed();
}

void PageModel::rawRemoveLink(const Link& link) {
  emit linkRemoved(link);
  if (page_.hasDanglingLink(link))
    page_.removeDanglingLink(link);
  else
    page_.removeLink(link);
  structureChanged();
  emit contentChanged();
  emit changed();
}

void PageModel::rawSetPosition(const BlockId& id, QPointF pos) {
  page_.setPosition(id, std::array<double, 2>{pos.x(), pos.y()});
  emit blockMoved(id);
  emit changed();
}

void PageModel::rawRenameBlock(const BlockId& from, const BlockId& to) {
  // The scene sees the block and its wires go and come back under the new id.
  std::vector<Link> touching;
  for (const auto* list : {&page_.links(), &page_.danglingLinks()})
    for (const Link& l : *list)
      if (l.from.block == from || l.to.block == from) touching.push_back(l);
  for (const Link& l : touching) emit linkRemoved(l);
  emit blockRemoved(from);
  page_.renameBlock(from, to);
  structureChanged();
  emit blockAdded(to);
  for (Link l : touching) {
    if (l.from.block == from) l.from.block = to;
    if (l.to.block == from) l.to.block = to;
    emit linkAdded(l);
  }
  emit framesChanged();
  emit contentChanged();
  emit changed();
}

void PageModel::rawSetFrames(std::vector<Frame> frames) {
  page_.frames = std::move(frames);
  emit framesChanged();
  emit changed();
}

void PageModel::rawSetAttrs(const BlockId& id, Json attrs) {
  page_.setAttrs(id, std::move(attrs));
  emit blockAttrsChanged(id);
  emit contentChanged();
  emit changed();
}

}  // namespace qs::editor
