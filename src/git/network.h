#pragma once

// The libgit2 plumbing every network operation of the git component shares (the repository
// cache's fetch and push, RemoteHead, the build pod's clone): URL checks, the credential, host
// key and deadline callbacks, and the one mapping of libgit2 failures onto Status codes. Internal
// to src/git/.

#include <git2.h>

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "deadline_stream.h"
#include "flywheel/common/status.h"
#include "flywheel/git/repository_cache.h"
#include "libgit2_handles.h"

namespace flywheel::git {

using SteadyClock = std::chrono::steady_clock;

// The parts of a git URL the network code needs. scp-like "user@host:path" is ssh.
struct UrlParts {
  std::string scheme;  // file, git, http, https, ssh
  std::string user;
  std::string password;
  std::string host;
  int port = -1;  // -1: the scheme's default
};

// `url` split into its parts; nullopt when it is not a git URL of a supported scheme.
std::optional<UrlParts> ParseUrl(std::string_view url);

// Whether `s` is non-empty and all hex digits.
bool IsHex(std::string_view s);

// `s` in double quotes, for messages.
std::string Quote(std::string_view s);

// `url` parsed, or InvalidArgument when it is not a git URL this component fetches (file://
// only when `options.allow_file_urls`).
Result<UrlParts> CheckUrl(const std::string& url, const CacheOptions& options);

// What a network operation's callbacks need and what they learned.
struct NetworkContext {
  const Credentials* credentials = nullptr;
  const UrlParts* url = nullptr;
  std::string redacted_url;
  SteadyClock::time_point deadline;
  std::stop_token stop;
  int auth_attempts = 0;
  bool auth_failed = false;
  bool timed_out = false;
  bool cancelled = false;
  std::optional<Status> host_key_error;
  std::vector<std::string> push_rejections;  // status texts from push_update_reference
  std::string remote_messages;  // what the server printed (sideband: hook output), bounded
};

// The callbacks of a fetch, push or connect bound to `ctx`: credentials (one attempt, then
// "authentication failed"), ssh host keys checked against the credentials' known_hosts, the
// deadline and stop token checked while data flows, push rejections collected.
git_remote_callbacks Callbacks(NetworkContext* ctx);

// `message` with every secret the operation knows replaced, so it is safe to show.
std::string Scrub(std::string message, const NetworkContext& ctx);

// Maps a failed network operation `op` ("fetch", "push to", "list") with libgit2 return code
// `rc` to a Status whose message names the redacted URL and never a credential.
Status NetworkError(int rc, const NetworkContext& ctx, const NetworkDeadline& deadline,
                    std::string_view op);

// A remote for `url` that lives only as long as the returned handle, on `repo` (nullptr: none);
// nothing of it (the URL may carry credentials) is written to the repository's config.
Result<RemotePtr> NewRemote(git_repository* repo, const std::string& url);

// Checks what must hold before any connection; ssh host keys are always verified.
Status Preflight(const UrlParts& url, const Credentials& credentials, const std::string& redacted,
                 std::stop_token stop);

// What `commit` is: SHA, subject, author, commit time.
CommitInfo InfoOf(const git_commit* commit);

// Initializes libgit2 once per process: no system, XDG or global git config is read (so
// HOME or /etc cannot change or break what Flywheel does), bounded memory, network deadlines.
void InitLibgit2();

}  // namespace flywheel::git
