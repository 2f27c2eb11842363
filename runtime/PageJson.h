#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/Page.h"

namespace qs {

constexpr int kPageFormatVersion = 1;

struct LoadedPage {
  Page page;
  std::filesystem::path dir;          // folder of the page file (for relative .npy paths)
  std::vector<std::string> warnings;  // things kept but not understood (unknown keys)
};

struct PageReadOptions {
  // Keep a link that names a block not on the page in Page::danglingLinks() (with a warning)
  // instead of refusing the page: the editor opens such a page so that the link can be repaired.
  bool keepDanglingLinks = false;
};

// Reads a page (docs/formats.md). Throws qs::Error for a file that cannot be read, is not JSON
// (message with line and column), is not a quantspace-page, has an unknown version, or is
// structurally broken (blocks not a list, duplicate or malformed ids, a link naming a block that
// does not exist). Block-level problems (unknown type, bad attributes) are not errors here: the
// evaluator reports them per block.
LoadedPage loadPage(const std::filesystem::path& path, const PageReadOptions& options = {});
LoadedPage parsePage(std::string_view text, const std::string& source,
                     const PageReadOptions& options = {});
Page pageFromJson(const Json& doc, const std::string& source, std::vector<std::string>* warnings,
                  const PageReadOptions& options = {});

// The page as JSON in the stable order of docs/formats.md. Saving a loaded page gives it back
// unchanged, and saving twice gives the same bytes. Dangling links are written after the others.
OrderedJson pageToJson(const Page& page);
std::string pageToText(const Page& page);
// Atomic save (temporary file, flush, rename); keeps `<path>.bak` when keepBackup.
void savePage(const Page& page, const std::filesystem::path& path, bool keepBackup = false);

}  // namespace qs
