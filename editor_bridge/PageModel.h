#pragma once

#include <QObject>
#include <QPointF>
#include <QString>
#include <QUndoStack>
#include <filesystem>
#include <vector>

#include "runtime/BlockRegistry.h"
#include "runtime/Page.h"

namespace qs::editor {

// The editor's document: it owns the runtime Page (the truth) and the undo stack. Every edit goes
// through a QUndoCommand that calls the raw* mutators below, which change the Page and tell the
// scene what changed; nothing else writes the Page.
class PageModel : public QObject {
  Q_OBJECT
 public:
  explicit PageModel(const BlockRegistry& registry, QObject* parent = nullptr);

  const Page& page() const { return page_; }
  const BlockRegistry& registry() const { return registry_; }
  QUndoStack* undoStack() { return &undo_; }
  // Folder of the page file, for relative .npy paths; empty for a new page.
  const std::filesystem::path& pageDir() const { return dir_; }
  void setPageDir(std::filesystem::path dir) { dir_ = std::move(dir); }

  // Replaces the whole page (New, Open); clears the undo history.
  void resetPage(Page page, std::filesystem::path dir = {});

  // ---- Edits (each pushes one undo step) ----
  BlockId addBlock(const std::string& type, QPointF pos);
  // Adds blocks and the links among them in one step (paste, duplicate).
  void addBlocks(std::vector<Block> blocks, std::vector<Link> links, const QString& text);
  // Removes blocks (with their links) and further links in one step.
  void removeItems(const std::vector<BlockId>& blocks, const std::vector<Link>& links,
                   const QString& text);
  // Refuses (returns the reason) if connectRefusal() says so; empty when connected.
  QString connectPorts(const Link& link);
  // Removes a link, a dangling one too.
  void disconnectLink(const Link& link);
  // Moves a wire's input end: `old` becomes `now` (same source) in one undo step. Refuses (returns
  // the reason, and changes nothing) as connectPorts does, with `old` taken as already gone.
  QString reconnect(const Link& old, const Link& now);
  struct Move {
    BlockId id;
    QPointF from, to;
  };
  void moveBlocks(std::vector<Move> moves);
  // Sets all attributes of a block at once (attribute editor, Const values).
  void setAttrs(const BlockId& id, Json attrs, const QString& text);
  // Gives a block a new id, in every link and frame too. Refuses (returns the reason, and
  // changes nothing) an invalid or taken id; empty when renamed.
  QString renameBlock(const BlockId& id, const std::string& newId);
  // Replaces the page's comment frames (add, edit, remove a frame) in one undo step.
  void setFrames(std::vector<Frame> frames, const QString& text);

  // Why the wire from -> to may not be made, or empty when it may. Cheap enough to call on every
  // mouse move while dragging: ports come from the descriptor, the "already wired" test scans the
  // target's incoming links only, and the cycle test walks a dense adjacency with a visited stamp.
  QString connectRefusal(const PortRef& from, const PortRef& to) const;
  // For highlighting while dragging from `block`: 1 for every block that reaches it (connecting
  // `block` into one of them would close a cycle), indexed like page().blocks().
  std::vector<char> upstreamOf(const BlockId& block) const;
  // The link wired into an input port, if any.
  const Link* linkInto(const PortRef& input) const;
  // Why a link of the page is broken, or empty: it names a block that is not on the page (a
  // dangling link, kept from the file), or a port that its block's type does not have.
  QString brokenReason(const Link& link) const;
  // For a block at the end of dangling links: the error its badge shows (which wire, which
  // missing block), or empty.
  std::string danglingError(const BlockId& id) const;

  // A fresh id for a new block of `type` ("c1", "fq2").
  std::string freshId(const std::string& type) const;
  std::string freshIdLike(const std::string& wanted) const;

  // ---- Raw mutators for the undo commands ----
  void rawAddBlock(Block block);
  void rawRemoveBlock(const BlockId& id);
  // Dangling links (Page::danglingLinks) as well as ordinary ones.
  void rawAddLink(const Link& link);
  void rawRemoveLink(const Link& link);
  void rawSetPosition(const BlockId& id, QPointF pos);
  void rawSetAttrs(const BlockId& id, Json attrs);
  void rawRenameBlock(const BlockId& from, const BlockId& to);
  void rawSetFrames(std::vector<Frame> frames);

 signals:
  void pageReset();
  void blockAdded(const qs::BlockId& id);
  void blockRemoved(const qs::BlockId& id);
  void blockAttrsChanged(const qs::BlockId& id);
  void blockMoved(const qs::BlockId& id);
  void linkAdded(const qs::Link& link);
  void linkRemoved(const qs::Link& link);
  void framesChanged();
  // Any change of content (not of layout): the page must be re-checked and re-run.
  void contentChanged();
  // Any change at all, layout included (autosave, title).
  void changed();

 private:
  void structureChanged() { adjacencyDirty_ = true; }
  void rebuildAdjacency() const;

  const BlockRegistry& registry_;
  Page page_;
  std::filesystem::path dir_;
  QUndoStack undo_;

  // Successors and predecessors by dense block index, rebuilt lazily after structural edits.
  mutable bool adjacencyDirty_ = true;
  mutable std::vector<std::vector<int>> succ_;
  mutable std::vector<std::vector<int>> pred_;
  mutable std::vector<uint32_t> visited_;
  mutable uint32_t visitStamp_ = 0;
  mutable std::vector<int> stack_;
};

// Where a block without a stored position is drawn (a grid by index).
QPointF defaultPosition(int index);
QPointF blockPosition(const Block& block, int index);

}  // namespace qs::editor
