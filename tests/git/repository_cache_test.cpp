#include "flywheel/git/repository_cache.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

// Private seams of the implementation (not part of the public API).
#include "../../src/git/known_hosts.h"
#include "../../src/git/test_hooks.h"
#include "support/git_server.h"
#include "support/net.h"
#include "support/process.h"

namespace flywheel::git {
namespace {

namespace fs = std::filesystem;
using flywheel::testing::RunProcess;

// Runs git with a fixed identity; fails the test when it exits non-zero.
std::string Git(std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-c", "user.name=Tess Ter", "-c",
                                   "user.email=tess@example.com"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunProcess(argv);
  EXPECT_EQ(r.exit_code, 0) << "git failed: " << r.err;
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "flywheel-git-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A bare "remote" repository plus a work tree that commits and pushes to it through the CLI.
class Remote {
 public:
  explicit Remote(const fs::path& dir) : bare_(dir / "remote.git"), work_(dir / "work") {
    Git({"init", "-q", "--bare", "-b", "main", bare_.string()});
    Git({"init", "-q", "-b", "main", work_.string()});
    Git({"-C", work_.string(), "remote", "add", "origin", bare_.string()});
  }

  std::string url() const { return "file://" + bare_.string(); }
  std::string bare() const { return bare_.string(); }

  // Writes `files` (and deletes `removed`) on top of the remote's main, commits, pushes.
  std::string Commit(const std::map<std::string, std::string>& files, const std::string& message,
                     const std::vector<std::string>& removed = {}) {
    if (!Git({"-C", bare_.string(), "for-each-ref", "refs/heads/main"}).empty()) {
      Git({"-C", work_.string(), "fetch", "-q", "origin"});
      Git({"-C", work_.string(), "reset", "-q", "--hard", "origin/main"});
    }
    for (const auto& [path, content] : files) {
      fs::create_directories((work_ / path).parent_path());
      std::ofstream(work_ / path, std::ios::binary) << content;
    }
    for (const auto& path : removed) Git({"-C", work_.string(), "rm", "-q", "-r", path});
    Git({"-C", work_.string(), "add", "-A"});
    Git({"-C", work_.string(), "commit", "-q", "-m", message});
    Git({"-C", work_.string(), "push", "-q", "origin", "HEAD:refs/heads/main"});
    return Git({"-C", work_.string(), "rev-parse", "HEAD"});
  }

  std::string In(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-C", bare_.string()});
    return Git(args);
  }

 private:
  fs::path bare_;
  fs::path work_;
};

class RepositoryCacheTest : public ::testing::Test {
 protected:
  RepositoryCacheTest() : remote_(tmp_.path()) {
    cache_ = NewRepositoryCache({.root = tmp_.path() / "cache", .allow_file_urls = true});
  }
  ~RepositoryCacheTest() override {
    test_hooks::SetBeforeFetch(nullptr);
    test_hooks::SetBeforePush(nullptr);
  }

  // The cache key of the remote fetched without credentials.
  CacheKey Key() const { return CacheKey(remote_.url(), none_); }

  static std::vector<std::string> Paths(const std::vector<TreeFile>& files) {
    std::vector<std::string> paths;
    for (const auto& f : files) paths.push_back(f.path);
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  TempDir tmp_;
  Remote remote_;
  std::unique_ptr<RepositoryCache> cache_;
  Credentials none_;
};

TEST_F(RepositoryCacheTest, ResolvesBranchTagShortAndFullSha) {
  std::string c1 = remote_.Commit({{"a.yaml", "a: 1\n"}}, "first commit\n\nbody text");
  remote_.In({"tag", "v1", c1});
  remote_.In(
      {"-c", "user.name=T", "-c", "user.email=t@e", "tag", "-a", "v2", "-m", "annotated", c1});
  std::string c2 = remote_.Commit({{"a.yaml", "a: 2\n"}}, "second");
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());

  auto main = cache_->Resolve(Key(), "main");
  ASSERT_TRUE(main.ok()) << main.status().ToString();
  EXPECT_EQ(main->sha, c2);
  EXPECT_EQ(main->message, "second");
  EXPECT_EQ(main->author, "Tess Ter <tess@example.com>");
  auto seconds = std::stoll(remote_.In({"log", "-1", "--format=%ct", c2}));
  EXPECT_EQ(main->committed_at,
            std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));

  for (const std::string& ref : {std::string("v1"), std::string("v2"), c1.substr(0, 7),
                                 c1.substr(0, 4), c1, std::string("refs/tags/v2")}) {
    auto r = cache_->Resolve(Key(), ref);
    ASSERT_TRUE(r.ok()) << ref << ": " << r.status().ToString();
    EXPECT_EQ(r->sha, c1) << ref;
    EXPECT_EQ(r->message, "first commit") << ref;
  }
  EXPECT_EQ(cache_->Resolve(Key(), "refs/heads/main")->sha, c2);
}

TEST_F(RepositoryCacheTest, UnknownRefsAreNotFound) {
  EXPECT_EQ(cache_->Resolve(Key(), "main").status().code(), Code::kFailedPrecondition);
  remote_.Commit({{"a.yaml", "a: 1\n"}}, "first");
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());

  auto branch = cache_->Resolve(Key(), "nope");
  EXPECT_EQ(branch.status().code(), Code::kNotFound);
  EXPECT_EQ(branch.status().message(), "branch \"nope\" not found in " + remote_.url());
  auto sha = cache_->Resolve(Key(), "0000000000000000000000000000000000000001");
  EXPECT_EQ(sha.status().code(), Code::kNotFound);
  EXPECT_NE(sha.status().message().find("revision"), std::string::npos);
  EXPECT_EQ(cache_->Resolve(Key(), "abc").status().code(), Code::kNotFound);
}

TEST_F(RepositoryCacheTest, ReadTreeFiltersByExtensionAndPath) {
  std::string sha = remote_.Commit({{"apps/web/deploy.yaml", "kind: Deployment\n"},
                                    {"apps/web/svc.yml", "kind: Service\n"},
                                    {"apps/web/README.md", "# web\n"},
                                    {"apps/web/Kustomization", "resources: []\n"},
                                    {"apps/web/nested/cm.json", "{}"},
                                    {"apps/api/api.yaml", "kind: Pod\n"},
                                    {"top.yaml", "top: true\n"},
                                    {"tool.bin", "binary"}},
                                   "tree");
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());

