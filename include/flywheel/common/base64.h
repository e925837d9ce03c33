#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace flywheel {

// Decodes standard base64 with padding, ignoring '\r' and '\n' (Go's base64.StdEncoding, which
// decodes kubeconfig `*-data` fields and Secret data); nullopt when the text is not valid base64.
std::optional<std::string> Base64Decode(std::string_view text);

// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);

}  // namespace flywheel
