#include "flywheel/git/repository_cache.h"

#include <git2.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "deadline_stream.h"
#include "flywheel/common/sha256.h"
#include "flywheel/git/path.h"
#include "flywheel/git/url.h"
#include "libgit2_handles.h"
#include "network.h"
#include "test_hooks.h"

namespace flywheel::git {
namespace {

// ---- test seams (see test_hooks.h) ----

std::mutex hooks_mu;
std::function<void()> before_fetch_hook;
std::function<void()> before_push_hook;
std::atomic<uint64_t> fetches_run{0};
std::atomic<uint64_t> fetches_joined{0};

void RunHook(const std::function<void()>& hook) {
  std::function<void()> copy;
  {
    std::lock_guard<std::mutex> lock(hooks_mu);
    copy = hook;
  }
  if (copy) copy();
}

// ---- reading objects ----

Result<CommitPtr> PeelToCommit(git_object* object, const std::string& what) {
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, object, GIT_OBJECT_COMMIT) != 0) {
    return Status(Code::kNotFound, what + " is not a commit");
  }
  return CommitPtr(reinterpret_cast<git_commit*>(peeled));
}

// Finds the commit `ref` names: a branch, a tag (peeled), a full SHA or a SHA prefix.
Result<CommitPtr> LookupCommit(git_repository* repo, const std::string& ref,
                               const std::string& url) {
  if (ref.empty()) return Status(Code::kInvalidArgument, "empty revision for " + url);
  git_oid oid;
  if (ref.size() == GIT_OID_HEXSZ && IsHex(ref) && git_oid_fromstr(&oid, ref.c_str()) == 0) {
    git_object* obj = nullptr;
    if (git_object_lookup(&obj, repo, &oid, GIT_OBJECT_ANY) != 0) {
      return Status(Code::kNotFound, "revision " + Quote(ref) + " not found in " + url);
    }
    ObjectPtr owned(obj);
    return PeelToCommit(obj, "revision " + Quote(ref));
  }
  std::vector<std::string> names;
  if (ref.starts_with("refs/")) {
    names.push_back(ref);
  } else {
    names = {"refs/heads/" + ref, "refs/tags/" + ref};
  }
  for (const std::string& name : names) {
    git_reference* r = nullptr;
    int rc = git_reference_lookup(&r, repo, name.c_str());
    if (rc == GIT_ENOTFOUND) continue;
    if (rc == GIT_EINVALIDSPEC) return Status(Code::kInvalidArgument, "invalid ref " + Quote(ref));
    if (rc != 0) {
      return Status(Code::kInternal,
                    "cannot read ref " + Quote(ref) + ": " + LastGitErrorMessage());
    }
    ReferencePtr owned(r);
    git_object* obj = nullptr;
    if (git_reference_peel(&obj, r, GIT_OBJECT_COMMIT) != 0) {
      return Status(Code::kNotFound, "ref " + Quote(ref) + " in " + url + " is not a commit");
    }
    return CommitPtr(reinterpret_cast<git_commit*>(obj));
  }
  if (IsHex(ref) && ref.size() >= 4 && ref.size() < GIT_OID_HEXSZ &&
      git_oid_fromstrn(&oid, ref.c_str(), ref.size()) == 0) {
    git_object* obj = nullptr;
    int rc = git_object_lookup_prefix(&obj, repo, &oid, ref.size(), GIT_OBJECT_ANY);
    if (rc == GIT_EAMBIGUOUS) {
      return Status(Code::kInvalidArgument, "revision " + Quote(ref) + " is ambiguous in " + url);
    }
    if (rc == 0) {
      ObjectPtr owned(obj);
      return PeelToCommit(obj, "revision " + Quote(ref));
    }
  }
  if (IsHex(ref)) return Status(Code::kNotFound, "revision " + Quote(ref) + " not found in " + url);
  return Status(Code::kNotFound, "branch " + Quote(ref) + " not found in " + url);
}

// True when `name` is a manifest ReadTree loads.
bool WantFile(std::string_view name, const ReadLimits& limits) {
  if (name == "Kustomization") return true;
  return std::any_of(limits.extensions.begin(), limits.extensions.end(),
                     [&](const std::string& ext) { return name.ends_with(ext); });
}

