// A Pipeline end to end on the real node: a real `flywheel controller` process, a build pod whose
// clone, steps and image build really run (flywheel git-clone, make and gcc in the toolbox image,
// buildah in the buildah image), the image pushed to the testenv's registry and its tag promoted
// into a GitOps repository. The pod is the one BuildPod makes, without hostNetwork: it reaches the
// test's git daemon and the registry on the bridge's address (docs/testenv.md, "Network").
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/common/time.h"
#include "kube/config_test_util.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/operator.h"
#include "support/process.h"
#include "support/real_node.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kGroup = "flywheel.dev/v1alpha1";
// A first run pulls the flywheel, toolbox and buildah images into the node and compiles: bounded
// generously for a shared 2-core machine.
constexpr std::chrono::seconds kRunWait{360};

// A program with a self-test, a Makefile whose `make test` runs it, and a Dockerfile that copies
// the statically linked binary onto busybox (`base`) and runs it once in a RUN instruction.
std::map<std::string, std::string> AppFiles(const std::string& base, const std::string& sum) {
  return {
      {"main.c",
       "#include <stdio.h>\n#include <string.h>\n\n"
       "static int add(int a, int b) { return " +
           sum +
           "; }\n\n"
           "int main(int argc, char **argv) {\n"
           "  if (argc > 1 && strcmp(argv[1], \"--self-test\") == 0) {\n"
           "    int got = add(2, 2);\n"
           "    if (got != 4) {\n"
           "      printf(\"FAIL: add(2, 2) = %d, want 4\\n\", got);\n"
           "      return 1;\n"
           "    }\n"
           "    printf(\"PASS: add(2, 2) = 4\\n\");\n"
           "    return 0;\n"
           "  }\n"
           "  printf(\"hello from flywheel\\n\");\n"
           "  return 0;\n"
           "}\n"},
      {"Makefile",
       "app: main.c\n\tcc -static -O2 -o app main.c\n\n"
       "test: app\n\t./app --self-test\n\n.PHONY: test\n"},
      {"Dockerfile", "FROM " + base +
                         "\nCOPY app /usr/local/bin/app\nRUN [\"/usr/local/bin/app\"]\n"
                         "CMD [\"/usr/local/bin/app\"]\n"},
  };
}

// A Pipeline (YAML) building `url` on the real node: steps `build` (make) and `test` (make
// test) in the toolbox image, the artifact `image` built by buildah, and a promotion into
// `promote_url` when given.
std::string PipelineYaml(const RealNode& node, const std::string& name, const std::string& url,
                         const std::string& image, const std::string& promote_url) {
  std::string yaml = "apiVersion: flywheel.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: " + name +
                     "}\nspec:\n"
                     "  source: {url: '" +
                     url +
                     "', branch: main, pollInterval: 1s}\n"
                     "  timeout: 10m\n"
                     "  steps:\n"
                     "  - {name: build, image: " +
                     node.Image("toolbox") +
                     ", script: make}\n"
                     "  - {name: test, image: " +
                     node.Image("toolbox") +
                     ", script: make test}\n"
                     "  artifact: {image: " +
                     image +
                     "}\n"
                     "  podTemplate:\n" +
                     node.Placement(4);
  if (!promote_url.empty()) {
    yaml += "  promote: {url: '" + promote_url +
            "', paths: [apps/app], author: {name: bot, email: bot@example.invalid}}\n";
  }
  return yaml;
}

json S(const json& object) { return object.value("status", json::object()); }

json Step(const json& run, const std::string& name) {
  for (const auto& s : S(run).value("steps", json::array())) {
    if (s.value("name", "") == name) return s;
  }
  return json::object();
}

// The time of an RFC 3339 field of a step (the epoch when missing or malformed).
std::chrono::system_clock::time_point At(const json& step, const std::string& field) {
  auto t = ParseRfc3339(step.value(field, ""));
  return t.ok() ? *t : std::chrono::system_clock::time_point{};
}

