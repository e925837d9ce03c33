#include "flywheel/git/clone.h"

#include <git2.h>

#include <algorithm>
#include <cctype>
#include <system_error>
#include <utility>
#include <vector>

#include "flywheel/git/url.h"
#include "libgit2_handles.h"
#include "network.h"

namespace flywheel::git {
namespace {

namespace fs = std::filesystem;

// Removes what a failed clone wrote below `dir` (never `dir` itself: it may be a mount point), so
// the directory is left as empty as the clone found it. Dismissed once the clone succeeded.
class EmptyOnFailure {
 public:
  explicit EmptyOnFailure(fs::path dir) : dir_(std::move(dir)) {}
  ~EmptyOnFailure() {
    if (dismissed_) return;
    std::error_code ec;
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      entries.push_back(it->path());
    }
    for (const fs::path& entry : entries) fs::remove_all(entry, ec);
  }
  EmptyOnFailure(const EmptyOnFailure&) = delete;
  EmptyOnFailure& operator=(const EmptyOnFailure&) = delete;
  void Dismiss() { dismissed_ = true; }

 private:
  fs::path dir_;
  bool dismissed_ = false;
};

// Makes sure `dest` is an empty directory, creating it when missing.
Status PrepareDest(const fs::path& dest) {
  const std::string shown = Quote(dest.string());
  std::error_code ec;
  fs::file_status st = fs::status(dest, ec);
  if (!fs::exists(st)) {
    fs::create_directories(dest, ec);
    if (ec)
      return Status(Code::kInternal, "cannot create destination " + shown + ": " + ec.message());
    return Status::Ok();
  }
  if (!fs::is_directory(st)) {
    return Status(Code::kInvalidArgument, "destination " + shown + " is not a directory");
  }
  fs::directory_iterator it(dest, ec);
  if (ec) return Status(Code::kInternal, "cannot read destination " + shown + ": " + ec.message());
  if (it != fs::directory_iterator()) {
    return Status(Code::kInvalidArgument, "destination " + shown + " is not empty (it holds " +
                                              Quote(it->path().filename().string()) + ")");
  }
  return Status::Ok();
}

// The commit `oid` in `repo`, or nullptr when it is not there (or not a commit).
CommitPtr FindCommit(git_repository* repo, const git_oid& oid) {
  git_commit* commit = nullptr;
  if (git_commit_lookup(&commit, repo, &oid) != 0) return nullptr;
  return CommitPtr(commit);
}

// The clone's network side: one anonymous remote, fetched from with a fresh context per fetch
// (libgit2 asks for credentials once per fetch, and a second request means a rejection), all
// within one deadline.
class Fetcher {
 public:
  Fetcher(const CloneRequest& request, const UrlParts& url, std::stop_token stop)
      : request_(request),
        url_(url),
        redacted_(RedactUrl(request.url)),
        deadline_at_(SteadyClock::now() + request.timeout),
        stop_(stop),
        deadline_(deadline_at_, stop) {}

  Status Fetch(git_remote* remote, std::vector<std::string> refspecs) {
    NetworkContext ctx{&request_.credentials, &url_, redacted_, deadline_at_, stop_};
    git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
    opts.callbacks = Callbacks(&ctx);
    opts.update_fetchhead = 0;
    opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_AUTO;  // tags into what is fetched, like git
    std::vector<char*> specs;
    for (std::string& spec : refspecs) specs.push_back(spec.data());
    git_strarray array{specs.data(), specs.size()};
    int rc = git_remote_fetch(remote, &array, &opts, "flywheel git-clone");
    if (rc != 0) return NetworkError(rc, ctx, deadline_, "fetch");
    return Status::Ok();
  }

 private:
  const CloneRequest& request_;
  const UrlParts& url_;
  std::string redacted_;
  SteadyClock::time_point deadline_at_;
  std::stop_token stop_;
  NetworkDeadline deadline_;
};

// Points HEAD at `commit` (detached), writes its tree into the work tree and the index, and
// leaves a local branch `branch` at it tracking origin's branch.
Status CheckOut(git_repository* repo, git_commit* commit, const std::string& branch,
                const std::string& redacted_url) {
  auto failed = [&](const std::string& what) {
    char sha[GIT_OID_HEXSZ + 1];
    git_oid_tostr(sha, sizeof(sha), git_commit_id(commit));
    return Status(Code::kInternal, what + " " + sha + ": " + LastGitErrorMessage());
  };
  git_checkout_options checkout = GIT_CHECKOUT_OPTIONS_INIT;
  checkout.checkout_strategy = GIT_CHECKOUT_FORCE;
  if (git_checkout_tree(repo, reinterpret_cast<git_object*>(commit), &checkout) != 0) {
    return failed("cannot check out");
  }
  if (git_repository_set_head_detached(repo, git_commit_id(commit)) != 0) {
    return failed("cannot point HEAD at");
  }
  git_reference* local = nullptr;
  if (git_branch_create(&local, repo, branch.c_str(), commit, /*force=*/0) != 0) {
    return failed("cannot create branch " + Quote(branch) + " at");
  }
  ReferencePtr local_owned(local);
  git_remote* origin = nullptr;
  if (git_remote_create(&origin, repo, "origin", redacted_url.c_str()) != 0) {
    return failed("cannot record remote origin for");
  }
  RemotePtr origin_owned(origin);
  if (git_branch_set_upstream(local, ("origin/" + branch).c_str()) != 0) {
    return failed("cannot set the upstream of branch " + Quote(branch) + " at");
  }
  return Status::Ok();
}

}  // namespace