// Collects the wanted blobs below `tree` (whose path is `prefix`). Sizes come from the object
// header, so a file over the limit is never read, and unwanted files are not touched at all.
Status CollectFiles(git_repository* repo, git_odb* odb, const git_tree* tree,
                    const std::string& prefix, const std::string& root_path,
                    const ReadLimits& limits, size_t* total, std::vector<TreeFile>* out) {
  size_t count = git_tree_entrycount(tree);
  for (size_t i = 0; i < count; ++i) {
    const git_tree_entry* entry = git_tree_entry_byindex(tree, i);
    std::string name = git_tree_entry_name(entry);
    std::string path = prefix.empty() ? name : prefix + "/" + name;
    git_object_t type = git_tree_entry_type(entry);
    if (type == GIT_OBJECT_TREE) {
      git_tree* sub = nullptr;
      if (git_tree_lookup(&sub, repo, git_tree_entry_id(entry)) != 0) {
        return Status(Code::kInternal, "cannot read tree " + path + ": " + LastGitErrorMessage());
      }
      TreePtr owned(sub);
      Status s = CollectFiles(repo, odb, sub, path, root_path, limits, total, out);
      if (!s.ok()) return s;
      continue;
    }
    // Submodules (commits) and symlinks are not manifests.
    if (type != GIT_OBJECT_BLOB || git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK ||
        !WantFile(name, limits)) {
      continue;
    }
    if (out->size() + 1 > limits.max_files) {
      return Status(Code::kInvalidArgument, "more than " + std::to_string(limits.max_files) +
                                                " files under " + Quote(root_path) +
                                                " (limit max_files)");
    }
    size_t size = 0;
    git_object_t header_type;
    if (git_odb_read_header(&size, &header_type, odb, git_tree_entry_id(entry)) != 0) {
      return Status(Code::kInternal, "cannot read " + path + ": " + LastGitErrorMessage());
    }
    if (*total + size > limits.max_total_bytes) {
      return Status(Code::kInvalidArgument, "files under " + Quote(root_path) + " exceed " +
                                                std::to_string(limits.max_total_bytes) +
                                                " bytes (limit max_total_bytes) at " + Quote(path));
    }
    git_blob* blob = nullptr;
    if (git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) != 0) {
      return Status(Code::kInternal, "cannot read " + path + ": " + LastGitErrorMessage());
    }
    BlobPtr owned(blob);
    const char* data = static_cast<const char*>(git_blob_rawcontent(blob));
    auto len = static_cast<size_t>(git_blob_rawsize(blob));
    *total += len;
    out->push_back(TreeFile{path, std::string(data, len)});
  }
  return Status::Ok();
}

// `message` ending in the "Key: value" lines of `trailers` after a blank line (git's trailer
// format); InvalidArgument for an empty message or a key or value that would break the format.
Result<std::string> WithTrailers(std::string message,
                                 const std::vector<std::pair<std::string, std::string>>& trailers) {
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) {
    message.pop_back();
  }
  if (message.empty()) return Status(Code::kInvalidArgument, "empty commit message");
  if (trailers.empty()) return message + "\n";
  message += "\n\n";
  for (const auto& [key, value] : trailers) {
    if (key.empty() || key.find_first_of(": \t\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return Status(Code::kInvalidArgument, "invalid commit trailer " + Quote(key));
    }
    message += key + ": " + value + "\n";
  }
  return message;
}

// ---- the cache ----

// One cached repository. Its mutexes are never held together: fetch_mu is released before
// the fetch takes write_mu, and readers only take read_mu.
struct Entry {
  std::filesystem::path dir;

  // Coalescing: at most one fetch per key; callers that arrive during it share its result.
  std::mutex fetch_mu;
  std::condition_variable_any fetch_done;
  bool fetching = false;
  uint64_t fetch_generation = 0;
  Status last_fetch;

  // Serializes writers (fetch, commit, push) on their own repository handle.
  std::mutex write_mu;

  // Guards `reader`, the handle Resolve and ReadTree share (libgit2 objects are not
  // thread-safe). Readers and writers use separate handles, so reads go on during a fetch.
  std::mutex read_mu;
  RepositoryPtr reader;
};

Result<RepositoryPtr> OpenBare(const std::filesystem::path& dir) {
  git_repository* repo = nullptr;
  if (git_repository_open_ext(&repo, dir.c_str(),
                              GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE,
                              nullptr) != 0) {
    return Status(Code::kInternal, "cannot open cache repository: " + LastGitErrorMessage());
  }
  return RepositoryPtr(repo);
}

class RepositoryCacheImpl : public RepositoryCache {
 public:
  explicit RepositoryCacheImpl(CacheOptions options) : options_(std::move(options)) {}

