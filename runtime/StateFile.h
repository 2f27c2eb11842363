#pragma once
// State files (.npz): every value an Evaluator holds for a page that learns (Variables and
// optimizer slots, one member "<name>.npy" each) and the number of steps taken ("__step__.npy").
// The runner's --save-state/--load-state and the editor's File > Save State/Load State share
// these (docs/formats.md, "State files").

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "runtime/Evaluator.h"

namespace qs {

struct StateFileContents {
  std::map<std::string, Tensor> values;  // by held name (Evaluator::stateTensors)
  int64_t steps = 0;
  std::vector<std::string> notes;  // things said about members that were still read
};

// True when a block of the page holds state (a Variable or a block with slots): a page that learns.
bool pageHasState(const Page& page, const BlockRegistry& registry);

// Throws qs::Error naming the file and, where there is one, the member.
StateFileContents readStateFile(const std::filesystem::path& path);

// Writes the evaluator's held values and step count, and the Quant Space version; with
// `pageJson` (pageToText of the page), the page too (runtime/Provenance.h). Readers skip both.
// Throws qs::Error.
void writeStateFile(const std::filesystem::path& path, const Evaluator& evaluator,
                    const std::string& pageJson = {});

// Reads `path` and makes it the evaluator's state for `page`. Throws qs::Error whose message
// starts with the path; the state is unchanged then. Notes on the members read go to `notes`
// (if given), also when loading then fails. `allowMissing` as Evaluator::loadState.
void loadStateFile(const std::filesystem::path& path, const Page& page, Evaluator& evaluator,
                   const std::filesystem::path& pageDir = {},
                   std::vector<std::string>* notes = nullptr, bool allowMissing = false);

}  // namespace qs
