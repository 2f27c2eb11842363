// Placeholder until the viewer helper's TensorViewer lands (it replaces this file). It keeps the
// shown result in a property-free way: one label, the values recomputed from the label's data.
#include "editor_bridge/viewer/TensorViewer.h"

#include <QLabel>
#include <QVBoxLayout>

namespace qs::editor {

namespace {
struct Shown {
  QString name;
  std::vector<float> values;
};
Shown& shownOf(const TensorViewer* v) {
  static std::map<const TensorViewer*, Shown> all;
  return all[v];
}
}  // namespace

TensorViewer::TensorViewer(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* label = new QLabel(tr("No result selected"), this);
  label->setObjectName("stubLabel");
  label->setWordWrap(true);
  layout->addWidget(label);
  layout->addStretch();
}

void TensorViewer::showBlock(const BlockResultsView& view, const std::string& port) {
  Shown& s = shownOf(this);
  s = {};
  auto it = port.empty() ? view.outputs.begin() : view.outputs.find(port);
  auto* label = findChild<QLabel*>("stubLabel");
  if (it == view.outputs.end()) {
    label->setText(view.blockId + ": " + (view.error.isEmpty() ? tr("no result") : view.error));
    return;
  }
  s.name = view.blockId + ".result_" + QString::fromStdString(it->first);
  s.values = it->second.toVector();
  QStringList parts;
  for (float v : s.values) parts << QString::number(v);
  label->setText(s.name + " " + QString::fromStdString(qs::shapeToString(it->second.shape())) +
                 "\n" + parts.mid(0, 64).join(", "));
}

void TensorViewer::clear() {
  shownOf(this) = {};
  findChild<QLabel*>("stubLabel")->setText(tr("No result selected"));
}

QString TensorViewer::currentResultName() const { return shownOf(this).name; }
std::vector<float> TensorViewer::shownValues() const { return shownOf(this).values; }

}  // namespace qs::editor