  Status Fetch(const std::string& url, const Credentials& credentials,
               std::stop_token stop) override {
    auto parsed = CheckUrl(url, options_);
    if (!parsed.ok()) return parsed.status();
    std::shared_ptr<Entry> entry = EntryFor(CacheKey(url, credentials));
    std::unique_lock<std::mutex> lock(entry->fetch_mu);
    while (entry->fetching) {
      fetches_joined++;
      uint64_t generation = entry->fetch_generation;
      if (!entry->fetch_done.wait(lock, stop,
                                  [&] { return entry->fetch_generation != generation; })) {
        return Status(Code::kCancelled, "fetch " + RedactUrl(url) + " cancelled");
      }
      // A fetch its starter cancelled says nothing about the repository: run one of our own.
      if (entry->last_fetch.code() != Code::kCancelled) return entry->last_fetch;
    }
    entry->fetching = true;
    lock.unlock();
    Status result = RunFetch(*entry, url, *parsed, credentials, stop);
    lock.lock();
    entry->fetching = false;
    entry->fetch_generation++;
    entry->last_fetch = result;
    entry->fetch_done.notify_all();
    return result;
  }

  Result<CommitInfo> Resolve(const CacheKey& key, const std::string& ref) override {
    return WithCommit<CommitInfo>(key, ref, [](git_repository*, git_commit* commit) {
      return Result<CommitInfo>(InfoOf(commit));
    });
  }

  Result<std::vector<TreeFile>> ReadTree(const CacheKey& key, const std::string& sha,
                                         const std::string& path,
                                         const ReadLimits& limits) override {
    auto rel = NormalizeRepoPath(path);
    if (!rel) {
      return Status(Code::kInvalidArgument, "path " + Quote(path) + " leaves the repository");
    }
    using Files = std::vector<TreeFile>;
    return WithCommit<Files>(key, sha, [&](git_repository* repo, git_commit* commit) {
      auto tree = SubtreeAt(repo, commit, *rel, path);
      if (!tree.ok()) return Result<Files>(tree.status());
      git_odb* odb = nullptr;
      if (git_repository_odb(&odb, repo) != 0) {
        return Result<Files>(
            Status(Code::kInternal, "cannot open object database: " + LastGitErrorMessage()));
      }
      OdbPtr owned_odb(odb);
      Files files;
      size_t total = 0;
      Status s = CollectFiles(repo, odb, tree->get(), *rel, path, limits, &total, &files);
      if (!s.ok()) return Result<Files>(s);
      return Result<Files>(std::move(files));
    });
  }

  Result<CommitInfo> RestorePath(const std::string& url, const Credentials& credentials,
                                 const std::string& branch, const std::string& path,
                                 const std::string& from_sha, const std::string& message,
                                 const Signature& author, std::stop_token stop) override {
    auto rel = NormalizeRepoPath(path);
    if (!rel) {
      return Status(Code::kInvalidArgument, "path " + Quote(path) + " leaves the repository");
    }
    std::string redacted = RedactUrl(url);
    auto pushed =
        CommitWithRetry(url, credentials, branch, message, author, stop,
                        [&](git_repository* repo, git_commit* head) -> Result<git_oid> {
                          auto from = LookupCommit(repo, from_sha, redacted);
                          if (!from.ok()) return from.status();
                          auto head_tree = TreeOf(head);
                          if (!head_tree.ok()) return head_tree.status();
                          auto from_tree = TreeOf(from->get());
                          if (!from_tree.ok()) return from_tree.status();
                          return RestoredTree(repo, head_tree->get(), from_tree->get(), *rel);
                        });
    if (!pushed.ok()) return pushed.status();
    return pushed->info;
  }

  Result<CommitResult> CommitFiles(const std::string& url, const Credentials& credentials,
                                   const FileCommit& commit, const FileEdit& edit,
                                   std::stop_token stop) override {
    if (commit.paths.empty()) return Status(Code::kInvalidArgument, "no paths to edit");
    std::vector<std::string> rels;
    for (const std::string& path : commit.paths) {
      auto rel = NormalizeRepoPath(path);
      if (!rel) {
        return Status(Code::kInvalidArgument, "path " + Quote(path) + " leaves the repository");
      }
      rels.push_back(*rel);
    }
    auto message = WithTrailers(commit.message, commit.trailers);
    if (!message.ok()) return message.status();
    std::vector<std::string> changed;
    auto pushed = CommitWithRetry(url, credentials, commit.branch, *message, commit.author, stop,
                                  [&](git_repository* repo, git_commit* head) {
                                    changed.clear();
                                    return EditedTree(repo, head, rels, commit, edit, &changed);
                                  });
    if (!pushed.ok()) return pushed.status();
    CommitResult result{pushed->info, pushed->changed, {}, pushed->attempts};
    if (pushed->changed) result.files = std::move(changed);
    return result;
  }

