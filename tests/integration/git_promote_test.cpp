// The promotion building blocks of Pipelines against the real git servers (tests/support/
// git_server.h): RemoteHead over file://, git daemon and http with basic auth; CommitFiles with
// SetImageTag over http, including a concurrent push that forces the retry and a push a
// pre-receive hook rejects for good.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

// Private seam of the git implementation: moves the remote between fetch and push.
#include "../../src/git/test_hooks.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/manifest/image_edit.h"
#include "kube/config_test_util.h"
#include "support/git_server.h"

namespace flywheel::git {
namespace {

using flywheel::testing::GitDaemon;
using flywheel::testing::GitHttpServer;
using flywheel::testing::GitRepo;
using kube::testing::TempDir;

constexpr char kDeploy[] = R"(# web, promoted by flywheel
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: "registry.local:5000/acme/web:1.0"  # same build
      containers:
      - name: web
        image: registry.local:5000/acme/web:1.0
      - name: proxy
        image: envoy:v1.30
)";

constexpr char kKustomization[] =
    "resources: [../deploy.yaml]\r\n"
    "images:\r\n"
    "  - name: registry.local:5000/acme/web # the app\r\n";

// The edit a promotion makes: the new tag on every reference to the repository.
FileEdit Promote(const std::string& tag) {
  return [tag](const std::string& path,
               const std::string& content) -> Result<std::optional<std::string>> {
    auto edit = manifest::SetImageTag(path, content, "registry.local:5000/acme/web", tag);
    if (!edit.ok()) return edit.status();
    return std::optional<std::string>(edit->content);
  };
}

class GitPromoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!flywheel::testing::GitServersAvailable(&why)) GTEST_SKIP() << why;
    repo_ = std::make_unique<GitRepo>(tmp_.Path("repos"), "deploy");
    first_ = repo_->Commit({{"apps/web/deploy.yaml", kDeploy},
                            {"apps/web/prod/kustomization.yaml", kKustomization},
                            {"apps/api/deploy.yaml", "image: registry.local:5000/acme/api:1\n"}},
                           "first");
    cache_ = NewRepositoryCache({.root = tmp_.Path("cache"), .allow_file_urls = true});
  }
  void TearDown() override { test_hooks::SetBeforePush(nullptr); }

  FileCommit Promotion(const std::string& tag) const {
    return {.branch = "main",
            .paths = {"apps/web"},
            .message = "Promote registry.local:5000/acme/web:" + tag,
            .trailers = {{"Flywheel-Pipeline-Run", "team-a/web-" + tag},
                         {"Source-Commit", std::string(40, 'a')}},
            .author = {.name = "flywheel", .email = "flywheel@example.invalid"}};
  }

  TempDir tmp_;
  std::unique_ptr<GitRepo> repo_;
  std::string first_;
  std::unique_ptr<RepositoryCache> cache_;
  const Credentials alice_{.username = "alice", .password = "s3cret"};
};

TEST_F(GitPromoteTest, RemoteHeadOverFileGitDaemonAndHttpWithAuth) {
  GitDaemon daemon(tmp_.Path("repos"));
  GitHttpServer http(tmp_.Path("repos"), "alice", "s3cret");
  CacheOptions options{.timeout = std::chrono::seconds(10), .allow_file_urls = true};
  for (const auto& [url, credentials] : std::vector<std::pair<std::string, Credentials>>{
           {repo_->FileUrl(), {}}, {daemon.Url("deploy"), {}}, {http.Url("deploy"), alice_}}) {
    auto head = RemoteHead(url, credentials, "main", options);
    ASSERT_TRUE(head.ok()) << url << ": " << head.status().ToString();
    EXPECT_EQ(*head, first_) << url;
    auto unknown = RemoteHead(url, credentials, "release", options);
    EXPECT_EQ(unknown.status().code(), Code::kNotFound) << url;
    EXPECT_EQ(unknown.status().message(), "branch \"release\" not found in " + url);
  }
  std::string dev = repo_->Commit({{"x.yaml", "x: 1\n"}}, "dev", "dev");
  EXPECT_EQ(*RemoteHead(http.Url("deploy"), alice_, "dev", options), dev);
  EXPECT_EQ(*RemoteHead(daemon.Url("deploy"), {}, "dev", options), dev);
  EXPECT_FALSE(std::filesystem::exists(tmp_.Path("cache"))) << "nothing is cloned";

  // Wrong or no credentials; a repository the server does not have; the server down.
  auto wrong =
      RemoteHead(http.Url("deploy"), {.username = "alice", .password = "nope-pw"}, "main", options);
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated) << wrong.status().ToString();
  EXPECT_EQ(wrong.status().message(), "authentication failed for " + http.Url("deploy"));
  EXPECT_EQ(RemoteHead(http.Url("deploy"), {}, "main", options).status().code(),
            Code::kUnauthenticated);
  auto missing = RemoteHead(http.Url("missing"), alice_, "main", options);
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  auto not_exported = RemoteHead(daemon.Url("missing"), {}, "main", options);
  EXPECT_EQ(not_exported.status().code(), Code::kNotFound) << not_exported.status().ToString();
  EXPECT_NE(not_exported.status().message().find(daemon.Url("missing")), std::string::npos)
      << not_exported.status().ToString();
  http.Pause();
  auto down = RemoteHead(http.Url("deploy"), alice_, "main", options);
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  EXPECT_EQ(down.status().message().find("s3cret"), std::string::npos);
  http.Resume();
  EXPECT_EQ(*RemoteHead(http.Url("deploy"), alice_, "main", options), first_);
}

