#pragma once

#include <QDialog>
#include <QPointF>
#include <QString>
#include <string>
#include <vector>

#include "runtime/Page.h"
#include "runtime/WeightFiles.h"

class QTreeWidget;

namespace qs::editor {

// File > Import weights: the tensors of one weights file (.npy, .npz, .safetensors, TensorFlow.js
// manifest), one checkable row each with its dtype and shape; none is checked at first.
class ImportWeightsDialog : public QDialog {
  Q_OBJECT
 public:
  ImportWeightsDialog(const QString& file, const std::vector<NamedTensor>& tensors,
                      QWidget* parent = nullptr);
  // The names of the checked rows, in the file's order.
  std::vector<std::string> picked() const;
  QTreeWidget* tree() const { return tree_; }

 private:
  QTreeWidget* tree_;
};

// A Const block for each picked tensor of `file` (an absolute path): `npy` for an .npy file,
// `weights` and `tensor` otherwise. The path is written relative to `pageDir` when the page has
// one. Ids come from the tensor names, fresh on `page`; the blocks stand in columns from `origin`.
std::vector<Block> weightConstBlocks(const Page& page, const std::filesystem::path& pageDir,
                                     const QString& file, const std::vector<std::string>& picked,
                                     QPointF origin);

}  // namespace qs::editor
