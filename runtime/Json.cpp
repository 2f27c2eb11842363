#include "runtime/Json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <vector>

#include "runtime/Error.h"

namespace qs {

namespace {

// A SAX handler building nlohmann::json, with float32 numbers and duplicate-key detection.
class DomBuilder {
 public:
  explicit DomBuilder(Json& root) : root_(root) {}

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool v) { return put(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return put(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return put(Json(v)); }
  bool number_float(Json::number_float_t, const Json::string_t& text) {
    // strtof rounds the decimal straight to float32; going through double first can round twice.
    errno = 0;
    float f = std::strtof(text.c_str(), nullptr);
    return put(Json(static_cast<double>(f)));
  }
  bool string(Json::string_t& v) { return put(Json(std::move(v))); }
  bool binary(Json::binary_t&) { return put(Json(nullptr)); }

  bool start_object(std::size_t) {
    Json* obj = put(Json::object());
    stack_.push_back(obj);
    keys_.emplace_back();
    return true;
  }
  bool key(Json::string_t& k) {
    if (!keys_.back().insert(k).second) {
      duplicateKey_ = k;
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
    error_ = ex.what();
    return false;
  }

  const std::string& error() const { return error_; }
  const std::string& duplicateKey() const { return duplicateKey_; }

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

  Json& root_;
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
        out += Json(it.key()).dump();
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

Json parseJson(std::string_view text, const std::string& source) {
  Json root;
  DomBuilder builder(root);
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &builder, Json::input_format_t::json, true, true);
  } catch (const std::exception& e) {
    throw Error(source + ": " + e.what());
  }
  if (!ok) {
    if (!builder.duplicateKey().empty()) {
      // Find where the repeated key stands, for the line and column.
      const std::string needle = Json(builder.duplicateKey()).dump();
      size_t first = text.find(needle);
      size_t second = first == std::string_view::npos ? first : text.find(needle, first + 1);
      auto [line, col] = lineColumn(text, second == std::string_view::npos ? 0 : second);
      throw Error(source + ":" + std::to_string(line) + ":" + std::to_string(col) + ": key " +
                  needle + " appears twice in one object");
    }
    throw Error(source + ": " + builder.error());
  }
  return root;
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
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
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
    return static_cast<float>(v.get<double>());
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "nan" || s == "NaN" || s == "-nan") return std::numeric_limits<float>::quiet_NaN();
    if (s == "inf" || s == "+inf" || s == "Infinity" || s == "infinity")
      return std::numeric_limits<float>::infinity();
    if (s == "-inf" || s == "-Infinity" || s == "-infinity")
      return -std::numeric_limits<float>::infinity();
    throw Error(what + " is the string \"" + s + "\", not a number (use \"nan\", \"inf\" or \"-inf\" for non-finite values)");
  }
  throw Error(what + " must be a number, not " + std::string(v.type_name()));
}

}  // namespace qs
