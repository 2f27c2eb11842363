// libFuzzer target: the .npz reader (state files), and the .npy readers (tensor and step count) on
// every member it yields.
//
// Properties: nothing but qs::Error escapes; members that were read write and read back
// unchanged, stored and deflated.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/Error.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_npz: %s\n", what.c_str());
  std::abort();
}

// Small limits: a fuzzer's input never needs more, and an archive claiming more must be refused
// from its directory without inflating it.
qs::NpzLimits limits() {
  qs::NpzLimits l = qs::NpzLimits::defaults();
  l.maxMemberBytes = 1 << 20;
  l.maxTotalBytes = 4 << 20;
  l.maxMembers = 1000;
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::vector<qs::NpzMember> members;
  try {
    members = qs::parseNpz(bytes, "fuzz.npz", limits());
  } catch (const qs::Error&) {
    return 0;
  }
  for (const auto& m : members) {
    try {
      (void)qs::parseNpy(m.bytes, m.key + ".npy");
    } catch (const qs::Error&) {
    }
    // A state file's step count is read as an exact integer, not through float32.
    try {
      (void)qs::parseNpyInt64(m.bytes, m.key + ".npy");
    } catch (const qs::Error&) {
    }
  }
  for (bool compress : {false, true}) {
    std::vector<qs::NpzMember> back;
    try {
      back = qs::parseNpz(qs::npzBytes(members, compress), "written.npz", limits());
    } catch (const qs::Error& e) {
      fail(std::string("members read from an archive do not write and read back: ") + e.what());
    }
    if (back.size() != members.size()) fail("a written archive reads back with another count");
    for (size_t i = 0; i < back.size(); ++i)
      if (back[i].key != members[i].key || back[i].bytes != members[i].bytes)
        fail("member '" + members[i].key + "' changed when written and read back");
  }
  return 0;
}
