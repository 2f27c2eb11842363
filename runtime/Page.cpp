#include "runtime/Page.h"

#include <algorithm>
#include <atomic>

#include "runtime/Error.h"

namespace qs {

bool isValidBlockId(const std::string& id) {
  if (id.empty()) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(id[0])) return false;
  for (char c : id)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

std::string linkText(const Link& l) {
  return l.from.block.str() + "." + l.from.port.str() + " -> " + l.to.block.str() + "." +
         l.to.port.str();
}

uint64_t Page::nextRevision() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

const Block* Page::find(const BlockId& id) const {
  int i = indexOf(id);
  return i < 0 ? nullptr : &blocks_[i];
}

int Page::indexOf(const BlockId& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? -1 : it->second;
}

void Page::addBlock(Block block) {
  if (!isValidBlockId(block.id.str()))
    throw Error("block id '" + block.id.str() +
                "' is not valid: it must match [A-Za-z_][A-Za-z0-9_]*");
  if (contains(block.id)) throw Error("block id '" + block.id.str() + "' is used twice");
  if (!block.attrs.is_object())
    throw Error("block '" + block.id.str() + "': attrs must be an object");
  block.revision = nextRevision();
  index_.emplace(block.id, static_cast<int>(blocks_.size()));
  blocks_.push_back(std::move(block));
  incoming_.emplace_back();
  outgoing_.emplace_back();
  structure_ = nextRevision();
}

void Page::removeBlock(const BlockId& id) {
  const int i = indexOf(id);
  if (i < 0) throw Error("no block '" + id.str() + "' on the page");
  // The blocks downstream lose an input: they changed.
  for (int li : outgoing_[i]) {
    int j = indexOf(links_[li].to.block);
    if (j >= 0) blocks_[j].revision = nextRevision();
  }
  links_.erase(
      std::remove_if(links_.begin(), links_.end(),
                     [&](const Link& l) { return l.from.block == id || l.to.block == id; }),
      links_.end());
  std::erase_if(dangling_, [&](const Link& l) { return l.from.block == id || l.to.block == id; });
  blocks_.erase(blocks_.begin() + i);
  rebuildIndex();
}

static Block& mutableBlock(std::vector<Block>& blocks, int i, const BlockId& id) {
  if (i < 0) throw Error("no block '" + id.str() + "' on the page");
  return blocks[i];
}

void Page::setAttrs(const BlockId& id, Json attrs) {
  if (!attrs.is_object()) throw Error("block '" + id.str() + "': attrs must be an object");
  Block& b = mutableBlock(blocks_, indexOf(id), id);
  b.attrs = std::move(attrs);
  b.revision = nextRevision();
}

void Page::setAttr(const BlockId& id, const std::string& name, Json value) {
  Block& b = mutableBlock(blocks_, indexOf(id), id);
  b.attrs[name] = std::move(value);
  b.revision = nextRevision();
}

void Page::removeAttr(const BlockId& id, const std::string& name) {
  Block& b = mutableBlock(blocks_, indexOf(id), id);
  b.attrs.erase(name);
  b.revision = nextRevision();
}

void Page::setPosition(const BlockId& id, std::optional<std::array<double, 2>> position) {
  mutableBlock(blocks_, indexOf(id), id).position = position;  // layout only: not a revision
}

void Page::touch(const BlockId& id) {
  mutableBlock(blocks_, indexOf(id), id).revision = nextRevision();
}

void Page::addLink(Link link) {
  const int from = indexOf(link.from.block);
  const int to = indexOf(link.to.block);
  if (from < 0)
    throw Error("a link comes from block '" + link.from.block.str() + "', which does not exist");
  if (to < 0)
    throw Error("a link goes to block '" + link.to.block.str() + "', which does not exist");
  if (hasLink(link)) throw Error("the link " + linkText(link) + " is given twice");
  const int li = static_cast<int>(links_.size());
  links_.push_back(std::move(link));
  outgoing_[from].push_back(li);
  incoming_[to].push_back(li);
  linkEnds_.emplace_back(from, to);
  blocks_[to].revision = nextRevision();
  structure_ = nextRevision();
}

void Page::removeLink(const Link& link) {
  auto it = std::find(links_.begin(), links_.end(), link);
  if (it == links_.end()) throw Error("no such link on the page");
  const int to = indexOf(link.to.block);
  links_.erase(it);
  if (to >= 0) blocks_[to].revision = nextRevision();
  rebuildIndex();
}

bool Page::hasLink(const Link& link) const {
  const int to = indexOf(link.to.block);
  if (to < 0) return false;
  for (int li : incoming_[to])
    if (links_[li] == link) return true;
  return false;
}

void Page::addDanglingLink(Link link) {
  if (contains(link.from.block) && contains(link.to.block))
    throw Error("the link " + linkText(link) + " joins two blocks of the page");
  if (hasDanglingLink(link)) throw Error("the link " + linkText(link) + " is given twice");
  dangling_.push_back(std::move(link));
}

void Page::removeDanglingLink(const Link& link) {
  auto it = std::find(dangling_.begin(), dangling_.end(), link);
  if (it == dangling_.end()) throw Error("no such link on the page");
  dangling_.erase(it);
}

bool Page::hasDanglingLink(const Link& link) const {
  return std::find(dangling_.begin(), dangling_.end(), link) != dangling_.end();
}

bool Page::idTaken(const BlockId& id) const {
  if (contains(id)) return true;
  for (const Link& l : dangling_)
    if (l.from.block == id || l.to.block == id) return true;
  for (const Frame& f : frames)
    if (std::find(f.blocks.begin(), f.blocks.end(), id) != f.blocks.end()) return true;
  return false;
}

void Page::renameBlock(const BlockId& from, const BlockId& to) {
  const int i = indexOf(from);
  if (i < 0) throw Error("no block '" + from.str() + "' on the page");
  if (!isValidBlockId(to.str()))
    throw Error("block id '" + to.str() + "' is not valid: it must match [A-Za-z_][A-Za-z0-9_]*");
  if (from == to) return;
  if (idTaken(to)) throw Error("block id '" + to.str() + "' is already taken");
  blocks_[i].id = to;
  blocks_[i].revision = nextRevision();
  for (auto* list : {&links_, &dangling_})
    for (Link& l : *list) {
      if (l.from.block == from) l.from.block = to;
      if (l.to.block == from) l.to.block = to;
    }
  for (Frame& f : frames) std::replace(f.blocks.begin(), f.blocks.end(), from, to);
  rebuildIndex();
}

bool Page::reaches(const BlockId& fromId, const BlockId& toId) const {
  const int from = indexOf(fromId);
  const int to = indexOf(toId);
  if (from < 0 || to < 0) return false;
  if (from == to) return true;
  std::vector<char> seen(blocks_.size(), 0);
  std::vector<int> stack{from};
  seen[from] = 1;
  while (!stack.empty()) {
    int b = stack.back();
    stack.pop_back();
    for (int li : outgoing_[b]) {
      int n = index_.find(links_[li].to.block)->second;
      if (n == to) return true;
      if (!seen[n]) {
        seen[n] = 1;
        stack.push_back(n);
      }
    }
  }
  return false;
}

void Page::rebuildIndex() {
  structure_ = nextRevision();
  index_.clear();
  for (size_t i = 0; i < blocks_.size(); ++i) index_.emplace(blocks_[i].id, static_cast<int>(i));
  incoming_.assign(blocks_.size(), {});
  outgoing_.assign(blocks_.size(), {});
  linkEnds_.resize(links_.size());
  for (size_t li = 0; li < links_.size(); ++li) {
    const int from = index_.at(links_[li].from.block), to = index_.at(links_[li].to.block);
    linkEnds_[li] = {from, to};
    outgoing_[from].push_back(static_cast<int>(li));
    incoming_[to].push_back(static_cast<int>(li));
  }
}

}  // namespace qs