// The digest the registry serves for <repository>:<tag> (Docker-Content-Digest of a HEAD of the
// manifest, OCI or Docker schema 2), "" when it has none; `status` gets the HTTP status line.
std::string RegistryDigest(const std::string& registry, const std::string& repository,
                           const std::string& tag, std::string* status) {
  auto r = RunProcess({"curl", "-sS", "-I", "-H",
                       "Accept: application/vnd.oci.image.manifest.v1+json, "
                       "application/vnd.docker.distribution.manifest.v2+json",
                       "http://" + registry + "/v2/" + repository + "/manifests/" + tag});
  *status = r.out.substr(0, r.out.find('\r')) + r.err;
  const std::string header = "docker-content-digest: ";
  std::string lower = r.out;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = lower.find(header);
  if (at == std::string::npos) return "";
  at += header.size();
  return r.out.substr(at, r.out.find('\r', at) - at);
}

class PipelineRealNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(GitServersAvailable(&why)) << why;
    repos_ = tmp_.Path("repos");
    app_ = std::make_unique<GitRepo>(repos_, "app");
  }

  // Applies the CRDs; starts the git daemon on the bridge's address and the controller with the
  // testenv's images. Fails when the testenv predates the pod-side registry.
  void Start(const TestEnv& env, const RealNode& node, const std::string& ns) {
    ASSERT_FALSE(node.pod_registry().empty())
        << "the testenv's env file has no FLYWHEEL_TESTENV_POD_REGISTRY (started by an older "
           "up.sh); restart it with `make testenv-down testenv-up`";
    ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(env));
    daemon_ = std::make_unique<GitDaemon>(repos_, node.gateway());
    controller_ = std::make_unique<ControllerProcess>(
        env, ns, "",
        std::vector<std::string>{"--clone-image", node.Image("flywheel"), "--builder-image",
                                 "buildah=" + node.Image("buildah"), "--insecure-registry",
                                 node.pod_registry()});
  }

  // The busybox image under the registry's name for pods (the Dockerfile's base).
  static std::string PodBusybox(const RealNode& node) {
    return node.pod_registry() + node.Image("busybox").substr(node.registry().size());
  }

  // Waits until the run has finished (Succeeded, Failed, TimedOut or Cancelled).
  json WaitFinished(const TestEnv& env, const RealNode& node, const std::string& ns,
                    const std::string& name) {
    auto client = env.Client();
    json run;
    Eventually(
        [&] {
          auto o = client.Get(kGroup, "PipelineRun", ns, name);
          run = o.ok() ? *o : json::object();
          const std::string phase = S(run).value("phase", "");
          return phase != "" && phase != "Pending" && phase != "Running";
        },
        kRunWait);
    if (S(run).value("phase", "") == "" || S(run).value("phase", "") == "Pending" ||
        S(run).value("phase", "") == "Running") {
      ADD_FAILURE() << "run " << name << " did not finish in " << kRunWait.count() << "s\n"
                    << run.dump(2) << env.Kubectl({"describe", "-n", ns, "pod"}).out
                    << node.Diagnostics();
    }
    return run;
  }

  kube::testing::TempDir tmp_;
  std::string repos_;
  std::unique_ptr<GitRepo> app_;
  std::unique_ptr<GitDaemon> daemon_;
  std::unique_ptr<ControllerProcess> controller_;
};