  auto all = cache_->ReadTree(Key(), sha, ".");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(Paths(*all), (std::vector<std::string>{
                             "apps/api/api.yaml", "apps/web/Kustomization", "apps/web/deploy.yaml",
                             "apps/web/nested/cm.json", "apps/web/svc.yml", "top.yaml"}));

  for (const char* path : {"apps/web", "apps/web/", "./apps/web"}) {
    auto web = cache_->ReadTree(Key(), sha, path);
    ASSERT_TRUE(web.ok()) << path << ": " << web.status().ToString();
    EXPECT_EQ(Paths(*web),
              (std::vector<std::string>{"apps/web/Kustomization", "apps/web/deploy.yaml",
                                        "apps/web/nested/cm.json", "apps/web/svc.yml"}))
        << path;
  }
  auto web = cache_->ReadTree(Key(), "main", "apps/web");
  ASSERT_TRUE(web.ok());
  for (const auto& f : *web) {
    if (f.path == "apps/web/deploy.yaml") {
      EXPECT_EQ(f.content, "kind: Deployment\n");
    }
  }

  auto json_only = cache_->ReadTree(Key(), sha, ".", {.extensions = {".json"}});
  ASSERT_TRUE(json_only.ok());
  EXPECT_EQ(Paths(*json_only),
            (std::vector<std::string>{"apps/web/Kustomization", "apps/web/nested/cm.json"}));

  auto missing = cache_->ReadTree(Key(), sha, "apps/nope");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "path \"apps/nope\" not found at " + sha.substr(0, 7));
  auto file = cache_->ReadTree(Key(), sha, "top.yaml");
  EXPECT_EQ(file.status().code(), Code::kNotFound);
  EXPECT_NE(file.status().message().find("not a directory"), std::string::npos);
  EXPECT_EQ(cache_->ReadTree(Key(), sha, "../x").status().code(), Code::kInvalidArgument);
}

TEST_F(RepositoryCacheTest, ReadTreeEnforcesLimits) {
  std::string sha = remote_.Commit({{"apps/a.yaml", std::string(600, 'a')},
                                    {"apps/b.yaml", std::string(600, 'b')},
                                    {"apps/c.yaml", std::string(600, 'c')}},
                                   "three");
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());

  auto files = cache_->ReadTree(Key(), sha, "apps", {.max_files = 2});
  EXPECT_EQ(files.status().code(), Code::kInvalidArgument);
  EXPECT_NE(files.status().message().find("max_files"), std::string::npos);
  EXPECT_NE(files.status().message().find("\"apps\""), std::string::npos);

  auto bytes = cache_->ReadTree(Key(), sha, "apps", {.max_total_bytes = 1000});
  EXPECT_EQ(bytes.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("max_total_bytes"), std::string::npos);
  EXPECT_NE(bytes.status().message().find("\"apps\""), std::string::npos);

  EXPECT_TRUE(cache_->ReadTree(Key(), sha, "apps", {.max_files = 3}).ok());
  EXPECT_TRUE(cache_->ReadTree(Key(), sha, "apps", {.max_total_bytes = 1800}).ok());
}

// The 20 MiB blob is deleted from the cache's object database after the fetch: ReadTree can
// only succeed if it never reads (not even the header of) a file it does not want.
TEST_F(RepositoryCacheTest, NonManifestFilesAreSkippedUnread) {
  std::string sha = remote_.Commit({{"apps/web/deploy.yaml", "kind: Deployment\n"},
                                    {"apps/web/big.bin", std::string(20 << 20, 'x')}},
                                   "big");
  std::string big_blob = remote_.In({"rev-parse", sha + ":apps/web/big.bin"});
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());
  cache_.reset();

  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(tmp_.path() / "cache")) dirs.push_back(d.path());
  ASSERT_EQ(dirs.size(), 1u);
  fs::path objects = dirs[0] / "objects";
  // Explode the packs into loose objects, then drop the big blob.
  std::vector<fs::path> packs;
  for (const auto& f : fs::directory_iterator(objects / "pack")) {
    if (f.path().extension() == ".pack") packs.push_back(f.path());
  }
  for (const auto& pack : packs) {
    std::ifstream in(pack, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char* ext : {".pack", ".idx", ".rev"}) {
      fs::remove(fs::path(pack).replace_extension(ext));
    }
    auto r = RunProcess({"git", "-C", dirs[0].string(), "unpack-objects", "-q"}, data);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  ASSERT_TRUE(fs::remove(objects / big_blob.substr(0, 2) / big_blob.substr(2)));
  EXPECT_NE(RunProcess({"git", "-C", dirs[0].string(), "cat-file", "-e", big_blob}).exit_code, 0);

  cache_ = NewRepositoryCache({.root = tmp_.path() / "cache", .allow_file_urls = true});
  auto files = cache_->ReadTree(Key(), sha, ".", {.max_total_bytes = 1 << 20});
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(Paths(*files), std::vector<std::string>{"apps/web/deploy.yaml"});
}

TEST_F(RepositoryCacheTest, SecondFetchSeesNewCommitsAndPrunesDeletedBranches) {
  std::string c1 = remote_.Commit({{"a.yaml", "a: 1\n"}}, "first");
  remote_.In({"branch", "feature", c1});
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());
  EXPECT_EQ(cache_->Resolve(Key(), "feature")->sha, c1);

  std::string c2 = remote_.Commit({{"a.yaml", "a: 2\n"}}, "second");
  remote_.In({"branch", "-D", "feature"});
  EXPECT_EQ(cache_->Resolve(Key(), "main")->sha, c1);  // no network in Resolve
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());
  EXPECT_EQ(cache_->Resolve(Key(), "main")->sha, c2);
  EXPECT_EQ(cache_->Resolve(Key(), "feature").status().code(), Code::kNotFound);
}

