// `flywheel git-clone` as the build pod runs it: the built binary, a non-root user, a read-only
// root file system, an unreadable HOME, credentials as files, against the real git servers of
// tests/support/git_server.h.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/common/time.h"
#include "kube/config_test_util.h"
#include "support/git_server.h"
#include "support/process.h"

namespace flywheel::testing {
namespace {

namespace fs = std::filesystem;
using kube::testing::TempDir;

class GitCloneCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(GitServersAvailable(&why)) << why;
    // Other users (the clone runs as 65532) may enter the test's directory.
    ASSERT_EQ(chmod(tmp_.path().c_str(), 0755), 0);
    repo_ = std::make_unique<GitRepo>(tmp_.Path("repos"), "app");
    sha_ = repo_->Commit({{"pom.xml", "<project/>\n"}}, "Build with Maven\n\nThe body.");
    // Like a pod's emptyDir: made by root, writable by everyone, empty.
    fs::create_directories(Workspace());
    EXPECT_EQ(chmod(Workspace().c_str(), 0777), 0);
  }

  std::string Workspace() const { return tmp_.Path("workspace"); }

  // `flywheel git-clone` with `args` as the build pod runs it: uid/gid 65532, only HOME
  // (unreadable to it) and PATH in its environment, and a read-only root file system (a private
  // mount namespace) in which only the workspace and `writable` are writable mounts.
  ProcessResult RunInPodLikeSandbox(const std::string& writable,
                                    const std::vector<std::string>& args) {
    fs::create_directories(tmp_.Path("home"));
    chmod(tmp_.Path("home").c_str(), 0700);  // root's: 65532 cannot read it
    const char* script =
        "mount --bind \"$1\" \"$1\" && mount --bind \"$2\" \"$2\" && "
        "mount -o remount,bind,ro / || exit 98\n"
        "if touch \"$3/probe\" 2>/dev/null; then echo 'the root fs is writable' >&2; exit 99; fi\n"
        "shift 3\n"
        "exec \"$@\"\n";
    std::vector<std::string> argv = {"unshare",
                                     "--mount",
                                     "--propagation",
                                     "private",
                                     "sh",
                                     "-c",
                                     script,
                                     "sh",
                                     Workspace(),
                                     writable,
                                     tmp_.path(),
                                     "setpriv",
                                     "--reuid=65532",
                                     "--regid=65532",
                                     "--clear-groups",
                                     "env",
                                     "-i",
                                     "HOME=" + tmp_.Path("home"),
                                     "XDG_CONFIG_HOME=" + tmp_.Path("home"),
                                     "PATH=/usr/bin:/bin",
                                     FLYWHEEL_BINARY,
                                     "git-clone"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }

  TempDir tmp_;
  std::unique_ptr<GitRepo> repo_;
  std::string sha_;
};

TEST_F(GitCloneCommandTest, ClonesAsNonRootOnAReadOnlyRootWithAnUnreadableHome) {
  ASSERT_EQ(geteuid(), 0u) << "this test switches to uid 65532: run it as root";
  GitDaemon daemon(tmp_.Path("repos"));
  fs::create_directories(tmp_.Path("dev"));
  chmod(tmp_.Path("dev").c_str(), 0777);
  const std::string message_path = tmp_.Path("dev/termination-log");
  auto r = RunInPodLikeSandbox(tmp_.Path("dev"),
                               {"--url", daemon.Url("app"), "--branch", "main", "--revision", sha_,
                                "--dest", Workspace(), "--termination-message-path", message_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "cloned " + daemon.Url("app") + " main at " + sha_ + "\n");
  EXPECT_EQ(r.err, "");

  auto status = RunProcess(
      {"git", "-c", "safe.directory=*", "-C", Workspace(), "status", "--porcelain", "-uall"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.out, "");
  auto head = RunProcess({"git", "-c", "safe.directory=*", "-C", Workspace(), "rev-parse", "HEAD"});
  EXPECT_EQ(head.out, sha_ + "\n");
  struct stat st {};
  ASSERT_EQ(stat((Workspace() + "/pom.xml").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65532u) << "files belong to the user the clone ran as";

  auto message = nlohmann::json::parse(tmp_.Read("dev/termination-log"));
  EXPECT_EQ(message["revision"], sha_);
  EXPECT_EQ(message["author"], "Test <test@example.com>");
  EXPECT_EQ(message["subject"], "Build with Maven");
  auto committed = ParseRfc3339(message["committedAt"].get<std::string>());
  ASSERT_TRUE(committed.ok()) << message.dump();
  auto ct = RunProcess(
      {"git", "-c", "safe.directory=*", "-C", Workspace(), "show", "-s", "--format=%ct", "HEAD"});
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*committed), std::stol(ct.out));
}

TEST_F(GitCloneCommandTest, ReadsCredentialsFromFilesAndNeverShowsThem) {
  GitHttpServer server(tmp_.Path("repos"), "alice", "s3cret-pw");
  tmp_.Write("creds/username", "alice");
  tmp_.Write("creds/password", "s3cret-pw");
  tmp_.Write("wrong/username", "alice");
  tmp_.Write("wrong/password", "guessed-pw");
  const bool had_termination_log = fs::exists("/dev/termination-log");

  auto ok =
      RunProcess({FLYWHEEL_BINARY, "git-clone", "--url", server.Url("app"), "--branch", "main",
                  "--revision", sha_, "--dest", Workspace(), "--credentials", tmp_.Path("creds")});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "cloned " + server.Url("app") + " main at " + sha_ + "\n");
  EXPECT_EQ(fs::exists("/dev/termination-log"), had_termination_log)
      << "the default termination message path is only written when it exists";

  auto wrong = RunProcess({FLYWHEEL_BINARY, "git-clone", "--url", server.Url("app"), "--branch",
                           "main", "--revision", sha_, "--dest", tmp_.Path("other"),
                           "--credentials", tmp_.Path("wrong")});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_EQ(wrong.err, "flywheel git-clone: authentication failed for " + server.Url("app") + "\n");
  EXPECT_EQ(wrong.out, "");

  auto missing = RunProcess({FLYWHEEL_BINARY, "git-clone", "--url", server.Url("app"), "--branch",
                             "main", "--revision", sha_, "--dest", tmp_.Path("other"),
                             "--credentials", tmp_.Path("nowhere")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err,
            "flywheel git-clone: credentials " + tmp_.Path("nowhere") + ": not a directory\n");
}

TEST_F(GitCloneCommandTest, FailuresAreOneLineAndUsageErrorsExitTwo) {
  GitDaemon daemon(tmp_.Path("repos"));
  const std::string missing = "0123456789abcdef0123456789abcdef01234567";
  auto r = RunProcess({FLYWHEEL_BINARY, "git-clone", "--url", daemon.Url("app"), "--branch", "main",
                       "--revision", missing, "--dest", Workspace()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "flywheel git-clone: revision " + missing + " not found in " +
                       daemon.Url("app") + " (branch main)\n");
  EXPECT_TRUE(fs::is_empty(Workspace())) << "a failed clone leaves the workspace empty";

  r = RunProcess({FLYWHEEL_BINARY, "git-clone", "--url", daemon.Url("app"), "--branch", "main",
                  "--revision", sha_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "flywheel git-clone: --dest is required\n");
  r = RunProcess({FLYWHEEL_BINARY, "git-clone", "--url", daemon.Url("app"), "--branch", "main",
                  "--revision", sha_, "--dest", Workspace(), "--timeout", "soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "flywheel git-clone: --timeout must be a duration of at least 1s, not \"soon\"\n");
  r = RunProcess({FLYWHEEL_BINARY, "git-clone", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--credentials"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace flywheel::testing
