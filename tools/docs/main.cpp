// quantspace-docs OUTDIR: writes the block reference (OUTDIR/<Type>.md for every registered block
// and OUTDIR/README.md) from the block descriptors. The unit tests fail when docs/blocks/ differs
// from what this writes.
#include <filesystem>
#include <iostream>

#include "blocks/RegisterBlocks.h"
#include "runtime/BlockDocs.h"
#include "runtime/Error.h"
#include "runtime/FileIo.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: quantspace-docs OUTDIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  try {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const auto all = qs::builtinRegistry().all();
    // Pages of blocks that no longer exist would mislead: remove them.
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const auto name = entry.path().filename().string();
      if (entry.path().extension() != ".md" || name == "README.md") continue;
      bool known = false;
      for (const auto* d : all) known = known || qs::blockReferenceFileName(*d) == name;
      if (!known) std::filesystem::remove(entry.path());
    }
    for (const auto* d : all)
      qs::writeFileAtomically(dir / qs::blockReferenceFileName(*d), qs::blockReferencePage(*d));
    qs::writeFileAtomically(dir / "README.md", qs::blockReferenceIndex(all));
    std::cout << "wrote " << all.size() << " block pages and README.md to " << dir.string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "quantspace-docs: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
