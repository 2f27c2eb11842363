#pragma once
// Building a page in code, for tests and benchmarks that need a graph no example page has.

#include <string>
#include <utility>

#include "runtime/Json.h"
#include "runtime/Page.h"

namespace qs::testing {

inline void addBlock(Page& page, const std::string& id, const std::string& type, Json attrs) {
  Block b;
  b.id = BlockId(id);
  b.type = type;
  b.attrs = std::move(attrs);
  page.addBlock(std::move(b));
}

inline void link(Page& page, const std::string& from, const std::string& fromPort,
                 const std::string& to, const std::string& toPort) {
  page.addLink({{BlockId(from), PortName(fromPort)}, {BlockId(to), PortName(toPort)}});
}

}  // namespace qs::testing
