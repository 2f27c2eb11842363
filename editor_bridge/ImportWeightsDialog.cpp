#include "editor_bridge/ImportWeightsDialog.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <set>

#include "editor_bridge/BlockItem.h"

namespace qs::editor {

ImportWeightsDialog::ImportWeightsDialog(const QString& file,
                                         const std::vector<NamedTensor>& tensors, QWidget* parent)
    : QDialog(parent), tree_(new QTreeWidget(this)) {
  setObjectName("importWeightsDialog");
  setWindowTitle(tr("Import weights"));
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(new QLabel(tr("%1 holds %n tensor(s). Check those to add as Const blocks:",
                                  nullptr, static_cast<int>(tensors.size()))
                                   .arg(QFileInfo(file).fileName()),
                               this));
  tree_->setObjectName("importWeightsTree");
  tree_->setColumnCount(3);
  tree_->setHeaderLabels({tr("tensor"), tr("dtype"), tr("shape")});
  tree_->setRootIsDecorated(false);
  tree_->setUniformRowHeights(true);
  for (const NamedTensor& t : tensors) {
    auto* item = new QTreeWidgetItem(tree_);
    item->setText(0, QString::fromStdString(t.name));
    item->setText(1, QString::fromLatin1(dtypeName(t.tensor.dtype())));
    item->setText(2, QString::fromStdString(shapeToString(t.tensor.shape())));
    item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
    item->setCheckState(0, Qt::Unchecked);
  }
  tree_->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  if (tree_->topLevelItemCount() > 0) tree_->setCurrentItem(tree_->topLevelItem(0));
  layout->addWidget(tree_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons->setObjectName("importWeightsButtons");
  QPushButton* ok = buttons->button(QDialogButtonBox::Ok);
  ok->setText(tr("Add Const blocks"));
  ok->setEnabled(false);
  connect(tree_, &QTreeWidget::itemChanged, this,
          [this, ok] { ok->setEnabled(!picked().empty()); });
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);
  resize(560, 420);
}

std::vector<std::string> ImportWeightsDialog::picked() const {
  std::vector<std::string> out;
  for (int i = 0; i < tree_->topLevelItemCount(); ++i)
    if (tree_->topLevelItem(i)->checkState(0) == Qt::Checked)
      out.push_back(tree_->topLevelItem(i)->text(0).toStdString());
  return out;
}

namespace {

// "conv3/depthwise_filter" -> "conv3_depthwise_filter": a block id made of the name's letters,
// digits and underscores, fresh on `page` and among `taken`.
std::string idForTensor(const std::string& name, const Page& page, std::set<std::string>& taken) {
  std::string stem;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    stem += ok ? c : '_';
  }
  if (stem.empty() || !isValidBlockId(stem)) stem = "w_" + stem;
  std::string id = stem;
  for (int i = 2; page.idTaken(BlockId(id)) || taken.count(id); ++i)
    id = stem + "_" + std::to_string(i);
  taken.insert(id);
  return id;
}

}  // namespace

std::vector<Block> weightConstBlocks(const Page& page, const std::filesystem::path& pageDir,
                                     const QString& file, const std::vector<std::string>& picked,
                                     QPointF origin) {
  const QString ref = pageDir.empty()
                          ? QDir::cleanPath(file)
                          : QDir(QString::fromStdString(pageDir.string())).relativeFilePath(file);
  const bool npy = QFileInfo(file).suffix().compare("npy", Qt::CaseInsensitive) == 0;
  constexpr int kPerColumn = 8;
  constexpr qreal kStepX = BlockItem::kWidth + 80, kStepY = BlockItem::kMinHeight + 40;
  std::set<std::string> taken;
  std::vector<Block> blocks;
  for (size_t i = 0; i < picked.size(); ++i) {
    Block b;
    b.id = BlockId(idForTensor(picked[i], page, taken));
    b.type = "Const";
    b.attrs = npy ? Json{{"npy", ref.toStdString()}}
                  : Json{{"weights", ref.toStdString()}, {"tensor", picked[i]}};
    const auto col = static_cast<qreal>(i / kPerColumn), row = static_cast<qreal>(i % kPerColumn);
    b.position = std::array<double, 2>{std::round(origin.x() + col * kStepX),
                                       std::round(origin.y() + row * kStepY)};
    blocks.push_back(std::move(b));
  }
  return blocks;
}

}  // namespace qs::editor
