// `flywheel git-clone` in a real pod, as the build pod's clone runs: the flywheel image, uid
// 65532, a read-only root file system, no capabilities, the workspace an emptyDir, credentials a
// Secret mounted as files; git servers on the host's loopback (hostNetwork).
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "kube/config_test_util.h"
#include "support/git_server.h"
#include "support/real_node.h"

namespace flywheel::testing {
namespace {

// A repository with one commit served by git daemon on loopback.
class GitCloneRealNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(GitServersAvailable(&why)) << why;
    repo_ = std::make_unique<GitRepo>(tmp_.Path("repos"), "app");
    first_ = repo_->Commit({{"README.md", "first\n"}}, "first");
    daemon_ = std::make_unique<GitDaemon>(tmp_.Path("repos"));
  }

  kube::testing::TempDir tmp_;
  std::unique_ptr<GitRepo> repo_;
  std::string first_;
  std::unique_ptr<GitDaemon> daemon_;
};

TEST_F(GitCloneRealNodeTest, ClonesIntoAnEmptyDirAsNonRootWithCredentialsFromASecretVolume) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  const std::string& first = first_;
  const std::string second = repo_->Commit({{"README.md", "second\n"}}, "Second commit");
  GitDaemon& daemon = *daemon_;
  GitHttpServer http(tmp_.Path("repos"), "alice", "s3cret-pw");
  ScopedNamespace ns(*env, "real-clone");

  const std::string locked =
      "securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, "
      "allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}";
  const std::string image = node->Image("flywheel");
  auto clone = [&](const std::string& name, const std::string& url, const std::string& revision,
                   const std::string& dest, const std::string& extra) {
    return "  - {name: " + name + ", image: " + image + ", " + locked +
           ", terminationMessagePolicy: FallbackToLogsOnError, args: [git-clone, --url, '" + url +
           "', --branch, main, --revision, " + revision + ", --dest, " + dest + extra +
           "], volumeMounts: [{name: workspace, mountPath: /workspace}, {name: second, "
           "mountPath: /second}, {name: credentials, mountPath: /credentials, readOnly: true}]}\n";
  };
  const std::string manifest =
      "apiVersion: v1\nkind: Secret\nmetadata: {name: git}\n"
      "stringData: {username: alice, password: s3cret-pw}\n"
      "---\n"
      "apiVersion: v1\nkind: Pod\nmetadata: {name: build}\nspec:\n"
      "  restartPolicy: Never\n"
      "  hostNetwork: true\n" +
      node->Placement(2) +
      "  volumes:\n"
      "  - {name: workspace, emptyDir: {}}\n"
      "  - {name: second, emptyDir: {}}\n"
      "  - {name: credentials, secret: {secretName: git}}\n"
      "  initContainers:\n" +
      clone("clone", daemon.Url("app"), first, "/workspace", "") +
      clone("clone-http", http.Url("app"), second, "/second", ", --credentials, /credentials") +
      "  containers:\n"
      "  - name: check\n"
      "    image: " +
      node->Image("busybox") +
      "\n"
      "    command: [sh, -c, 'cat /workspace/README.md /second/README.md && "
      "cat /workspace/.git/HEAD && grep -rl s3cret-pw /second || echo no password']\n"
      "    volumeMounts: [{name: workspace, mountPath: /workspace}, "
      "{name: second, mountPath: /second}]\n";
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"}, manifest);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"wait", "-n", ns.name(), "pod/build",
                    "--for=jsonpath={.status.phase}=Succeeded", "--timeout=180s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << env->Kubectl({"describe", "-n", ns.name(), "pod"}).out
                            << node->Diagnostics();

  r = env->Kubectl({"logs", "-n", ns.name(), "pod/build", "-c", "clone"});
  EXPECT_EQ(r.out, "cloned " + daemon.Url("app") + " main at " + first + "\n") << r.err;
  r = env->Kubectl({"logs", "-n", ns.name(), "pod/build", "-c", "clone-http"});
  EXPECT_EQ(r.out, "cloned " + http.Url("app") + " main at " + second + "\n") << r.err;
  r = env->Kubectl({"logs", "-n", ns.name(), "pod/build", "-c", "check"});
  EXPECT_EQ(r.out, "first\nsecond\n" + first + "\nno password\n");

  // The commit, for the controller, from the clone container's termination message.
  r = env->Kubectl({"get", "-n", ns.name(), "pod/build", "-o",
                    "jsonpath={.status.initContainerStatuses[1].state.terminated.message}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto message = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(message.is_object()) << r.out;
  EXPECT_EQ(message["revision"], second);
  EXPECT_EQ(message["author"], "Test <test@example.com>");
  EXPECT_EQ(message["subject"], "Second commit");
}

// A clone that fails makes its container fail with the one-line cause as the message, so the
// steps after it never start.
TEST_F(GitCloneRealNodeTest, AMissingRevisionFailsTheCloneContainerWithTheCause) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  GitDaemon& daemon = *daemon_;
  ScopedNamespace ns(*env, "real-clone-missing");
  const std::string missing = "0123456789abcdef0123456789abcdef01234567";
  const std::string manifest =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: build}\nspec:\n"
      "  restartPolicy: Never\n"
      "  hostNetwork: true\n" +
      node->Placement(2) +
      "  volumes: [{name: workspace, emptyDir: {}}]\n"
      "  initContainers:\n"
      "  - {name: clone, image: " +
      node->Image("flywheel") +
      ", securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true}, "
      "terminationMessagePolicy: FallbackToLogsOnError, args: [git-clone, --url, '" +
      daemon.Url("app") + "', --branch, main, --revision, " + missing +
      ", --dest, /workspace], volumeMounts: [{name: workspace, mountPath: /workspace}]}\n"
      "  containers:\n"
      "  - {name: step, image: " +
      node->Image("busybox") + ", command: [echo, never]}\n";
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"}, manifest);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"wait", "-n", ns.name(), "pod/build", "--for=jsonpath={.status.phase}=Failed",
                    "--timeout=180s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << env->Kubectl({"describe", "-n", ns.name(), "pod"}).out
                            << node->Diagnostics();
  r = env->Kubectl({"get", "-n", ns.name(), "pod/build", "-o",
                    "jsonpath={.status.initContainerStatuses[0].state.terminated.exitCode}|"
                    "{.status.initContainerStatuses[0].state.terminated.message}|"
                    "{.status.containerStatuses[0].state.terminated}"});
  EXPECT_EQ(r.out, "1|flywheel git-clone: revision " + missing + " not found in " +
                       daemon.Url("app") + " (branch main)\n|")
      << "the step never ran";
}

}  // namespace
}  // namespace flywheel::testing
