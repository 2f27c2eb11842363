#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/Json.h"
#include "runtime/StrongId.h"

namespace qs {

struct PortRef {
  BlockId block;
  PortName port;
  bool operator==(const PortRef&) const = default;
};

// A wire from an output port to an input port.
struct Link {
  PortRef from;
  PortRef to;
  bool operator==(const Link&) const = default;
};

// "a.output -> b.inputs", for messages.
std::string linkText(const Link& link);

struct Block {
  BlockId id;
  std::string type;
  std::optional<std::array<double, 2>> position;
  // The attributes exactly as the page gives them (an object). Kept raw so that nothing the user
  // wrote is lost, even an attribute the block does not declare; they are checked against the
  // descriptor when the page is evaluated.
  Json attrs = Json::object();
  // Changes whenever the block's type or attributes change; unique across the process, so a
  // block deleted and re-added under the same id is never mistaken for the old one.
  uint64_t revision = 0;
  // Keys of the block's object that this version does not know, kept and saved back unchanged.
  Json extra = Json::object();
};

// The page's scope (enuSpace's page-level settings, the `scope` pin of every op block): the
// top-level "scope" object of the page file.
struct PageScope {
  static constexpr int kMaxThreads = 1024;
  // Worker threads one op may use; 0 = the number of cores. The runner's --threads overrides it.
  int threads = 0;
  // Keys of the scope object that this version does not know, kept and saved back unchanged.
  Json extra = Json::object();
  bool operator==(const PageScope&) const = default;
};

// A titled, coloured comment frame drawn around some blocks. Layout only: the evaluator and the
// runner never read it. `blocks` names its members; a name that is no block of the page (one
// just deleted, kept so that undo brings it back) is skipped when the page is saved.
struct Frame {
  std::string title;
  std::string color = "#4a6fa5";  // "#rrggbb"
  std::vector<BlockId> blocks;
  // Keys of the frame's object that this version does not know, kept and saved back unchanged.
  Json extra = Json::object();
  bool operator==(const Frame&) const = default;
};

// True for an id of the form [A-Za-z_][A-Za-z0-9_]*.
bool isValidBlockId(const std::string& id);

// The page: blocks and links, the single source of truth that the editor's scene draws and the
// evaluator runs. Structural rules (unique, well-formed ids; links between existing blocks) are
// enforced here and throw qs::Error; everything that depends on block types (ports, attributes,
// shapes, cycles) is reported per block by the Evaluator, so a page with a bad block still loads.
class Page {
 public:
  std::string name;
  // Absent when the page file has no "scope" (saved back without one).
  std::optional<PageScope> scope;
  // Top-level keys this version does not know, kept and saved back unchanged.
  Json extra = Json::object();
  // Comment frames, in drawing order (later ones on top).
  std::vector<Frame> frames;

  // Blocks in insertion order (the order they are saved in).
  const std::vector<Block>& blocks() const { return blocks_; }
  const std::vector<Link>& links() const { return links_; }
  size_t blockCount() const { return blocks_.size(); }

  const Block* find(const BlockId& id) const;
  // Dense index of a block (position in blocks()), or -1.
  int indexOf(const BlockId& id) const;
  bool contains(const BlockId& id) const { return indexOf(id) >= 0; }

  void addBlock(Block block);           // throws on a bad or duplicate id; assigns a fresh revision
  void removeBlock(const BlockId& id);  // also removes its links, dangling ones too
  void setAttrs(const BlockId& id, Json attrs);
  void setAttr(const BlockId& id, const std::string& name, Json value);
  void removeAttr(const BlockId& id, const std::string& name);
  void setPosition(const BlockId& id, std::optional<std::array<double, 2>> position);
  // Gives block `from` the id `to`, in its links (dangling ones too) and frames as well; keeps the
  // block's place in the page order. Throws if `to` is invalid or taken.
  void renameBlock(const BlockId& from, const BlockId& to);
  // Marks a block as changed without changing it (e.g. its .npy file changed on disk).
  void touch(const BlockId& id);

  // Adds a link between existing blocks; throws if a block does not exist or the same link is
  // already there. Port names are checked by the evaluator (the block type may be unknown).
  void addLink(Link link);
  void removeLink(const Link& link);
  bool hasLink(const Link& link) const;

  // Links that name a block not on the page. Only a page read for repair has any (the editor's
  // load option PageReadOptions::keepDanglingLinks; a page that the runner reads with one is
  // structurally broken). They are not in links(), which always joins two blocks of the page; the
  // evaluator never sees them; they are saved after links(), so that nothing in the file is lost.
  // A dangling link stays dangling: give a new block an id for which idTaken() is false.
  const std::vector<Link>& danglingLinks() const { return dangling_; }
  // Throws if both ends name blocks of the page (use addLink) or the link is already there.
  void addDanglingLink(Link link);
  void removeDanglingLink(const Link& link);
  bool hasDanglingLink(const Link& link) const;
  // True if a block has this id, or a dangling link or a frame names it.
  bool idTaken(const BlockId& id) const;

  // Links into / out of block index i (indices into links()).
  const std::vector<int>& incomingLinks(int blockIndex) const { return incoming_[blockIndex]; }
  const std::vector<int>& outgoingLinks(int blockIndex) const { return outgoing_[blockIndex]; }
  // Block indices of link li's ends, without a look-up by id.
  int linkFrom(int li) const { return linkEnds_[li].first; }
  int linkTo(int li) const { return linkEnds_[li].second; }

  // True if a path of links leads from block `from` to block `to` (used to refuse a wire that
  // would close a cycle: connecting a -> b is a cycle iff reaches(b, a)).
  bool reaches(const BlockId& from, const BlockId& to) const;

  // Changes whenever a block or a link is added or removed (not when attributes or positions
  // change), and is unique across the process: equal values mean the same blocks, in the same
  // order, with the same types and links, so the evaluator may keep its plan.
  uint64_t structureRevision() const { return structure_; }

 private:
  void rebuildIndex();
  static uint64_t nextRevision();

  uint64_t structure_ = nextRevision();
  std::vector<Block> blocks_;
  std::vector<Link> links_;
  std::vector<Link> dangling_;
  std::unordered_map<BlockId, int> index_;
  std::vector<std::vector<int>> incoming_;
  std::vector<std::vector<int>> outgoing_;
  std::vector<std::pair<int, int>> linkEnds_;
};

}  // namespace qs