 private:
  // The copy of `key`: a directory named by a digest of the URL (credentials in it are part of
  // the identity, not of the name) and the identity, so no secret is ever in a path.
  std::shared_ptr<Entry> EntryFor(const CacheKey& key) {
    std::string name = RedactUrl(key.url()) + "\n" + key.identity();
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Entry>& entry = entries_[name];
    if (!entry) {
      entry = std::make_shared<Entry>();
      entry->dir = options_.root / Sha256Hex(name);
    }
    return entry;
  }

  // Runs `fn(repo, commit)` on the shared read handle of `key`'s copy, with the commit `ref`
  // names.
  template <typename T, typename Fn>
  Result<T> WithCommit(const CacheKey& key, const std::string& ref, Fn fn) {
    const std::string& url = key.url();
    if (auto parsed = CheckUrl(url, options_); !parsed.ok()) return parsed.status();
    std::shared_ptr<Entry> entry = EntryFor(key);
    std::lock_guard<std::mutex> lock(entry->read_mu);
    auto repo = Reader(*entry, url);
    if (!repo.ok()) return repo.status();
    auto commit = LookupCommit(*repo, ref, RedactUrl(url));
    if (!commit.ok()) return commit.status();
    return fn(*repo, commit->get());
  }

  // The shared read handle, opened on first use. Requires entry.read_mu.
  Result<git_repository*> Reader(Entry& entry, const std::string& url) {
    if (!entry.reader) {
      std::error_code ec;
      if (!std::filesystem::exists(entry.dir / "HEAD", ec)) {
        return Status(Code::kFailedPrecondition, RedactUrl(url) + " has not been fetched yet");
      }
      auto repo = OpenBare(entry.dir);
      if (!repo.ok()) return repo.status();
      entry.reader = std::move(*repo);
    }
    return entry.reader.get();
  }

  // A handle for writing, creating the bare repository on first use. Requires entry.write_mu.
  Result<RepositoryPtr> Writer(Entry& entry) {
    std::error_code ec;
    if (std::filesystem::exists(entry.dir / "HEAD", ec)) return OpenBare(entry.dir);
    std::filesystem::create_directories(entry.dir, ec);
    if (ec) return Status(Code::kInternal, "cannot create cache directory: " + ec.message());
    git_repository* repo = nullptr;
    if (git_repository_init(&repo, entry.dir.c_str(), /*is_bare=*/1) != 0) {
      return Status(Code::kInternal, "cannot create cache repository: " + LastGitErrorMessage());
    }
    return RepositoryPtr(repo);
  }

