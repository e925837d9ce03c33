#pragma once

#include <string>
#include <vector>

namespace flywheel::testing {

// The outcome of a finished child process.
struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128+signal when killed by a signal
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs argv[0] (looked up in PATH) with the given arguments and optional stdin, waits for it,
// and returns its exit code and output. No shell is involved, so arguments need no quoting.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& input = "");

}  // namespace flywheel::testing
