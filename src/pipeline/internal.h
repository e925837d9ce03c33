#pragma once

// What the Pipeline and PipelineRun controllers share (not part of the component's interface).

#include <algorithm>
#include <chrono>
#include <string>

#include "flywheel/common/status.h"
#include "flywheel/common/time.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/kube/client.h"

namespace flywheel::pipeline::internal {

inline constexpr const char* kPipelineKind = "Pipeline";
inline constexpr const char* kRunKind = "PipelineRun";

// The delay until `when`, rounded up to the millisecond and at least 100 ms (a reconcile woken a
// fraction too soon would find nothing due and wait a whole period more).
inline std::chrono::milliseconds Until(Time when, Time now) {
  return std::max(std::chrono::ceil<std::chrono::milliseconds>(when - now),
                  std::chrono::milliseconds(100));
}

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
