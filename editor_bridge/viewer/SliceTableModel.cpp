#include "editor_bridge/viewer/SliceTableModel.h"

#include <QColor>
#include <climits>
#include <cmath>

#include "runtime/Json.h"

namespace qs::editor {

void SliceTableModel::setSlice(const Tensor& tensor, int64_t offset, int64_t rows, int64_t cols) {
  beginResetModel();
  tensor_ = tensor;
  offset_ = offset;
  rows_ = rows;
  cols_ = cols;
  endResetModel();
}

void SliceTableModel::clear() {
  setSlice(Tensor(), 0, 0, 0);
}

std::vector<float> SliceTableModel::values() const {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(rows_ * cols_));
  for (int64_t r = 0; r < rows_; ++r) {
    for (int64_t c = 0; c < cols_; ++c) out.push_back(valueAt(r, c));
  }
  return out;
}

int SliceTableModel::rowCount(const QModelIndex& parent) const {
  // A view cannot address more than INT_MAX rows; a rank-1 tensor that long is shown truncated.
  return parent.isValid() ? 0 : static_cast<int>(std::min<int64_t>(rows_, INT_MAX));
}

int SliceTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(std::min<int64_t>(cols_, INT_MAX));
}

QVariant SliceTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid()) return {};
  const float v = valueAt(index.row(), index.column());
  switch (role) {
    case Qt::DisplayRole:
    case Qt::ToolTipRole:
      // The shortest text that reads back to the same float32: what the engineer compares.
      return QString::fromStdString(formatFloat(v));
    case Qt::UserRole:
      return static_cast<double>(v);
    case Qt::TextAlignmentRole:
      return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ForegroundRole:
      if (!std::isfinite(v)) return QColor(200, 30, 30);
      return {};
  }
  return {};
}

QVariant SliceTableModel::headerData(int section, Qt::Orientation, int role) const {
  if (role == Qt::DisplayRole) return QString::number(section);
  return {};
}

}  // namespace qs::editor