// A controller fetches every pollInterval for every Release: memory must not grow per fetch.
// (libgit2 1.5.1 with PCRE2 10.42 leaks about 50 KiB in each remote it creates with
// url.insteadOf rewriting: 200 fetches would hold about 10 MiB more.)
TEST_F(RepositoryCacheTest, FetchesDoNotGrowMemory) {
  remote_.Commit({{"a.yaml", "a: 1\n"}}, "first");
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());  // creates the cache repository
  auto heap = [] {
    struct mallinfo2 m = mallinfo2();
    return static_cast<int64_t>(m.uordblks + m.hblkhd);
  };
  const int64_t before = heap();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());
  const int64_t grown = heap() - before;
  EXPECT_LT(grown, 2 << 20) << "the heap grew by " << grown / 1024 << " KiB over 200 fetches";
}

TEST_F(RepositoryCacheTest, ConcurrentFetchesOfOneUrlAreCoalesced) {
  remote_.Commit({{"a.yaml", "a: 1\n"}}, "first");
  constexpr int kCallers = 8;
  const uint64_t runs_before = test_hooks::FetchesRun();
  const uint64_t joined_before = test_hooks::FetchesJoined();
  std::atomic<int> hook_calls{0};
  // Hold the first fetch until the other seven callers have joined it (bounded, in case of a bug).
  test_hooks::SetBeforeFetch([&] {
    if (hook_calls++ > 0) return;
    for (int i = 0; i < 60000 && test_hooks::FetchesJoined() - joined_before < kCallers - 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<Status> results(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] { results[i] = cache_->Fetch(remote_.url(), none_); });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(test_hooks::FetchesJoined() - joined_before, uint64_t{kCallers - 1});
  EXPECT_EQ(test_hooks::FetchesRun() - runs_before, 1u);
  EXPECT_TRUE(cache_->Resolve(Key(), "main").ok());
}

TEST_F(RepositoryCacheTest, RestorePathCommitsThePathAsItWasAndPushes) {
  std::string c1 = remote_.Commit({{"apps/web/a.yaml", "image: v1\n"},
                                   {"apps/web/b.yaml", "b: 1\n"},
                                   {"apps/api/x.yaml", "x: 1\n"}},
                                  "v1");
  std::string c2 = remote_.Commit({{"apps/web/a.yaml", "image: v2\n"},
                                   {"apps/web/c.yaml", "c: 2\n"},
                                   {"apps/api/x.yaml", "x: 2\n"}},
                                  "v2", {"apps/web/b.yaml"});
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());

  auto info = cache_->RestorePath(remote_.url(), none_, "main", "apps/web", c1, "Roll back web");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->sha, remote_.In({"rev-parse", "main"}));
  EXPECT_EQ(info->message, "Roll back web");
  EXPECT_EQ(info->author, "Flywheel <flywheel@flywheel.dev>");
  EXPECT_EQ(remote_.In({"rev-parse", "main^"}), c2);
  EXPECT_EQ(remote_.In({"log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", "main"}),
            "Flywheel <flywheel@flywheel.dev>|Flywheel <flywheel@flywheel.dev>|Roll back web");
  EXPECT_EQ(remote_.In({"show", "main:apps/web/a.yaml"}), "image: v1");
  EXPECT_EQ(remote_.In({"show", "main:apps/web/b.yaml"}), "b: 1");
  EXPECT_EQ(remote_.In({"ls-tree", "-r", "--name-only", "main"}),
            "apps/api/x.yaml\napps/web/a.yaml\napps/web/b.yaml");
  EXPECT_EQ(remote_.In({"show", "main:apps/api/x.yaml"}), "x: 2");  // outside the path: kept
  EXPECT_EQ(cache_->Resolve(Key(), "main")->sha, info->sha);

  // Another path, another author; a path that did not exist at from_sha is removed; "."
  // restores the whole tree.
  auto api = cache_->RestorePath(remote_.url(), none_, "main", "apps/api", c1, "api back",
                                 {.name = "Bot", .email = "bot@example.com"});
  ASSERT_TRUE(api.ok()) << api.status().ToString();
  EXPECT_EQ(remote_.In({"show", "main:apps/api/x.yaml"}), "x: 1");
  remote_.Commit({{"late.yaml", "l: 1\n"}}, "late");
  auto gone = cache_->RestorePath(remote_.url(), none_, "main", "late.yaml", c1, "drop late");
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(remote_.In({"ls-tree", "-r", "--name-only", "main"}),
            "apps/api/x.yaml\napps/web/a.yaml\napps/web/b.yaml");
  auto whole = cache_->RestorePath(remote_.url(), none_, "main", ".", c2, "all of v2");
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(remote_.In({"rev-parse", "main^{tree}"}), remote_.In({"rev-parse", c2 + "^{tree}"}));
  EXPECT_EQ(remote_.In({"log", "-1", "--format=%an <%ae>", api->sha}), "Bot <bot@example.com>");
}

TEST_F(RepositoryCacheTest, RestorePathIsANoOpWhenContentIsEqual) {
  std::string c1 = remote_.Commit({{"apps/web/a.yaml", "image: v1\n"}}, "v1");
  std::string c2 = remote_.Commit({{"apps/api/x.yaml", "x: 2\n"}}, "api only");

  auto same = cache_->RestorePath(remote_.url(), none_, "main", "apps/web", c1, "nothing to do");
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->sha, c2);
  EXPECT_EQ(same->message, "api only");
  EXPECT_EQ(remote_.In({"rev-parse", "main"}), c2);
  auto head = cache_->RestorePath(remote_.url(), none_, "main", ".", c2, "nothing to do");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->sha, c2);
}

