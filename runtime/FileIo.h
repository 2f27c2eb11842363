#pragma once

#include <filesystem>
#include <string>

namespace qs {

// Whole file as bytes. Throws qs::Error naming the file and the system's reason.
std::string readFile(const std::filesystem::path& path);

// Writes `data` so that `path` is never left truncated: to a temporary file beside it, flushed
// to disk, then renamed over `path`. With keepBackup, the previous version is kept as
// `<path>.bak`. Throws qs::Error naming the file and the reason; on failure `path` is untouched.
void writeFileAtomically(const std::filesystem::path& path, const std::string& data,
                         bool keepBackup = false);

}  // namespace qs
