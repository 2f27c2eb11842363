#include "editor_bridge/PageCommands.h"

#include <algorithm>
#include <unordered_set>

namespace qs::editor {

AddItemsCommand::AddItemsCommand(PageModel* model, std::vector<Block> blocks,
                                 std::vector<Link> links, const QString& text)
    : QUndoCommand(text), model_(model), blocks_(std::move(blocks)), links_(std::move(links)) {}

void AddItemsCommand::redo() {
  for (const Block& b : blocks_) model_->rawAddBlock(b);
  for (const Link& l : links_) model_->rawAddLink(l);
}

void AddItemsCommand::undo() {
  for (auto it = links_.rbegin(); it != links_.rend(); ++it) model_->rawRemoveLink(*it);
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) model_->rawRemoveBlock(it->id);
}

RemoveItemsCommand::RemoveItemsCommand(PageModel* model, const std::vector<BlockId>& blocks,
                                       const std::vector<Link>& links, const QString& text)
    : QUndoCommand(text), model_(model) {
  const Page& page = model->page();
  std::unordered_set<BlockId> gone(blocks.begin(), blocks.end());
  // Keep page order so that undo restores blocks in the order they were saved in.
  for (const Block& b : page.blocks())
    if (gone.count(b.id)) blocks_.push_back(b);
  for (const auto* list : {&page.links(), &page.danglingLinks()}) {
    for (const Link& l : *list) {
      const bool touches = gone.count(l.from.block) || gone.count(l.to.block);
      const bool named = std::find(links.begin(), links.end(), l) != links.end();
      if (touches || named) links_.push_back(l);
    }
  }
}

void RemoveItemsCommand::redo() {
  for (auto it = links_.rbegin(); it != links_.rend(); ++it) model_->rawRemoveLink(*it);
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) model_->rawRemoveBlock(it->id);
}

void RemoveItemsCommand::undo() {
  for (const Block& b : blocks_) model_->rawAddBlock(b);
  for (const Link& l : links_) model_->rawAddLink(l);
}

ConnectCommand::ConnectCommand(PageModel* model, Link link, bool connect)
    : QUndoCommand(QString::fromStdString((connect ? "Connect " : "Disconnect ") +
                                          link.from.block.str() + "." + link.from.port.str() +
                                          " -> " + link.to.block.str() + "." + link.to.port.str())),
      model_(model),
      link_(std::move(link)),
      connect_(connect) {}

void ConnectCommand::redo() {
  connect_ ? model_->rawAddLink(link_) : model_->rawRemoveLink(link_);
}
void ConnectCommand::undo() {
  connect_ ? model_->rawRemoveLink(link_) : model_->rawAddLink(link_);
}

MoveCommand::MoveCommand(PageModel* model, std::vector<PageModel::Move> moves)
    : QUndoCommand(moves.size() == 1 ? QString::fromStdString("Move " + moves.front().id.str())
                                     : QObject::tr("Move %1 blocks").arg(moves.size())),
      model_(model),
      moves_(std::move(moves)) {}

void MoveCommand::redo() {
  for (const auto& m : moves_) model_->rawSetPosition(m.id, m.to);
}
void MoveCommand::undo() {
  for (const auto& m : moves_) model_->rawSetPosition(m.id, m.from);
}

SetAttrsCommand::SetAttrsCommand(PageModel* model, BlockId id, Json before, Json after,
                                 const QString& text)
    : QUndoCommand(text),
      model_(model),
      id_(std::move(id)),
      before_(std::move(before)),
      after_(std::move(after)) {}

void SetAttrsCommand::redo() {
  model_->rawSetAttrs(id_, after_);
}
void SetAttrsCommand::undo() {
  model_->rawSetAttrs(id_, before_);
}

RenameCommand::RenameCommand(PageModel* model, BlockId from, BlockId to)
    : QUndoCommand(QString::fromStdString("Rename " + from.str() + " to " + to.str())),
      model_(model),
      from_(std::move(from)),
      to_(std::move(to)) {}

void RenameCommand::redo() {
  model_->rawRenameBlock(from_, to_);
}
void RenameCommand::undo() {
  model_->rawRenameBlock(to_, from_);
}

SetFramesCommand::SetFramesCommand(PageModel* model, std::vector<Frame> before,
                                   std::vector<Frame> after, const QString& text)
    : QUndoCommand(text), model_(model), before_(std::move(before)), after_(std::move(after)) {}

void SetFramesCommand::redo() {
  model_->rawSetFrames(after_);
}
void SetFramesCommand::undo() {
  model_->rawSetFrames(before_);
}

}  // namespace qs::editor