// A promotion over http with basic auth: another client pushes between our fetch and our push,
// so the first push is refused; the edit is applied again on the new head and lands, keeping
// the other change and every byte outside the edited scalars.
TEST_F(GitPromoteTest, CommitFilesOverHttpRetriesAfterAConcurrentPush) {
  GitHttpServer http(tmp_.Path("repos"), "alice", "s3cret");
  const std::string url = http.Url("deploy");
  int pushes = 0;
  std::string concurrent;
  test_hooks::SetBeforePush([&] {
    if (pushes++ > 0) return;
    std::string scaled = kDeploy;
    scaled.replace(scaled.find("spec:\n"), 6, "spec:\n  replicas: 3\n");
    concurrent = repo_->Commit({{"apps/web/deploy.yaml", scaled}}, "scale web");
  });
  auto result = cache_->CommitFiles(url, alice_, Promotion("abc1234"), Promote("abc1234"));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->changed);
  EXPECT_EQ(pushes, 2);
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(result->files,
            (std::vector<std::string>{"apps/web/deploy.yaml", "apps/web/prod/kustomization.yaml"}));
  auto log = repo_->Log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], std::make_pair(result->commit.sha,
                                   std::string("Promote registry.local:5000/acme/web:abc1234")));
  EXPECT_EQ(log[1].first, concurrent);
  EXPECT_EQ(repo_->Show("apps/web/deploy.yaml"), R"(# web, promoted by flywheel
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  template:
    spec:
      initContainers:
      - name: migrate
        image: "registry.local:5000/acme/web:abc1234"  # same build
      containers:
      - name: web
        image: registry.local:5000/acme/web:abc1234
      - name: proxy
        image: envoy:v1.30
)");
  EXPECT_EQ(repo_->Show("apps/web/prod/kustomization.yaml"),
            "resources: [../deploy.yaml]\r\n"
            "images:\r\n"
            "  - name: registry.local:5000/acme/web # the app\r\n"
            "    newTag: abc1234\r\n");
  EXPECT_EQ(repo_->Show("apps/api/deploy.yaml"), "image: registry.local:5000/acme/api:1\n");

  // The same promotion again: the tag is in place, no commit.
  auto again = cache_->CommitFiles(url, alice_, Promotion("abc1234"), Promote("abc1234"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->commit.sha, result->commit.sha);
  EXPECT_EQ(repo_->Log().size(), 3u);

  // A wrong password is Unauthenticated and never shown.
  auto wrong = cache_->CommitFiles(url, {.username = "alice", .password = "wrong-pw"},
                                   Promotion("def5678"), Promote("def5678"));
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated) << wrong.status().ToString();
  EXPECT_EQ(wrong.status().message().find("wrong-pw"), std::string::npos);
}

// A protected branch: the server's pre-receive hook refuses every push. The error names the
// server's reason, is not retried, and the branch is untouched.
TEST_F(GitPromoteTest, CommitFilesRejectedForGoodIsAClearErrorAndNotRetried) {
  const std::string hook = repo_->bare_path() + "/hooks/pre-receive";
  std::ofstream(hook) << "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n";
  ASSERT_EQ(chmod(hook.c_str(), 0755), 0);
  GitHttpServer http(tmp_.Path("repos"), "alice", "s3cret");
  int pushes = 0;
  test_hooks::SetBeforePush([&] { pushes++; });
  auto result =
      cache_->CommitFiles(http.Url("deploy"), alice_, Promotion("abc1234"), Promote("abc1234"));
  EXPECT_EQ(result.status().code(), Code::kFailedPrecondition) << result.status().ToString();
  EXPECT_EQ(result.status().message(), "push to " + http.Url("deploy") +
                                           " rejected: pre-receive hook declined (the server "
                                           "said: main is protected)");
  EXPECT_EQ(pushes, 1);
  EXPECT_EQ(repo_->Head(), first_);

  // git daemon serves read-only: a push there is PermissionDenied at once, not retried.
  GitDaemon daemon(tmp_.Path("repos"));
  pushes = 0;
  auto readonly =
      cache_->CommitFiles(daemon.Url("deploy"), {}, Promotion("abc1234"), Promote("abc1234"));
  EXPECT_EQ(readonly.status().code(), Code::kPermissionDenied) << readonly.status().ToString();
  EXPECT_EQ(readonly.status().message(), "push to " + daemon.Url("deploy") +
                                             " refused: remote error: service not enabled: "
                                             "/deploy.git");
  EXPECT_EQ(pushes, 1);
  EXPECT_EQ(repo_->Head(), first_);

  // An edit that fails (a matching image as a block scalar) pushes nothing either.
  std::filesystem::remove(hook);
  repo_->Commit({{"apps/web/block.yaml", "image: |\n  registry.local:5000/acme/web:1\n"}}, "b");
  pushes = 0;
  auto bad = cache_->CommitFiles(repo_->FileUrl(), {}, Promotion("abc1234"), Promote("abc1234"));
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "apps/web/block.yaml:1: image is a block scalar (|); write it as a plain or quoted "
            "scalar to let Flywheel edit it");
  EXPECT_EQ(pushes, 0);
}

}  // namespace
}  // namespace flywheel::git
