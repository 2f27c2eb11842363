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
};

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
                "' cannot be read as float32 (Quant Space reads float, int, uint and bool arrays)");
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

// One element converted to float32 with a single rounding (numpy's astype(float32)): going
// through double first would round a large int64 twice.
float readElement(const unsigned char* p, const Header& h) {
  unsigned char buf[8];
  std::memcpy(buf, p, h.itemSize);
  const bool swap = h.byteOrder == '>' && h.itemSize > 1;
  if (swap) std::reverse(buf, buf + h.itemSize);
  switch (h.kind) {
    case 'b':
      return buf[0] ? 1.0f : 0.0f;
    case 'f':
      if (h.itemSize == 8) {
        double d;
        std::memcpy(&d, buf, 8);
        return static_cast<float>(d);
      }
      if (h.itemSize == 4) {
        float f;
        std::memcpy(&f, buf, 4);
        return f;
      }
      {
        // float16: every value is exact in float32.
        uint16_t bits;
        std::memcpy(&bits, buf, 2);
        const int exp = (bits >> 10) & 0x1f;
        const int mant = bits & 0x3ff;
        const float sign = (bits & 0x8000) ? -1.0f : 1.0f;
        if (exp == 0) return sign * std::ldexp(static_cast<float>(mant), -24);
        if (exp == 31) return mant ? std::numeric_limits<float>::quiet_NaN() : sign * INFINITY;
        return sign * std::ldexp(static_cast<float>(mant + 1024), exp - 25);
      }
    case 'i': {
      if (h.itemSize == 1) {
        int8_t x;
        std::memcpy(&x, buf, 1);
        return x;
      }
      if (h.itemSize == 2) {
        int16_t x;
        std::memcpy(&x, buf, 2);
        return x;
      }
      if (h.itemSize == 4) {
        int32_t x;
        std::memcpy(&x, buf, 4);
        return static_cast<float>(x);
      }
      int64_t x;
      std::memcpy(&x, buf, 8);
      return static_cast<float>(x);
    }
    case 'u': {
      uint64_t v = 0;
      std::memcpy(&v, buf, h.itemSize);
      return static_cast<float>(v);
    }
  }
  return 0;
}

}  // namespace

Tensor parseNpy(const std::string& bytes, const std::string& source, std::string* note) {
  const Header h = parseHeader(bytes, source);
  int64_t count;
  try {
    count = checkedElementCount(h.shape);
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  const unsigned __int128 need = (unsigned __int128)count * h.itemSize;
  const size_t have = bytes.size() - h.dataOffset;
  if (need != have)
    throw Error(source + ": the header promises shape " + shapeToString(h.shape) + " (" +
                std::to_string(static_cast<uint64_t>(need)) +
                " bytes of data) but the file holds " + std::to_string(have) + " bytes");
  Tensor t = Tensor::uninitialized(h.shape);
  const unsigned char* src = reinterpret_cast<const unsigned char*>(bytes.data()) + h.dataOffset;
  const bool native = h.kind == 'f' && h.itemSize == 4 && h.byteOrder != '>';
  float* dst = t.mutableData();
  if (!h.fortran || t.rank() < 2) {
    if (native) {
      if (count) std::memcpy(dst, src, static_cast<size_t>(count) * 4);
    } else {
      for (int64_t i = 0; i < count; ++i) dst[i] = readElement(src + i * h.itemSize, h);
    }
  } else {
    // Fortran order: the first index varies fastest. Walk the C-order output and compute each
    // element's Fortran offset.
    const int r = t.rank();
    std::vector<int64_t> idx(r, 0), fstride(r, 1);
    for (int d = 1; d < r; ++d) fstride[d] = fstride[d - 1] * h.shape[d - 1];
    for (int64_t i = 0; i < count; ++i) {
      int64_t off = 0;
      for (int d = 0; d < r; ++d) off += idx[d] * fstride[d];
      dst[i] = readElement(src + off * h.itemSize, h);
      for (int d = r - 1; d >= 0; --d) {
        if (++idx[d] < h.shape[d]) break;
        idx[d] = 0;
      }
    }
  }
  if (note) {
    note->clear();
    std::string descr = std::string(1, h.byteOrder) + h.kind + std::to_string(h.itemSize);
    if (!native) *note = "converted from dtype '" + descr + "' to float32";
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
    count = checkedElementCount(h.shape);
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
  const bool native =
      h.kind == 'f' && h.itemSize == 4 && h.byteOrder != '>' && !(h.fortran && h.shape.size() >= 2);
  if (native) {
    // Straight into the tensor's storage: no second copy of a large array.
    Tensor t = Tensor::uninitialized(h.shape);
    in.read(reinterpret_cast<char*>(t.mutableData()), static_cast<std::streamsize>(t.bytes()));
    if (static_cast<size_t>(in.gcount()) != t.bytes())
      throw Error(path.string() + ": the file ended before its data did");
    if (note) note->clear();
    return t;
  }
  return parseNpy(readFile(path), path.string(), note);
}

Shape readNpyShape(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("cannot read '" + path.string() + "': it is a folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path.string() + "': " + std::strerror(errno));
  return readHeaderFromFile(in, path).shape;
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

std::string npyBytes(const Tensor& tensor) {
  return npyFile("<f4", tensor.shape(), tensor.data(), tensor.bytes());
}

std::string npyInt64Bytes(int64_t value) {
  return npyFile("<i8", {}, &value, sizeof value);
}

int64_t parseNpyInt64(const std::string& bytes, const std::string& source) {
  const Header h = parseHeader(bytes, source);
  if (h.kind != 'i' && h.kind != 'u')
    throw Error(source + ": must hold an integer, not dtype '" + std::string(1, h.byteOrder) +
                h.kind + std::to_string(h.itemSize) + "'");
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
