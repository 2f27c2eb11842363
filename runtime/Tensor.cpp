#include "runtime/Tensor.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "runtime/Error.h"

namespace qs {

std::string shapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

uint64_t maxTensorBytes() {
  static const uint64_t limit = [] {
    constexpr uint64_t cap = uint64_t{16} << 30;
    long pages = sysconf(_SC_PHYS_PAGES);
    long pageSize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || pageSize <= 0) return cap;
    return std::min(cap, static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize) / 2);
  }();
  return limit;
}

std::string formatBytes(uint64_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " bytes";
  static constexpr std::pair<double, const char*> kUnits[] = {
      {1e3, " kB"}, {1e6, " MB"}, {1e9, " GB"}, {1e12, " TB"}, {1e15, " PB"}, {1e18, " EB"}};
  const double b = static_cast<double>(bytes);
  size_t u = 0;
  while (u + 1 < std::size(kUnits) && b >= kUnits[u + 1].first) ++u;
  // to_chars, not printf: a message reads the same whatever the C locale's decimal separator.
  char buf[64];
  const auto res =
      std::to_chars(buf, buf + sizeof buf, b / kUnits[u].first, std::chars_format::fixed, 1);
  return std::string(buf, res.ptr) + kUnits[u].second;
}

int64_t checkedElementCount(const Shape& shape) {
  // Work in unsigned 128-bit so that a lying shape cannot overflow before it is refused.
  unsigned __int128 count = 1;
  bool huge = false;
  for (int64_t d : shape) {
    if (d < 0) throw Error("shape " + shapeToString(shape) + " has a negative dimension");
    count *= static_cast<uint64_t>(d);
    if (count > (unsigned __int128)std::numeric_limits<int64_t>::max()) huge = true;
    if (huge) count = (unsigned __int128)std::numeric_limits<int64_t>::max();
  }
  for (int64_t d : shape)
    if (d == 0) return 0;
  const unsigned __int128 bytes = count * sizeof(float);
  if (huge || bytes > maxTensorBytes()) {
    std::string size =
        huge ? std::string("more than 9.2e18 elements") : formatBytes(static_cast<uint64_t>(bytes));
    throw Error("a float32 tensor of shape " + shapeToString(shape) + " needs " + size +
                ", more than the limit of " + formatBytes(maxTensorBytes()));
  }
  return static_cast<int64_t>(count);
}

Tensor::Tensor() : shape_{0}, size_(0) {}

Tensor::Tensor(Shape shape, int64_t size) : shape_(std::move(shape)), size_(size) {
  if (size_ == 0) return;
  const size_t bytes = (static_cast<size_t>(size_) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p)
    throw Error("out of memory allocating a tensor of shape " + shapeToString(shape_) + " (" +
                formatBytes(bytes) + ")");
  data_ = std::shared_ptr<float[]>(static_cast<float*>(p), [](float* q) { std::free(q); });
}

Tensor Tensor::uninitialized(Shape shape) {
  const int64_t n = checkedElementCount(shape);
  return Tensor(std::move(shape), n);
}

Tensor Tensor::zeros(Shape shape) {
  return filled(std::move(shape), 0.0f);
}

Tensor Tensor::filled(Shape shape, float value) {
  Tensor t = uninitialized(std::move(shape));
  std::fill_n(t.mutableData(), t.size(), value);
  return t;
}

Tensor Tensor::scalar(float value) {
  return filled({}, value);
}

Tensor Tensor::fromValues(Shape shape, const std::vector<float>& values) {
  Tensor t = uninitialized(std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.size())
    throw Error("shape " + shapeToString(t.shape()) + " needs " + std::to_string(t.size()) +
                " values, but " + std::to_string(values.size()) + " were given");
  if (t.size()) std::memcpy(t.mutableData(), values.data(), t.bytes());
  return t;
}

int64_t Tensor::dim(int i) const {
  const int r = rank();
  if (i < 0) i += r;
  if (i < 0 || i >= r)
    throw Error("dimension index out of range for shape " + shapeToString(shape_));
  return shape_[i];
}

bool bitwiseEqual(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), a.bytes()) == 0);
}

}  // namespace qs
