#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
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

// How a RepositoryCache works.
struct CacheOptions {
  std::filesystem::path root;        // one bare repository per URL below this directory
  std::chrono::seconds timeout{60};  // per network operation (fetch, push)
  int push_retries = 5;              // non-fast-forward pushes are retried this often
};

// Bare clones of remote repositories, one per URL, shared by every object that uses the URL.
// Reads come straight from the object database (no work tree). Safe to use from many threads:
// concurrent fetches of the same URL are coalesced into one; different URLs fetch in parallel.
// Errors: Unavailable (host unreachable, timeout), Unauthenticated ("authentication failed for
// <url>"), NotFound (unknown branch/revision/path), InvalidArgument (bad URL, limits exceeded),
// FailedPrecondition (ssh host key not in known_hosts). Messages never contain credentials.
class RepositoryCache {
 public:
  virtual ~RepositoryCache() = default;

  // Fetches all branches and tags of `url` into its cache (creating it on first use). A call
  // that arrives while a fetch of the same URL runs waits for that fetch and shares its result.
  virtual Status Fetch(const std::string& url, const Credentials& credentials) = 0;

  // Resolves `ref` in the cached copy of `url`: a branch name, a tag (peeled to its commit), a
  // full SHA or an unambiguous SHA prefix of at least 4 hex digits. No network.
  virtual Result<CommitInfo> Resolve(const std::string& url, const std::string& ref) = 0;

  // Every file below `path` ("." = root) at commit `sha`, recursively, within `limits`.
  // NotFound when `path` does not exist at that commit (or is not a directory).
  virtual Result<std::vector<TreeFile>> ReadTree(const std::string& url, const std::string& sha,
                                                 const std::string& path,
                                                 const ReadLimits& limits = {}) = 0;

  // Makes a commit on `branch` (its latest remote state) whose tree equals the branch's tree with
  // `path` replaced by `path` as it is at `from_sha`, and pushes it. On a non-fast-forward
  // rejection it fetches and retries on the new head. Returns the new commit. When `path` at
  // the head already equals `from_sha`'s content, nothing is pushed and the head is returned.
  virtual Result<CommitInfo> RestorePath(const std::string& url, const Credentials& credentials,
                                         const std::string& branch, const std::string& path,
                                         const std::string& from_sha, const std::string& message,
                                         const Signature& author = {}) = 0;
};

// The libgit2 implementation.
std::unique_ptr<RepositoryCache> NewRepositoryCache(CacheOptions options);

}  // namespace flywheel::git
