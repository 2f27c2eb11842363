#pragma once

#include <span>
#include <string>
#include <vector>

#include "runtime/BlockDescriptor.h"
#include "runtime/Page.h"

namespace qs {

// One accepted link into a block's tensor input.
struct WiredInput {
  const std::string* port;  // the input port's name (the link's own string)
  const Link* link;
  int from;                     // index of the source block
  const PortDescriptor* input;  // the port it lands on
};

// The links into one block, checked against its descriptor and its sources' descriptors.
struct Wiring {
  // The accepted links, in the page's order of the block's incoming links, up to the first
  // problem (the links after it are not looked at).
  std::vector<WiredInput> inputs;
  // The first problem, empty if none: the message without the block's name.
  std::string error;

  const WiredInput* find(const std::string& port) const {
    for (const WiredInput& w : inputs)
      if (*w.port == port) return &w;
    return nullptr;
  }
};

// Checks the links into block `block` of `page`, whose descriptor is `desc` (`tensorInputs` =
// desc.inputs()): every link lands on a tensor input, once, and comes from a tensor output of its
// source; then every required input is wired. `descs` holds every block's descriptor by index
// (nullptr for an unknown type: links from such a block are accepted, the block fails on its own).
// Reuses `out`'s storage.
void checkWiring(const Page& page, int block, const BlockDescriptor& desc,
                 const std::vector<const PortDescriptor*>& tensorInputs,
                 std::span<const BlockDescriptor* const> descs, Wiring& out);

// The descriptor's rank rules for the wired inputs; throws qs::Error naming the first input whose
// rank is not accepted. Runs after the block's own check(), which gives TensorFlow's messages in
// TensorFlow's order.
void checkRanks(const std::vector<const PortDescriptor*>& tensorInputs, const BlockContext& ctx);

// "input 'labels' takes int32 or int64, not float32"; empty when `port` takes `given`. The editor
// asks it while a wire is dragged.
std::string dtypeProblem(const PortDescriptor& port, DType given);

}  // namespace qs
