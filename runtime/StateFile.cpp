#include "runtime/StateFile.h"

#include <optional>

#include "runtime/Error.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"
#include "runtime/Provenance.h"

namespace qs {

namespace {
// The member holding the number of steps taken, beside the held values.
const std::string kStepKey = "__step__";
}  // namespace

bool pageHasState(const Page& page, const BlockRegistry& registry) {
  for (const Block& b : page.blocks())
    if (const BlockDescriptor* d = registry.find(b.type);
        d && (d->variable || !d->stateSlots.empty()))
      return true;
  return false;
}

StateFileContents readStateFile(const std::filesystem::path& path) {
  StateFileContents contents;
  std::optional<int64_t> count;
  for (const NpzMember& m : readNpz(path)) {
    const std::string source = path.string() + ": member '" + m.key + ".npy'";
    if (m.key == kStepKey) {
      count = parseNpyInt64(m.bytes, source);
      if (*count < 0) throw Error(source + ": a step count cannot be negative");
      continue;
    }
    std::string note;
    Tensor t = parseNpy(m.bytes, source, &note);
    // Variables and optimizer slots hold float32 (a float64 file has been rounded to it).
    if (t.dtype() != DType::Float32)
      throw Error(source + ": holds " + dtypeName(t.dtype()) +
                  ", but Variables and optimizer slots are float32");
    contents.values.emplace(m.key, std::move(t));
    if (!note.empty()) contents.notes.push_back(source + ": " + note);
  }
  if (!count)
    throw Error(path.string() + ": no member '" + kStepKey + ".npy' (the number of steps taken)");
  contents.steps = *count;
  return contents;
}

void writeStateFile(const std::filesystem::path& path, const Evaluator& evaluator,
                    const std::string& pageJson) {
  std::vector<NpzMember> members;
  for (const auto& [name, t] : evaluator.stateTensors()) members.push_back({name, npyBytes(t)});
  members.push_back({kStepKey, npyInt64Bytes(evaluator.stepCount())});
  if (!pageJson.empty()) members.push_back({kNpzPageMember, pageJson});
  members.push_back({kNpzVersionMember, std::string(quantSpaceVersion()) + "\n"});
  writeNpz(path, members);
}

void loadStateFile(const std::filesystem::path& path, const Page& page, Evaluator& evaluator,
                   const std::filesystem::path& pageDir, std::vector<std::string>* notes,
                   bool allowMissing) {
  const StateFileContents contents = readStateFile(path);
  if (notes) notes->insert(notes->end(), contents.notes.begin(), contents.notes.end());
  try {
    evaluator.loadState(page, contents.values, contents.steps, pageDir, allowMissing);
  } catch (const Error& e) {
    // readNpz/parseNpy name the file already; loadState names only the member.
    const std::string what = e.what();
    if (what.rfind(path.string(), 0) == 0) throw;
    throw Error(path.string() + ": " + what);
  }
}

}  // namespace qs
