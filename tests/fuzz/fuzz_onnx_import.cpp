// libFuzzer target: ONNX models read as weights (the initializers) and imported as pages.
//
// Properties: nothing but qs::Error escapes, whatever the bytes (truncated or malformed protobuf,
// huge or negative dimensions, cycles, wrong element types); an initializer read has as many
// elements as its shape says.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "onnx/OnnxImport.h"
#include "runtime/Error.h"
#include "runtime/OnnxModel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& t : qs::parseOnnxInitializers(bytes, "fuzz.onnx")) {
      int64_t count = 1;
      for (int64_t d : t.tensor.shape()) count *= d;
      if (count != t.tensor.size()) {
        std::fprintf(stderr, "fuzz_onnx_import: '%s' has %lld elements for its shape\n",
                     t.name.c_str(), static_cast<long long>(t.tensor.size()));
        std::abort();
      }
    }
  } catch (const qs::Error&) {
  }
  try {
    qs::importOnnxPage(bytes, "fuzz.onnx", "fuzz.onnx");
  } catch (const qs::Error&) {
  }
  return 0;
}
