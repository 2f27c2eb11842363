#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace qs {

using Shape = std::vector<int64_t>;

// Element types, as TensorFlow names them. float16 and uint8 come in from files (weights, images)
// and are turned into float32 by a Cast block; the other blocks compute in float32 and take
// int32/int64/bool where TensorFlow does (labels, indices, shapes, comparisons).
enum class DType : uint8_t { Float32, Int32, Int64, Bool, Float16, UInt8 };
inline constexpr DType kAllDTypes[] = {DType::Float32, DType::Int32,   DType::Int64,
                                       DType::Bool,    DType::Float16, DType::UInt8};

// "float32", "int32", "int64", "bool", "float16", "uint8": the names of page JSON, --json and
// the editor.
const char* dtypeName(DType dtype);
// Throws qs::Error listing the known names.
DType dtypeFromName(const std::string& name);
size_t dtypeSize(DType dtype);

// IEEE 754 binary16, kept as its bits; converted with halfToFloat/floatToHalf (runtime/Tensor.h).
struct Half {
  uint16_t bits = 0;
};
float halfToFloat(Half h);
// Round to nearest, ties to even; out-of-range values become infinities, NaN stays NaN.
Half floatToHalf(float f);

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::Int32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::Int64;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::Bool;
};
template <>
struct DTypeOf<Half> {
  static constexpr DType value = DType::Float16;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::UInt8;
};

// "[2, 4]"; "[]" for a scalar.
std::string shapeToString(const Shape& shape);

// Number of elements of `shape`. Throws qs::Error for a negative dimension, an overflow, or a
// tensor larger than maxTensorBytes(), with a message giving the size, before anything is
// allocated.
int64_t checkedElementCount(const Shape& shape, DType dtype = DType::Float32);

// The largest tensor the runtime will allocate: half the physical memory, at most 16 GiB.
uint64_t maxTensorBytes();

// "51.4 MB"
std::string formatBytes(uint64_t bytes);

// A dense tensor in row-major (C) order with 64-byte aligned storage, float32 unless made with
// another dtype. Copies share the storage: a tensor is written by the kernel that creates it and
// is read-only once published as a result.
class Tensor {
 public:
  Tensor();  // an empty float32 rank-1 tensor of shape [0]

  // Storage is not initialised: the creating kernel writes every element.
  static Tensor uninitialized(Shape shape, DType dtype = DType::Float32);
  // All bits zero: 0, 0.0, false.
  static Tensor zeros(Shape shape, DType dtype = DType::Float32);
  static Tensor filled(Shape shape, float value);
  static Tensor scalar(float value);
  // Throws qs::Error when values.size() does not match the shape.
  static Tensor fromValues(Shape shape, const std::vector<float>& values);

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t size() const { return size_; }
  // Dimension i; negative i counts from the end.
  int64_t dim(int i) const;
  DType dtype() const { return dtype_; }
  size_t bytes() const { return static_cast<size_t>(size_) * dtypeSize(dtype_); }

  // float32 elements. Blocks declare the dtypes their ports take, so a float32 port never sees
  // another dtype; reading one through these throws qs::Error rather than reinterpreting bits.
  const float* data() const { return as<float>(); }
  float* mutableData() { return mutableAs<float>(); }
  std::span<const float> values() const { return {data(), static_cast<size_t>(size_)}; }
  std::span<float> mutableValues() { return {mutableData(), static_cast<size_t>(size_)}; }
  std::vector<float> toVector() const { return {values().begin(), values().end()}; }

  // Elements of any dtype: T must be the dtype's element type (DTypeOf<T>), checked.
  template <typename T>
  const T* as() const {
    requireDType(DTypeOf<T>::value);
    return reinterpret_cast<const T*>(data_.get());
  }
  template <typename T>
  T* mutableAs() {
    requireDType(DTypeOf<T>::value);
    return reinterpret_cast<T*>(data_.get());
  }
  template <typename T>
  std::span<const T> valuesAs() const {
    return {as<T>(), static_cast<size_t>(size_)};
  }
  const unsigned char* rawData() const { return data_.get(); }
  unsigned char* mutableRawData() { return data_.get(); }

  // True when both hold the same storage (no copy was made).
  bool sharesStorageWith(const Tensor& other) const { return data_ == other.data_; }

 private:
  Tensor(Shape shape, int64_t size, DType dtype);
  void requireDType(DType want) const {
    if (dtype_ != want) dtypeMismatch(want);
  }
  [[noreturn]] void dtypeMismatch(DType want) const;
  Shape shape_;
  int64_t size_ = 0;
  DType dtype_ = DType::Float32;
  std::shared_ptr<unsigned char[]> data_;
};

// Element-by-element conversion to another dtype, as TensorFlow's Cast: float to integer
// truncates toward zero (NaN and out-of-range values saturate, so the result is defined), to bool
// is "not zero", bool to number is 0/1, to float16 rounds to nearest even.
Tensor castTensor(const Tensor& t, DType to);

// Bitwise equality of dtype, shape and every value (NaN payloads and signed zeros included).
bool bitwiseEqual(const Tensor& a, const Tensor& b);

}  // namespace qs
