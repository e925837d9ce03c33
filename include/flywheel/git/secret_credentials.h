#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "flywheel/common/status.h"
#include "flywheel/git/repository_cache.h"

namespace flywheel::git {

// The git credentials a Kubernetes Secret holds for `url` (shared by every controller that
// fetches or pushes): keys `username` + `password`, or `token`, for http(s); `identity` (the
// SSH private key) + `known_hosts` for ssh (host keys are always verified). `what` names the
// Secret and the field that referred to it in messages ("Secret ns/x (spec.source.secretRef)");
// a missing or malformed key is InvalidArgument naming it, never showing a value.
Result<Credentials> CredentialsFromSecret(const nlohmann::json& secret, const std::string& what,
                                          const std::string& url);

// The same credentials from a Secret mounted as files (the build pod's clone): one file per key
// in `dir`, named like the keys, raw content (no base64). The same rules and messages as
// CredentialsFromSecret, with "credentials <dir>" naming the source; a missing file is a
// missing key; `dir` not a directory or a file that cannot be read is InvalidArgument.
Result<Credentials> CredentialsFromFiles(const std::filesystem::path& dir, const std::string& url);

}  // namespace flywheel::git
