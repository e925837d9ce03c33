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
#include "support/eventually.h"
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
  ASSERT_EQ(env->Kubectl({"apply", "--server-side", "-f", SourcePath("crds")}).exit_code, 0);
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

TEST(ControllerProcessTest, MissingCrdsOrBadKubeconfigFailClearly) {
  auto r = RunProcess({FLYWHEEL_BINARY, "controller", "--kubeconfig", "/nonexistent/kubeconfig"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/kubeconfig"), std::string::npos) << r.err;
  r = RunProcess({FLYWHEEL_BINARY, "controller", "--concurrent", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--concurrent must be an integer"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace flywheel::testing

namespace flywheel::testing {
namespace {

// The install manifests apply, the operator Deployment rolls out (on kwok), and the operator
// runs with nothing but its own ServiceAccount's RBAC: caches sync and it wins the election.
TEST(ControllerProcessTest, RunsWithTheInstallManifestsRbac) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ASSERT_EQ(env->Kubectl({"apply", "--server-side", "-f", SourcePath("crds")}).exit_code, 0);
  auto r = env->Kubectl({"apply", "--server-side", "-k", SourcePath("manifests")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl(
      {"rollout", "status", "-n", "flywheel-system", "deployment/flywheel", "--timeout=120s"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  auto token = env->Kubectl({"create", "token", "flywheel", "-n", "flywheel-system"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string kubeconfig = std::filesystem::temp_directory_path() /
                           ("flywheel-sa-" + std::to_string(getpid()) + ".kubeconfig");
  env->WriteKubeconfig(kubeconfig, "{token: " + token.out.substr(0, token.out.find('\n')) + "}");
  int metrics_port = FreePort(), health_port = FreePort();
  BackgroundProcess controller(
      {FLYWHEEL_BINARY, "controller", "--kubeconfig", kubeconfig, "--metrics-bind-address",
       "127.0.0.1:" + std::to_string(metrics_port), "--health-probe-bind-address",
       "127.0.0.1:" + std::to_string(health_port), "--leader-elect", "--leader-election-namespace",
       "flywheel-system", "--leader-election-id", "flywheel-rbac-test",
       // Only flywheel-system: other tests' Releases belong to their own controllers.
       "--namespace", "flywheel-system"},
      kubeconfig + ".log");
  auto leading = [&] {
    return LoopbackGet(metrics_port, "/metrics")
               .find("leader_election_master_status{name=\"flywheel-rbac-test\"} 1") !=
           std::string::npos;
  };
  EXPECT_TRUE(Eventually(leading, 30s)) << controller.Log();
  EXPECT_EQ(LoopbackGet(health_port, "/readyz"), "200 ok\n") << controller.Log();
  controller.Signal(SIGTERM);
  EXPECT_EQ(controller.Wait(30000), 0) << controller.Log();
  // An RBAC denial reads `... is forbidden: User "system:serviceaccount:..." cannot ...`.
  EXPECT_EQ(controller.Log().find("forbidden: User"), std::string::npos) << controller.Log();
  std::filesystem::remove(kubeconfig);
}

}  // namespace
}  // namespace flywheel::testing
