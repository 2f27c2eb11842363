#include "runtime/ResultNames.h"

#include "runtime/Evaluator.h"

namespace qs {

std::string resultNameProblem(const Page& page, const BlockRegistry& registry,
                              std::string_view name) {
  const auto ref = parseResultName(name);
  if (!ref) return "'" + std::string(name) + "' is not a result name (expected BLOCK.result_PORT)";
  const Block* b = page.find(ref->block);
  if (!b) return "no block '" + ref->block.str() + "' on the page";
  const BlockDescriptor* d = registry.find(b->type);
  if (!d) return {};
  const PortDescriptor* p = d->findPort(ref->port, PortDirection::Output);
  if (p && p->direction == PortDirection::Output && p->kind == PortKind::Tensor) return {};
  std::string names;
  for (const PortDescriptor* o : d->outputs())
    names += (names.empty() ? "" : ", ") + b->id.str() + "." + resultName(o->name);
  return "block '" + b->id.str() + "' (" + d->type + ") has no result '" + resultName(ref->port) +
         "' (it has: " + (names.empty() ? "none" : names) + ")";
}

}  // namespace qs
