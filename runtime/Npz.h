#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace qs {

// NumPy's .npz archive: a zip file whose members are .npy files, one per array, each named
// "<key>.npy" (numpy.savez and numpy.savez_compressed write it; numpy.load reads it). This layer
// moves .npy bytes in and out of the archive; readNpy/parseNpy and npyBytes (Npy.h) turn them
// into tensors.
//
// Quant Space's own members (the page a state file was made from, runtime/Provenance.h) are not
// arrays: their names start with kNpzOwnPrefix and do not end in ".npy", so no array can take
// them. They are written under their whole name and skipped by readers unless asked for.
inline constexpr const char* kNpzOwnPrefix = "__quantspace__/";

struct NpzMember {
  std::string key;    // the array's name: the member's file name without ".npy"; an own
                      // member's whole name
  std::string bytes;  // the member: a whole .npy file
};

// What a read may inflate, so that a hostile archive (a zip bomb, a central directory that lies
// about sizes) is refused before memory is spent on it.
struct NpzLimits {
  uint64_t maxMemberBytes;  // one member, uncompressed
  uint64_t maxTotalBytes;   // all members together, uncompressed
  int64_t maxMembers = 100000;
  // Defaults: a member may hold the largest tensor the runtime allocates (plus its header); all
  // members together twice that.
  static NpzLimits defaults();
};

// Reads every member, in the archive's order. Stored and deflated members are read; anything
// else (another compression method, encryption, a member whose name does not end in ".npy" and is
// not an own member, two members with one name, a CRC that does not match, a truncated archive)
// throws qs::Error naming `source` and, where there is one, the member. Own members are checked
// against the limits as any other, and returned only with `ownMembers`.
std::vector<NpzMember> parseNpz(const std::string& archive, const std::string& source,
                                const NpzLimits& limits = NpzLimits::defaults(),
                                bool ownMembers = false);
std::vector<NpzMember> readNpz(const std::filesystem::path& path,
                               const NpzLimits& limits = NpzLimits::defaults(),
                               bool ownMembers = false);

// The archive's bytes: members in the order given, deflated or stored, with a fixed timestamp so
// that the same members always give the same bytes. Throws qs::Error for an empty or duplicate
// key.
std::string npzBytes(const std::vector<NpzMember>& members, bool compress);
// Writes the archive atomically (a temporary file renamed over `path`).
void writeNpz(const std::filesystem::path& path, const std::vector<NpzMember>& members,
              bool compress = false);

}  // namespace qs
