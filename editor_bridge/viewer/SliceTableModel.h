#pragma once

#include <QAbstractTableModel>

#include "runtime/Tensor.h"

namespace qs::editor {

// A 2-D slice of a tensor as a table. It reads the tensor only for the cells the view asks for,
// so a 4096 x 1024 slice costs what is on screen, and it shares the tensor's storage (no copy).
class SliceTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;
  void setSlice(const Tensor& tensor, int64_t offset, int64_t rows, int64_t cols);
  void clear();
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // The value as a double, whatever the dtype (bool as 0 and 1), for plots and sorting.
  double valueAt(int64_t r, int64_t c) const;
  std::vector<float> values() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  Tensor tensor_;
  int64_t offset_ = 0, rows_ = 0, cols_ = 0;
};

}  // namespace qs::editor
