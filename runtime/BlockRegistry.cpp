#include "runtime/BlockRegistry.h"

#include <algorithm>
#include <set>

#include "runtime/Error.h"

namespace qs {

void BlockRegistry::add(BlockDescriptor d) {
  if (d.type.empty()) throw Error("a block descriptor has no type");
  if (types_.count(d.type)) throw Error("block type '" + d.type + "' is registered twice");
  if (!d.check || !d.compute) throw Error("block type '" + d.type + "' has no check or compute");
  // An input and an output may share a name (an optimizer's slot and its next value).
  std::set<std::pair<std::string, PortDirection>> names;
  for (const auto& p : d.ports)
    if (!names.insert({p.name, p.direction}).second)
      throw Error("block type '" + d.type + "' declares port '" + p.name + "' twice");
  for (const auto& s : d.stateSlots)
    if (!d.findPort(s.input, PortDirection::Input) || !d.findPort(s.output, PortDirection::Output))
      throw Error("block type '" + d.type + "': state slot '" + s.input +
                  "' needs an input of that name and an output '" + s.output + "'");
  for (const auto& a : d.attrs)
    if (a.defaultValue && a.required)
      throw Error("block type '" + d.type + "': attribute '" + a.name +
                  "' is required and has a default");
  auto owned = std::make_unique<BlockDescriptor>(std::move(d));
  std::string key = owned->type;
  types_.emplace(std::move(key), std::move(owned));
}

const BlockDescriptor* BlockRegistry::find(const std::string& type) const {
  auto it = types_.find(type);
  return it == types_.end() ? nullptr : it->second.get();
}

std::vector<const BlockDescriptor*> BlockRegistry::all() const {
  std::vector<const BlockDescriptor*> r;
  for (const auto& [_, d] : types_) r.push_back(d.get());
  std::stable_sort(r.begin(), r.end(), [](auto* a, auto* b) {
    return a->category != b->category ? a->category < b->category : a->type < b->type;
  });
  return r;
}

PortDescriptor tensorInput(std::string name, RankRule rank, std::string doc) {
  return {std::move(name), PortDirection::Input, PortKind::Tensor, rank, true, std::move(doc)};
}

PortDescriptor tensorOutput(std::string name, RankRule rank, std::string doc) {
  return {std::move(name), PortDirection::Output, PortKind::Tensor, rank, true, std::move(doc)};
}

PortDescriptor tensorInput(std::string name, RankRule rank, std::vector<DType> dtypes,
                           std::string doc) {
  PortDescriptor p = tensorInput(std::move(name), rank, std::move(doc));
  p.dtypes = std::move(dtypes);
  return p;
}

PortDescriptor tensorOutput(std::string name, RankRule rank, std::vector<DType> dtypes,
                            std::string doc) {
  PortDescriptor p = tensorOutput(std::move(name), rank, std::move(doc));
  p.dtypes = std::move(dtypes);
  return p;
}

std::vector<PortDescriptor> opPorts(std::vector<PortDescriptor> inputs,
                                    std::vector<PortDescriptor> outputs) {
  std::vector<PortDescriptor> ports;
  ports.push_back({"scope", PortDirection::Input, PortKind::Scope, RankRule::any(), false,
                   "Bound to the page's scope (thread count, state); never wired."});
  for (auto& p : inputs) {
    p.direction = PortDirection::Input;
    ports.push_back(std::move(p));
  }
  ports.push_back({"attrs", PortDirection::Input, PortKind::Attrs, RankRule::any(), false,
                   "The block's attributes, set in the attribute editor or under \"attrs\" in the "
                   "page file; enuSpace's pin, kept for its look: it takes no wire."});
  for (auto& p : outputs) {
    p.direction = PortDirection::Output;
    ports.push_back(std::move(p));
  }
  return ports;
}

}  // namespace qs
