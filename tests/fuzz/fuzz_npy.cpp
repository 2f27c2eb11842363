// libFuzzer target: the .npy reader, both ways in (bytes in memory, and a file on disk, which
// checks the header against the file's size before reading the data).
//
// Properties: the two readers agree (both refuse, or both give the same tensor bit for bit), and
// what was read writes and reads back unchanged.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "runtime/Error.h"
#include "runtime/Npy.h"

namespace {

const std::string& scratchPath() {
  static const std::string path = "/tmp/qs_fuzz_npy_" + std::to_string(::getpid()) + ".npy";
  return path;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_npy: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::optional<qs::Tensor> fromBytes, fromFile;
  std::string bytesError, fileError;
  try {
    std::string note;
    fromBytes = qs::parseNpy(bytes, "fuzz.npy", &note);
  } catch (const qs::Error& e) {
    bytesError = e.what();
  }
  {
    std::ofstream out(scratchPath(), std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  try {
    std::string note;
    fromFile = qs::readNpy(scratchPath(), &note);
  } catch (const qs::Error& e) {
    fileError = e.what();
  }
  if (fromBytes.has_value() != fromFile.has_value())
    fail("the readers disagree: bytes: " + (fromBytes ? std::string("ok") : bytesError) +
         "; file: " + (fromFile ? std::string("ok") : fileError));
  if (!fromBytes) return 0;
  if (!qs::bitwiseEqual(*fromBytes, *fromFile)) fail("the readers give different tensors");
  const qs::Tensor back = qs::parseNpy(qs::npyBytes(*fromBytes), "written.npy");
  if (!qs::bitwiseEqual(back, *fromBytes)) fail("a tensor written and read back changed");
  return 0;
}