TEST_F(PipelineRealNodeTest, ACommitIsClonedBuiltTestedPushedAndPromotedForReal) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-pipeline");
  GitRepo deploy(repos_, "deploy");
  const std::string image = node->pod_registry() + "/demo/app";
  const std::string manifest =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n"
      "  selector: {matchLabels: {app: app}}\n"
      "  template:\n"
      "    metadata: {labels: {app: app}}\n"
      "    spec:\n"
      "      containers:\n"
      "      - name: app\n"
      "        image: " +
      image + ":old  # set by flywheel\n";
  deploy.Commit({{"apps/app/deployment.yaml", manifest}, {"README", "deploy\n"}}, "init");
  const std::string sha = app_->Commit(AppFiles(PodBusybox(*node), "a + b"), "the app");
  const std::string sha7 = sha.substr(0, 7);
  Start(*env, *node, ns.name());
  ASSERT_FALSE(HasFatalFailure());
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                        PipelineYaml(*node, "app", daemon_->Url("app"), image, deploy.FileUrl()));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  json run = WaitFinished(*env, *node, ns.name(), "app-" + sha7);
  ASSERT_EQ(S(run).value("phase", ""), "Succeeded")
      << run.dump(2) << env->Kubectl({"describe", "-n", ns.name(), "pod"}).out;

  // Every container step ran for real, in order, and exited 0.
  std::chrono::system_clock::time_point previous{};
  for (const char* name : {"clone", "build", "test", "build-image"}) {
    json step = Step(run, name);
    EXPECT_EQ(step.value("phase", ""), "Succeeded") << name << ": " << step.dump();
    EXPECT_EQ(step.value("exitCode", -1), 0) << name << ": " << step.dump();
    auto started = At(step, "startedAt"), finished = At(step, "finishedAt");
    EXPECT_GT(started.time_since_epoch().count(), 0) << name << ": " << step.dump();
    EXPECT_LE(started, finished) << name << ": " << step.dump();
    EXPECT_LE(previous, started) << name << " started before the step before it finished";
    previous = finished;
  }
  EXPECT_EQ(Step(run, "promote").value("phase", ""), "Succeeded") << run.dump(2);

  // The digest in the status is the one the registry serves for the tag.
  EXPECT_EQ(S(run)["artifact"].value("image", ""), image + ":" + sha7);
  std::string status;
  const std::string served = RegistryDigest(node->registry(), "demo/app", sha7, &status);
  ASSERT_EQ(served.rfind("sha256:", 0), 0u) << status;
  EXPECT_EQ(S(run)["artifact"].value("digest", ""), served) << run.dump(2);

  // The promotion commit changed the image tag and nothing else.
  const std::string promoted = S(run).value("promotion", json::object()).value("commit", "");
  EXPECT_EQ(promoted, deploy.Head()) << run.dump(2);
  auto diff = RunProcess({"git", "--git-dir", deploy.bare_path(), "diff", "--unified=0",
                          "--no-color", promoted + "~1", promoted});
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  // (The hunk header's context after "@@" is git's choice, not checked.)
  const std::string header =
      "--- a/apps/app/deployment.yaml\n+++ b/apps/app/deployment.yaml\n@@ -11 +11 @@";
  const std::string lines = "\n-        image: " + image + ":old  # set by flywheel\n" +
                            "+        image: " + image + ":" + sha7 + "  # set by flywheel\n";
  EXPECT_NE(diff.out.find(header), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find(lines), std::string::npos) << diff.out;
  EXPECT_EQ(std::count(diff.out.begin(), diff.out.end(), '\n'), 7) << diff.out;

  // The pushed image runs: the binary built by the steps, on busybox.
  r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                   "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n"
                   "  restartPolicy: Never\n" +
                       node->Placement(2) + "  containers: [{name: app, image: '" +
                       node->registry() + "/demo/app:" + sha7 + "'}]\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"wait", "-n", ns.name(), "pod/app", "--for=jsonpath={.status.phase}=Succeeded",
                    "--timeout=120s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << env->Kubectl({"describe", "-n", ns.name(), "pod"}).out;
  EXPECT_EQ(env->Kubectl({"logs", "-n", ns.name(), "pod/app"}).out, "hello from flywheel\n");
}

