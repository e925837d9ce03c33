#pragma once

#include <string_view>

namespace flywheel::git {

// The outcome of looking a server's ssh host key up in known_hosts lines.
enum class HostKeyCheck {
  kMatch,        // a line for the host carries exactly this key
  kMismatch,     // the host is listed, but with other keys (or this key is @revoked)
  kUnknownHost,  // no line names the host
};

// Checks `raw_key` (the ssh wire-format public key blob, as libssh2 hands it over) of `host`
// listening on `port` against OpenSSH known_hosts text: plain and hashed (|1|salt|hash) host
// patterns, "[host]:port" for non-default ports, '*'/'?' wildcards, '!' negation, @revoked.
// @cert-authority lines are ignored (certificates are not supported).
HostKeyCheck CheckKnownHosts(std::string_view known_hosts, std::string_view host, int port,
                             std::string_view raw_key);

}  // namespace flywheel::git
