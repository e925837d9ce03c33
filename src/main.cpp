#include <iostream>
#include <string>
#include <vector>

#include "flywheel/cli/app.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  flywheel::cli::App app(flywheel::cli::DefaultCommands());
  return app.Run(args, std::cout, std::cerr);
}
