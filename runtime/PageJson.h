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

// Reads a page (docs/formats.md). Throws qs::Error for a file that cannot be read, is not JSON
// (message with line and column), is not a quantspace-page, has an unknown version, or is
// structurally broken (blocks not a list, duplicate or malformed ids, a link naming a block that
// does not exist). Block-level problems (unknown type, bad attributes) are not errors here: the
// evaluator reports them per block.
LoadedPage loadPage(const std::filesystem::path& path);
LoadedPage parsePage(std::string_view text, const std::string& source);
Page pageFromJson(const Json& doc, const std::string& source, std::vector<std::string>* warnings);

// The page as JSON in the stable order of docs/formats.md. Saving a loaded page gives it back
// unchanged, and saving twice gives the same bytes.
OrderedJson pageToJson(const Page& page);
std::string pageToText(const Page& page);
// Atomic save (temporary file, flush, rename); keeps `<path>.bak` when keepBackup.
void savePage(const Page& page, const std::filesystem::path& path, bool keepBackup = false);

}  // namespace qs
