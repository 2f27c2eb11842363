#include "runtime/AttrJson.h"

#include <cmath>

#include "runtime/Error.h"

namespace qs {

namespace {

std::string describeJson(const Json& v) {
  return std::string(v.type_name()) + " " + jsonSnippet(v);
}

int64_t toInt(const AttrDescriptor& a, const Json& v, const std::string& what) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
      throw Error(what + " is too large");
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18)
      return static_cast<int64_t>(d);
    throw Error(what + " must be a whole number, not " + jsonSnippet(v));
  }
  (void)a;
  throw Error(what + " must be an integer, not " + describeJson(v));
}

AttrScalar toScalar(const Json& v, const std::string& what) {
  AttrScalar s;
  if (v.is_boolean()) {
    s.kind = AttrScalar::Kind::Bool;
    s.integer = v.get<bool>();
    return s;
  }
  if (!v.is_number() && !v.is_string())
    throw Error(what + " must be a number or true/false, not " + describeJson(v));
  s.number = floatFromJson(v, what);  // also takes "nan", "inf", "-inf"
  s.wide = v.is_number() ? v.get<double>() : static_cast<double>(s.number);
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
      throw Error(what + " is too large");
    s.kind = AttrScalar::Kind::Integer;
    s.integer = v.get<int64_t>();
  }
  return s;
}

AttrValue parseValue(const AttrDescriptor& a, const Json& v) {
  const std::string what = "attribute '" + a.name + "'";
  switch (a.type) {
    case AttrType::Int:
      return toInt(a, v, what);
    case AttrType::Float: {
      if (!v.is_number() && !v.is_string())
        throw Error(what + " must be a number, not " + describeJson(v));
      return static_cast<double>(floatFromJson(v, what));
    }
    case AttrType::Bool:
      if (!v.is_boolean()) throw Error(what + " must be true or false, not " + describeJson(v));
      return v.get<bool>();
    case AttrType::String:
      if (!v.is_string()) throw Error(what + " must be a string, not " + describeJson(v));
      return v.get<std::string>();
    case AttrType::IntList: {
      if (!v.is_array()) throw Error(what + " must be a list of integers, not " + describeJson(v));
      std::vector<int64_t> r;
      r.reserve(v.size());
      for (size_t i = 0; i < v.size(); ++i)
        r.push_back(toInt(a, v[i], what + " element " + std::to_string(i)));
      return r;
    }
    case AttrType::FloatList: {
      if (!v.is_array()) throw Error(what + " must be a list of numbers, not " + describeJson(v));
      std::vector<float> r;
      r.reserve(v.size());
      for (size_t i = 0; i < v.size(); ++i)
        r.push_back(floatFromJson(v[i], what + " element " + std::to_string(i)));
      return r;
    }
    case AttrType::ValueList: {
      if (!v.is_array())
        throw Error(what + " must be a list of numbers or booleans, not " + describeJson(v));
      std::vector<AttrScalar> r;
      r.reserve(v.size());
      for (size_t i = 0; i < v.size(); ++i)
        r.push_back(toScalar(v[i], what + " element " + std::to_string(i)));
      return r;
    }
  }
  throw Error(what + " has an unknown type");
}

std::string numberText(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  return formatFloat(static_cast<float>(d));
}

void checkRange(const AttrDescriptor& a, const AttrValue& value) {
  if (!a.minValue && !a.maxValue) return;
  double d;
  if (auto* i = std::get_if<int64_t>(&value))
    d = static_cast<double>(*i);
  else if (auto* f = std::get_if<double>(&value))
    d = *f;
  else
    return;
  const bool low = a.minValue && !(d >= *a.minValue);
  const bool high = a.maxValue && !(d <= *a.maxValue);
  if (!low && !high) return;
  if (!a.rangeMessage.empty()) throw Error(a.rangeMessage);
  std::string range;
  if (a.minValue && a.maxValue)
    range =
        "between " + numberText(*a.minValue) + " and " + numberText(*a.maxValue) + ", inclusive";
  else if (a.minValue)
    range = "at least " + numberText(*a.minValue);
  else
    range = "at most " + numberText(*a.maxValue);
  throw Error("attribute '" + a.name + "' must be " + range + ", was " + attrValueToString(value));
}

}  // namespace

AttrValues resolveAttrs(const BlockDescriptor& desc, const Json& attrs) {
  if (!attrs.is_object()) throw Error("attrs must be an object");
  for (auto it = attrs.begin(); it != attrs.end(); ++it)
    if (!desc.findAttr(it.key())) {
      std::string known;
      for (const auto& a : desc.attrs) known += (known.empty() ? "" : ", ") + a.name;
      throw Error("unknown attribute '" + it.key() + "' (" + desc.type +
                  (known.empty() ? " has no attributes)" : " has: " + known + ")"));
    }
  AttrValues values;
  for (const auto& a : desc.attrs) {
    auto it = attrs.find(a.name);
    if (it == attrs.end()) {
      if (a.required) throw Error("attribute '" + a.name + "' is required");
      if (a.defaultValue) values.set(a.name, *a.defaultValue);
      continue;
    }
    AttrValue v = parseValue(a, *it);
    checkRange(a, v);
    values.set(a.name, std::move(v));
  }
  return values;
}

Json attrValueToJson(const AttrValue& value) {
  return std::visit(
      [](const auto& v) -> Json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) {
          return floatToJson(static_cast<float>(v));
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          Json arr = Json::array();
          for (float f : v) arr.push_back(floatToJson(f));
          return arr;
        } else if constexpr (std::is_same_v<T, std::vector<AttrScalar>>) {
          Json arr = Json::array();
          for (const AttrScalar& e : v)
            arr.push_back(e.kind == AttrScalar::Kind::Bool      ? Json(e.integer != 0)
                          : e.kind == AttrScalar::Kind::Integer ? Json(e.integer)
                                                                : floatToJson(e.number));
          return arr;
        } else {
          return Json(v);
        }
      },
      value);
}

std::string attrValueToString(const AttrValue& value) {
  if (auto* d = std::get_if<double>(&value)) return formatFloat(static_cast<float>(*d));
  if (auto* s = std::get_if<std::string>(&value)) return *s;
  return writeJson(attrValueToJson(value), false);
}

}  // namespace qs
