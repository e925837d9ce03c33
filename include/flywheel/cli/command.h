#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace flywheel::cli {

// The streams and arguments a subcommand runs with; tests pass string streams.
struct Invocation {
  std::vector<std::string> args;  // arguments after the subcommand name
  std::ostream& out;
  std::ostream& err;
  // How the user invoked the binary, for usage text: "flywheel", or "kubectl flywheel" when
  // kubectl runs it as a plugin (see ProgramName in app.h).
  std::string program = "flywheel";
};

// `usage` with each "  flywheel " (an indented example command line) spelled as `program`
// invokes it ("  kubectl flywheel get ...").
std::string UsageFor(std::string_view usage, std::string_view program);

// One `flywheel <name>` subcommand: what it is called, a one-line summary for `--help`, and
// the function that runs it and returns the process exit code.
struct Command {
  std::string name;
  std::string summary;
  std::function<int(const Invocation&)> run;
};

// Exit codes shared by every subcommand (the same meaning as kubectl's: 0 ok, 1 failure,
// 2 bad usage).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

}  // namespace flywheel::cli
