// The local control plane behaves like a cluster: fake nodes are Ready, a Deployment rolls out
// to available replicas (controller-manager + scheduler + kwok), and a bare Pod can be driven
// to Succeeded or Failed by a test acting as the kubelet through the status subresource.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/testenv.h"

namespace flywheel::testing {
namespace {

TEST(TestEnvTest, AtLeastThreeFakeNodesAreReady) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  auto r = env->Kubectl({"wait", "--for=condition=Ready", "node", "--all", "--timeout=60s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"get", "nodes", "-l", "type=kwok", "-o", "name"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
}

TEST(TestEnvTest, DeploymentBecomesAvailable) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "deploy");
  const std::string deployment = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.example.invalid/web:1}]
)";
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"}, deployment);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"rollout", "status", "-n", ns.name(), "deployment/web", "--timeout=120s"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = env->Kubectl({"get", "deployment", "web", "-n", ns.name(), "-o",
                    "jsonpath={.status.replicas}/{.status.availableReplicas}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "3/3");
}

// Runs a bare pod until kwok reports it Running, then finishes it the way a kubelet would.
void FinishPod(const TestEnv& env, const std::string& ns, int exit_code) {
  const std::string pod = R"(
apiVersion: v1
kind: Pod
metadata: {name: job}
spec:
  restartPolicy: Never
  containers: [{name: main, image: registry.example.invalid/tool:1}]
)";
  auto r = env.Kubectl({"apply", "-n", ns, "-f", "-"}, pod);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env.Kubectl(
      {"wait", "-n", ns, "pod/job", "--for=jsonpath={.status.phase}=Running", "--timeout=60s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string phase = exit_code == 0 ? "Succeeded" : "Failed";
  const std::string reason = exit_code == 0 ? "Completed" : "Error";
  const std::string patch =
      R"({"status":{"phase":")" + phase +
      R"(","containerStatuses":[{"name":"main","ready":false,)"
      R"("restartCount":0,"image":"registry.example.invalid/tool:1","imageID":"",)"
      R"("state":{"terminated":{"exitCode":)" +
      std::to_string(exit_code) + R"(,"reason":")" + reason + R"("}}}]}})";
  r = env.Kubectl(
      {"patch", "-n", ns, "pod/job", "--subresource=status", "--type=strategic", "-p", patch});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env.Kubectl(
      {"wait", "-n", ns, "pod/job", "--for=jsonpath={.status.phase}=" + phase, "--timeout=30s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env.Kubectl({"get", "-n", ns, "pod/job", "-o",
                   "jsonpath={.spec.nodeName}|{.status.containerStatuses[0].state.terminated."
                   "exitCode}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(r.out.find('|') + 1), std::to_string(exit_code));
  EXPECT_NE(r.out.find('|'), 0u) << "pod was never scheduled: " << r.out;
}

TEST(TestEnvTest, BarePodCanSucceed) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pod-ok");
  FinishPod(*env, ns.name(), 0);
}

TEST(TestEnvTest, BarePodCanFail) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "pod-fail");
  FinishPod(*env, ns.name(), 2);
}

TEST(TestEnvTest, ServiceAccountTokensAreIssued) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "sa");
  ASSERT_EQ(env->Kubectl({"create", "serviceaccount", "robot", "-n", ns.name()}).exit_code, 0);
  auto r = env->Kubectl({"create", "token", "robot", "-n", ns.name(), "--duration=10m"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A JWT: three base64url parts.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '.'), 2) << "not a JWT";
  // RBAC is on: the new ServiceAccount may not list pods.
  r = env->Kubectl({"auth", "can-i", "list", "pods", "-n", ns.name(),
                    "--as=system:serviceaccount:" + ns.name() + ":robot"});
  EXPECT_EQ(r.out, "no\n") << r.err;
}

}  // namespace
}  // namespace flywheel::testing
