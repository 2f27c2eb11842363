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
  registerCastBlock(registry);
  registerQuantizationReportBlock(registry);
  registerCalibratorBlocks(registry);
  registerVariableBlocks(registry);
  registerOptimizerBlocks(registry);
  registerActivationBlocks(registry);
  registerPoolBlocks(registry);
  registerShapeBlocks(registry);
  registerLossBlocks(registry);
  registerDenseBlocks(registry);
  registerConvBlocks(registry);
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
