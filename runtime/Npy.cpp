#include "runtime/Npy.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "runtime/Error.h"
#include "runtime/FileIo.h"

namespace qs {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct Header {
  char byteOrder = '<';  // '<', '>', '|'
  char kind = 'f';       // 'f', 'i', 'u', 'b'
  int itemSize = 4;
  bool fortran = false;
  Shape shape;
  size_t dataOffset = 0;
  DType dtype = DType::Float32;  // what the tensor read from the file holds
};

std::string descrOf(const Header& h) {
  return std::string(1, h.byteOrder) + h.kind + std::to_string(h.itemSize);
}

// The tensor dtype for a file dtype: the six dtypes as they are; other integer widths widened to
// one that holds every value exactly (uint64 checked value by value); float64 rounded to float32,
// the only wider float there is.
DType dtypeForFile(char kind, int itemSize) {
  switch (kind) {
    case 'b':
      return DType::Bool;
    case 'f':
      return itemSize == 2 ? DType::Float16 : DType::Float32;
    case 'u':
      return itemSize == 1 ? DType::UInt8 : itemSize == 2 ? DType::Int32 : DType::Int64;
    default:
      return itemSize == 8 ? DType::Int64 : DType::Int32;
  }
}

// The file's bytes are the tensor's bytes: same size and meaning, native byte order.
bool sameLayout(const Header& h) {
  return h.itemSize == static_cast<int>(dtypeSize(h.dtype)) &&
         (h.byteOrder != '>' || h.itemSize == 1) && !(h.fortran && h.shape.size() >= 2) &&
         !(h.kind == 'u' && h.itemSize == 8);
}

// The dtype of the header ("<f4", "|b1", ">i8"), refused unless Quant Space can read it.
void parseDescr(const std::string& d, Header& h, const std::string& source) {
  auto unsupported = [&] {
    return Error(source + ": not a valid .npy file: unsupported dtype '" + d + "'");
  };
  if (d.size() < 3) throw unsupported();
  h.byteOrder = d[0] == '=' ? '<' : d[0];
  h.kind = d[1];
  if (h.byteOrder != '<' && h.byteOrder != '>' && h.byteOrder != '|') throw unsupported();
  const char* first = d.data() + 2;
  const char* last = d.data() + d.size();
  const auto [end, ec] = std::from_chars(first, last, h.itemSize);
  if (first == last || *first < '0' || *first > '9' || ec != std::errc() || end != last ||
      last - first > 2)
    throw unsupported();
  const bool ok = (h.kind == 'f' && (h.itemSize == 2 || h.itemSize == 4 || h.itemSize == 8)) ||
                  ((h.kind == 'i' || h.kind == 'u') &&
                   (h.itemSize == 1 || h.itemSize == 2 || h.itemSize == 4 || h.itemSize == 8)) ||
                  (h.kind == 'b' && h.itemSize == 1);
  if (!ok)
    throw Error(source + ": dtype '" + d +
                "' cannot be read (Quant Space reads float16/32/64, signed and unsigned integer "
                "and bool arrays)");
  h.dtype = dtypeForFile(h.kind, h.itemSize);
}

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// A small tokenizer that accepts exactly that grammar.
class DictParser {
 public:
  DictParser(std::string_view s, std::string source) : s_(s), source_(std::move(source)) {}