Result<CommitInfo> Clone(const CloneRequest& request, std::stop_token stop) {
  InitLibgit2();
  // libgit2 refuses to open a repository whose work tree another user owns (its answer to
  // CVE-2022-24765). The build pod's /workspace is an emptyDir the kubelet created as root while
  // the clone runs as a non-root user, and libgit2 reopens the repository it has just created
  // there. The check guards against a repository config planted by someone else; this process
  // only ever opens the repository it created itself moments before, so it is off here.
  git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);

  CacheOptions url_options;
  url_options.allow_file_urls = true;  // the pod's own file system: nothing of other tenants
  auto url = CheckUrl(request.url, url_options);
  if (!url.ok()) return url.status();
  const std::string redacted = RedactUrl(request.url);

  std::string revision = request.revision;
  std::transform(revision.begin(), revision.end(), revision.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  git_oid oid;
  if (revision.size() != GIT_OID_HEXSZ || !IsHex(revision) ||
      git_oid_fromstr(&oid, revision.c_str()) != 0) {
    return Status(Code::kInvalidArgument,
                  "revision " + Quote(request.revision) + " is not a full 40-hex commit SHA");
  }
  const std::string branch_ref = "refs/heads/" + request.branch;
  int valid = 0;
  if (request.branch.empty() || git_reference_name_is_valid(&valid, branch_ref.c_str()) != 0 ||
      valid == 0) {
    return Status(Code::kInvalidArgument, "invalid branch name " + Quote(request.branch));
  }
  if (Status s = Preflight(*url, request.credentials, redacted, stop); !s.ok()) return s;
  if (Status s = PrepareDest(request.dest); !s.ok()) return s;
  EmptyOnFailure cleanup(request.dest);

  git_repository* repo_raw = nullptr;
  git_repository_init_options init = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  init.flags = GIT_REPOSITORY_INIT_NO_REINIT;
  init.initial_head = request.branch.c_str();
  if (git_repository_init_ext(&repo_raw, request.dest.c_str(), &init) != 0) {
    return Status(Code::kInternal, "cannot create a repository in " + Quote(request.dest.string()) +
                                       ": " + LastGitErrorMessage());
  }
  RepositoryPtr repo(repo_raw);
  auto remote = NewRemote(repo.get(), request.url);
  if (!remote.ok()) return remote.status();

  Fetcher fetcher(request, *url, stop);
  const std::string tracking = "refs/remotes/origin/" + request.branch;
  if (Status s = fetcher.Fetch(remote->get(), {"+" + branch_ref + ":" + tracking}); !s.ok()) {
    return s;
  }
  git_reference* tip = nullptr;
  if (git_reference_lookup(&tip, repo.get(), tracking.c_str()) != 0) {
    return Status(Code::kNotFound, "branch " + Quote(request.branch) + " not found in " + redacted);
  }
  git_reference_free(tip);

  CommitPtr commit = FindCommit(repo.get(), oid);
  if (!commit) {
    // Not reachable from the branch (a re-run of an older commit of another branch, a force-push
    // since). Ask for the commit itself: servers that allow wants of unadvertised objects
    // (uploadpack.allowReachableSHA1InWant; most hosted ones) send just its history. git's
    // default refuses (libgit2 does not even ask then), so on any failure fall back to every
    // branch and tag; that fetch's error is the one reported.
    const std::string pinned = "refs/flywheel/revision";
    if (fetcher.Fetch(remote->get(), {"+" + revision + ":" + pinned}).ok()) {
      commit = FindCommit(repo.get(), oid);
    }
    if (!commit) {
      Status all = fetcher.Fetch(
          remote->get(), {"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"});
      if (!all.ok()) return all;
      commit = FindCommit(repo.get(), oid);
    }
    git_reference* pin = nullptr;
    if (git_reference_lookup(&pin, repo.get(), pinned.c_str()) == 0) {
      git_reference_delete(pin);
      git_reference_free(pin);
    }
    if (!commit) {
      return Status(Code::kNotFound, "revision " + revision + " not found in " + redacted +
                                         " (branch " + request.branch + ")");
    }
  }
  if (Status s = CheckOut(repo.get(), commit.get(), request.branch, redacted); !s.ok()) return s;
  cleanup.Dismiss();
  return InfoOf(commit.get());
}

}  // namespace flywheel::git