// libgit2's file:// transport runs no server hooks, so the remote is moved from a test seam
// between RestorePath's fetch and its push: the first push must be refused as non-fast-forward
// and the second, rebuilt on the new head, must land.
TEST_F(RepositoryCacheTest, RestorePathRetriesWhenTheBranchMoved) {
  std::string c1 = remote_.Commit({{"apps/web/a.yaml", "image: v1\n"}}, "v1");
  remote_.Commit({{"apps/web/a.yaml", "image: v2\n"}}, "v2");
  int pushes = 0;
  std::string moved_to;
  test_hooks::SetBeforePush([&] {
    if (pushes++ == 0) moved_to = remote_.Commit({{"other.yaml", "o: 1\n"}}, "meanwhile");
  });

  auto info = cache_->RestorePath(remote_.url(), none_, "main", "apps/web", c1, "Roll back web");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(pushes, 2);
  EXPECT_EQ(remote_.In({"rev-parse", "main"}), info->sha);
  EXPECT_EQ(remote_.In({"rev-parse", "main^"}), moved_to);
  EXPECT_EQ(remote_.In({"show", "main:apps/web/a.yaml"}), "image: v1");
  EXPECT_EQ(remote_.In({"show", "main:other.yaml"}), "o: 1");
}

TEST_F(RepositoryCacheTest, RestorePathGivesUpAfterTheRetries) {
  std::string c1 = remote_.Commit({{"apps/web/a.yaml", "image: v1\n"}}, "v1");
  remote_.Commit({{"apps/web/a.yaml", "image: v2\n"}}, "v2");
  cache_ = NewRepositoryCache(
      {.root = tmp_.path() / "cache", .push_retries = 1, .allow_file_urls = true});
  int pushes = 0;
  test_hooks::SetBeforePush([&] {
    remote_.Commit({{"other.yaml", "o: " + std::to_string(++pushes) + "\n"}}, "meanwhile");
  });
  auto info = cache_->RestorePath(remote_.url(), none_, "main", "apps/web", c1, "Roll back web");
  EXPECT_EQ(info.status().code(), Code::kAborted) << info.status().ToString();
  EXPECT_EQ(pushes, 2);
  EXPECT_EQ(remote_.In({"show", "main:apps/web/a.yaml"}), "image: v2");
}

TEST_F(RepositoryCacheTest, RestorePathOfUnknownBranchOrRevisionIsNotFound) {
  std::string c1 = remote_.Commit({{"a.yaml", "a: 1\n"}}, "v1");
  auto branch = cache_->RestorePath(remote_.url(), none_, "nope", ".", c1, "m");
  EXPECT_EQ(branch.status().code(), Code::kNotFound);
  EXPECT_EQ(branch.status().message(), "branch \"nope\" not found in " + remote_.url());
  auto rev = cache_->RestorePath(remote_.url(), none_, "main", ".",
                                 "0000000000000000000000000000000000000001", "m");
  EXPECT_EQ(rev.status().code(), Code::kNotFound);
}

// ---- CommitFiles: edit files at the branch head, commit, push with retry ----

// An edit that replaces every "v1" by "v2" and records which files it saw.
FileEdit V1ToV2(std::vector<std::string>* seen) {
  return [seen](const std::string& path,
                const std::string& content) -> Result<std::optional<std::string>> {
    seen->push_back(path);
    std::string out = content;
    for (size_t at; (at = out.find("v1")) != std::string::npos;) out.replace(at, 2, "v2");
    return std::optional<std::string>(out);
  };
}

TEST_F(RepositoryCacheTest, CommitFilesEditsThePathsCommitsWithTrailersAndPushes) {
  std::string c1 = remote_.Commit({{"apps/web/deploy.yaml", "image: web:v1 # keep\n"},
                                   {"apps/web/base/kustomization.yaml", "newTag: v1\n"},
                                   {"apps/web/notes.txt", "v1\n"},
                                   {"apps/web/run.sh", "echo v1\n"},
                                   {"apps/api/deploy.yaml", "image: api:v1\n"}},
                                  "v1");
  std::vector<std::string> seen;
  FileCommit commit{.branch = "main",
                    .paths = {"apps/web", "./apps/web/base", "apps/web/run.sh"},
                    .message = "Promote web:v2\n",
                    .trailers = {{"Flywheel-Pipeline-Run", "team-a/web-abc1234"},
                                 {"Source-Commit", "abc1234def"}},
                    .author = {.name = "Pipeline Bot", .email = "bot@example.com"}};
  auto result = cache_->CommitFiles(remote_.url(), none_, commit, V1ToV2(&seen));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->changed);
  EXPECT_EQ(result->attempts, 1);
  // Each file once, in path order; a named file whatever its extension; no .txt from a directory.
  EXPECT_EQ(seen, (std::vector<std::string>{"apps/web/base/kustomization.yaml",
                                            "apps/web/deploy.yaml", "apps/web/run.sh"}));
  EXPECT_EQ(result->files, seen);
  EXPECT_EQ(result->commit.sha, remote_.In({"rev-parse", "main"}));
  EXPECT_EQ(result->commit.message, "Promote web:v2");
  EXPECT_EQ(remote_.In({"rev-parse", "main^"}), c1);
  EXPECT_EQ(remote_.In({"log", "-1", "--format=%an <%ae>|%cn <%ce>", "main"}),
            "Pipeline Bot <bot@example.com>|Pipeline Bot <bot@example.com>");
  EXPECT_EQ(remote_.In({"log", "-1", "--format=%B", "main"}),
            "Promote web:v2\n\nFlywheel-Pipeline-Run: team-a/web-abc1234\n"
            "Source-Commit: abc1234def");
  EXPECT_EQ(remote_.In({"log", "-1", "--format=%(trailers:key=Source-Commit,valueonly)", "main"}),
            "abc1234def");
  EXPECT_EQ(remote_.In({"show", "main:apps/web/deploy.yaml"}), "image: web:v2 # keep");
  EXPECT_EQ(remote_.In({"show", "main:apps/web/base/kustomization.yaml"}), "newTag: v2");
  EXPECT_EQ(remote_.In({"show", "main:apps/web/run.sh"}), "echo v2");
  EXPECT_EQ(remote_.In({"show", "main:apps/web/notes.txt"}), "v1");
  EXPECT_EQ(remote_.In({"show", "main:apps/api/deploy.yaml"}), "image: api:v1");
  EXPECT_EQ(remote_.In({"diff", "--name-only", c1, "main"}),
            "apps/web/base/kustomization.yaml\napps/web/deploy.yaml\napps/web/run.sh");
  EXPECT_EQ(cache_->Resolve(Key(), "main")->sha, result->commit.sha);
}