  Header parse() {
    Header h;
    bool haveDescr = false, haveOrder = false, haveShape = false;
    expect('{');
    for (;;) {
      skip();
      if (peek() == '}') break;
      std::string key = str();
      expect(':');
      if (key == "descr") {
        parseDescr(str(), h, source_);
        haveDescr = true;
      } else if (key == "fortran_order") {
        h.fortran = boolean();
        haveOrder = true;
      } else if (key == "shape") {
        h.shape = tuple();
        haveShape = true;
      } else {
        fail("unknown header key '" + key + "'");
      }
      skip();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip();
      if (peek() == '}') break;
      fail("expected ',' or '}' in the header");
    }
    if (!haveDescr || !haveOrder || !haveShape)
      fail("the header lacks 'descr', 'fortran_order' or 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& m) {
    throw Error(source_ + ": not a valid .npy file: " + m);
  }
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  char peek() { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void expect(char c) {
    skip();
    if (peek() != c) fail(std::string("expected '") + c + "' in the header");
    ++pos_;
  }
  std::string str() {
    skip();
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string in the header");
    ++pos_;
    size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) fail("unterminated string in the header");
    std::string r(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return r;
  }
  bool boolean() {
    skip();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("fortran_order must be True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    for (;;) {
      skip();
      if (peek() == ')') {
        ++pos_;
        return shape;
      }
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (start == pos_) fail("the shape must be a tuple of non-negative integers");
      if (pos_ - start > 18) fail("a dimension of the shape is too large");
      int64_t dim = 0;
      std::from_chars(s_.data() + start, s_.data() + pos_, dim);  // at most 18 digits: fits
      shape.push_back(dim);
      skip();
      if (peek() == 'L') ++pos_;  // Python 2 longs
      skip();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        fail("expected ',' or ')' in the shape");
    }
  }
  std::string_view s_;
  std::string source_;
  size_t pos_ = 0;
};

Header parseHeader(const std::string& bytes, const std::string& source) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0)
    throw Error(source + ": not a .npy file (no \\x93NUMPY magic)");
  const unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen, start;
  if (major == 1) {
    headerLen = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(source + ": truncated .npy header");
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    start = 12;
  } else {
    throw Error(source + ": unsupported .npy format version " + std::to_string(major));
  }
  if (start + headerLen > bytes.size()) throw Error(source + ": truncated .npy header");
  Header h = DictParser(std::string_view(bytes).substr(start, headerLen), source).parse();
  h.dataOffset = start + headerLen;
  return h;
}

// One element of the file stored as the tensor's dtype (Header::dtype). float64 to float32 is one
// rounding, as numpy's astype(float32); integers are widened exactly.
void storeElement(const unsigned char* p, const Header& h, unsigned char* dst,
                  const std::string& source) {
  unsigned char buf[8] = {};
  std::memcpy(buf, p, h.itemSize);
  if (h.byteOrder == '>') std::reverse(buf, buf + h.itemSize);
  switch (h.dtype) {
    case DType::Bool:
      dst[0] = buf[0] != 0;  // any other byte than 0 or 1 would not be a valid C++ bool
      return;
    case DType::Float32:
      if (h.itemSize == 8) {
        double d;
        std::memcpy(&d, buf, 8);
        const float f = static_cast<float>(d);
        std::memcpy(dst, &f, 4);
        return;
      }
      break;
    case DType::Int32:
    case DType::Int64: {
      uint64_t u = 0;
      std::memcpy(&u, buf, 8);  // little endian: the low itemSize bytes are the value
      if (h.kind == 'i' && h.itemSize < 8 && (buf[h.itemSize - 1] & 0x80))
        u |= ~uint64_t(0) << (8 * h.itemSize);  // sign extension
      if (h.kind == 'u' && u > uint64_t(std::numeric_limits<int64_t>::max()))
        throw Error(source + ": " + std::to_string(u) +
                    " in a uint64 array is too large for int64, the widest integer dtype");
      const auto v = static_cast<int64_t>(u);
      if (h.dtype == DType::Int64) {
        std::memcpy(dst, &v, 8);
      } else {
        const auto x = static_cast<int32_t>(v);  // fits: at most 16 bits wide
        std::memcpy(dst, &x, 4);
      }
      return;
    }
    default:
      break;
  }
  std::memcpy(dst, buf, h.itemSize);  // same width and meaning
}

void normalizeBools(Tensor& t) {
  if (t.dtype() != DType::Bool) return;
  unsigned char* p = t.mutableRawData();
  for (int64_t i = 0; i < t.size(); ++i) p[i] = p[i] != 0;
}

}  // namespace

