#include "flywheel/git/secret_credentials.h"

#include "flywheel/git/url.h"
#include "flywheel/kube/secret.h"

namespace flywheel::git {

using nlohmann::json;

namespace {

// True for an ssh URL (ssh:// or the scp-like user@host:path).
bool IsSshUrl(const std::string& url) {
  if (url.starts_with("ssh://")) return true;
  return url.find("://") == std::string::npos && url.find('@') != std::string::npos;
}

}  // namespace

Result<Credentials> CredentialsFromSecret(const json& secret, const std::string& what,
                                          const std::string& url) {
  Credentials c;
  for (auto [name, field] : {std::pair{"username", &c.username},
                             {"password", &c.password},
                             {"token", &c.token},
                             {"identity", &c.ssh_private_key},
                             {"known_hosts", &c.ssh_known_hosts}}) {
    auto v = kube::SecretValue(secret, name, what);
    if (!v.ok()) return v.status();
    *field = std::move(*v);
  }
  if (IsSshUrl(url)) {
    if (c.ssh_private_key.empty()) {
      return Status(
          Code::kInvalidArgument,
          what + " has no key \"identity\" (the SSH private key for " + RedactUrl(url) + ")");
    }
    if (c.ssh_known_hosts.empty()) {
      return Status(Code::kInvalidArgument,
                    what + " has no key \"known_hosts\": SSH host keys are always verified");
    }
  } else if (c.token.empty()) {
    if (c.username.empty() && c.password.empty()) {
      return Status(Code::kInvalidArgument,
                    what + " has none of the keys \"username\" and \"password\", or \"token\"");
    }
    if (c.username.empty() || c.password.empty()) {
      return Status(Code::kInvalidArgument,
                    what + " has \"" + (c.username.empty() ? "password" : "username") +
                        "\" but no \"" + (c.username.empty() ? "username" : "password") + "\"");
    }
  }
  return c;
}

}  // namespace flywheel::git
