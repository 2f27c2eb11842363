#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace qs {

using Shape = std::vector<int64_t>;

// "[2, 4]"; "[]" for a scalar.
std::string shapeToString(const Shape& shape);

// Number of elements of `shape`. Throws qs::Error for a negative dimension, an overflow, or a
// tensor larger than maxTensorBytes(), with a message giving the size, before anything is
// allocated.
int64_t checkedElementCount(const Shape& shape);

// The largest tensor the runtime will allocate: half the physical memory, at most 16 GiB.
uint64_t maxTensorBytes();

// "51.4 MB"
std::string formatBytes(uint64_t bytes);

// A dense float32 tensor in row-major (C) order with 64-byte aligned storage. Copies share the
// storage: a tensor is written by the kernel that creates it and is read-only once published as a
// result.
class Tensor {
 public:
  Tensor();  // an empty rank-1 tensor of shape [0]

  // Storage is not initialised: the creating kernel writes every element.
  static Tensor uninitialized(Shape shape);
  static Tensor zeros(Shape shape);
  static Tensor filled(Shape shape, float value);
  static Tensor scalar(float value);
  // Throws qs::Error when values.size() does not match the shape.
  static Tensor fromValues(Shape shape, const std::vector<float>& values);

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t size() const { return size_; }
  // Dimension i; negative i counts from the end.
  int64_t dim(int i) const;
  size_t bytes() const { return static_cast<size_t>(size_) * sizeof(float); }

  const float* data() const { return data_.get(); }
  float* mutableData() { return data_.get(); }
  std::span<const float> values() const { return {data_.get(), static_cast<size_t>(size_)}; }
  std::span<float> mutableValues() { return {data_.get(), static_cast<size_t>(size_)}; }
  std::vector<float> toVector() const { return {values().begin(), values().end()}; }

  // True when both hold the same storage (no copy was made).
  bool sharesStorageWith(const Tensor& other) const { return data_ == other.data_; }

 private:
  Tensor(Shape shape, int64_t size);
  Shape shape_;
  int64_t size_ = 0;
  std::shared_ptr<float[]> data_;
};

// Bitwise equality of shape and every value (NaN payloads and signed zeros included).
bool bitwiseEqual(const Tensor& a, const Tensor& b);

}  // namespace qs
