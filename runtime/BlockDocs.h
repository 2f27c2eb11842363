#pragma once

#include <string>
#include <vector>

#include "runtime/BlockDescriptor.h"

namespace qs {

// The block reference (docs/blocks/), generated from the descriptors so that it cannot drift from
// what the blocks do: one page per block in the spirit of enuSpace's API page (summary, ports,
// attributes with defaults and ranges, outputs and their result names, how it looks in a page
// file), and an index grouped by palette category. Written by `quantspace-docs OUTDIR`.
std::string blockReferencePage(const BlockDescriptor& desc);
std::string blockReferenceIndex(const std::vector<const BlockDescriptor*>& descs);
// File name of a block's page: "<Type>.md".
std::string blockReferenceFileName(const BlockDescriptor& desc);

}  // namespace qs
