#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "flywheel/common/status.h"

namespace flywheel::git {

// Credentials for one repository, read from the Secret named by `source.secretRef` (keys
// username/password, token, identity/known_hosts). Never logged, never put in a message.
struct Credentials {
  std::string username;         // HTTP basic (with password); for ssh the user in the URL wins
  std::string password;         // HTTP basic
  std::string token;            // HTTP bearer-style token, sent as basic auth password
  std::string ssh_private_key;  // PEM/OpenSSH private key ("identity")
  std::string ssh_known_hosts;  // known_hosts lines; ssh host keys are always verified
  bool empty() const {
    return username.empty() && password.empty() && token.empty() && ssh_private_key.empty();
  }
};

// Which cached copy of a repository a caller may read: the URL (without any user:password) and
// the identity of the credentials the copy was fetched with, a SHA-256 digest of all credential
// material (the fields of Credentials and any user:password in the URL). Two callers share a copy
// only when they present the same credentials, or both none (anonymous is an identity of its
// own), so a tenant never reads what another tenant's credentials fetched. A caller may keep a key
// to read the cache later without the Secret (a rollback while the Secret cannot be read). Holds
// no secret; still, do not log the digest (a fast hash of a weak password can be brute-forced).
class CacheKey {
 public:
  CacheKey(const std::string& url, const Credentials& credentials);

  const std::string& url() const { return url_; }            // as given (may hold credentials)
  const std::string& identity() const { return identity_; }  // hex SHA-256 of the credentials
  bool operator==(const CacheKey& other) const = default;

 private:
  std::string url_;
  std::string identity_;
};

// What a revision is: for status.history, Events and the lead-time metric.
struct CommitInfo {
  std::string sha;      // full 40-hex SHA
  std::string message;  // first line of the commit message
  std::string author;   // "Name <email>"
  std::chrono::system_clock::time_point committed_at;
};

// A file read from a tree. `path` is relative to the repository root, '/'-separated.
struct TreeFile {
  std::string path;
  std::string content;
};

// Bounds on what ReadTree loads, so a huge repository cannot exhaust memory.
struct ReadLimits {
  // Only files whose name ends with one of these are loaded; others are skipped unread.
  std::vector<std::string> extensions = {".yaml", ".yml", ".json"};
  size_t max_files = 5000;
  size_t max_total_bytes = 32u << 20;  // over this: InvalidArgument naming the limit
};

// Who a commit made by Flywheel is from.
struct Signature {
  std::string name = "Flywheel";
  std::string email = "flywheel@flywheel.dev";
};

// A change CommitFiles makes to one file: given its repository-relative path and its content at
// the branch head, the new content, or nullopt (or the same content) to leave it as it is. It is
// called again on the new head after a non-fast-forward, so it must depend on its arguments
// only. An error stops CommitFiles before anything is pushed and is returned as it is.
using FileEdit = std::function<Result<std::optional<std::string>>(const std::string& path,
                                                                  const std::string& content)>;

// What CommitFiles commits, and where.
struct FileCommit {
  std::string branch;
  // Files or directories ("." = the whole tree), repository-relative. A named file is always
  // given to the edit; below a directory only the files `limits` selects, recursively. Each
  // file once, even when paths overlap. A path missing at the head is NotFound.
  std::vector<std::string> paths;
  std::string message;  // subject (and body)
  // "Key: value" lines after a blank line at the end of the message, e.g.
  // {"Source-Commit", "<sha>"}. A key holds no ':', space or newline; a value no newline.
  std::vector<std::pair<std::string, std::string>> trailers;
  Signature author;
  ReadLimits limits;
};

// What CommitFiles did.
struct CommitResult {
  CommitInfo commit;               // the pushed commit, or the branch head when nothing changed
  bool changed = false;            // whether a commit was pushed
  std::vector<std::string> files;  // the files that commit changed, in path order
  int attempts = 0;                // commits built (pushes tried when changed)
};

// How a RepositoryCache works.
struct CacheOptions {
  std::filesystem::path root;  // one bare repository per URL and credential identity below this
  std::chrono::seconds timeout{60};  // per network operation (fetch, push)
  int push_retries =
      5;  // non-fast-forward pushes (RestorePath, CommitFiles) are retried this often
  // file:// URLs read the operator's own file system (including other tenants' caches): refused
  // with InvalidArgument unless set (the operator's --allow-file-sources; tests and the demo).
  bool allow_file_urls = false;
};

// Bare clones of remote repositories, one per CacheKey (URL and credential identity), shared by
// every object that uses the URL with the same credentials. Reads come straight from the object
// database (no work tree). Safe to use from many threads: concurrent fetches of one CacheKey are
// coalesced into one; different keys fetch in parallel. Network operations take a stop token:
// when it is requested they return Cancelled promptly (the socket wait is woken, an ssh socket is
// shut down). Errors: Unavailable (host unreachable, timeout), Unauthenticated ("authentication
// failed for <url>"), NotFound (unknown branch/revision/path), InvalidArgument (bad URL, file://
// without allow_file_urls, limits exceeded), FailedPrecondition (ssh host key not in known_hosts;
// a read of a key never fetched), Cancelled (stop requested). Messages never contain credentials.
class RepositoryCache {
 public:
  virtual ~RepositoryCache() = default;

