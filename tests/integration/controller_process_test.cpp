// `flywheel controller` as a process against the testenv: probes and metrics, leader election
// between two replicas with hand-over when the leader dies, and a clean SIGTERM shutdown that
// releases the Lease.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "flywheel/http/client.h"
#include "kube/config_test_util.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/net.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using namespace std::chrono_literals;

// A controller replica with its own probe and metrics ports.
struct Replica {
  Replica(const TestEnv& env, const std::string& lease_ns, int index)
      : metrics_port(FreePort()), health_port(FreePort()) {
    std::string log =
        std::filesystem::temp_directory_path() /
        ("flywheel-controller-" + std::to_string(getpid()) + "-" + std::to_string(index) + ".log");
    process = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{
            FLYWHEEL_BINARY, "controller", "--kubeconfig", env.kubeconfig(),
            "--metrics-bind-address", "127.0.0.1:" + std::to_string(metrics_port),
            "--health-probe-bind-address", "127.0.0.1:" + std::to_string(health_port),
            "--webhook-bind-address", "0",  // two replicas on one host: no fixed port
            "--leader-elect", "--leader-election-namespace", lease_ns, "--leader-election-id",
            "flywheel-test",
            // Only this test's namespace: other tests' Releases belong to their own controllers.
            "--namespace", lease_ns},
        log);
  }

  std::string Get(int port, const std::string& path) { return LoopbackGet(port, path); }

  // The value of leader_election_master_status, or -1 when not exposed yet.
  int Leading() {
    std::string metrics = Get(metrics_port, "/metrics");
    auto pos = metrics.find("leader_election_master_status{name=\"flywheel-test\"} ");
    if (pos == std::string::npos) return -1;
    return metrics[pos +
                   std::string("leader_election_master_status{name=\"flywheel-test\"} ").size()] ==
                   '1'
               ? 1
               : 0;
  }

  int metrics_port, health_port;
  std::unique_ptr<BackgroundProcess> process;
};

std::string LeaseHolder(const TestEnv& env, const std::string& ns) {
  auto r = env.Kubectl(
      {"get", "lease", "flywheel-test", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}"});
  return r.exit_code == 0 ? r.out : "<none>";
}

TEST(ControllerProcessTest, OneLeaderHandOverAndCleanShutdown) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "leader");
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
  Replica a(*env, ns.name(), 0);
  Replica b(*env, ns.name(), 1);

  ASSERT_TRUE(Eventually([&] { return a.Get(a.health_port, "/readyz") == "200 ok\n"; }, 30s))
      << a.process->Log();
  EXPECT_EQ(a.Get(a.health_port, "/healthz"), "200 ok\n");
  ASSERT_TRUE(Eventually([&] { return a.Leading() + b.Leading() == 1; }, 30s))
      << "exactly one replica must lead\n"
      << a.process->Log() << b.process->Log();
  Replica& leader = a.Leading() == 1 ? a : b;
  Replica& standby = a.Leading() == 1 ? b : a;

  // The leader dies without releasing: the standby takes over once the 15 s lease expires.
  leader.process->Signal(SIGKILL);
  ASSERT_NE(leader.process->Wait(10000), -1);
  ASSERT_TRUE(Eventually([&] { return standby.Leading() == 1; }, 30s)) << standby.process->Log();
  std::string holder = LeaseHolder(*env, ns.name());
  EXPECT_NE(standby.process->Log().find("became leader"), std::string::npos);

  // SIGTERM: a clean exit that gives the lease up at once.
  standby.process->Signal(SIGTERM);
  EXPECT_EQ(standby.process->Wait(30000), 0) << standby.process->Log();
  EXPECT_NE(standby.process->Log().find("released lease"), std::string::npos)
      << standby.process->Log();
  EXPECT_EQ(LeaseHolder(*env, ns.name()), "") << "was " << holder;
}

}  // namespace
}  // namespace flywheel::testing

namespace flywheel::testing {
namespace {

// A repository with a Deployment (which rolls out on kwok) and a ConfigMap.
const char kRbacAppYaml[] = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: example/web:1}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: blue}
)";

