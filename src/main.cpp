#include <malloc.h>

#include <iostream>
#include <string>
#include <vector>

#include "flywheel/cli/app.h"

int main(int argc, char** argv) {
  // glibc gives every thread that allocates its own malloc arena (up to 8 per core), and each
  // keeps freed memory resident; an operator's many short-lived worker and apply threads then
  // pay in RSS for no speed. Two arenas keep peak RSS close to what is really in use.
  mallopt(M_ARENA_MAX, 2);
  const std::vector<std::string> args =
      flywheel::cli::ArgumentsFor(argv[0], std::vector<std::string>(argv + 1, argv + argc));
  flywheel::cli::App app(flywheel::cli::DefaultCommands(), flywheel::cli::ProgramName(argv[0]));
  return app.Run(args, std::cout, std::cerr);
}
