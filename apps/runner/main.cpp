#include <iostream>

#include "apps/runner/Runner.h"
#include "blocks/RegisterBlocks.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  return qs::runCli(args, qs::builtinRegistry(), std::cout, std::cerr);
}
