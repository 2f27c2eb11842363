#include "runtime/Json.h"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <set>
#include <vector>

#include "runtime/Error.h"

namespace qs {

namespace {

// Walks the text for nlohmann's parser and remembers how far it got, so that errors the SAX
// handler finds (a repeated key, too deep nesting) can be given a line and column.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* p, const char* base, size_t* consumed)
      : p_(p), base_(base), consumed_(consumed) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    ++p_;
    *consumed_ = static_cast<size_t>(p_ - base_);
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const CountingIterator& o) const { return p_ == o.p_; }
  bool operator!=(const CountingIterator& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  const char* base_;
  size_t* consumed_;
};

// nlohmann's lexer puts the C locale's decimal separator into a number's text (for its own
// strtod). The grammar is already checked, so any byte that is not a digit, a sign or an exponent
// mark is that separator: make it '.' again for std::from_chars, which never reads the locale.
std::string plainNumberText(std::string text) {
  for (char& c : text)
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E')) c = '.';
  return text;
}

// A JSON number that is not an integer, rounded from its decimal text straight to float32 (going
// through double first can round twice). Beyond float32's range it is kept as a double, so that
// floatFromJson can refuse it by name instead of it silently becoming inf (and a position can
// still be any number); below it, it is zero like any other underflow.
Json numberFromText(const std::string& raw) {
  const std::string text = plainNumberText(raw);
  const char* first = text.data();
  const char* last = first + text.size();
  float f = 0;
  if (std::from_chars(first, last, f).ec == std::errc()) return Json(static_cast<double>(f));
  double d = 0;
  if (std::from_chars(first, last, d).ec != std::errc())
    d = 0;  // below double's range (nlohmann refuses numbers beyond it)
  if (std::fabs(d) >= 1) return Json(d);
  return Json(text[0] == '-' ? -0.0 : 0.0);
}

// nlohmann's text is "[json.exception.parse_error.101] parse error at line 3, column 5: what";
// keep "what" (the place is given as file:line:column, like a compiler does).
std::string parseErrorMessage(const std::string& what) {
  const size_t at = what.find(", column ");
  size_t colon = at == std::string::npos ? at : what.find(": ", at);
  // Other exceptions (a number too large for a double) only carry the "[json.exception...] " tag.
  if (colon == std::string::npos && what.rfind("[json.exception.", 0) == 0 &&
      what.find("] ") != std::string::npos)
    colon = what.find("] ");
  // "last read: '...'" quotes the raw input, which may be binary or broken UTF-8: show such bytes
  // as \xNN so that the message itself stays printable text.
  std::string out;
  for (unsigned char c : colon == std::string::npos ? what : what.substr(colon + 2)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A SAX handler building nlohmann::json, with float32 numbers, duplicate-key detection and a
// nesting limit (copying, printing and comparing nlohmann values recurses, so a hand-made file
// nested a million levels deep would overflow the stack later on).
class DomBuilder {
 public:
  DomBuilder(Json& root, const size_t* consumed, JsonNumbers numbers)
      : root_(root), consumed_(consumed), numbers_(numbers) {}

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool v) { return put(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return put(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return put(Json(v)); }
  bool number_float(Json::number_float_t, const Json::string_t& text) {
    if (numbers_ == JsonNumbers::Float32) return put(numberFromText(text));
    const std::string plain = plainNumberText(text);
    double d = 0;
    if (std::from_chars(plain.data(), plain.data() + plain.size(), d).ec != std::errc())
      d = plain[0] == '-' ? -0.0 : 0.0;  // below double's range (nlohmann refuses beyond it)
    return put(Json(d));
  }
  bool string(Json::string_t& v) { return put(Json(std::move(v))); }
  bool binary(Json::binary_t&) { return put(Json(nullptr)); }

  bool start_object(std::size_t) {
    if (stack_.size() >= kMaxJsonDepth) return tooDeep();
    Json* obj = put(Json::object());
    stack_.push_back(obj);
    keys_.emplace_back();
    return true;
  }
  bool key(Json::string_t& k) {
    if (!keys_.back().insert(k).second) {
      duplicateKey_ = k;
      errorOffset_ = *consumed_;
      return false;
    }
    pendingKey_ = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (stack_.size() >= kMaxJsonDepth) return tooDeep();
    Json* arr = put(Json::array());
    stack_.push_back(arr);
    keys_.emplace_back();
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    keys_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    error_ = parseErrorMessage(ex.what());
    errorOffset_ = *consumed_;
    return false;
  }

  const std::string& error() const { return error_; }
  const std::string& duplicateKey() const { return duplicateKey_; }
  bool tooDeepError() const { return tooDeep_; }
  size_t errorOffset() const { return errorOffset_; }

 private:
  // Returns the stored value (so containers can be pushed); for scalars a non-null dummy.
  Json* put(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    Json& slot = parent[pendingKey_];
    slot = std::move(v);
    return &slot;
  }

  bool tooDeep() {
    tooDeep_ = true;
    errorOffset_ = *consumed_ ? *consumed_ - 1 : 0;
    return false;
  }

  Json& root_;
  const size_t* consumed_;
  JsonNumbers numbers_;
  bool tooDeep_ = false;
  size_t errorOffset_ = 0;
  std::vector<Json*> stack_;
  std::vector<std::set<std::string>> keys_;
  std::string pendingKey_;
  std::string error_;
  std::string duplicateKey_;
};

// Line and column (1-based) of byte offset `pos`.
std::pair<size_t, size_t> lineColumn(std::string_view text, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

template <typename J>
void writeValue(std::string& out, const J& v, bool pretty, int indent);

void newline(std::string& out, bool pretty, int indent) {
  if (!pretty) return;
  out += '\n';
  out.append(static_cast<size_t>(indent) * 2, ' ');
}

template <typename J>
bool isScalarArray(const J& v) {
  for (const auto& e : v)
    if (e.is_structured()) return false;
  return true;
}

template <typename J>
void writeValue(std::string& out, const J& v, bool pretty, int indent) {
  switch (v.type()) {
    case J::value_t::object: {
      if (v.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ',';
        first = false;
        newline(out, pretty, indent + 1);
        out += Json(it.key()).dump(-1, ' ', false, J::error_handler_t::replace);
        out += pretty ? ": " : ":";
        writeValue(out, it.value(), pretty, indent + 1);
      }
      newline(out, pretty, indent);
      out += '}';
      return;
    }
    case J::value_t::array: {
      if (v.empty()) {
        out += "[]";
        return;
      }
      const bool inlineArray = isScalarArray(v);
      out += '[';
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += inlineArray && pretty ? ", " : ",";
        first = false;
        if (!inlineArray) newline(out, pretty, indent + 1);
        writeValue(out, e, pretty, indent + 1);
      }
      if (!inlineArray) newline(out, pretty, indent);
      out += ']';
      return;
    }
    case J::value_t::number_float: {
      const double d = v.template get<double>();
      const float f = static_cast<float>(d);
      if (std::isfinite(d) && static_cast<double>(f) != d) {
        // Not a float32 value (only an API user can make one): keep full precision.
        out += v.dump();
      } else if (!std::isfinite(d)) {
        out += '"' + formatFloat(f) + '"';
      } else {
        out += formatFloat(f);
      }
      return;
    }
    default:
      out += v.dump(-1, ' ', false, J::error_handler_t::replace);
  }
}

}  // namespace

Json parseJson(std::string_view text, const std::string& source, JsonNumbers numbers) {
  Json root;
  size_t consumed = 0;
  DomBuilder builder(root, &consumed, numbers);
  bool ok = false;
  const char* base = text.data();
  try {
    ok = Json::sax_parse(CountingIterator(base, base, &consumed),
                         CountingIterator(base + text.size(), base, &consumed), &builder,
                         Json::input_format_t::json, true, true);
  } catch (const std::exception& e) {
    throw Error(source + ": " + e.what());
  }
  if (ok) return root;
  auto place = [&](size_t offset) {
    auto [line, col] = lineColumn(text, offset);
    return source + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
  };
  if (!builder.duplicateKey().empty()) {
    // The key was just read: step back to its opening quote.
    size_t end = builder.errorOffset();
    size_t start = end >= 2 ? text.rfind('"', end - 2) : std::string_view::npos;
    throw Error(place(start == std::string_view::npos ? end : start) + "key " +
                Json(builder.duplicateKey()).dump(-1, ' ', false, Json::error_handler_t::replace) +
                " appears twice in one object");
  }
  if (builder.tooDeepError())
    throw Error(place(builder.errorOffset()) + "nested deeper than " +
                std::to_string(kMaxJsonDepth) + " levels");
  // nlohmann reports the place after the offending character.
  const size_t offset = builder.errorOffset();
  throw Error(place(offset ? offset - 1 : 0) + builder.error());
}

std::string writeJson(const Json& value, bool pretty) {
  std::string out;
  writeValue(out, value, pretty, 0);
  if (pretty) out += '\n';
  return out;
}

std::string writeJson(const OrderedJson& value, bool pretty) {
  std::string out;
  writeValue(out, value, pretty, 0);
  if (pretty) out += '\n';
  return out;
}

std::string formatFloat(float v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0 && std::signbit(v)) return "-0.0";
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string jsonSnippet(const Json& v, size_t maxChars) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > maxChars && maxChars > 3) {
    size_t cut = maxChars - 3;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s = s.substr(0, cut) + "...";
  }
  return s;
}

Json floatToJson(float v) {
  if (!std::isfinite(v)) return Json(formatFloat(v));
  return Json(static_cast<double>(v));
}

float floatFromJson(const Json& v, const std::string& what) {
  if (v.is_number()) {
    // Integers in JSON are exact in their text; round them to float32 once.
    if (v.is_number_integer()) {
      if (v.is_number_unsigned()) return static_cast<float>(v.get<uint64_t>());
      return static_cast<float>(v.get<int64_t>());
    }
    const double d = v.get<double>();
    // parseJson keeps numbers beyond float32 as doubles: refuse them rather than make them inf.
    if (std::isinf(static_cast<float>(d)))
      throw Error(what + " is " + (std::isfinite(d) ? Json(d).dump() : std::string("too large")) +
                  ", outside the float32 range (largest 3.4028235e+38); write \"inf\" or "
                  "\"-inf\" for infinity");
    return static_cast<float>(d);
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "nan" || s == "NaN" || s == "-nan") return std::numeric_limits<float>::quiet_NaN();
    if (s == "inf" || s == "+inf" || s == "Infinity" || s == "infinity")
      return std::numeric_limits<float>::infinity();
    if (s == "-inf" || s == "-Infinity" || s == "-infinity")
      return -std::numeric_limits<float>::infinity();
    throw Error(what + " is the string \"" + s +
                "\", not a number (use \"nan\", \"inf\" or \"-inf\" for non-finite values)");
  }
  throw Error(what + " must be a number, not " + std::string(v.type_name()));
}

}  // namespace qs