  Status RunFetch(Entry& entry, const std::string& url, const UrlParts& parsed,
                  const Credentials& credentials, std::stop_token stop) {
    std::string redacted = RedactUrl(url);
    if (Status s = Preflight(parsed, credentials, redacted, stop); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(entry.write_mu);
    auto repo = Writer(entry);
    if (!repo.ok()) return repo.status();
    auto remote = NewRemote(repo->get(), url);
    if (!remote.ok()) return remote.status();
    RunHook(before_fetch_hook);
    fetches_run++;

    NetworkContext ctx{&credentials, &parsed, redacted, SteadyClock::now() + options_.timeout,
                       stop};
    git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
    opts.callbacks = Callbacks(&ctx);
    opts.prune = GIT_FETCH_PRUNE;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;  // the tags refspec brings them all
    opts.update_fetchhead = 0;
    char heads[] = "+refs/heads/*:refs/heads/*";
    char tags[] = "+refs/tags/*:refs/tags/*";
    char* specs[] = {heads, tags};
    git_strarray refspecs{specs, 2};
    NetworkDeadline deadline(ctx.deadline, stop);
    int rc = git_remote_fetch(remote->get(), &refspecs, &opts, "flywheel fetch");
    if (rc != 0) return NetworkError(rc, ctx, deadline, "fetch");
    return Status::Ok();
  }

  static Result<TreePtr> TreeOf(const git_commit* commit) {
    git_tree* tree = nullptr;
    if (git_commit_tree(&tree, commit) != 0) {
      return Status(Code::kInternal, "cannot read tree: " + LastGitErrorMessage());
    }
    return TreePtr(tree);
  }

  // The entry at `rel` (not "") of `commit`'s tree `root`; NotFound when missing.
  static Result<TreeEntryPtr> EntryAt(const git_tree* root, const git_commit* commit,
                                      const std::string& rel, const std::string& shown) {
    git_tree_entry* entry = nullptr;
    if (git_tree_entry_bypath(&entry, root, rel.c_str()) != 0) {
      char sha7[8];
      git_oid_tostr(sha7, sizeof(sha7), git_commit_id(commit));
      return Status(Code::kNotFound, "path " + Quote(shown) + " not found at " + sha7);
    }
    return TreeEntryPtr(entry);
  }

  // The tree at `rel` ("" = root) in `commit`; NotFound when missing or not a directory.
  static Result<TreePtr> SubtreeAt(git_repository* repo, git_commit* commit, const std::string& rel,
                                   const std::string& shown) {
    auto root = TreeOf(commit);
    if (!root.ok() || rel.empty()) return root;
    auto entry = EntryAt(root->get(), commit, rel, shown);
    if (!entry.ok()) return entry.status();
    if (git_tree_entry_type(entry->get()) != GIT_OBJECT_TREE) {
      char sha7[8];
      git_oid_tostr(sha7, sizeof(sha7), git_commit_id(commit));
      return Status(Code::kNotFound, "path " + Quote(shown) + " is not a directory at " + sha7);
    }
    git_tree* sub = nullptr;
    if (git_tree_lookup(&sub, repo, git_tree_entry_id(entry->get())) != 0) {
      return Status(Code::kInternal, "cannot read tree: " + LastGitErrorMessage());
    }
    return TreePtr(sub);
  }

  // The files CommitFiles gives to its edit: each of `rels` (normalized commit.paths) at `head`,
  // a file as it is, a directory through CollectFiles. Sorted by path, each once.
  static Result<std::vector<TreeFile>> FilesAt(git_repository* repo, git_commit* head,
                                               const std::vector<std::string>& rels,
                                               const FileCommit& commit) {
    git_odb* odb = nullptr;
    if (git_repository_odb(&odb, repo) != 0) {
      return Status(Code::kInternal, "cannot open object database: " + LastGitErrorMessage());
    }
    OdbPtr owned_odb(odb);
    std::vector<TreeFile> files;
    size_t total = 0;
    for (size_t i = 0; i < rels.size(); ++i) {
      const std::string& shown = commit.paths[i];
      auto root = TreeOf(head);
      if (!root.ok()) return root.status();
      TreePtr dir = std::move(*root);
      if (!rels[i].empty()) {
        auto entry = EntryAt(dir.get(), head, rels[i], shown);
        if (!entry.ok()) return entry.status();
        git_object_t type = git_tree_entry_type(entry->get());
        if (type == GIT_OBJECT_BLOB && git_tree_entry_filemode(entry->get()) != GIT_FILEMODE_LINK) {
          git_blob* blob = nullptr;
          if (git_blob_lookup(&blob, repo, git_tree_entry_id(entry->get())) != 0) {
            return Status(Code::kInternal, "cannot read " + shown + ": " + LastGitErrorMessage());
          }
          BlobPtr owned(blob);
          const char* data = static_cast<const char*>(git_blob_rawcontent(blob));
          files.push_back({rels[i], std::string(data, git_blob_rawsize(blob))});
          continue;
        }
        if (type != GIT_OBJECT_TREE) {
          return Status(Code::kInvalidArgument,
                        "path " + Quote(shown) + " is neither a file nor a directory");
        }
        git_tree* sub = nullptr;
        if (git_tree_lookup(&sub, repo, git_tree_entry_id(entry->get())) != 0) {
          return Status(Code::kInternal, "cannot read tree: " + LastGitErrorMessage());
        }
        dir = TreePtr(sub);
      }
      Status s = CollectFiles(repo, odb, dir.get(), rels[i], shown, commit.limits, &total, &files);
      if (!s.ok()) return s;
    }
    std::sort(files.begin(), files.end(),
              [](const TreeFile& a, const TreeFile& b) { return a.path < b.path; });
    files.erase(std::unique(files.begin(), files.end(),
                            [](const TreeFile& a, const TreeFile& b) { return a.path == b.path; }),
                files.end());
    return files;
  }

  // The id of `head`'s tree with `edit` applied to the files under `rels`; the paths of the
  // files it changed go to `changed`.
  static Result<git_oid> EditedTree(git_repository* repo, git_commit* head,
                                    const std::vector<std::string>& rels, const FileCommit& commit,
                                    const FileEdit& edit, std::vector<std::string>* changed) {
    auto files = FilesAt(repo, head, rels, commit);
    if (!files.ok()) return files.status();
    auto head_tree = TreeOf(head);
    if (!head_tree.ok()) return head_tree.status();
    std::vector<git_tree_update> updates;
    for (const TreeFile& file : *files) {
      auto edited = edit(file.path, file.content);
      if (!edited.ok()) return edited.status();
      if (!edited->has_value() || **edited == file.content) continue;
      git_tree_update update{};
      update.action = GIT_TREE_UPDATE_UPSERT;
      update.path = file.path.c_str();
      if (git_blob_create_from_buffer(&update.id, repo, (*edited)->data(), (*edited)->size()) !=
          0) {
        return Status(Code::kInternal, "cannot write " + file.path + ": " + LastGitErrorMessage());
      }
      auto entry = EntryAt(head_tree->get(), head, file.path, file.path);
      if (!entry.ok()) return entry.status();
      update.filemode = git_tree_entry_filemode(entry->get());  // an executable file stays one
      updates.push_back(update);
      changed->push_back(file.path);
    }
    if (updates.empty()) return *git_tree_id(head_tree->get());
    git_oid out;
    if (git_tree_create_updated(&out, repo, head_tree->get(), updates.size(), updates.data()) !=
        0) {
      return Status(Code::kInternal, "cannot build tree: " + LastGitErrorMessage());
    }
    return out;
  }

  // The id of `head_tree` with `rel` replaced by what it is in `from_tree` (removed when
  // `from_tree` lacks it).
  static Result<git_oid> RestoredTree(git_repository* repo, git_tree* head_tree,
                                      git_tree* from_tree, const std::string& rel) {
    if (rel.empty()) return *git_tree_id(from_tree);
    git_tree_entry* from_entry = nullptr;
    bool in_from = git_tree_entry_bypath(&from_entry, from_tree, rel.c_str()) == 0;
    TreeEntryPtr from_owned(from_entry);
    git_tree_entry* head_entry = nullptr;
    bool in_head = git_tree_entry_bypath(&head_entry, head_tree, rel.c_str()) == 0;
    TreeEntryPtr head_owned(head_entry);
    if (!in_from && !in_head) return *git_tree_id(head_tree);
    git_tree_update update{};
    update.path = rel.c_str();
    if (in_from) {
      update.action = GIT_TREE_UPDATE_UPSERT;
      git_oid_cpy(&update.id, git_tree_entry_id(from_entry));
      update.filemode = git_tree_entry_filemode(from_entry);
    } else {
      update.action = GIT_TREE_UPDATE_REMOVE;
    }
    git_oid out;
    if (git_tree_create_updated(&out, repo, head_tree, 1, &update) != 0) {
      return Status(Code::kInternal, "cannot build tree: " + LastGitErrorMessage());
    }
    return out;
  }

  // Builds the tree of the next commit on `head`: its id (the head's own tree id when nothing
  // changes). Runs once per attempt, under the copy's write lock.
  using TreeBuilder = std::function<Result<git_oid>(git_repository* repo, git_commit* head)>;

  // A commit on the branch and whether this call made it.
  struct Pushed {
    CommitInfo info;
    bool changed = false;
    int attempts = 0;
  };

  // The push machinery of RestorePath and CommitFiles: fetch, build the tree on the branch head,
  // commit, push; on a non-fast-forward the same again on the new head, at most push_retries
  // more times.
  Result<Pushed> CommitWithRetry(const std::string& url, const Credentials& credentials,
                                 const std::string& branch, const std::string& message,
                                 const Signature& author, std::stop_token stop,
                                 const TreeBuilder& build) {
    auto parsed = CheckUrl(url, options_);
    if (!parsed.ok()) return parsed.status();
    std::shared_ptr<Entry> entry = EntryFor(CacheKey(url, credentials));
    for (int attempt = 1; attempt <= options_.push_retries + 1; ++attempt) {
      Status fetched = Fetch(url, credentials, stop);
      if (!fetched.ok()) return fetched;
      bool moved = false;
      auto result = TryCommit(*entry, url, *parsed, credentials, branch, message, author, stop,
                              build, &moved);
      if (moved) continue;
      if (result.ok()) result->attempts = attempt;
      return result;
    }
    return Status(Code::kAborted, "branch " + Quote(branch) + " of " + RedactUrl(url) + " moved " +
                                      std::to_string(options_.push_retries + 1) +
                                      " times while pushing; giving up");
  }

  // One attempt of CommitWithRetry on the fetched state. Sets *moved when the branch moved on
  // the remote before the push landed (retry after a fetch).
  Result<Pushed> TryCommit(Entry& entry, const std::string& url, const UrlParts& parsed,
                           const Credentials& credentials, const std::string& branch,
                           const std::string& message, const Signature& author,
                           std::stop_token stop, const TreeBuilder& build, bool* moved) {
    std::string redacted = RedactUrl(url);
    std::lock_guard<std::mutex> lock(entry.write_mu);
    auto repo_or = Writer(entry);
    if (!repo_or.ok()) return repo_or.status();
    git_repository* repo = repo_or->get();

    std::string branch_ref = "refs/heads/" + branch;
    git_reference* head_ref = nullptr;
    if (git_reference_lookup(&head_ref, repo, branch_ref.c_str()) != 0) {
      return Status(Code::kNotFound, "branch " + Quote(branch) + " not found in " + redacted);
    }
    ReferencePtr head_ref_owned(head_ref);
    git_object* head_obj = nullptr;
    if (git_reference_peel(&head_obj, head_ref, GIT_OBJECT_COMMIT) != 0) {
      return Status(Code::kInternal, "cannot read branch " + Quote(branch));
    }
    CommitPtr head(reinterpret_cast<git_commit*>(head_obj));
    auto tree_id = build(repo, head.get());
    if (!tree_id.ok()) return tree_id.status();
    if (git_oid_equal(&*tree_id, git_commit_tree_id(head.get()))) {
      return Pushed{InfoOf(head.get()), false};
    }

    git_tree* new_tree = nullptr;
    if (git_tree_lookup(&new_tree, repo, &*tree_id) != 0) {
      return Status(Code::kInternal, "cannot read tree: " + LastGitErrorMessage());
    }
    TreePtr new_tree_owned(new_tree);
    git_signature* sig = nullptr;
    if (git_signature_now(&sig, author.name.c_str(), author.email.c_str()) != 0) {
      return Status(Code::kInvalidArgument, "invalid commit author: " + LastGitErrorMessage());
    }
    SignaturePtr sig_owned(sig);
    git_oid commit_id;
    const git_commit* parents[] = {head.get()};
    if (git_commit_create(&commit_id, repo, nullptr, sig, sig, nullptr, message.c_str(), new_tree,
                          1, parents) != 0) {
      return Status(Code::kInternal, "cannot create commit: " + LastGitErrorMessage());
    }

    // Push from a private ref, and move the local branch only once the remote took it, so
    // readers never see a commit the remote does not have.
    std::string push_ref = "refs/flywheel/push/" + branch;
    git_reference* tmp = nullptr;
    if (git_reference_create(&tmp, repo, push_ref.c_str(), &commit_id, 1, "flywheel push") != 0) {
      return Status(Code::kInternal, "cannot create ref: " + LastGitErrorMessage());
    }
    ReferencePtr tmp_owned(tmp);
    RunHook(before_push_hook);
    Status pushed = Push(repo, url, parsed, credentials, push_ref + ":" + branch_ref, stop, moved);
    git_reference_delete(tmp);
    if (!pushed.ok()) return pushed;

    git_reference* updated = nullptr;
    if (git_reference_create(&updated, repo, branch_ref.c_str(), &commit_id, 1, "flywheel push") ==
        0) {
      git_reference_free(updated);
    }
    git_commit* created = nullptr;
    if (git_commit_lookup(&created, repo, &commit_id) != 0) {
      return Status(Code::kInternal, "cannot read new commit: " + LastGitErrorMessage());
    }
    CommitPtr created_owned(created);
    return Pushed{InfoOf(created), true};
  }

  Status Push(git_repository* repo, const std::string& url, const UrlParts& parsed,
              const Credentials& credentials, const std::string& refspec, std::stop_token stop,
              bool* moved) {
    std::string redacted = RedactUrl(url);
    if (Status s = Preflight(parsed, credentials, redacted, stop); !s.ok()) return s;
    auto remote = NewRemote(repo, url);
    if (!remote.ok()) return remote.status();
    NetworkContext ctx{&credentials, &parsed, redacted, SteadyClock::now() + options_.timeout,
                       stop};
    git_push_options opts = GIT_PUSH_OPTIONS_INIT;
    opts.callbacks = Callbacks(&ctx);
    std::string spec = refspec;
    char* specs[] = {spec.data()};
    git_strarray refspecs{specs, 1};
    NetworkDeadline deadline(ctx.deadline, stop);
    int rc = git_remote_push(remote->get(), &refspecs, &opts);
    if (rc == GIT_ENONFASTFORWARD) {  // libgit2 saw the remote ref move before sending
      *moved = true;
      return Status(Code::kAborted, "branch moved on " + redacted);
    }
    if (rc != 0) return NetworkError(rc, ctx, deadline, "push to");
    for (const std::string& why : ctx.push_rejections) {
      if (why.find("fast-forward") != std::string::npos ||
          why.find("fetch first") != std::string::npos || why.find("stale") != std::string::npos) {
        *moved = true;
        return Status(Code::kAborted, "branch moved on " + redacted);
      }
    }
    if (!ctx.push_rejections.empty()) {
      // The server's own words (a protected branch's hook says why) after its status text.
      std::string said;
      std::string line;
      for (char c : ctx.remote_messages + "\n") {
        if (c != '\n' && c != '\r') {
          line += c;
          continue;
        }
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
          line.pop_back();
        if (!line.empty() && said.size() < 512) said += (said.empty() ? "" : "; ") + line;
        line.clear();
      }
      return Status(Code::kFailedPrecondition,
                    "push to " + redacted + " rejected: " + Scrub(ctx.push_rejections[0], ctx) +
                        (said.empty() ? "" : " (the server said: " + Scrub(said, ctx) + ")"));
    }
    return Status::Ok();
  }

  CacheOptions options_;
  std::mutex mu_;  // guards entries_
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace

CacheKey::CacheKey(const std::string& url, const Credentials& credentials) : url_(url) {
  // Every field length-prefixed, so no two different sets of material give one input.
  std::string material = "flywheel-credentials-v1";
  auto add = [&material](std::string_view field) {
    material += std::to_string(field.size()) + ":" + std::string(field);
  };
  std::optional<UrlParts> parts = ParseUrl(url);
  add(parts ? parts->user : "");
  add(parts ? parts->password : "");
  for (const std::string* field : {&credentials.username, &credentials.password, &credentials.token,
                                   &credentials.ssh_private_key, &credentials.ssh_known_hosts}) {
    add(*field);
  }
  identity_ = Sha256Hex(material);
}

namespace test_hooks {

void SetBeforeFetch(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hooks_mu);
  before_fetch_hook = std::move(hook);
}

void SetBeforePush(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hooks_mu);
  before_push_hook = std::move(hook);
}

uint64_t FetchesRun() { return fetches_run.load(); }
uint64_t FetchesJoined() { return fetches_joined.load(); }

}  // namespace test_hooks

