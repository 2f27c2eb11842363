#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace qs {

using Json = nlohmann::json;
// For documents whose keys have a fixed, meaningful order (the page file).
using OrderedJson = nlohmann::ordered_json;

// Deepest nesting of arrays and objects parseJson accepts.
constexpr size_t kMaxJsonDepth = 256;

// How parseJson reads a number that is not an integer.
enum class JsonNumbers {
  Float32,  // rounded from its decimal text straight to float32 (Quant Space's own documents)
  Double,   // as a double (other programs' files whose numbers mean doubles: TensorFlow.js scales)
};

// Parses JSON text the way Quant Space documents mean it: every non-integer number is a float32
// read straight from its decimal text (no double rounding), and a key given twice in one object
// is an error rather than a silent overwrite; a number beyond float32's range is kept as a double
// (floatFromJson refuses it). Nesting deeper than kMaxJsonDepth is an error. Throws qs::Error as
// "source:line:column: message".
Json parseJson(std::string_view text, const std::string& source,
               JsonNumbers numbers = JsonNumbers::Float32);

// Writes JSON in Quant Space's stable form: keys in the order the object holds them (sorted for
// nlohmann::json), two-space indentation, arrays of numbers on one line, floats in the shortest
// form that reads back to the same float32, non-finite floats as "nan", "inf", "-inf".
std::string writeJson(const Json& value, bool pretty = true);
std::string writeJson(const OrderedJson& value, bool pretty = true);

// Shortest decimal text that reads back to exactly `v` as a float32 ("0.1", "1e-07", "5").
// Negative zero is "-0.0": JSON readers (nlohmann, Python) read "-0" as the integer 0 and lose the
// sign. Non-finite values give "nan", "inf", "-inf".
std::string formatFloat(float v);

// The value as compact JSON for a message, cut to about `maxChars` on a character boundary.
std::string jsonSnippet(const Json& v, size_t maxChars = 40);

// A JSON value holding a float32 tensor element: a number, or for non-finite values the strings of
// the page format (docs/formats.md).
Json floatToJson(float v);
// Reads a number or one of "nan", "inf", "-inf" (also "+inf", "NaN", "Infinity"); throws
// qs::Error otherwise, using `what` in the message.
float floatFromJson(const Json& v, const std::string& what);

}  // namespace qs
