// git::Clone against the real git servers of tests/support/git_server.h (file://, git daemon,
// nginx + git http-backend with basic auth, sshd), checked with the git CLI as a build step
// would see the work tree.
#include "flywheel/git/clone.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "flywheel/git/secret_credentials.h"
#include "kube/config_test_util.h"
#include "support/git_server.h"
#include "support/net.h"
#include "support/process.h"

namespace flywheel::git {
namespace {

namespace fs = std::filesystem;
using flywheel::testing::GitDaemon;
using flywheel::testing::GitHttpServer;
using flywheel::testing::GitRepo;
using flywheel::testing::GitSshServer;
using flywheel::testing::RunProcess;
using kube::testing::TempDir;

// `git -C dir args...` (any owner of dir accepted); its stdout without the trailing newline.
std::string GitIn(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-c", "safe.directory=*", "-C", dir};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunProcess(argv);
  EXPECT_EQ(r.exit_code, 0) << "git " << args[0] << ": " << r.err;
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

// Whether `dir` has no entries.
bool IsEmptyDir(const std::string& dir) {
  return fs::is_directory(dir) && fs::directory_iterator(dir) == fs::directory_iterator();
}

class CloneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(flywheel::testing::GitServersAvailable(&why)) << why;
    repo_ = std::make_unique<GitRepo>(tmp_.Path("repos"), "app");
    first_ = repo_->Commit({{"README.md", "hello\n"}, {"src/main.c", "int main() {}\n"}}, "first");
    second_ = repo_->Commit({{"README.md", "hello again\n"}}, "second: a better README");
  }

  // A request for `url` at `revision` of main into a new directory "dest".
  CloneRequest Request(const std::string& url, const std::string& revision) {
    return CloneRequest{.url = url, .branch = "main", .revision = revision, .dest = Dest()};
  }
  std::string Dest() const { return tmp_.Path("dest"); }

  // Asserts that Dest() holds exactly `revision` of main as a build step sees it.
  void ExpectCheckedOut(const std::string& revision) {
    EXPECT_EQ(GitIn(Dest(), {"rev-parse", "HEAD"}), revision);
    EXPECT_EQ(GitIn(Dest(), {"status", "--porcelain", "--untracked-files=all"}), "")
        << "work tree and index must match the commit";
    EXPECT_EQ(
        RunProcess({"git", "-c", "safe.directory=*", "-C", Dest(), "symbolic-ref", "-q", "HEAD"})
            .exit_code,
        1)
        << "HEAD is detached";
    EXPECT_EQ(GitIn(Dest(), {"rev-parse", "refs/heads/main"}), revision);
    EXPECT_EQ(GitIn(Dest(), {"rev-parse", "--abbrev-ref", "main@{upstream}"}), "origin/main");
  }

  TempDir tmp_;
  std::unique_ptr<GitRepo> repo_;
  std::string first_, second_;
};

TEST_F(CloneTest, ClonesTheBranchHeadOverFile) {
  auto info = Clone(Request(repo_->FileUrl(), second_));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->sha, second_);
  EXPECT_EQ(info->message, "second: a better README");
  EXPECT_EQ(info->author, "Test <test@example.com>");
  EXPECT_EQ(std::chrono::system_clock::to_time_t(info->committed_at),
            std::stol(GitIn(Dest(), {"show", "-s", "--format=%ct", "HEAD"})));
  ExpectCheckedOut(second_);
  EXPECT_EQ(tmp_.Read("dest/README.md"), "hello again\n");
  EXPECT_EQ(tmp_.Read("dest/src/main.c"), "int main() {}\n");
  EXPECT_EQ(GitIn(Dest(), {"remote", "get-url", "origin"}), repo_->FileUrl());
}