std::unique_ptr<RepositoryCache> NewRepositoryCache(CacheOptions options) {
  InitLibgit2();
  return std::make_unique<RepositoryCacheImpl>(std::move(options));
}

Result<std::string> RemoteHead(const std::string& url, const Credentials& credentials,
                               const std::string& branch, const CacheOptions& options,
                               std::stop_token stop) {
  InitLibgit2();
  auto parsed = CheckUrl(url, options);
  if (!parsed.ok()) return parsed.status();
  std::string redacted = RedactUrl(url);
  if (branch.empty()) return Status(Code::kInvalidArgument, "empty branch for " + redacted);
  if (Status s = Preflight(*parsed, credentials, redacted, stop); !s.ok()) return s;
  auto remote = NewRemote(nullptr, url);
  if (!remote.ok()) return remote.status();
  NetworkContext ctx{&credentials, &*parsed, redacted, SteadyClock::now() + options.timeout, stop};
  git_remote_callbacks callbacks = Callbacks(&ctx);
  NetworkDeadline deadline(ctx.deadline, stop);
  int rc = git_remote_connect(remote->get(), GIT_DIRECTION_FETCH, &callbacks, nullptr, nullptr);
  if (rc != 0) return NetworkError(rc, ctx, deadline, "list");
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  rc = git_remote_ls(&heads, &count, remote->get());
  if (rc != 0) return NetworkError(rc, ctx, deadline, "list");
  std::string wanted = "refs/heads/" + branch;
  std::optional<std::string> sha;
  for (size_t i = 0; i < count && !sha; ++i) {
    if (heads[i]->name == wanted) {
      char hex[GIT_OID_HEXSZ + 1];
      git_oid_tostr(hex, sizeof(hex), &heads[i]->oid);
      sha = hex;
    }
  }
  git_remote_disconnect(remote->get());
  if (!sha) return Status(Code::kNotFound, "branch " + Quote(branch) + " not found in " + redacted);
  return *sha;
}

}  // namespace flywheel::git
