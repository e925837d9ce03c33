#include "flywheel/git/secret_credentials.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>

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

// The credentials `value(key)` gives for the Secret keys, checked for `url` by one set of rules
// (the Secret's and the mounted files' alike); `what` names their source in messages.
Result<Credentials> CredentialsFromKeys(
    const std::function<Result<std::string>(std::string_view key)>& value, const std::string& what,
    const std::string& url) {
  Credentials c;
  for (auto [name, field] : {std::pair{"username", &c.username},
                             {"password", &c.password},
                             {"token", &c.token},
                             {"identity", &c.ssh_private_key},
                             {"known_hosts", &c.ssh_known_hosts}}) {
    auto v = value(name);
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

}  // namespace

Result<Credentials> CredentialsFromSecret(const json& secret, const std::string& what,
                                          const std::string& url) {
  return CredentialsFromKeys(
      [&](std::string_view key) { return kube::SecretValue(secret, key, what); }, what, url);
}

Result<Credentials> CredentialsFromFiles(const std::filesystem::path& dir, const std::string& url) {
  std::string what = "credentials " + dir.string();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status(Code::kInvalidArgument, what + ": not a directory");
  }
  return CredentialsFromKeys(
      [&](std::string_view key) -> Result<std::string> {
        std::filesystem::path file = dir / key;
        std::error_code exists_ec;
        if (!std::filesystem::exists(file, exists_ec)) return std::string();
        std::ifstream in(file, std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (!in.is_open() || in.bad()) {
          return Status(Code::kInvalidArgument,
                        what + ": cannot read " + std::string(key) + ": " + std::strerror(errno));
        }
        return content;
      },
      what, url);
}

}  // namespace flywheel::git