// The install manifests apply, the operator Deployment rolls out (on kwok), and the operator
// runs with nothing but its own ServiceAccount's RBAC: caches sync, it wins the election, and a
// Release from a real git server (git daemon) gets applied and turns Healthy, with not one
// request refused.
TEST(ControllerProcessTest, RunsWithTheInstallManifestsRbac) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
  auto r = env->Kubectl({"apply", "--server-side", "-k", SourcePath("manifests")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl(
      {"rollout", "status", "-n", "flywheel-system", "deployment/flywheel", "--timeout=120s"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(env->Kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                          "crd/releases.flywheel.dev"})
                .exit_code,
            0);

  kube::testing::TempDir tmp;
  GitRepo repo(tmp.Path("repos"), "app");
  const std::string sha = repo.Commit({{"app.yaml", kRbacAppYaml}}, "web and its settings");
  GitDaemon daemon(tmp.Path("repos"));
  ScopedNamespace ns(*env, "rbac");

  auto token = env->Kubectl({"create", "token", "flywheel", "-n", "flywheel-system"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string kubeconfig = tmp.Path("flywheel-sa.kubeconfig");
  env->WriteKubeconfig(kubeconfig, "{token: " + token.out.substr(0, token.out.find('\n')) + "}");
  int metrics_port = FreePort(), health_port = FreePort();
  BackgroundProcess controller(
      {FLYWHEEL_BINARY, "controller", "--kubeconfig", kubeconfig, "--metrics-bind-address",
       "127.0.0.1:" + std::to_string(metrics_port), "--health-probe-bind-address",
       "127.0.0.1:" + std::to_string(health_port), "--webhook-bind-address", "0", "--leader-elect",
       "--leader-election-namespace", "flywheel-system", "--leader-election-id",
       "flywheel-rbac-test", "--git-cache-dir", tmp.Path("git-cache"),
       // Only this test's namespace: other tests' Releases belong to their own controllers.
       "--namespace", ns.name()},
      tmp.Path("controller.log"));
  auto leading = [&] {
    return LoopbackGet(metrics_port, "/metrics")
               .find("leader_election_master_status{name=\"flywheel-rbac-test\"} 1") !=
           std::string::npos;
  };
  EXPECT_TRUE(Eventually(leading, 30s)) << controller.Log();
  EXPECT_EQ(LoopbackGet(health_port, "/readyz"), "200 ok\n") << controller.Log();

  r = env->Kubectl({"apply", "--server-side", "-f", "-"},
                   "apiVersion: flywheel.dev/v1alpha1\nkind: Release\nmetadata: {name: web, "
                   "namespace: " +
                       ns.name() + "}\nspec:\n  source: {url: \"" + daemon.Url("app") +
                       "\", pollInterval: 1s}\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"wait", "-n", ns.name(), "release/web", "--timeout=90s",
                    "--for=jsonpath={.status.lastAppliedRevision}=" + sha});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << controller.Log();
  r = env->Kubectl(
      {"wait", "-n", ns.name(), "release/web", "--timeout=90s", "--for=condition=Healthy"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << controller.Log();
  r = env->Kubectl({"get", "-n", ns.name(), "release/web", "-o",
                    "jsonpath={.status.health}|{.status.inventory[*].kind}"});
  EXPECT_EQ(r.out, "Healthy|ConfigMap Deployment") << r.err;
  r = env->Kubectl({"get", "-n", ns.name(), "configmap/settings", "-o", "jsonpath={.data.color}"});
  EXPECT_EQ(r.out, "blue") << r.err;
  r = env->Kubectl(
      {"get", "-n", ns.name(), "deployment/web", "-o", "jsonpath={.status.availableReplicas}"});
  EXPECT_EQ(r.out, "1") << r.err;

  controller.Signal(SIGTERM);
  EXPECT_EQ(controller.Wait(30000), 0) << controller.Log();
  // An RBAC denial reads `... is forbidden: User "system:serviceaccount:..." cannot ...`.
  EXPECT_EQ(controller.Log().find("forbidden"), std::string::npos) << controller.Log();
}

}  // namespace
}  // namespace flywheel::testing
