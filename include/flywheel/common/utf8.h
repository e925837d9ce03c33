#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace flywheel {

// `text` with every byte that is not part of a well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF) replaced by U+FFFD. Text that reaches JSON from
// outside (server bodies, git and tool output) goes through this first: nlohmann::json refuses
// to serialize invalid UTF-8.
std::string ToValidUtf8(std::string_view text);

// The longest prefix of `text` that is at most `max_bytes` long and does not end inside a
// multi-byte character. `text` is assumed to be valid UTF-8.
std::string_view TruncateUtf8(std::string_view text, size_t max_bytes);

}  // namespace flywheel
