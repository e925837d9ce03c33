#include "bash_completion.h"

#include <gtest/gtest.h>

#include <sstream>

#include "process.h"

namespace flywheel::testing {

std::vector<std::string> BashComplete(const std::string& script_path, const std::string& line) {
  auto r = RunProcess({"bash", "-c",
                       "source \"$1\" && COMP_LINE=$2 && COMP_POINT=${#COMP_LINE} && { _flywheel; "
                       "printf '%s\\n' \"${COMPREPLY[@]}\"; }",
                       "bash", script_path, line});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> words;
  std::istringstream lines(r.out);
  for (std::string w; std::getline(lines, w);) {
    if (!w.empty()) words.push_back(w);
  }
  return words;
}

}  // namespace flywheel::testing