TEST_F(CloneTest, ChecksOutAnOlderCommitOfTheBranch) {
  repo_->Tag("v1", first_);
  repo_->Tag("elsewhere", repo_->Commit({{"other.txt", "x\n"}}, "elsewhere", "other"));
  // Over git://: libgit2's file:// transport copies objects beyond the branch, and with them tags.
  GitDaemon daemon(tmp_.Path("repos"));
  auto info = Clone(Request(daemon.Url("app"), first_));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->sha, first_);
  EXPECT_EQ(info->message, "first");
  ExpectCheckedOut(first_);
  EXPECT_EQ(tmp_.Read("dest/README.md"), "hello\n");
  EXPECT_EQ(GitIn(Dest(), {"rev-parse", "origin/main"}), second_) << "the branch tip is known";
  EXPECT_EQ(GitIn(Dest(), {"describe", "--tags"}), "v1");
  EXPECT_EQ(GitIn(Dest(), {"tag", "-l"}), "v1") << "only the tags into the fetched history";
}

TEST_F(CloneTest, ClonesOverGitDaemon) {
  GitDaemon daemon(tmp_.Path("repos"));
  auto info = Clone(Request(daemon.Url("app"), first_));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ExpectCheckedOut(first_);
}

TEST_F(CloneTest, ClonesOverHttpWithBasicAuthAndNeverStoresTheCredentials) {
  GitHttpServer server(tmp_.Path("repos"), "alice", "s3cret-pw");
  CloneRequest request = Request(server.Url("app"), second_);
  request.credentials = Credentials{.username = "alice", .password = "s3cret-pw"};
  auto info = Clone(request);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ExpectCheckedOut(second_);
  auto grep = RunProcess({"grep", "-r", "-l", "s3cret-pw", Dest()});
  EXPECT_EQ(grep.exit_code, 1) << "the password is written below dest: " << grep.out;
}

TEST_F(CloneTest, ClonesWithCredentialsInTheUrlAndRecordsTheUrlWithoutThem) {
  GitHttpServer server(tmp_.Path("repos"), "alice", "s3cret-pw");
  std::string url = server.Url("app");
  url.replace(url.find("://") + 3, 0, "alice:s3cret-pw@");
  auto info = Clone(Request(url, second_));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(GitIn(Dest(), {"remote", "get-url", "origin"}), server.Url("app"));
  EXPECT_EQ(RunProcess({"grep", "-r", "-l", "s3cret-pw", Dest()}).exit_code, 1);
}

TEST_F(CloneTest, ClonesOverSshWithTheHostKeyChecked) {
  GitSshServer server(tmp_.Path("repos"));
  CloneRequest request = Request(server.Url("app"), second_);
  request.credentials = Credentials{.ssh_private_key = server.client_private_key(),
                                    .ssh_known_hosts = server.known_hosts()};
  auto info = Clone(request);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ExpectCheckedOut(second_);
}

TEST_F(CloneTest, RefusesAnSshHostKeyThatDoesNotMatchKnownHosts) {
  GitSshServer server(tmp_.Path("repos"));
  GitSshServer other(tmp_.Path("repos"));  // another host key
  std::string known_hosts = other.known_hosts();
  // The other server's key, listed for this server's address.
  const std::string other_addr = "[127.0.0.1]:" + std::to_string(other.port());
  known_hosts.replace(known_hosts.find(other_addr), other_addr.size(),
                      "[127.0.0.1]:" + std::to_string(server.port()));
  CloneRequest request = Request(server.Url("app"), second_);
  request.credentials =
      Credentials{.ssh_private_key = server.client_private_key(), .ssh_known_hosts = known_hosts};
  auto info = Clone(request);
  ASSERT_EQ(info.status().code(), Code::kFailedPrecondition) << info.status().ToString();
  EXPECT_EQ(info.status().message(), "ssh host key of 127.0.0.1 does not match known_hosts");
  EXPECT_TRUE(IsEmptyDir(Dest())) << "nothing half-done is left";
}

