#pragma once

#include "runtime/BlockRegistry.h"

namespace qs {

// Adds every built-in block type. Each family registers itself through its own function below,
// so adding a family means one line in RegisterBlocks.cpp.
void registerBuiltinBlocks(BlockRegistry& registry);

// The process-wide registry with every built-in block, built on first use.
const BlockRegistry& builtinRegistry();

void registerSourceBlocks(BlockRegistry& registry);             // sources/
void registerFakeQuantBlocks(BlockRegistry& registry);          // array_ops/
void registerRandomBlocks(BlockRegistry& registry);             // sources/RandomBlocks.cpp
void registerLinSpaceBlock(BlockRegistry& registry);            // sources/LinSpaceBlock.cpp
void registerDatasetBlock(BlockRegistry& registry);             // sources/DatasetBlock.cpp
void registerReductionBlocks(BlockRegistry& registry);          // math/ReductionBlocks.cpp
void registerElementwiseBlocks(BlockRegistry& registry);        // math/ElementwiseBlocks.cpp
void registerCastBlock(BlockRegistry& registry);                // math/CastBlock.cpp
void registerQuantizationReportBlock(BlockRegistry& registry);  // array_ops/QuantizationReport.cpp
void registerCalibratorBlocks(BlockRegistry& registry);         // quant/CalibratorBlocks.cpp
void registerVariableBlocks(BlockRegistry& registry);           // state/VariableBlocks.cpp
void registerOptimizerBlocks(BlockRegistry& registry);          // state/OptimizerBlocks.cpp
void registerActivationBlocks(BlockRegistry& registry);         // nn/ActivationBlocks.cpp
void registerPoolBlocks(BlockRegistry& registry);               // nn/PoolBlocks.cpp
void registerShapeBlocks(BlockRegistry& registry);              // nn/ShapeBlocks.cpp
void registerLossBlocks(BlockRegistry& registry);               // nn/LossBlocks.cpp
void registerDenseBlocks(BlockRegistry& registry);              // nn/DenseBlocks.cpp
void registerConvBlocks(BlockRegistry& registry);               // nn/ConvBlocks.cpp

}  // namespace qs
