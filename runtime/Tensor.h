#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace qs {

using Shape = std::vector<int64_t>;

// Element types, as TensorFlow names them. float16 and uint8 come in from files (weights, images)
// and are turned into float32 by a Cast block; the other blocks compute in float32 and take
// int32/int64/bool where TensorFlow does (labels, indices, shapes, comparisons).
enum class DType : uint8_t { Float32, Int32, Int64, Bool, Float16, UInt8 };
inline constexpr DType kAllDTypes[] = {DType::Float32, DType::Int32,   DType::Int64,
                                       DType::Bool,    DType::Float16, DType::UInt8};
// The same, for the ports that take or give any dtype.
const std::vector<DType>& allDTypes();

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
// allocated. An empty tensor's dimensions other than 0 must fit the same limit.
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
  Tensor() = default;  // an empty float32 rank-1 tensor of shape [0]
  Tensor(const Tensor& other) noexcept : s_(other.s_) {
    if (s_) s_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  Tensor(Tensor&& other) noexcept : s_(std::exchange(other.s_, nullptr)) {}
  Tensor& operator=(const Tensor& other) noexcept {
    Tensor(other).swap(*this);
    return *this;
  }
  Tensor& operator=(Tensor&& other) noexcept {
    Tensor(std::move(other)).swap(*this);
    return *this;
  }
  ~Tensor() {
    if (s_ && s_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) release(s_);
  }
  void swap(Tensor& other) noexcept { std::swap(s_, other.s_); }

  // Storage is not initialised: the creating kernel writes every element.
  static Tensor uninitialized(Shape shape, DType dtype = DType::Float32);
  // All bits zero: 0, 0.0, false.
  static Tensor zeros(Shape shape, DType dtype = DType::Float32);
  static Tensor filled(Shape shape, float value);
  static Tensor scalar(float value);
  // Throws qs::Error when values.size() does not match the shape.
  static Tensor fromValues(Shape shape, const std::vector<float>& values);

  const Shape& shape() const { return s_ ? s_->shape : emptyShape(); }
  int rank() const { return static_cast<int>(shape().size()); }
  int64_t size() const { return s_ ? s_->size : 0; }
  // Dimension i; negative i counts from the end.
  int64_t dim(int i) const;
  DType dtype() const { return s_ ? s_->dtype : DType::Float32; }
  size_t bytes() const { return static_cast<size_t>(size()) * dtypeSize(dtype()); }

  // float32 elements. Blocks declare the dtypes their ports take, so a float32 port never sees
  // another dtype; reading one through these throws qs::Error rather than reinterpreting bits.
  const float* data() const { return as<float>(); }
  float* mutableData() { return mutableAs<float>(); }
  std::span<const float> values() const { return {data(), static_cast<size_t>(size())}; }
  std::span<float> mutableValues() { return {mutableData(), static_cast<size_t>(size())}; }
  std::vector<float> toVector() const { return {values().begin(), values().end()}; }

  // Elements of any dtype: T must be the dtype's element type (DTypeOf<T>), checked.
  template <typename T>
  const T* as() const {
    requireDType(DTypeOf<T>::value);
    return reinterpret_cast<const T*>(rawData());
  }
  template <typename T>
  T* mutableAs() {
    requireDType(DTypeOf<T>::value);
    return reinterpret_cast<T*>(mutableRawData());
  }
  template <typename T>
  std::span<const T> valuesAs() const {
    return {as<T>(), static_cast<size_t>(size())};
  }
  // nullptr for an empty tensor.
  const unsigned char* rawData() const { return s_ ? s_->data : nullptr; }
  unsigned char* mutableRawData() { return s_ ? s_->data : nullptr; }

  // True when both hold the same storage (no copy was made).
  bool sharesStorageWith(const Tensor& other) const { return rawData() == other.rawData(); }

 private:
  // The count, the shape and the elements in one allocation, so that a copy of a tensor (results
  // pass through maps and contexts many times a step) costs one atomic increment.
  struct Storage {
    std::atomic<int64_t> refs{1};
    Shape shape;
    int64_t size = 0;
    DType dtype = DType::Float32;
    unsigned char* data = nullptr;  // 64-byte aligned, in the same allocation; null when empty
  };
  explicit Tensor(Storage* s) : s_(s) {}
  static Tensor allocate(Shape shape, int64_t size, DType dtype);
  static void release(Storage* s) noexcept;
  static const Shape& emptyShape();
  void requireDType(DType want) const {
    if (dtype() != want) dtypeMismatch(want);
  }
  [[noreturn]] void dtypeMismatch(DType want) const;
  Storage* s_ = nullptr;  // nullptr: the empty float32 tensor of shape [0]
};

// Element-by-element conversion to another dtype, as TensorFlow's Cast: float to integer
// truncates toward zero (NaN and out-of-range values saturate, so the result is defined), to bool
// is "not zero", bool to number is 0/1, to float16 rounds to nearest even.
Tensor castTensor(const Tensor& t, DType to);

// Bitwise equality of dtype, shape and every value (NaN payloads and signed zeros included).
bool bitwiseEqual(const Tensor& a, const Tensor& b);

}  // namespace qs
