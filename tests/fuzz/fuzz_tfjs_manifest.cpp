// libFuzzer target: the TensorFlow.js weights manifest reader.
//
// The input is the manifest's text, then for each shard a NUL byte and the shard's bytes; shards
// are handed out in the order the reader asks for them.
// Properties: nothing but qs::Error escapes; every tensor has as many elements as its shape says.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/Error.h"
#include "runtime/WeightFiles.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  for (size_t at = 0;;) {
    const size_t nul = bytes.find('\0', at);
    parts.push_back(bytes.substr(at, nul == std::string::npos ? nul : nul - at));
    if (nul == std::string::npos) break;
    at = nul + 1;
  }
  size_t next = 1;
  auto shard = [&](const std::string& path) {
    if (next >= parts.size()) throw qs::Error("fuzz: no shard left for '" + path + "'");
    return parts[next++];
  };
  std::vector<qs::NamedTensor> tensors;
  try {
    tensors = qs::parseTfjsWeights(parts[0], "fuzz.json", shard);
  } catch (const qs::Error&) {
    return 0;
  }
  for (const auto& t : tensors) {
    int64_t count = 1;
    for (int64_t d : t.tensor.shape()) count *= d;
    if (count != t.tensor.size()) {
      std::fprintf(stderr, "fuzz_tfjs_manifest: '%s' has %lld elements for its shape\n",
                   t.name.c_str(), static_cast<long long>(t.tensor.size()));
      std::abort();
    }
  }
  return 0;
}