TEST_F(RepositoryCacheTest, CommitFilesKeepsFileModes) {
  remote_.Commit({{"run.sh", "echo v1\n"}}, "v1");
  std::string work = (tmp_.path() / "work").string();
  Git({"-C", work, "update-index", "--chmod=+x", "run.sh"});
  Git({"-C", work, "commit", "-q", "-m", "exec"});
  Git({"-C", work, "push", "-q", "origin", "HEAD:refs/heads/main"});
  std::vector<std::string> seen;
  auto result = cache_->CommitFiles(
      remote_.url(), none_, {.branch = "main", .paths = {"run.sh"}, .message = "m"}, V1ToV2(&seen));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(remote_.In({"ls-tree", "main", "run.sh"}).substr(0, 6), "100755");
  EXPECT_EQ(remote_.In({"show", "main:run.sh"}), "echo v2");
}

// No change (the edit returns the same content, or nullopt): no commit, the head comes back.
TEST_F(RepositoryCacheTest, CommitFilesIsIdempotent) {
  std::string c1 = remote_.Commit({{"apps/web/a.yaml", "image: web:v2\n"}}, "already v2");
  std::vector<std::string> seen;
  FileCommit commit{.branch = "main", .paths = {"apps/web"}, .message = "m"};
  auto same = cache_->CommitFiles(remote_.url(), none_, commit, V1ToV2(&seen));
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_FALSE(same->changed);
  EXPECT_EQ(same->commit.sha, c1);
  EXPECT_EQ(same->commit.message, "already v2");
  EXPECT_TRUE(same->files.empty());
  EXPECT_EQ(seen, std::vector<std::string>{"apps/web/a.yaml"});
  auto untouched = cache_->CommitFiles(
      remote_.url(), none_, commit,
      [](const std::string&, const std::string&) -> Result<std::optional<std::string>> {
        return std::optional<std::string>();
      });
  ASSERT_TRUE(untouched.ok());
  EXPECT_FALSE(untouched->changed);
  EXPECT_EQ(remote_.In({"rev-parse", "main"}), c1);
}

// The branch moves between the fetch and the push (a test seam, as for RestorePath): the edit
// is applied again on the new head, keeping the other writer's change in the same file.
TEST_F(RepositoryCacheTest, CommitFilesReappliesTheEditWhenTheBranchMoved) {
  remote_.Commit({{"apps/web/a.yaml", "image: web:v1\nreplicas: 1\n"}}, "v1");
  int pushes = 0;
  std::string moved_to;
  test_hooks::SetBeforePush([&] {
    if (pushes++ == 0) {
      moved_to = remote_.Commit({{"apps/web/a.yaml", "image: web:v1\nreplicas: 3\n"}}, "scale");
    }
  });
  std::vector<std::string> seen;
  auto result = cache_->CommitFiles(remote_.url(), none_,
                                    {.branch = "main", .paths = {"apps/web"}, .message = "Promote"},
                                    V1ToV2(&seen));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(pushes, 2);
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(remote_.In({"rev-parse", "main^"}), moved_to);
  EXPECT_EQ(remote_.In({"show", "main:apps/web/a.yaml"}), "image: web:v2\nreplicas: 3");

  // When the other writer already made the change, the retry finds nothing to do.
  remote_.Commit({{"apps/web/a.yaml", "image: web:v1\n"}}, "back to v1");
  pushes = 0;
  test_hooks::SetBeforePush([&] {
    if (pushes++ == 0) moved_to = remote_.Commit({{"apps/web/a.yaml", "image: web:v2\n"}}, "x");
  });
  result = cache_->CommitFiles(remote_.url(), none_,
                               {.branch = "main", .paths = {"apps/web"}, .message = "Promote"},
                               V1ToV2(&seen));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_FALSE(result->changed);
  EXPECT_EQ(result->commit.sha, moved_to);
  EXPECT_EQ(result->attempts, 2);
}

TEST_F(RepositoryCacheTest, CommitFilesGivesUpAfterTheRetries) {
  remote_.Commit({{"a.yaml", "v1\n"}}, "v1");
  cache_ = NewRepositoryCache(
      {.root = tmp_.path() / "cache", .push_retries = 2, .allow_file_urls = true});
  int pushes = 0;
  test_hooks::SetBeforePush([&] {
    remote_.Commit({{"other.yaml", std::to_string(++pushes) + "\n"}}, "meanwhile");
  });
  std::vector<std::string> seen;
  auto result = cache_->CommitFiles(
      remote_.url(), none_, {.branch = "main", .paths = {"."}, .message = "m"}, V1ToV2(&seen));
  EXPECT_EQ(result.status().code(), Code::kAborted) << result.status().ToString();
  EXPECT_EQ(result.status().message(),
            "branch \"main\" of " + remote_.url() + " moved 3 times while pushing; giving up");
  EXPECT_EQ(pushes, 3);
  EXPECT_EQ(remote_.In({"show", "main:a.yaml"}), "v1");
}

