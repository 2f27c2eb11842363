#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "runtime/BlockRegistry.h"

namespace qs {

// quantspace-run (docs/formats.md). Returns the exit status: 0 every requested result computed,
// 1 some block failed, 2 the page could not be read (or the command line is wrong).
int runCli(const std::vector<std::string>& args, const BlockRegistry& registry, std::ostream& out,
           std::ostream& err);

}  // namespace qs
