#pragma once

// Helpers shared by the kubeconfig, in-cluster and exec credential loaders (private to src/kube).

#include <optional>
#include <string>
#include <string_view>

#include "flywheel/common/status.h"
#include "flywheel/kube/config.h"

namespace flywheel::kube::internal {

// The whole file, or kNotFound/kPermissionDenied/kInternal "cannot read <path>: <reason>".
Result<std::string> ReadFileText(const std::string& path);

// `text` without leading and trailing ASCII whitespace.
std::string TrimSpace(std::string_view text);

// Whether `text` holds at least one PEM block ("-----BEGIN ...-----").
bool LooksLikePem(std::string_view text);

// `env` itself, or the process environment when it is empty.
EnvLookup EnvOrProcess(const EnvLookup& env);

}  // namespace flywheel::kube::internal
