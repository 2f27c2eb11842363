#include "runtime/EvalWiring.h"

#include "runtime/Error.h"

namespace qs {

namespace {

// Why the link `l` into `desc` cannot be accepted; empty if it can.
std::string linkProblem(const Page& page, const Link& l, int fromIndex, const BlockDescriptor& desc,
                        const std::vector<const PortDescriptor*>& tensorInputs,
                        std::span<const BlockDescriptor* const> descs, const Wiring& sofar) {
  const std::string& port = l.to.port.str();
  // The wire's description is only needed for a message.
  auto src = [&] { return l.from.block.str() + "." + l.from.port.str(); };
  const PortDescriptor* p = desc.findPort(port, PortDirection::Input);
  if (!p) p = desc.findPort(port);
  if (!p) {
    std::string names;
    for (auto* in : tensorInputs) names += (names.empty() ? "" : ", ") + in->name;
    return "has no input '" + port + "' (wired from " + src() +
           "; inputs are: " + (names.empty() ? "none" : names) + ")";
  }
  if (p->direction == PortDirection::Output)
    return "'" + port + "' is an output; the wire from " + src() + " must go to an input";
  if (p->kind == PortKind::Scope)
    return "the scope pin is bound to the page and cannot be wired (wire from " + src() + ")";
  if (p->kind == PortKind::Attrs)
    return "the attrs pin takes no wire: it stands for the block's attributes, set on the block "
           "(wire from " +
           src() + ")";
  if (const WiredInput* twice = sofar.find(port))
    return "input '" + port + "' is wired twice (from " + twice->link->from.block.str() + "." +
           twice->link->from.port.str() + " and " + src() + ")";
  const BlockDescriptor* fromDesc = descs[fromIndex];
  if (!fromDesc) return {};
  const PortDescriptor* fp = fromDesc->findPort(l.from.port.str(), PortDirection::Output);
  if (!fp || fp->kind != PortKind::Tensor)
    return "input '" + port + "' is wired to " + src() + ", but " + page.blocks()[fromIndex].type +
           " has no output '" + l.from.port.str() + "'";
  return {};
}

}  // namespace

void checkWiring(const Page& page, int block, const BlockDescriptor& desc,
                 const std::vector<const PortDescriptor*>& tensorInputs,
                 std::span<const BlockDescriptor* const> descs, Wiring& out) {
  out.inputs.clear();
  out.error.clear();
  for (int li : page.incomingLinks(block)) {
    const Link& l = page.links()[li];
    const int from = page.linkFrom(li);
    out.error = linkProblem(page, l, from, desc, tensorInputs, descs, out);
    if (!out.error.empty()) return;
    out.inputs.push_back(
        {&l.to.port.str(), &l, from, desc.findPort(l.to.port.str(), PortDirection::Input)});
  }
  for (const PortDescriptor* in : tensorInputs)
    if (in->required && !out.find(in->name)) {
      out.error = "input '" + in->name + "' is not wired";
      return;
    }
}

void checkRanks(const std::vector<const PortDescriptor*>& tensorInputs, const BlockContext& ctx) {
  for (const PortDescriptor* in : tensorInputs)
    if (ctx.hasInput(in->name) &&
        !in->rank.accepts(static_cast<int>(ctx.inputShape(in->name).size())))
      throw Error("input '" + in->name + "' must be " + in->rank.describe() + " but is rank " +
                  std::to_string(ctx.inputShape(in->name).size()));
}

std::string dtypeProblem(const PortDescriptor& port, DType given) {
  if (port.takes(given)) return {};
  return "input '" + port.name + "' takes " + port.describeDTypes() + ", not " + dtypeName(given);
}

}  // namespace qs
