#pragma once

#include <string>
#include <string_view>

#include "runtime/BlockRegistry.h"
#include "runtime/Page.h"

namespace qs {

// Why `name` is not a result of `page`, or "" when it is: not of the form BLOCK.result_PORT, no
// such block, or a block whose type has no such output (the message lists the results it has).
// The outputs of a block of unknown type are unknown: any port name is taken as given.
std::string resultNameProblem(const Page& page, const BlockRegistry& registry,
                              std::string_view name);

}  // namespace qs
