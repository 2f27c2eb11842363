// Assign, AssignAdd, AssignSub and TensorFlow's Apply* optimizers: blocks that update a Variable.

#include "blocks/RegisterBlocks.h"
#include "blocks/state/OptimizerMath.h"
#include "runtime/Error.h"

namespace qs {

void registerOptimizerBlocks(BlockRegistry& registry) {
  (void)registry;
}

}  // namespace qs
