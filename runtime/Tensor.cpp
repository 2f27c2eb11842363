#include "runtime/Tensor.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

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

const char* dtypeName(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "float32";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::Bool:
      return "bool";
    case DType::Float16:
      return "float16";
    case DType::UInt8:
      return "uint8";
  }
  return "?";
}

DType dtypeFromName(const std::string& name) {
  for (DType d : kAllDTypes)
    if (name == dtypeName(d)) return d;
  std::string known;
  for (DType d : kAllDTypes) known += std::string(known.empty() ? "" : ", ") + dtypeName(d);
  throw Error("unknown dtype '" + name + "' (known: " + known + ")");
}

const std::vector<DType>& allDTypes() {
  static const std::vector<DType> all(std::begin(kAllDTypes), std::end(kAllDTypes));
  return all;
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
    case DType::Float32:
    case DType::Int32:
      return 4;
    case DType::Int64:
      return 8;
    case DType::Float16:
      return 2;
    case DType::Bool:
    case DType::UInt8:
      return 1;
  }
  return 4;
}

float halfToFloat(Half h) {
  const uint32_t sign = uint32_t(h.bits >> 15) << 31;
  const uint32_t exp = (h.bits >> 10) & 0x1f;
  uint32_t mant = h.bits & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // infinity or NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise it, every one is a normal float.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while (!(mant & 0x400));
    bits = sign | (uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

Half floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t absBits = x & 0x7fffffffu;
  if (absBits >= 0x7f800000u)  // infinity, or NaN kept quiet
    return {static_cast<uint16_t>(sign | 0x7c00 | (absBits > 0x7f800000u ? 0x200 : 0))};
  const int exp = static_cast<int>(absBits >> 23) - 127 + 15;
  if (exp >= 0x1f) return {static_cast<uint16_t>(sign | 0x7c00)};
  uint32_t mant = (absBits & 0x7fffff) | 0x800000;  // with the implicit bit
  // Bits to drop: 13 for a normal half, more below its smallest exponent.
  const int shift = exp > 0 ? 13 : 14 - exp;
  if (shift > 24) return {sign};
  uint32_t kept = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (kept & 1))) ++kept;
  // A normal half stores its exponent above the mantissa; a carry out of the mantissa moves the
  // exponent up, which the addition does by itself.
  const uint32_t out = exp > 0 ? ((uint32_t(exp) << 10) + (kept - 0x400)) : kept;
  return {static_cast<uint16_t>(sign | out)};
}

int64_t checkedElementCount(const Shape& shape, DType dtype) {
  // The product of the dimensions other than 0, in unsigned 128-bit so that a lying shape cannot
  // overflow before it is refused. An empty tensor's other dimensions are held to the same limit
  // (TensorFlow takes any): kernels loop over them and multiply them, and their products must fit.
  unsigned __int128 count = 1;
  bool huge = false, empty = false;
  for (int64_t d : shape) {
    if (d < 0) throw Error("shape " + shapeToString(shape) + " has a negative dimension");
    if (d == 0)
      empty = true;
    else
      count *= static_cast<uint64_t>(d);
    if (count > (unsigned __int128)std::numeric_limits<int64_t>::max()) huge = true;
    if (huge) count = (unsigned __int128)std::numeric_limits<int64_t>::max();
  }
  const unsigned __int128 bytes = count * dtypeSize(dtype);
  if (huge || bytes > maxTensorBytes()) {
    const std::string size =
        huge ? std::string("more than 9.2e18 elements") : formatBytes(static_cast<uint64_t>(bytes));
    const std::string what =
        std::string("a ") + dtypeName(dtype) + " tensor of shape " + shapeToString(shape);
    throw Error(what +
                (empty ? " is empty, but its other dimensions alone would need " : " needs ") +
                size + ", more than the limit of " + formatBytes(maxTensorBytes()));
  }
  return empty ? 0 : static_cast<int64_t>(count);
}

const Shape& Tensor::emptyShape() {
  static const Shape empty{0};
  return empty;
}

Tensor Tensor::allocate(Shape shape, int64_t size, DType dtype) {
  // The elements start at the first 64-byte boundary after the header; their size is rounded up
  // to 64 bytes so that a vector kernel may read a whole last line. malloc with the slack, not
  // aligned_alloc, whose slow path costs more than the rest of a small block's step.
  constexpr size_t kAlign = 64;
  const size_t bytes =
      (static_cast<size_t>(size) * dtypeSize(dtype) + kAlign - 1) / kAlign * kAlign;
  void* block = std::malloc(sizeof(Storage) + (bytes ? kAlign - 1 + bytes : 0));
  if (!block)
    throw Error("out of memory allocating a tensor of shape " + shapeToString(shape) + " (" +
                formatBytes(bytes) + ")");
  Storage* s = new (block) Storage;
  s->shape = std::move(shape);
  s->size = size;
  s->dtype = dtype;
  if (bytes) {
    const auto start = reinterpret_cast<uintptr_t>(block) + sizeof(Storage);
    s->data = reinterpret_cast<unsigned char*>((start + kAlign - 1) / kAlign * kAlign);
  }
  return Tensor(s);
}

