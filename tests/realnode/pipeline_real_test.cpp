// A Pipeline end to end on the real node: a real `flywheel controller` process, a build pod whose
// clone, steps and image build really run (flywheel git-clone, make and gcc in the toolbox image,
// buildah in the buildah image), the image pushed to the testenv's registry and its tag promoted
// into a GitOps repository. The pod is the one BuildPod makes, without hostNetwork: it reaches the
// test's git daemon and the registry on the bridge's address (docs/testenv.md, "Network").
// (kaniko and buildkit: tests/builders/.)
#include "support/pipeline_real.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "flywheel/api/names.h"
#include "support/eventually.h"
#include "support/process.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;

using PipelineRealNodeTest = RealPipelineTest;

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
  const std::string sha = app_->Commit(BuildableApp(PodBusybox(*node), "a + b"), "the app");
  const std::string sha7 = sha.substr(0, 7);
  Start(*env, *node, ns.name());
  ASSERT_FALSE(HasFatalFailure());
  auto r =
      env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                   RealPipelineYaml(*node, "app", daemon_->Url("app"), image, deploy.FileUrl()));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  json run = WaitFinished(*env, *node, ns.name(), "app-" + sha7);
  ASSERT_EQ(RunStatus(run).value("phase", ""), "Succeeded")
      << RunStatus(run).dump(2) << env->Kubectl({"describe", "-n", ns.name(), "pod"}).out;

  // Every container step ran for real, in order, and exited 0.
  std::chrono::system_clock::time_point previous{};
  for (const char* name : {"clone", "build", "test", "build-image"}) {
    json step = RunStep(run, name);
    EXPECT_EQ(step.value("phase", ""), "Succeeded") << name << ": " << step.dump();
    EXPECT_EQ(step.value("exitCode", -1), 0) << name << ": " << step.dump();
    auto started = StepTime(step, "startedAt"), finished = StepTime(step, "finishedAt");
    EXPECT_GT(started.time_since_epoch().count(), 0) << name << ": " << step.dump();
    EXPECT_LE(started, finished) << name << ": " << step.dump();
    EXPECT_LE(previous, started) << name << " started before the step before it finished";
    previous = finished;
  }
  EXPECT_EQ(RunStep(run, "promote").value("phase", ""), "Succeeded") << RunStatus(run).dump(2);

  // The digest in the status is the one the registry serves for the tag.
  EXPECT_EQ(RunStatus(run)["artifact"].value("image", ""), image + ":" + sha7);
  std::string status;
  const std::string served = RegistryDigest(node->registry(), "demo/app", sha7, &status);
  ASSERT_EQ(served.rfind("sha256:", 0), 0u) << status;
  EXPECT_EQ(RunStatus(run)["artifact"].value("digest", ""), served) << RunStatus(run).dump(2);

  // The promotion commit changed the image tag and nothing else.
  const std::string promoted =
      RunStatus(run).value("promotion", json::object()).value("commit", "");
  EXPECT_EQ(promoted, deploy.Head()) << RunStatus(run).dump(2);
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
  ExpectImageRuns(*env, *node, ns.name(), node->registry() + "/demo/app:" + sha7);
}

TEST_F(PipelineRealNodeTest, AFailingTestFailsTheRunWithItsOutputAndNothingIsPushed) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-pipeline-fail");
  const std::string image = node->pod_registry() + "/demo/broken";
  const std::string sha = app_->Commit(BuildableApp(PodBusybox(*node), "a + b + 1"), "off by one");
  const std::string sha7 = sha.substr(0, 7);
  Start(*env, *node, ns.name());
  ASSERT_FALSE(HasFatalFailure());
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                        RealPipelineYaml(*node, "app", daemon_->Url("app"), image, ""));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  json run = WaitFinished(*env, *node, ns.name(), "app-" + sha7);
  ASSERT_EQ(RunStatus(run).value("phase", ""), "Failed") << RunStatus(run).dump(2);
  EXPECT_EQ(RunStep(run, "clone").value("phase", ""), "Succeeded") << RunStatus(run).dump(2);
  EXPECT_EQ(RunStep(run, "build").value("phase", ""), "Succeeded") << RunStatus(run).dump(2);
  json test = RunStep(run, "test");
  EXPECT_EQ(test.value("phase", ""), "Failed") << RunStatus(run).dump(2);
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
  json image_step = RunStep(run, "build-image");
  EXPECT_EQ(image_step.value("phase", ""), "Skipped") << RunStatus(run).dump(2);
  EXPECT_FALSE(image_step.contains("startedAt")) << image_step.dump();
  EXPECT_FALSE(image_step.contains("exitCode")) << image_step.dump();
  EXPECT_FALSE(RunStatus(run).contains("artifact")) << RunStatus(run).dump(2);
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
        auto o = client.Get(api::kGroupVersion, "PipelineRun", ns.name(), run_name);
        run = o.ok() ? *o : json::object();
        return RunStep(run, "ticks").value("phase", "") == "Running";
      },
      kRealRunWait))
      << RunStatus(run).dump(2) << node->Diagnostics();
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
  EXPECT_EQ(RunStatus(run).value("phase", ""), "Succeeded") << RunStatus(run).dump(2);
}

}  // namespace
}  // namespace flywheel::testing
