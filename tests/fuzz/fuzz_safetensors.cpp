// libFuzzer target: the safetensors reader.
//
// Properties: nothing but qs::Error escapes; the tensors read tile the data exactly (safetensors
// allows no hole and no overlap), so their bytes add up to what follows the header.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/Error.h"
#include "runtime/WeightFiles.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::vector<qs::NamedTensor> tensors;
  try {
    tensors = qs::parseSafetensors(bytes, "fuzz.safetensors");
  } catch (const qs::Error&) {
    return 0;
  }
  uint64_t headerLen;
  std::memcpy(&headerLen, bytes.data(), 8);
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.tensor.bytes();
  if (total != size - 8 - headerLen) {
    std::fprintf(stderr, "fuzz_safetensors: tensors of %llu bytes from %llu bytes of data\n",
                 static_cast<unsigned long long>(total),
                 static_cast<unsigned long long>(size - 8 - headerLen));
    std::abort();
  }
  return 0;
}
