#include "runtime/Provenance.h"

#include "runtime/Error.h"
#include "runtime/FileIo.h"
#include "runtime/Npz.h"

#ifndef QS_VERSION
#define QS_VERSION "unknown"
#endif

namespace qs {

namespace {
// A page file is a few megabytes at most; this bounds what a hostile folder can make us read.
constexpr uint64_t kMaxPageBytes = 256u << 20;

LoadedPage pageFrom(const std::string& text, const std::string& source,
                    const std::filesystem::path& dir) {
  LoadedPage loaded = parsePage(text, source, {.keepDanglingLinks = true});
  loaded.dir = dir;
  return loaded;
}
}  // namespace

const char* quantSpaceVersion() {
  return QS_VERSION;
}

void writeNpyFolderProvenance(const std::filesystem::path& dir, const std::string& pageJson) {
  writeFileAtomically(dir / kNpyFolderPageFile, pageJson);
  writeFileAtomically(dir / kNpyFolderVersionFile, std::string(quantSpaceVersion()) + "\n");
}

std::optional<LoadedPage> carriedPage(const std::filesystem::path& path) {
  const std::filesystem::path abs = std::filesystem::absolute(path);
  std::error_code ec;
  if (std::filesystem::is_directory(abs, ec) || lowerExtension(abs) == ".npy") {
    const std::filesystem::path dir =
        std::filesystem::is_directory(abs, ec) ? abs : abs.parent_path();
    const std::filesystem::path file = dir / kNpyFolderPageFile;
    if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
    return pageFrom(readFile(file, kMaxPageBytes), file.string(), dir);
  }
  if (lowerExtension(abs) == ".npz") {
    for (const NpzMember& m : readNpz(abs, NpzLimits::defaults(), /*ownMembers=*/true))
      if (m.key == kNpzPageMember)
        return pageFrom(m.bytes, path.string() + ": member '" + m.key + "'", abs.parent_path());
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace qs