TEST_F(CloneTest, WrongPasswordIsUnauthenticatedWithoutThePassword) {
  GitHttpServer server(tmp_.Path("repos"), "alice", "s3cret-pw");
  CloneRequest request = Request(server.Url("app"), second_);
  request.credentials = Credentials{.username = "alice", .password = "guessed-pw"};
  auto info = Clone(request);
  ASSERT_EQ(info.status().code(), Code::kUnauthenticated) << info.status().ToString();
  EXPECT_EQ(info.status().message(), "authentication failed for " + server.Url("app"));
  EXPECT_TRUE(IsEmptyDir(Dest()));
}

// A revision on another branch: git's default refuses a want of an object no ref advertises
// (and libgit2 does not ask), so every branch is fetched.
TEST_F(CloneTest, FindsARevisionOnAnotherBranch) {
  const std::string feature = repo_->Commit({{"feature.txt", "new\n"}}, "feature work", "feature");
  GitDaemon daemon(tmp_.Path("repos"));
  auto info = Clone(Request(daemon.Url("app"), feature));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ExpectCheckedOut(feature);
  EXPECT_EQ(tmp_.Read("dest/feature.txt"), "new\n");
  EXPECT_EQ(GitIn(Dest(), {"for-each-ref", "--format=%(refname)", "refs/flywheel"}), "")
      << "the private ref of the fetch by SHA is removed";
}

// A server that allows wants of any reachable object gives the revision by its SHA alone.
TEST_F(CloneTest, FetchesARevisionBySha) {
  const std::string feature = repo_->Commit({{"feature.txt", "new\n"}}, "feature work", "feature");
  GitIn(repo_->bare_path(), {"config", "uploadpack.allowReachableSHA1InWant", "true"});
  GitDaemon daemon(tmp_.Path("repos"));
  auto info = Clone(Request(daemon.Url("app"), feature));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ExpectCheckedOut(feature);
  EXPECT_EQ(GitIn(Dest(), {"for-each-ref", "--format=%(refname)", "refs/remotes/origin/feature"}),
            "")
      << "the SHA alone was fetched, not every branch";
}

TEST_F(CloneTest, MissingRevisionNamesTheRevisionTheUrlAndTheBranch) {
  GitHttpServer server(tmp_.Path("repos"), "alice", "s3cret-pw");
  std::string url = server.Url("app");
  url.replace(url.find("://") + 3, 0, "alice:s3cret-pw@");
  const std::string missing = "0123456789abcdef0123456789abcdef01234567";
  auto info = Clone(Request(url, missing));
  ASSERT_EQ(info.status().code(), Code::kNotFound) << info.status().ToString();
  EXPECT_EQ(info.status().message(),
            "revision " + missing + " not found in " + server.Url("app") + " (branch main)");
  EXPECT_TRUE(IsEmptyDir(Dest()));
}

TEST_F(CloneTest, UnknownBranchIsNotFound) {
  GitDaemon daemon(tmp_.Path("repos"));
  CloneRequest request = Request(daemon.Url("app"), second_);
  request.branch = "no-such-branch";
  auto info = Clone(request);
  ASSERT_EQ(info.status().code(), Code::kNotFound) << info.status().ToString();
  EXPECT_EQ(info.status().message(), "branch \"no-such-branch\" not found in " + daemon.Url("app"));
  EXPECT_TRUE(IsEmptyDir(Dest()));
}

TEST_F(CloneTest, UnreachableHostIsUnavailable) {
  const std::string url =
      "git://127.0.0.1:" + std::to_string(flywheel::testing::FreePort()) + "/app.git";
  auto info = Clone(Request(url, second_));
  ASSERT_EQ(info.status().code(), Code::kUnavailable) << info.status().ToString();
  EXPECT_EQ(info.status().message().rfind("cannot fetch " + url + ": ", 0), 0u)
      << info.status().message();
  EXPECT_TRUE(IsEmptyDir(Dest()));
}

