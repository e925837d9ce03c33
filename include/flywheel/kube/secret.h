#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "flywheel/common/status.h"

namespace flywheel::kube {

// The decoded value of `key` in a Secret's `data`; "" when the key is absent. A value that is
// not base64 is kInvalidArgument saying so, where `what` names the Secret (e.g. "Secret ns/x
// (spec.prometheus.secretRef)"); the value itself never appears in a message.
Result<std::string> SecretValue(const nlohmann::json& secret, std::string_view key,
                                const std::string& what);

}  // namespace flywheel::kube