TEST_F(PipelineRealNodeTest, AFailingTestFailsTheRunWithItsOutputAndNothingIsPushed) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-pipeline-fail");
  const std::string image = node->pod_registry() + "/demo/broken";
  const std::string sha = app_->Commit(AppFiles(PodBusybox(*node), "a + b + 1"), "off by one");
  const std::string sha7 = sha.substr(0, 7);
  Start(*env, *node, ns.name());
  ASSERT_FALSE(HasFatalFailure());
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                        PipelineYaml(*node, "app", daemon_->Url("app"), image, ""));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  json run = WaitFinished(*env, *node, ns.name(), "app-" + sha7);
  ASSERT_EQ(S(run).value("phase", ""), "Failed") << run.dump(2);
  EXPECT_EQ(Step(run, "clone").value("phase", ""), "Succeeded") << run.dump(2);
  EXPECT_EQ(Step(run, "build").value("phase", ""), "Succeeded") << run.dump(2);
  json test = Step(run, "test");
  EXPECT_EQ(test.value("phase", ""), "Failed") << run.dump(2);
  EXPECT_EQ(test.value("exitCode", 0), 2) << "make's exit code: " << test.dump();
  // The real output of the failing step, from the pod's log (stdout and stderr are separate
  // pipes, so the order of lines from both is not fixed).
  const std::string tail = test.value("logTail", "");
  for (const char* line : {"./app --self-test\n", "FAIL: add(2, 2) = 5, want 4\n",
                           "make: *** [Makefile:5: test] Error 1\n"}) {
    EXPECT_NE(tail.find(line), std::string::npos) << line << "not in\n" << tail;
  }

  // The failed run keeps its pod: `flywheel logs` reads every step's log from the node.
  EXPECT_EQ(env->Kubectl({"get", "pod", "-n", ns.name(), "app-" + sha7}).exit_code, 0)
      << "the pod of a run whose step failed was deleted";
  auto logs = RunProcess(
      {FLYWHEEL_BINARY, "logs", "app-" + sha7, "--kubeconfig", env->kubeconfig(), "-n", ns.name()});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  for (const char* text : {"==> clone (Succeeded) <==", "==> build (Succeeded) <==",
                           "==> test (Failed) <==", "FAIL: add(2, 2) = 5, want 4"}) {
    EXPECT_NE(logs.out.find(text), std::string::npos) << text << " not in\n" << logs.out;
  }
  EXPECT_EQ(logs.out.find("log is gone"), std::string::npos) << logs.out;

  // The builder never started and nothing reached the registry.
  json image_step = Step(run, "build-image");
  EXPECT_EQ(image_step.value("phase", ""), "Skipped") << run.dump(2);
  EXPECT_FALSE(image_step.contains("startedAt")) << image_step.dump();
  EXPECT_FALSE(image_step.contains("exitCode")) << image_step.dump();
  EXPECT_FALSE(S(run).contains("artifact")) << run.dump(2);
  std::string status;
  EXPECT_EQ(RegistryDigest(node->registry(), "demo/broken", sha7, &status), "");
  EXPECT_NE(status.find(" 404"), std::string::npos) << status;
}

TEST_F(PipelineRealNodeTest, LogsFollowsARunningStepUntilItEnds) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-pipeline-logs");
  const std::string sha = app_->Commit({{"README", "slow\n"}}, "slow");
  const std::string run_name = "slow-" + sha.substr(0, 7);
  Start(*env, *node, ns.name());
  ASSERT_FALSE(HasFatalFailure());
  // One line a second for eight seconds, then a second step.
  const std::string yaml =
      "apiVersion: flywheel.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: slow}\nspec:\n"
      "  source: {url: '" +
      daemon_->Url("app") +
      "', branch: main, pollInterval: 1s}\n"
      "  steps:\n"
      "  - name: ticks\n    image: " +
      node->Image("toolbox") +
      "\n"
      "    script: |\n      for i in 1 2 3 4 5 6 7 8; do echo \"tick $i\"; sleep 1; done\n"
      "  - {name: after, image: " +
      node->Image("toolbox") +
      ", script: echo after}\n"
      "  podTemplate:\n" +
      node->Placement(4);
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"}, yaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto client = env->Client();
  json run;
  ASSERT_TRUE(Eventually(
      [&] {
        auto o = client.Get(kGroup, "PipelineRun", ns.name(), run_name);
        run = o.ok() ? *o : json::object();
        return Step(run, "ticks").value("phase", "") == "Running";
      },
      kRunWait))
      << run.dump(2) << node->Diagnostics();
  // Started while the step runs (at most a line or two printed): following, the command ends
  // with the step and has every line.
  auto logs = RunProcess({FLYWHEEL_BINARY, "logs", run_name, "--step", "ticks", "-f",
                          "--kubeconfig", env->kubeconfig(), "-n", ns.name()});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  for (int i = 1; i <= 8; ++i) {
    EXPECT_NE(logs.out.find("tick " + std::to_string(i) + "\n"), std::string::npos)
        << "tick " << i << " not in\n"
        << logs.out;
  }
  run = WaitFinished(*env, *node, ns.name(), run_name);
  EXPECT_EQ(S(run).value("phase", ""), "Succeeded") << run.dump(2);
}

}  // namespace
}  // namespace flywheel::testing