void Tensor::release(Storage* s) noexcept {
  s->~Storage();
  std::free(s);
}

Tensor Tensor::uninitialized(Shape shape, DType dtype) {
  const int64_t n = checkedElementCount(shape, dtype);
  return allocate(std::move(shape), n, dtype);
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t = uninitialized(std::move(shape), dtype);
  if (t.size()) std::memset(t.mutableRawData(), 0, t.bytes());
  return t;
}

void Tensor::dtypeMismatch(DType want) const {
  throw Error(std::string("internal error: a ") + dtypeName(dtype()) + " tensor of shape " +
              shapeToString(shape()) + " read as " + dtypeName(want));
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
    throw Error("dimension index out of range for shape " + shapeToString(shape()));
  return shape()[i];
}

bool bitwiseEqual(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.size() == 0 || std::memcmp(a.rawData(), b.rawData(), a.bytes()) == 0);
}

namespace {

template <typename T>
float toFloat(T v) {
  if constexpr (std::is_same_v<T, Half>)
    return halfToFloat(v);
  else
    return static_cast<float>(v);
}

// A floating value to an integer type: truncation toward zero; NaN gives 0 and values beyond the
// type's range its nearest end, so the result is defined (C++ leaves it undefined).
template <typename To>
To floatToInt(float v) {
  if (std::isnan(v)) return To{0};
  const double d = v;
  if (d <= static_cast<double>(std::numeric_limits<To>::min()))
    return std::numeric_limits<To>::min();
  if (d >= static_cast<double>(std::numeric_limits<To>::max()))
    return std::numeric_limits<To>::max();
  return static_cast<To>(d);
}

template <typename From, typename To>
To castOne(From v) {
  constexpr bool fromFloating = std::is_floating_point_v<From> || std::is_same_v<From, Half>;
  if constexpr (std::is_same_v<From, To>)
    return v;
  else if constexpr (std::is_same_v<To, bool>)
    if constexpr (fromFloating)
      return toFloat(v) != 0.0f;  // NaN is true, as in C++
    else
      return v != From{};
  else if constexpr (std::is_same_v<To, Half>)
    return floatToHalf(toFloat(v));
  else if constexpr (std::is_floating_point_v<To> && fromFloating)
    return static_cast<To>(toFloat(v));
  else if constexpr (std::is_floating_point_v<To>)
    return static_cast<To>(v);
  else if constexpr (fromFloating)
    return floatToInt<To>(toFloat(v));
  else
    return static_cast<To>(v);  // integer to integer wraps, as TensorFlow's static_cast
}

template <typename From, typename To>
void castElements(const Tensor& in, Tensor& out) {
  const From* src = in.as<From>();
  To* dst = out.mutableAs<To>();
  for (int64_t i = 0; i < in.size(); ++i) dst[i] = castOne<From, To>(src[i]);
}

template <typename From>
void castFrom(const Tensor& in, Tensor& out) {
  switch (out.dtype()) {
    case DType::Float32:
      return castElements<From, float>(in, out);
    case DType::Int32:
      return castElements<From, int32_t>(in, out);
    case DType::Int64:
      return castElements<From, int64_t>(in, out);
    case DType::Bool:
      return castElements<From, bool>(in, out);
    case DType::Float16:
      return castElements<From, Half>(in, out);
    case DType::UInt8:
      return castElements<From, uint8_t>(in, out);
  }
}

}  // namespace

Tensor castTensor(const Tensor& t, DType to) {
  if (t.dtype() == to) return t;
  Tensor out = Tensor::uninitialized(t.shape(), to);
  switch (t.dtype()) {
    case DType::Float32:
      castFrom<float>(t, out);
      break;
    case DType::Int32:
      castFrom<int32_t>(t, out);
      break;
    case DType::Int64:
      castFrom<int64_t>(t, out);
      break;
    case DType::Bool:
      castFrom<bool>(t, out);
      break;
    case DType::Float16:
      castFrom<Half>(t, out);
      break;
    case DType::UInt8:
      castFrom<uint8_t>(t, out);
      break;
  }
  return out;
}

}  // namespace qs
