#pragma once

// What the Pipeline and PipelineRun controllers share (not part of the component's interface).

#include <string>

#include "flywheel/common/status.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/kube/client.h"

namespace flywheel::pipeline::internal {

inline constexpr const char* kPipelineKind = "Pipeline";
inline constexpr const char* kRunKind = "PipelineRun";

inline std::string KeyOf(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// The git credentials in Secret `ns/name` for `url` ("" = none), `field` naming the spec
// field that refers to it in messages. NotFound / InvalidArgument name the Secret and key.
Result<git::Credentials> GitCredentials(const kube::Client& client, const std::string& ns,
                                        const std::string& name, const std::string& field,
                                        const std::string& url);

// The condition reason for a failed git operation: SourceNotFound, AuthenticationFailed,
// SourceUnavailable, InvalidSource, HostKeyUnknown, GitError.
std::string GitReason(const Status& status);

}  // namespace flywheel::pipeline::internal