Tensor parseNpy(const std::string& bytes, const std::string& source, std::string* note) {
  const Header h = parseHeader(bytes, source);
  int64_t count;
  try {
    count = checkedElementCount(h.shape, h.dtype);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  const unsigned __int128 need = (unsigned __int128)count * h.itemSize;
  const size_t have = bytes.size() - h.dataOffset;
  if (need != have)
    throw Error(source + ": the header promises shape " + shapeToString(h.shape) + " (" +
                std::to_string(static_cast<uint64_t>(need)) +
                " bytes of data) but the file holds " + std::to_string(have) + " bytes");
  Tensor t = Tensor::uninitialized(h.shape, h.dtype);
  const unsigned char* src = reinterpret_cast<const unsigned char*>(bytes.data()) + h.dataOffset;
  const size_t outSize = dtypeSize(h.dtype);
  unsigned char* dst = t.mutableRawData();
  if (sameLayout(h)) {
    if (count) std::memcpy(dst, src, static_cast<size_t>(count) * outSize);
    normalizeBools(t);
  } else if (!h.fortran || t.rank() < 2) {
    for (int64_t i = 0; i < count; ++i)
      storeElement(src + i * h.itemSize, h, dst + i * outSize, source);
  } else {
    // Fortran order: the first index varies fastest. Walk the C-order output and compute each
    // element's Fortran offset.
    const int r = t.rank();
    std::vector<int64_t> idx(r, 0), fstride(r, 1);
    for (int d = 1; d < r; ++d) fstride[d] = fstride[d - 1] * h.shape[d - 1];
    for (int64_t i = 0; i < count; ++i) {
      int64_t off = 0;
      for (int d = 0; d < r; ++d) off += idx[d] * fstride[d];
      storeElement(src + off * h.itemSize, h, dst + i * outSize, source);
      for (int d = r - 1; d >= 0; --d) {
        if (++idx[d] < h.shape[d]) break;
        idx[d] = 0;
      }
    }
  }
  if (note) {
    note->clear();
    const bool sameDescr = h.itemSize == static_cast<int>(outSize) &&
                           (h.byteOrder != '>' || h.itemSize == 1) &&
                           !(h.kind == 'u' && h.itemSize == 8);
    if (!sameDescr) *note = "converted from dtype '" + descrOf(h) + "' to " + dtypeName(h.dtype);
    if (h.fortran && t.rank() >= 2)
      *note += std::string(note->empty() ? "" : "; ") + "converted from Fortran order";
  }
  return t;
}

namespace {

// Reads the header of a .npy file and checks the data's size against the file's, before any
// data is read or allocated.
Header readHeaderFromFile(std::ifstream& in, const std::filesystem::path& path) {
  std::string head(12, '\0');
  in.read(head.data(), 12);
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.size() < 10 || std::memcmp(head.data(), kMagic, 6) != 0)
    throw Error(path.string() + ": not a .npy file (no \\x93NUMPY magic)");
  const unsigned major = static_cast<unsigned char>(head[6]);
  size_t len =
      10 + (static_cast<unsigned char>(head[8]) | (static_cast<unsigned char>(head[9]) << 8));
  if (major != 1 && head.size() >= 12)
    len = 12 + (size_t(static_cast<unsigned char>(head[8])) |
                size_t(static_cast<unsigned char>(head[9])) << 8 |
                size_t(static_cast<unsigned char>(head[10])) << 16 |
                size_t(static_cast<unsigned char>(head[11])) << 24);
  if (len > (1u << 20)) throw Error(path.string() + ": .npy header too large");
  std::string bytes(len, '\0');
  in.clear();
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(len));
  bytes.resize(static_cast<size_t>(in.gcount()));
  Header h = parseHeader(bytes, path.string());
  int64_t count;
  try {
    count = checkedElementCount(h.shape, h.dtype);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  in.clear();
  in.seekg(0, std::ios::end);
  const uint64_t fileSize = static_cast<uint64_t>(in.tellg());
  const uint64_t need = static_cast<uint64_t>(count) * h.itemSize;
  if (fileSize != h.dataOffset + need)
    throw Error(path.string() + ": the header promises shape " + shapeToString(h.shape) + " (" +
                std::to_string(need) + " bytes of data) but the file holds " +
                std::to_string(fileSize - std::min<uint64_t>(fileSize, h.dataOffset)) + " bytes");
  in.seekg(static_cast<std::streamoff>(h.dataOffset));
  return h;
}

}  // namespace