TEST_F(CloneTest, AHostThatNeverAnswersTimesOut) {
  flywheel::testing::SilentServer silent;
  CloneRequest request = Request(silent.GitUrl("app"), second_);
  request.timeout = std::chrono::seconds(1);
  auto info = Clone(request);
  ASSERT_EQ(info.status().code(), Code::kUnavailable) << info.status().ToString();
  EXPECT_EQ(info.status().message(), "fetch " + silent.GitUrl("app") + " timed out");
  EXPECT_TRUE(IsEmptyDir(Dest()));
}

TEST_F(CloneTest, RefusesANonEmptyDestinationAndLeavesItAlone) {
  fs::create_directories(Dest());
  tmp_.Write("dest/keep.txt", "mine\n");
  auto info = Clone(Request(repo_->FileUrl(), second_));
  ASSERT_EQ(info.status().code(), Code::kInvalidArgument) << info.status().ToString();
  EXPECT_EQ(info.status().message(),
            "destination \"" + Dest() + "\" is not empty (it holds \"keep.txt\")");
  EXPECT_EQ(tmp_.Read("dest/keep.txt"), "mine\n");
}

TEST_F(CloneTest, RefusesBadRevisionsAndBranchNames) {
  auto short_sha = Clone(Request(repo_->FileUrl(), second_.substr(0, 7)));
  EXPECT_EQ(short_sha.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(short_sha.status().message(),
            "revision \"" + second_.substr(0, 7) + "\" is not a full 40-hex commit SHA");
  CloneRequest request = Request(repo_->FileUrl(), second_);
  request.branch = "bad..name";
  EXPECT_EQ(Clone(request).status().message(), "invalid branch name \"bad..name\"");
  EXPECT_FALSE(fs::exists(Dest())) << "checked before anything is written";
}

// The build pod's /workspace: an emptyDir the kubelet made (root, 0777) while the clone runs as
// another user. libgit2's owner check would refuse the repository it just created there.
TEST_F(CloneTest, ClonesIntoADirectoryAnotherUserOwns) {
  ASSERT_EQ(geteuid(), 0u) << "this test gives the directory to another user: run it as root";
  fs::create_directories(Dest());
  ASSERT_EQ(chown(Dest().c_str(), 65532, 65532), 0);
  ASSERT_EQ(chmod(Dest().c_str(), 0777), 0);
  auto info = Clone(Request(repo_->FileUrl(), second_));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ExpectCheckedOut(second_);
}

// The files of a Secret mounted as a volume follow the Secret's rules and messages.
TEST(CredentialsFromFilesTest, ReadsTheSecretKeysAsFilesWithTheSecretsRules) {
  TempDir dir;
  dir.Write("creds/username", "alice");
  dir.Write("creds/password", "pw\n");
  auto basic = CredentialsFromFiles(dir.Path("creds"), "https://git.example/app.git");
  ASSERT_TRUE(basic.ok()) << basic.status().ToString();
  EXPECT_EQ(basic->username, "alice");
  EXPECT_EQ(basic->password, "pw\n") << "file content as it is, like a Secret's value";

  dir.Write("token/token", "t0ken");
  auto token = CredentialsFromFiles(dir.Path("token"), "https://git.example/app.git");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->token, "t0ken");

  dir.Write("half/password", "pw");
  EXPECT_EQ(
      CredentialsFromFiles(dir.Path("half"), "https://git.example/app.git").status().message(),
      "credentials " + dir.Path("half") + " has \"password\" but no \"username\"");

  dir.Write("ssh/identity", "KEY");
  EXPECT_EQ(CredentialsFromFiles(dir.Path("ssh"), "git@git.example:org/app.git").status().message(),
            "credentials " + dir.Path("ssh") +
                " has no key \"known_hosts\": SSH host keys are always verified");
  EXPECT_EQ(
      CredentialsFromFiles(dir.Path("none"), "https://git.example/app.git").status().message(),
      "credentials " + dir.Path("none") + ": not a directory");
}

}  // namespace
}  // namespace flywheel::git
