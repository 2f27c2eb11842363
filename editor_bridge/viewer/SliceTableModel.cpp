#include "editor_bridge/viewer/SliceTableModel.h"

#include <QColor>
#include <climits>
#include <cmath>

#include "runtime/Json.h"
#include "runtime/TensorStats.h"

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

double SliceTableModel::valueAt(int64_t r, int64_t c) const {
  const int64_t i = offset_ + r * cols_ + c;
  return tensor_.dtype() == DType::Float32 ? tensor_.data()[i] : elementValue(tensor_, i);
}

std::vector<float> SliceTableModel::values() const {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(rows_ * cols_));
  for (int64_t r = 0; r < rows_; ++r) {
    for (int64_t c = 0; c < cols_; ++c) out.push_back(static_cast<float>(valueAt(r, c)));
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
  const double v = valueAt(index.row(), index.column());
  switch (role) {
    case Qt::DisplayRole:
    case Qt::ToolTipRole:
      // The shortest text that reads back to the same value (integers as integers, bools as
      // true/false): what the engineer compares.
      return QString::fromStdString(
          elementText(tensor_, offset_ + index.row() * cols_ + index.column()));
    case Qt::UserRole:
      return v;
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
