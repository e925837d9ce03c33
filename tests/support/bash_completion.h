#pragma once

#include <string>
#include <vector>

namespace flywheel::testing {

// What a real bash offers for the command line `line` (cursor at its end) with the completion
// script at `script_path` loaded: its function `_flywheel` run as bash runs it for a TAB.
// Fails the current test if bash cannot load the script.
std::vector<std::string> BashComplete(const std::string& script_path, const std::string& line);

}  // namespace flywheel::testing
