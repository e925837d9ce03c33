#pragma once

#include "flywheel/common/status.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/config.h"

namespace flywheel::kube {

// Builds a Client for `config`: TLS from its PEM data, the Authorization header from its token
// source (static token, rotated token file or exec plugin) or basic auth, impersonation and the
// client-side rate limit. Fails with kInvalidArgument on a config it cannot use.
Result<Client> Connect(const RestConfig& config, Clock* clock = nullptr);

}  // namespace flywheel::kube
