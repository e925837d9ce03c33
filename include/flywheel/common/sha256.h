#pragma once

#include <string>
#include <string_view>

namespace flywheel {

// Lower-case hex SHA-256 of `data`: cache keys and label values derived from names or
// credentials (never reversible to a secret).
std::string Sha256Hex(std::string_view data);

}  // namespace flywheel