TEST_F(RepositoryCacheTest, CommitFilesBadInputIsAPreciseErrorAndPushesNothing) {
  std::string c1 = remote_.Commit({{"apps/web/a.yaml", "v1\n"}}, "v1");
  std::vector<std::string> seen;
  auto commit_with = [&](FileCommit commit, FileEdit edit = nullptr) {
    return cache_->CommitFiles(remote_.url(), none_, commit, edit ? edit : V1ToV2(&seen)).status();
  };
  Status s = commit_with({.branch = "main", .paths = {"apps/nope"}, .message = "m"});
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "path \"apps/nope\" not found at " + c1.substr(0, 7));
  s = commit_with({.branch = "nope", .paths = {"."}, .message = "m"});
  EXPECT_EQ(s.message(), "branch \"nope\" not found in " + remote_.url());
  s = commit_with({.branch = "main", .paths = {"../x"}, .message = "m"});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "path \"../x\" leaves the repository");
  EXPECT_EQ(commit_with({.branch = "main", .paths = {}, .message = "m"}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(commit_with({.branch = "main", .paths = {"."}, .message = " \n"}).message(),
            "empty commit message");
  for (auto trailer : std::vector<std::pair<std::string, std::string>>{
           {"Bad Key", "v"}, {"Key:", "v"}, {"", "v"}, {"Key", "two\nlines"}}) {
    s = commit_with({.branch = "main", .paths = {"."}, .message = "m", .trailers = {trailer}});
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << trailer.first;
  }
  s = commit_with(
      {.branch = "main", .paths = {"."}, .message = "m"},
      [](const std::string& path, const std::string&) -> Result<std::optional<std::string>> {
        return Status(Code::kInvalidArgument, path + ":1: no image");
      });
  EXPECT_EQ(s.message(), "apps/web/a.yaml:1: no image");
  EXPECT_EQ(remote_.In({"rev-parse", "main"}), c1);
}

// ---- RemoteHead: the branch head without a clone ----

TEST_F(RepositoryCacheTest, RemoteHeadListsTheBranchWithoutCloning) {
  std::string c1 = remote_.Commit({{"a.yaml", "a: 1\n"}}, "v1");
  CacheOptions options{.allow_file_urls = true};
  auto head = RemoteHead(remote_.url(), none_, "main", options);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(*head, c1);
  std::string c2 = remote_.Commit({{"a.yaml", "a: 2\n"}}, "v2");
  EXPECT_EQ(*RemoteHead(remote_.url(), none_, "main", options), c2);
  remote_.In({"tag", "v1", c1});
  auto unknown = RemoteHead(remote_.url(), none_, "v1", options);  // a tag is not a branch
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_EQ(unknown.status().message(), "branch \"v1\" not found in " + remote_.url());
  EXPECT_FALSE(fs::exists(tmp_.path() / "cache")) << "nothing is cloned";

  EXPECT_EQ(RemoteHead(remote_.url(), none_, "main").status().message(),
            "file:// sources are disabled; start the operator with --allow-file-sources");
  EXPECT_EQ(RemoteHead(remote_.url(), none_, "", options).status().code(), Code::kInvalidArgument);
  auto missing =
      RemoteHead("file://" + (tmp_.path() / "nowhere.git").string(), none_, "main", options);
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  int port = flywheel::testing::FreePort();  // nothing listens there
  std::string url = "http://someone:url-secret-pw@127.0.0.1:" + std::to_string(port) + "/r.git";
  auto refused = RemoteHead(url, {.token = "token-secret"}, "main");
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  for (const char* secret : {"url-secret-pw", "token-secret", "someone"}) {
    EXPECT_EQ(refused.status().message().find(secret), std::string::npos)
        << refused.status().message();
  }
  std::stop_source stop;
  stop.request_stop();
  EXPECT_EQ(RemoteHead(remote_.url(), none_, "main", options, stop.get_token()).status().code(),
            Code::kCancelled);
}

TEST_F(RepositoryCacheTest, RemoteHeadOfASilentServerTimesOut) {
  flywheel::testing::SilentServer silent;
  auto start = std::chrono::steady_clock::now();
  auto head = RemoteHead(silent.GitUrl("r"), none_, "main", {.timeout = std::chrono::seconds(1)});
  EXPECT_EQ(head.status().code(), Code::kUnavailable) << head.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST_F(RepositoryCacheTest, MissingFileRepositoryIsAnError) {
  auto s = cache_->Fetch("file://" + (tmp_.path() / "nowhere.git").string(), none_);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("nowhere.git"), std::string::npos);
}

TEST_F(RepositoryCacheTest, UnsupportedUrlsAreInvalid) {
  EXPECT_EQ(cache_->Fetch("ftp://example.com/r.git", none_).code(), Code::kInvalidArgument);
  EXPECT_EQ(cache_->Fetch("", none_).code(), Code::kInvalidArgument);
  EXPECT_EQ(cache_->Fetch("not a url", none_).code(), Code::kInvalidArgument);
}

TEST_F(RepositoryCacheTest, CredentialsNeverAppearInMessages) {
  int port = flywheel::testing::FreePort();  // nothing listens there
  std::string url = "http://someone:url-secret-pw@127.0.0.1:" + std::to_string(port) + "/r.git";
  Credentials creds{.username = "deployer", .password = "field-secret-pw", .token = ""};
  Status s = cache_->Fetch(url, creds);
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("http://127.0.0.1:" + std::to_string(port) + "/r.git"),
            std::string::npos)
      << s.message();
  for (const char* secret : {"url-secret-pw", "field-secret-pw", "someone"}) {
    EXPECT_EQ(s.message().find(secret), std::string::npos) << s.message();
  }
  creds = {.token = "token-secret"};
  s = cache_->RestorePath(url, creds, "main", ".", "abcd", "m").status();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_EQ(s.message().find("token-secret"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("url-secret-pw"), std::string::npos) << s.message();
}

// A server that accepts the connection and never answers: the fetch gives up at the deadline,
// over ssh too (libssh2 reads the socket itself; the deadline's watchdog shuts it down).
TEST_F(RepositoryCacheTest, SilentServerTimesOut) {
  flywheel::testing::SilentServer silent;
  cache_ = NewRepositoryCache({.root = tmp_.path() / "cache", .timeout = std::chrono::seconds(1)});
  const std::string ssh = "ssh://git@127.0.0.1:" + std::to_string(silent.port()) + "/r.git";
  const Credentials ssh_credentials{.ssh_private_key = "key", .ssh_known_hosts = "hosts"};
  for (const std::string& url : {silent.HttpUrl("r"), silent.GitUrl("r"), ssh}) {
    auto start = std::chrono::steady_clock::now();
    Status s = cache_->Fetch(url, url == ssh ? ssh_credentials : none_);
    EXPECT_EQ(s.code(), Code::kUnavailable) << url << ": " << s.ToString();
    EXPECT_NE(s.message().find("timed out"), std::string::npos) << s.message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30)) << url;
  }
}

