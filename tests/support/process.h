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

// A child process that runs while the test goes on; its stdout and stderr go to `log_path`.
// The destructor kills it (SIGKILL) if it still runs, so no test leaves a process behind.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  int pid() const { return pid_; }
  bool Running();
  void Signal(int sig);
  // Waits up to `timeout_ms` for the exit; returns the exit code (128+signal when killed), or
  // -1 on timeout.
  int Wait(int timeout_ms);
  // Everything the process wrote so far.
  std::string Log() const;

 private:
  int pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

}  // namespace flywheel::testing
