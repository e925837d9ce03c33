#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace flywheel::git {

// A repository-relative path in canonical form: "." and empty segments dropped, ".." applied,
// no leading "./" or trailing "/"; "" is the root. nullopt when it climbs above the root.
std::optional<std::string> NormalizeRepoPath(std::string_view path);

}  // namespace flywheel::git