Tensor readNpy(const std::filesystem::path& path, std::string* note) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("cannot read '" + path.string() + "': it is a folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path.string() + "': " + std::strerror(errno));
  const Header h = readHeaderFromFile(in, path);
  if (sameLayout(h)) {
    // Straight into the tensor's storage: no second copy of a large array.
    Tensor t = Tensor::uninitialized(h.shape, h.dtype);
    in.read(reinterpret_cast<char*>(t.mutableRawData()), static_cast<std::streamsize>(t.bytes()));
    if (static_cast<size_t>(in.gcount()) != t.bytes())
      throw Error(path.string() + ": the file ended before its data did");
    normalizeBools(t);
    if (note) note->clear();
    return t;
  }
  return parseNpy(readFile(path), path.string(), note);
}

NpyHeaderInfo readNpyHeader(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("cannot read '" + path.string() + "': it is a folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path.string() + "': " + std::strerror(errno));
  const Header h = readHeaderFromFile(in, path);
  return {h.shape, h.dtype};
}

namespace {

// A whole .npy file (format 1.0, 2.0 if the header needs it): magic, the header dict padded so
// that the data starts on a 64-byte boundary, then the little-endian C-order data.
std::string npyFile(const char* descr, const Shape& shape, const void* data, size_t bytes) {
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    dict += shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : "");
  }
  dict += "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary; end with a newline.
  size_t prefix = 10;
  size_t total = prefix + dict.size() + 1;
  bool v2 = false;
  if ((total + 63) / 64 * 64 - prefix > 65535) {
    v2 = true;
    prefix = 12;
    total = prefix + dict.size() + 1;
  }
  const size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string out(kMagic, 6);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const size_t hl = dict.size();
  out += static_cast<char>(hl & 0xff);
  out += static_cast<char>((hl >> 8) & 0xff);
  if (v2) {
    out += static_cast<char>((hl >> 16) & 0xff);
    out += static_cast<char>((hl >> 24) & 0xff);
  }
  out += dict;
  static_assert(std::endian::native == std::endian::little, "npy writing assumes little endian");
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

}  // namespace

const char* npyDescr(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "<f4";
    case DType::Int32:
      return "<i4";
    case DType::Int64:
      return "<i8";
    case DType::Bool:
      return "|b1";
    case DType::Float16:
      return "<f2";
    case DType::UInt8:
      return "|u1";
  }
  return "?";
}

std::string npyBytes(const Tensor& tensor) {
  return npyFile(npyDescr(tensor.dtype()), tensor.shape(), tensor.rawData(), tensor.bytes());
}

std::string npyInt64Bytes(int64_t value) {
  return npyFile("<i8", {}, &value, sizeof value);
}

int64_t parseNpyInt64(const std::string& bytes, const std::string& source) {
  const Header h = parseHeader(bytes, source);
  if (h.kind != 'i' && h.kind != 'u')
    throw Error(source + ": must hold an integer, not dtype '" + descrOf(h) + "'");
  int64_t count = 1;
  for (int64_t d : h.shape) count = d == 1 ? count : 0;
  if (count != 1)
    throw Error(source + ": must hold one integer, not an array of shape " +
                shapeToString(h.shape));
  if (bytes.size() - h.dataOffset != size_t(h.itemSize))
    throw Error(source + ": the header promises " + std::to_string(h.itemSize) +
                " bytes of data but the file holds " + std::to_string(bytes.size() - h.dataOffset));
  unsigned char buf[8] = {};
  std::memcpy(buf, bytes.data() + h.dataOffset, h.itemSize);
  if (h.byteOrder == '>') std::reverse(buf, buf + h.itemSize);
  uint64_t u = 0;
  std::memcpy(&u, buf, 8);  // little endian: the low itemSize bytes are the value
  if (h.kind == 'i' && h.itemSize < 8 && (buf[h.itemSize - 1] & 0x80))
    u |= ~uint64_t(0) << (8 * h.itemSize);  // sign extension
  if (h.kind == 'u' && u > uint64_t(std::numeric_limits<int64_t>::max()))
    throw Error(source + ": " + std::to_string(u) + " is too large for a 64-bit signed integer");
  return static_cast<int64_t>(u);
}

void writeNpy(const std::filesystem::path& path, const Tensor& tensor) {
  writeFileAtomically(path, npyBytes(tensor));
}

}  // namespace qs
