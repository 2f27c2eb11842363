#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

namespace qs {

// Whole file as bytes. Throws qs::Error naming the file and the system's reason, or the limit when
// the file (or a pipe or device that never ends, such as /dev/zero) holds more than maxBytes.
std::string readFile(const std::filesystem::path& path,
                     uint64_t maxBytes = std::numeric_limits<uint64_t>::max());

// The extension of `path` with its dot, lower-cased in ASCII only: the locale must not change
// which files are recognised.
std::string lowerExtension(const std::filesystem::path& path);

// Writes `data` so that `path` is never left truncated: to a temporary file beside it, flushed
// to disk, then renamed over `path`. With keepBackup, the previous version is kept as
// `<path>.bak`. Throws qs::Error naming the file and the reason; on failure `path` is untouched.
void writeFileAtomically(const std::filesystem::path& path, const std::string& data,
                         bool keepBackup = false);

}  // namespace qs
