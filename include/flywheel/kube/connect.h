#pragma once

#include "flywheel/common/status.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/config.h"

namespace flywheel::kube {

// Builds a Client for `config`: TLS from its PEM data (verified against tls_server_name when set,
// else the server's host), the Authorization header from its token source (static token, rotated
// token file) or basic auth, an exec plugin's token or client certificate (run on first use and
// again when the credential expires or is rejected), impersonation and the client-side rate
// limit. Fails with kInvalidArgument on a config it cannot use (e.g. a key that does not match
// its certificate).
Result<Client> Connect(const RestConfig& config, Clock* clock = nullptr);

}  // namespace flywheel::kube