// Fetch and RestorePath stop when their stop token is requested, long before the (10 min) deadline:
// before the call, while the socket waits for an answer, and while joined to another fetch.
TEST_F(RepositoryCacheTest, StopTokenCancelsFetchAndRestorePathPromptly) {
  flywheel::testing::SilentServer silent;
  cache_ = NewRepositoryCache({.root = tmp_.path() / "cache", .timeout = std::chrono::minutes(10)});
  const std::string url = silent.GitUrl("r");
  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_EQ(cache_->Fetch(url, none_, stopped.get_token()).code(), Code::kCancelled);

  auto start = std::chrono::steady_clock::now();
  std::stop_source first, joiner;
  Status first_result, joiner_result;
  const uint64_t runs_before = test_hooks::FetchesRun();
  const uint64_t joined_before = test_hooks::FetchesJoined();
  std::thread a([&] { first_result = cache_->Fetch(url, none_, first.get_token()); });
  // Once the first fetch hangs, a second caller joins it, then stops waiting on its own token.
  while (test_hooks::FetchesRun() == runs_before) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::thread b([&] { joiner_result = cache_->Fetch(url, none_, joiner.get_token()); });
  while (test_hooks::FetchesJoined() == joined_before) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  joiner.request_stop();
  b.join();
  EXPECT_EQ(joiner_result.code(), Code::kCancelled) << joiner_result.ToString();
  first.request_stop();
  a.join();
  EXPECT_EQ(first_result.code(), Code::kCancelled) << first_result.ToString();
  EXPECT_EQ(first_result.message(), "fetch " + url + " cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));

  std::stop_source push_stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    push_stop.request_stop();
  });
  auto restored =
      cache_->RestorePath(url, none_, "main", ".", "abcd", "m", {}, push_stop.get_token());
  stopper.join();
  EXPECT_EQ(restored.status().code(), Code::kCancelled) << restored.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(120));
}

// ---- tenants: one cached copy per URL and credential identity ----

TEST(CacheKeyTest, IdentityCoversAllCredentialMaterialAndHoldsNoSecret) {
  const std::string url = "https://git.example.com/org/app.git";
  const CacheKey anonymous(url, {});
  EXPECT_EQ(anonymous, CacheKey(url, {}));
  EXPECT_EQ(anonymous.identity().size(), 64u);
  std::vector<CacheKey> keys = {
      anonymous,
      CacheKey(url, {.username = "u"}),
      CacheKey(url, {.username = "u", .password = "secret-one"}),
      CacheKey(url, {.username = "u", .password = "secret-two"}),
      CacheKey(url, {.token = "secret-one"}),
      CacheKey(url, {.ssh_private_key = "secret-one"}),
      CacheKey(url, {.ssh_private_key = "secret-one", .ssh_known_hosts = "h"}),
      CacheKey("https://u:secret-one@git.example.com/org/app.git", {}),
      // Length-prefixed fields: moving characters between fields is another identity.
      CacheKey(url, {.username = "us", .password = "ecret-one"}),
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(keys[i].identity().find("secret"), std::string::npos);
    for (size_t j = i + 1; j < keys.size(); ++j) {
      EXPECT_NE(keys[i].identity(), keys[j].identity()) << i << " vs " << j;
    }
  }
  EXPECT_EQ(CacheKey(url, {.token = "t"}), CacheKey(url, {.token = "t"}));
}

TEST_F(RepositoryCacheTest, TwoCredentialSetsOfOneUrlGetSeparateCaches) {
  std::string sha = remote_.Commit({{"a.yaml", "a: 1\n"}}, "first");
  const Credentials alice{.username = "alice", .password = "alice-pw"};
  const Credentials bob{.token = "bob-token"};
  const uint64_t runs_before = test_hooks::FetchesRun();
  ASSERT_TRUE(cache_->Fetch(remote_.url(), alice).ok());
  ASSERT_TRUE(cache_->Fetch(remote_.url(), bob).ok());
  EXPECT_EQ(test_hooks::FetchesRun() - runs_before, 2u);
  size_t dirs = 0;
  for (const auto& d : fs::directory_iterator(tmp_.path() / "cache")) {
    ++dirs;
    for (const char* secret : {"alice", "bob"}) {
      EXPECT_EQ(d.path().filename().string().find(secret), std::string::npos);
    }
  }
  EXPECT_EQ(dirs, 2u);
  EXPECT_EQ(cache_->Resolve(CacheKey(remote_.url(), alice), "main")->sha, sha);
  EXPECT_EQ(cache_->Resolve(CacheKey(remote_.url(), bob), "main")->sha, sha);
  // Never fetched without credentials: nothing to read, whatever alice and bob fetched.
  Status anonymous = cache_->Resolve(Key(), "main").status();
  EXPECT_EQ(anonymous.code(), Code::kFailedPrecondition) << anonymous.ToString();
  EXPECT_EQ(anonymous.message(), remote_.url() + " has not been fetched yet");
}

