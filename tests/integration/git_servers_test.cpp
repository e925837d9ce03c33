// The test git servers (tests/support/git_server.h) serve real clones and pushes to the git CLI,
// and refuse wrong credentials and unknown host keys, so tests built on them mean something.

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>

#include "kube/config_test_util.h"
#include "support/git_server.h"

namespace flywheel::testing {
namespace {

using kube::testing::TempDir;

const char kManifest[] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n";

class GitServersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!GitServersAvailable(&why)) GTEST_SKIP() << why;
    repo_ = std::make_unique<GitRepo>(tmp_.Path("repos"), "app");
    sha_ = repo_->Commit({{"deploy/app.yaml", kManifest}}, "first");
  }

  // Runs the git CLI without ever prompting for credentials; `args` follow `git`.
  static ProcessResult Git(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"git", "-c", "core.askPass=false", "-c", "credential.helper="};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }

  // `git clone url` into a new folder under the test's temp dir; `config` goes before `clone`.
  ProcessResult Clone(const std::string& url, const std::string& into,
                      const std::vector<std::string>& config = {}) {
    std::vector<std::string> args = config;
    args.insert(args.end(), {"clone", "-q", url, tmp_.Path(into)});
    return Git(args);
  }

  std::string ReadClone(const std::string& into, const std::string& path) {
    std::ifstream in(tmp_.Path(into + "/" + path));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  TempDir tmp_;
  std::unique_ptr<GitRepo> repo_;
  std::string sha_;
};

TEST_F(GitServersTest, RepoHelpersCommitBranchTagAndRemove) {
  EXPECT_EQ(repo_->Head(), sha_);
  EXPECT_EQ(repo_->Show("deploy/app.yaml"), kManifest);
  std::string dev = repo_->Commit({{"deploy/extra.yaml", "x: 1\n"}}, "dev work", "dev");
  EXPECT_EQ(repo_->Show("deploy/app.yaml", "dev"), kManifest) << "a new branch starts at main";
  EXPECT_EQ(repo_->Show("deploy/extra.yaml"), "") << "main is untouched";
  repo_->Tag("v1", dev);
  auto cloned = Clone(repo_->FileUrl(), "tagged", {});
  ASSERT_EQ(cloned.exit_code, 0) << cloned.err;
  auto tag = Git({"-C", tmp_.Path("tagged"), "rev-parse", "v1^{commit}"});
  EXPECT_EQ(tag.out, dev + "\n");
  std::string removed = repo_->Remove({"deploy/extra.yaml"}, "drop extra", "dev");
  EXPECT_EQ(repo_->Show("deploy/extra.yaml", "dev"), "");
  auto log = repo_->Log("dev");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], std::make_pair(removed, std::string("drop extra")));
  EXPECT_EQ(log[2], std::make_pair(sha_, std::string("first")));
  EXPECT_EQ(repo_->Head("missing"), "");
  EXPECT_TRUE(repo_->Log("missing").empty());
}

TEST_F(GitServersTest, CloneOverGitDaemon) {
  std::string url;
  {
    GitDaemon daemon(tmp_.Path("repos"));
    url = daemon.Url("app");
    auto cloned = Clone(url, "clone");
    ASSERT_EQ(cloned.exit_code, 0) << cloned.err;
    EXPECT_EQ(ReadClone("clone", "deploy/app.yaml"), kManifest);
  }
  EXPECT_NE(Git({"ls-remote", url}).exit_code, 0) << "the daemon outlived its destructor";
}

TEST_F(GitServersTest, CloneOverHttpWithBasicAuth) {
  std::string url;
  {
    GitHttpServer server(tmp_.Path("repos"), "alice", "s3cret");
    url = server.Url("app");
    url.insert(std::string("http://").size(), "alice:s3cret@");
    auto cloned = Clone(url, "clone");
    ASSERT_EQ(cloned.exit_code, 0) << cloned.err;
    EXPECT_EQ(ReadClone("clone", "deploy/app.yaml"), kManifest);
  }
  EXPECT_NE(Git({"ls-remote", url}).exit_code, 0) << "nginx outlived its destructor";
}

