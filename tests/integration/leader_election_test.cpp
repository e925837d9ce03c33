// Leadership bounded in time, with two `flywheel controller` processes against the testenv and
// short lease timings (4 s lease, 3 s renew deadline, 500 ms retry period): the leader is frozen
// with SIGSTOP, the standby takes the Lease once it has not changed for the lease duration, and
// the old leader, resumed with SIGCONT, writes nothing (the Lease stays the new leader's, no
// reconcile runs) and exits non-zero at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "support/crds.h"
#include "support/eventually.h"
#include "support/net.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kLeaseDuration = 4s;
constexpr auto kRetryPeriod = 500ms;

// One replica, logging at debug level so that every reconcile it starts is in its log.
class ElectingReplica {
 public:
  ElectingReplica(const TestEnv& env, const std::string& ns, int index)
      : metrics_port_(FreePort()) {
    const std::string log = std::filesystem::temp_directory_path() /
                            ("flywheel-" + ns + "-" + std::to_string(index) + ".log");
    process_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{
            FLYWHEEL_BINARY, "controller", "--kubeconfig=" + env.kubeconfig(),
            "--metrics-bind-address=127.0.0.1:" + std::to_string(metrics_port_),
            "--health-probe-bind-address=0", "--webhook-bind-address=0", "--namespace=" + ns,
            "--log-level=debug", "--leader-elect", "--leader-election-namespace=" + ns,
            "--leader-election-id=bounded", "--leader-elect-lease-duration=4s",
            "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms"},
        log);
  }

  BackgroundProcess& process() { return *process_; }
  bool Leading() const {
    return LoopbackGet(metrics_port_, "/metrics")
               .find("leader_election_master_status{name=\"bounded\"} 1") != std::string::npos;
  }
  // The identity it campaigns with, from its log ("" until logged).
  std::string Identity() const {
    const std::string log = process_->Log();
    const std::string before = "leader election: ", after = " campaigning for lease";
    const auto end = log.find(after);
    if (end == std::string::npos) return "";
    const auto start = log.rfind(before, end);
    return start == std::string::npos
               ? ""
               : log.substr(start + before.size(), end - start - before.size());
  }

 private:
  int metrics_port_;
  std::unique_ptr<BackgroundProcess> process_;
};

std::string LeaseField(const TestEnv& env, const std::string& ns, const std::string& field) {
  auto r =
      env.Kubectl({"get", "lease", "bounded", "-n", ns, "-o", "jsonpath={.spec." + field + "}"});
  return r.exit_code == 0 ? r.out : "<error: " + r.err + ">";
}

TEST(LeaderElectionProcessTest, FrozenLeaderIsReplacedAndNeverWritesAgain) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "lease");
  // The controller refuses to start until every Flywheel kind is served.
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
  ElectingReplica a(*env, ns.name(), 0), b(*env, ns.name(), 1);
  ASSERT_TRUE(Eventually([&] { return a.Leading() != b.Leading(); }, 30s))
      << "exactly one replica must lead\n"
      << a.process().Log() << b.process().Log();
  ElectingReplica& old_leader = a.Leading() ? a : b;
  ElectingReplica& standby = a.Leading() ? b : a;
  ASSERT_EQ(LeaseField(*env, ns.name(), "holderIdentity"), old_leader.Identity());

  old_leader.process().Signal(SIGSTOP);
  const auto frozen = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return standby.Leading(); }, 30s)) << standby.process().Log();
  // The standby takes over once the Lease has not changed for the lease duration (it may have
  // seen the last renewal up to a retry period late, and polls every retry period); the rest is
  // room for a loaded machine. With the default 15 s lease this fails.
  EXPECT_LT(std::chrono::steady_clock::now() - frozen, kLeaseDuration + 2 * kRetryPeriod + 6s);
  EXPECT_EQ(LeaseField(*env, ns.name(), "holderIdentity"), standby.Identity());

  // Work for the controllers while the old leader is frozen: its watch will deliver this
  // Release when it resumes, and it must not reconcile it.
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                        "apiVersion: flywheel.dev/v1alpha1\nkind: Release\nmetadata:\n"
                        "  name: held\nspec:\n  source:\n    url: http://127.0.0.1:1/none.git\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string reconciling = "reconciling " + ns.name() + "/held";
  ASSERT_TRUE(Eventually(
      [&] { return standby.process().Log().find(reconciling) != std::string::npos; }, 30s))
      << standby.process().Log();

  old_leader.process().Signal(SIGCONT);
  EXPECT_EQ(old_leader.process().Wait(15000), 1) << "the old leader must exit non-zero at once\n"
                                                 << old_leader.process().Log();
  const std::string old_log = old_leader.process().Log();
  EXPECT_NE(old_log.find("lost lease"), std::string::npos) << old_log;
  EXPECT_EQ(old_log.find(reconciling), std::string::npos) << old_log;
  EXPECT_EQ(LeaseField(*env, ns.name(), "holderIdentity"), standby.Identity());
  EXPECT_EQ(LeaseField(*env, ns.name(), "leaseTransitions"), "1")
      << "one hand-over only: the old leader never took the Lease back";
  EXPECT_TRUE(standby.Leading());

  standby.process().Signal(SIGTERM);
  EXPECT_EQ(standby.process().Wait(30000), 0) << standby.process().Log();
}

}  // namespace
}  // namespace flywheel::testing
