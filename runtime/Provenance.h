#pragma once
// Provenance: the page a saved file was made from, and the Quant Space version that made it.
// Exported .onnx models carry them in metadata_props (onnx/OnnxExport.cpp); state files (.npz)
// as two members that are not arrays; --save-npy folders as two files beside the arrays
// (docs/formats.md, "Provenance").

#include <filesystem>
#include <optional>
#include <string>

#include "runtime/PageJson.h"

namespace qs {

// The version of this build (the project version in CMakeLists.txt).
const char* quantSpaceVersion();

// Members of a state file. Under kNpzOwnPrefix and not named "*.npy" (Npz.h), so no array member
// (and so no Variable or slot) can ever take their names, and array readers never see them.
inline constexpr const char* kNpzPageMember = "__quantspace__/page.json";
inline constexpr const char* kNpzVersionMember = "__quantspace__/version.txt";
// Files of a --save-npy folder, beside the <result>.npy files.
inline constexpr const char* kNpyFolderPageFile = "quantspace-page.json";
inline constexpr const char* kNpyFolderVersionFile = "quantspace-version.txt";

// Writes the page file and the version file into `dir` (which exists). Throws qs::Error.
void writeNpyFolderProvenance(const std::filesystem::path& dir, const std::string& pageJson);

// The page a state file (.npz), a --save-npy folder, or a .npy inside such a folder carries;
// nullopt when it carries none. The page's folder (for relative paths) is the file's. Throws
// qs::Error for a file that cannot be read or a carried page that is not a valid page.
std::optional<LoadedPage> carriedPage(const std::filesystem::path& path);

}  // namespace qs
