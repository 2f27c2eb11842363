#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/BlockDescriptor.h"

namespace qs {

// All block types known to a process. Filled once at start-up (blocks/RegisterBlocks.h), then
// read-only and safe to share between threads.
class BlockRegistry {
 public:
  // Throws qs::Error if the type is already registered or the descriptor is inconsistent.
  void add(BlockDescriptor descriptor);
  const BlockDescriptor* find(const std::string& type) const;
  // Sorted by category, then type.
  std::vector<const BlockDescriptor*> all() const;

 private:
  std::map<std::string, std::unique_ptr<BlockDescriptor>> types_;
};

// A tensor input or output port: the one way block declarations build their ports.
PortDescriptor tensorInput(std::string name, RankRule rank, std::string doc);
PortDescriptor tensorOutput(std::string name, RankRule rank, std::string doc);
// The same with the dtypes the port takes or gives (float32 only when not said).
PortDescriptor tensorInput(std::string name, RankRule rank, std::vector<DType> dtypes,
                           std::string doc);
PortDescriptor tensorOutput(std::string name, RankRule rank, std::vector<DType> dtypes,
                            std::string doc);

// Adds the standard scope and attrs pins (enuSpace's pin layout) in front of `ports` and after the
// tensor inputs, so that every op block has the same family resemblance.
std::vector<PortDescriptor> opPorts(std::vector<PortDescriptor> inputs,
                                    std::vector<PortDescriptor> outputs);

}  // namespace qs
