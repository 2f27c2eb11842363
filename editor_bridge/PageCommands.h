#pragma once

#include <QUndoCommand>
#include <vector>

#include "editor_bridge/PageModel.h"

namespace qs::editor {

// Adds blocks and links (add, paste, duplicate); undo removes them again.
class AddItemsCommand : public QUndoCommand {
 public:
  AddItemsCommand(PageModel* model, std::vector<Block> blocks, std::vector<Link> links,
                  const QString& text);
  void redo() override;
  void undo() override;

 private:
  PageModel* model_;
  std::vector<Block> blocks_;
  std::vector<Link> links_;
};

// Removes blocks (and every link touching them) and links; undo puts them back.
class RemoveItemsCommand : public QUndoCommand {
 public:
  RemoveItemsCommand(PageModel* model, const std::vector<BlockId>& blocks,
                     const std::vector<Link>& links, const QString& text);
  void redo() override;
  void undo() override;

 private:
  PageModel* model_;
  std::vector<Block> blocks_;
  std::vector<Link> links_;
};

class ConnectCommand : public QUndoCommand {
 public:
  ConnectCommand(PageModel* model, Link link, bool connect);
  void redo() override;
  void undo() override;

 private:
  PageModel* model_;
  Link link_;
  bool connect_;
};

// One step per drag: the scene pushes it on release with the start and end positions.
class MoveCommand : public QUndoCommand {
 public:
  MoveCommand(PageModel* model, std::vector<PageModel::Move> moves);
  void redo() override;
  void undo() override;

 private:
  PageModel* model_;
  std::vector<PageModel::Move> moves_;
};

// Attribute and Const value edits. Successive edits of the same block's same attributes within
// one typing session are separate steps on purpose: each Enter is something to undo.
class SetAttrsCommand : public QUndoCommand {
 public:
  SetAttrsCommand(PageModel* model, BlockId id, Json before, Json after, const QString& text);
  void redo() override;
  void undo() override;

 private:
  PageModel* model_;
  BlockId id_;
  Json before_, after_;
};

// A new id for a block, in its links and frames too.
class RenameCommand : public QUndoCommand {
 public:
  RenameCommand(PageModel* model, BlockId from, BlockId to);
  void redo() override;
  void undo() override;

 private:
  PageModel* model_;
  BlockId from_, to_;
};

// The page's comment frames before and after an edit of them.
class SetFramesCommand : public QUndoCommand {
 public:
  SetFramesCommand(PageModel* model, std::vector<Frame> before, std::vector<Frame> after,
                   const QString& text);
  void redo() override;
  void undo() override;

 private:
  PageModel* model_;
  std::vector<Frame> before_, after_;
};

}  // namespace qs::editor