TEST_F(GitServersTest, HttpRejectsAWrongPasswordAndNoPassword) {
  GitHttpServer server(tmp_.Path("repos"), "alice", "s3cret");
  std::string url = server.Url("app");
  std::string wrong = url;
  wrong.insert(std::string("http://").size(), "alice:wrong@");
  auto cloned = Clone(wrong, "wrong");
  EXPECT_NE(cloned.exit_code, 0);
  EXPECT_NE(cloned.err.find("Authentication failed"), std::string::npos) << cloned.err;
  EXPECT_NE(Clone(url, "anonymous").exit_code, 0);
}

TEST_F(GitServersTest, PushOverHttp) {
  GitHttpServer server(tmp_.Path("repos"), "alice", "s3cret");
  std::string url = server.Url("app");
  url.insert(std::string("http://").size(), "alice:s3cret@");
  auto cloned = Clone(url, "clone");
  ASSERT_EQ(cloned.exit_code, 0) << cloned.err;
  std::ofstream(tmp_.Path("clone/deploy/app.yaml"), std::ios::app) << "data: {pushed: 'yes'}\n";
  const std::string dir = tmp_.Path("clone");
  auto committed = Git({"-C", dir, "-c", "user.name=Pusher", "-c", "user.email=p@example.com",
                        "commit", "-q", "-a", "-m", "pushed over http"});
  ASSERT_EQ(committed.exit_code, 0) << committed.err;
  auto pushed = Git({"-C", dir, "push", "-q", "origin", "main"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;

  auto log = repo_->Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].second, "pushed over http");
  EXPECT_EQ(log[0].first, Git({"-C", dir, "rev-parse", "HEAD"}).out.substr(0, 40));
  EXPECT_NE(repo_->Show("deploy/app.yaml").find("pushed"), std::string::npos);
  // GitRepo commits on top of what others pushed.
  repo_->Commit({{"b.txt", "b"}}, "after the push");
  EXPECT_EQ(repo_->Log()[1].second, "pushed over http");
}

class GitServersSshTest : public GitServersTest {
 protected:
  // `-c core.sshCommand=ssh -i <key> -o UserKnownHostsFile=<known_hosts>` that trusts only
  // `known_hosts` and never prompts.
  std::vector<std::string> SshConfig(const GitSshServer& server, const std::string& known_hosts) {
    std::string key = tmp_.Write("client_key", server.client_private_key(), 0600);
    std::string kh = tmp_.Write("known_hosts", known_hosts);
    return {"-c", "core.sshCommand=ssh -F /dev/null -i " + key +
                      " -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=" + kh +
                      " -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes"};
  }
};

TEST_F(GitServersSshTest, CloneOverSsh) {
  std::string url;
  std::vector<std::string> ssh_config;
  {
    GitSshServer server(tmp_.Path("repos"));
    url = server.Url("app");
    ssh_config = SshConfig(server, server.known_hosts());
    auto cloned = Clone(url, "clone", ssh_config);
    ASSERT_EQ(cloned.exit_code, 0) << cloned.err;
    EXPECT_EQ(ReadClone("clone", "deploy/app.yaml"), kManifest);
  }
  ssh_config.insert(ssh_config.end(), {"ls-remote", url});
  EXPECT_NE(Git(ssh_config).exit_code, 0) << "sshd outlived its destructor";
}

TEST_F(GitServersSshTest, SshRefusesAHostKeyNotInKnownHosts) {
  GitSshServer server(tmp_.Path("repos"));
  GitSshServer other(tmp_.Path("repos"));  // another host key, known for the same address
  std::string known_hosts = other.known_hosts();
  std::string other_port = "]:" + std::to_string(other.port()) + " ";
  known_hosts.replace(known_hosts.find(other_port), other_port.size(),
                      "]:" + std::to_string(server.port()) + " ");
  auto cloned = Clone(server.Url("app"), "clone", SshConfig(server, known_hosts));
  EXPECT_NE(cloned.exit_code, 0);
  EXPECT_NE(cloned.err.find("HOST IDENTIFICATION HAS CHANGED"), std::string::npos) << cloned.err;

  auto unknown = Clone(server.Url("app"), "clone2", SshConfig(server, ""));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("Host key verification failed"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace flywheel::testing