  // Fetches all branches and tags of `url` into the copy of CacheKey(url, credentials) (creating
  // it on first use). A call that arrives while a fetch of the same key runs waits for that fetch
  // and shares its result (a joiner stops waiting when its own `stop` is requested; when the
  // fetch it joined was cancelled by its starter, the joiner fetches itself).
  virtual Status Fetch(const std::string& url, const Credentials& credentials,
                       std::stop_token stop = {}) = 0;

  // Resolves `ref` in the cached copy of `key`: a branch name, a tag (peeled to its commit), a
  // full SHA or an unambiguous SHA prefix of at least 4 hex digits. No network.
  // FailedPrecondition when `key` was never fetched (whatever other keys of the URL hold).
  virtual Result<CommitInfo> Resolve(const CacheKey& key, const std::string& ref) = 0;

  // Every file below `path` ("." = root) at commit `sha` in the copy of `key`, recursively,
  // within `limits`. NotFound when `path` does not exist at that commit (or is not a directory).
  virtual Result<std::vector<TreeFile>> ReadTree(const CacheKey& key, const std::string& sha,
                                                 const std::string& path,
                                                 const ReadLimits& limits = {}) = 0;

  // Makes a commit on `branch` (its latest remote state) whose tree equals the branch's tree with
  // `path` replaced by `path` as it is at `from_sha`, and pushes it. On a non-fast-forward
  // rejection it fetches and retries on the new head. Returns the new commit. When `path` at
  // the head already equals `from_sha`'s content, nothing is pushed and the head is returned.
  // Works on the copy of CacheKey(url, credentials). Cancelled when `stop` is requested.
  virtual Result<CommitInfo> RestorePath(const std::string& url, const Credentials& credentials,
                                         const std::string& branch, const std::string& path,
                                         const std::string& from_sha, const std::string& message,
                                         const Signature& author = {},
                                         std::stop_token stop = {}) = 0;

  // Applies `edit` to the files under `commit.paths` at the latest remote head of
  // `commit.branch`, commits what changed as `commit.author` (author and committer) with the
  // message and trailers, and pushes it. On a non-fast-forward rejection it fetches and applies
  // the edit again on the new head, at most CacheOptions::push_retries more times (then
  // Aborted). Idempotent: when no file changes, nothing is committed and the head is returned
  // with changed=false. A push the server refuses for another reason (a protected branch, a
  // hook) is FailedPrecondition with the server's words and is not retried. Works on the copy
  // of CacheKey(url, credentials); the errors of Fetch, plus NotFound (branch or path),
  // InvalidArgument (a path leaving the repository, a bad trailer, limits) and the edit's own.
  virtual Result<CommitResult> CommitFiles(const std::string& url, const Credentials& credentials,
                                           const FileCommit& commit, const FileEdit& edit,
                                           std::stop_token stop = {}) = 0;
};

// The libgit2 implementation.
std::unique_ptr<RepositoryCache> NewRepositoryCache(CacheOptions options);

// The commit `branch` of `url` points to on the remote now (full SHA), asked without cloning
// or fetching (what `git ls-remote` does): cheap enough to poll. Uses `options.timeout` and
// `options.allow_file_urls` (not `root`). NotFound for an unknown branch; otherwise the errors
// of RepositoryCache::Fetch (Unauthenticated, Unavailable, NotFound for a missing repository,
// InvalidArgument, FailedPrecondition, Cancelled). Messages never contain credentials.
Result<std::string> RemoteHead(const std::string& url, const Credentials& credentials,
                               const std::string& branch, const CacheOptions& options = {},
                               std::stop_token stop = {});

}  // namespace flywheel::git