// Over HTTP with basic auth: what the right password fetched is invisible to a key with other
// credentials, and a fetch with other credentials never joins (and so never shares the result
// of) a fetch with the right ones.
TEST_F(RepositoryCacheTest, OtherCredentialsNeitherJoinNorReadAnotherIdentitysFetch) {
  std::string why;
  ASSERT_TRUE(flywheel::testing::GitServersAvailable(&why)) << why;
  flywheel::testing::GitRepo repo(tmp_.path().string(), "private");
  const std::string sha = repo.Commit({{"app/a.yaml", "a: 1\n"}}, "first");
  flywheel::testing::GitHttpServer server(tmp_.path().string(), "alice", "alice-pw");
  const std::string url = server.Url("private");
  const Credentials alice{.username = "alice", .password = "alice-pw"};
  const Credentials mallory{.username = "alice", .password = "guessed"};

  // Hold alice's fetch until a second fetch runs (bounded: with URL-only keys mallory would join
  // alice's fetch instead, wait for it, and get its success).
  const uint64_t runs_before = test_hooks::FetchesRun();
  const uint64_t joined_before = test_hooks::FetchesJoined();
  std::atomic<int> hook_calls{0};
  test_hooks::SetBeforeFetch([&] {
    if (hook_calls++ > 0) return;
    for (int i = 0; i < 10000 && test_hooks::FetchesRun() - runs_before < 2 &&
                    test_hooks::FetchesJoined() == joined_before;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  Status alice_result;
  std::thread a([&] { alice_result = cache_->Fetch(url, alice); });
  while (hook_calls == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Status mallory_result = cache_->Fetch(url, mallory);
  a.join();
  test_hooks::SetBeforeFetch(nullptr);
  EXPECT_TRUE(alice_result.ok()) << alice_result.ToString();
  EXPECT_EQ(mallory_result.code(), Code::kUnauthenticated) << mallory_result.ToString();
  EXPECT_EQ(test_hooks::FetchesJoined(), joined_before);
  EXPECT_EQ(mallory_result.message().find("guessed"), std::string::npos);

  auto head = cache_->Resolve(CacheKey(url, alice), "main");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->sha, sha);
  // mallory's failed fetch left an empty copy: no branch, and not alice's objects either.
  EXPECT_EQ(cache_->Resolve(CacheKey(url, mallory), "main").status().code(), Code::kNotFound);
  EXPECT_EQ(cache_->ReadTree(CacheKey(url, mallory), sha, "app").status().code(), Code::kNotFound);
  // Credentials never used to fetch: nothing at all.
  for (const Credentials& other : {Credentials{}, Credentials{.token = "some-token"}}) {
    EXPECT_EQ(cache_->Resolve(CacheKey(url, other), sha).status().code(),
              Code::kFailedPrecondition);
    EXPECT_EQ(cache_->ReadTree(CacheKey(url, other), sha, "app").status().code(),
              Code::kFailedPrecondition);
  }
  EXPECT_TRUE(cache_->ReadTree(CacheKey(url, alice), sha, "app").ok());
}

TEST_F(RepositoryCacheTest, FileUrlsNeedTheOption) {
  std::string sha = remote_.Commit({{"a.yaml", "a: 1\n"}}, "first");
  ASSERT_TRUE(cache_->Fetch(remote_.url(), none_).ok());
  cache_ = NewRepositoryCache({.root = tmp_.path() / "cache"});  // the same directory
  const std::string refused =
      "file:// sources are disabled; start the operator with --allow-file-sources";
  for (const std::string& url : {remote_.url(), "FILE://" + remote_.bare()}) {
    Status fetch = cache_->Fetch(url, none_);
    EXPECT_EQ(fetch.code(), Code::kInvalidArgument) << url;
    EXPECT_EQ(fetch.message(), refused) << url;
  }
  // Not even what an earlier run with the option fetched can be read.
  EXPECT_EQ(cache_->Resolve(Key(), "main").status().message(), refused);
  EXPECT_EQ(cache_->ReadTree(Key(), sha, ".").status().message(), refused);
  EXPECT_EQ(cache_->RestorePath(remote_.url(), none_, "main", ".", sha, "m").status().message(),
            refused);
}

TEST_F(RepositoryCacheTest, SshNeedsKnownHosts) {
  Credentials creds{.ssh_private_key = "-----BEGIN OPENSSH PRIVATE KEY-----\n"};
  for (const std::string url : {"ssh://git@127.0.0.1:1/r.git", "git@127.0.0.1:org/r.git"}) {
    Status s = cache_->Fetch(url, creds);
    EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("known_hosts"), std::string::npos) << s.message();
  }
}

// ---- known_hosts matching (the ssh certificate check) ----

std::string KeyBlob(const std::string& type, char fill) {
  auto str = [](const std::string& s) {
    std::string out(4, '\0');
    out[3] = static_cast<char>(s.size());
    return out + s;
  };
  return str(type) + str(std::string(32, fill));
}

std::string Base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(n);
  return out;
}

TEST(KnownHostsTest, MatchesPlainPortedWildcardAndRevokedEntries) {
  std::string good = KeyBlob("ssh-ed25519", 'g');
  std::string other = KeyBlob("ssh-ed25519", 'o');
  std::string text =
      "# comment\n"
      "git.example.com,10.0.0.1 ssh-ed25519 " +
      Base64(good) +
      " c\n"
      "[git.example.com]:2222 ssh-ed25519 " +
      Base64(other) +
      "\n"
      "*.corp.example ssh-ed25519 " +
      Base64(good) +
      "\n"
      "@revoked * ssh-ed25519 " +
      Base64(other) + "\n";
  EXPECT_EQ(CheckKnownHosts(text, "git.example.com", 22, good), HostKeyCheck::kMatch);
  EXPECT_EQ(CheckKnownHosts(text, "10.0.0.1", -1, good), HostKeyCheck::kMatch);
  EXPECT_EQ(CheckKnownHosts(text, "git.example.com", 22, other), HostKeyCheck::kMismatch);
  EXPECT_EQ(CheckKnownHosts(text, "git.example.com", 2222, good), HostKeyCheck::kMismatch);
  EXPECT_EQ(CheckKnownHosts(text, "git.example.com", 2222, other), HostKeyCheck::kMismatch);
  EXPECT_EQ(CheckKnownHosts(text, "a.corp.example", 22, good), HostKeyCheck::kMatch);
  EXPECT_EQ(CheckKnownHosts(text, "elsewhere.org", 22, good), HostKeyCheck::kUnknownHost);
}

TEST(KnownHostsTest, MatchesHashedHostNames) {
  // From `ssh-keygen -H`: |1|base64(salt)|base64(HMAC-SHA1(salt, "[127.0.0.1]:2222")).
  std::string salt(20, 's');
  unsigned char mac[20];
  unsigned int mac_len = 0;
  std::string name = "[127.0.0.1]:2222";
  HMAC(EVP_sha1(), salt.data(), 20, reinterpret_cast<const unsigned char*>(name.data()),
       name.size(), mac, &mac_len);
  std::string key = KeyBlob("ssh-ed25519", 'k');
  std::string text = "|1|" + Base64(salt) + "|" +
                     Base64(std::string(reinterpret_cast<char*>(mac), mac_len)) + " ssh-ed25519 " +
                     Base64(key) + "\n";
  EXPECT_EQ(CheckKnownHosts(text, "127.0.0.1", 2222, key), HostKeyCheck::kMatch);
  EXPECT_EQ(CheckKnownHosts(text, "127.0.0.1", 22, key), HostKeyCheck::kUnknownHost);
}

}  // namespace
}  // namespace flywheel::git
