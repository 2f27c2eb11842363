#include "blocks/RegisterBlocks.h"

namespace qs {

void registerBuiltinBlocks(BlockRegistry& registry) {
  registerSourceBlocks(registry);
  registerFakeQuantBlocks(registry);
  registerRandomBlocks(registry);
  registerLinSpaceBlock(registry);
  registerDatasetBlock(registry);
  registerReductionBlocks(registry);
  registerElementwiseBlocks(registry);
  registerQuantizationReportBlock(registry);
  registerVariableBlocks(registry);
  registerOptimizerBlocks(registry);
}

const BlockRegistry& builtinRegistry() {
  static const BlockRegistry registry = [] {
    BlockRegistry r;
    registerBuiltinBlocks(r);
    return r;
  }();
  return registry;
}

}  // namespace qs
