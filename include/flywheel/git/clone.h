#pragma once

#include <chrono>
#include <filesystem>
#include <stop_token>
#include <string>

#include "flywheel/common/status.h"
#include "flywheel/git/repository_cache.h"

namespace flywheel::git {

// What Clone checks out, and where (the build pod's first container, `flywheel git-clone`).
struct CloneRequest {
  std::string url;             // any URL RepositoryCache fetches, file:// included
  std::string branch;          // fetched first; a local branch of this name is left at revision
  std::string revision;        // the full 40-hex SHA to check out
  std::filesystem::path dest;  // the work tree: missing (created) or an empty directory
  Credentials credentials;     // none for an anonymous clone
  std::chrono::seconds timeout{600};  // for all network operations of the clone together
};

// Clones `request.url` into `request.dest` and checks out exactly `request.revision`: a detached
// HEAD at it, the work tree and the index written (`git status` is clean), a local branch
// `request.branch` at it, and a remote "origin" with the URL without credentials (never the
// credentials themselves: they are used in memory only). It fetches the branch; when the
// revision is not in it, the revision itself (servers that allow it), then every branch and tag.
// No git config outside `dest` is read, and no hooks run. Submodules are not cloned.
// Returns what the revision is. Errors, each naming the URL without credentials: InvalidArgument
// (a bad URL, revision or branch name; `dest` not an empty directory), NotFound ("branch "b" not
// found in <url>"; "revision <sha> not found in <url> (branch <b>)"; a missing repository),
// Unauthenticated, PermissionDenied, Unavailable (unreachable, timeout), FailedPrecondition (ssh
// host key not in known_hosts), Cancelled (`stop`), Internal (the disk). On an error what it
// wrote below `dest` is removed again; `dest` itself stays.
Result<CommitInfo> Clone(const CloneRequest& request, std::stop_token stop = {});

}  // namespace flywheel::git
