#include "internal.h"

#include "flywheel/git/secret_credentials.h"

namespace flywheel::pipeline::internal {

Result<git::Credentials> GitCredentials(const kube::Client& client, const std::string& ns,
                                        const std::string& name, const std::string& field,
                                        const std::string& url) {
  if (name.empty()) return git::Credentials{};
  const std::string what = "Secret " + ns + "/" + name + " (" + field + ")";
  auto secret = client.Get("v1", "Secret", ns, name);
  if (!secret.ok()) {
    if (secret.status().code() == Code::kNotFound)
      return Status(Code::kNotFound, what + " not found");
    return Status(secret.status().code(), "cannot read " + what + ": " + secret.status().message());
  }
  return git::CredentialsFromSecret(*secret, what, url);
}

std::string GitReason(const Status& status) {
  switch (status.code()) {
    case Code::kNotFound:
      return "SourceNotFound";
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
      return "AuthenticationFailed";
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      return "SourceUnavailable";
    case Code::kInvalidArgument:
      return "InvalidSource";
    case Code::kFailedPrecondition:
      return "HostKeyUnknown";
    default:
      return "GitError";
  }
}

}  // namespace flywheel::pipeline::internal
