// The operator in-cluster: `kubectl apply -k` of the install manifests (through the testenv's
// overlay, which only points the image at the local registry and the pods at the real node and
// the API server's bridge address) runs two replicas of `flywheel controller` from the image the
// project's Dockerfile builds, with the manifests' own ServiceAccount and RBAC. One leads; it
// syncs a Release from a git server; when its pod is deleted another takes over at once (the
// other replica or the replacement pod), and when that one crashes, leadership passes on after
// the lease expires. Disruptive: the operator
// watches every namespace while it runs, so no other test may run beside it.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

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

constexpr const char* kSystem = "flywheel-system";

// The leader Lease's holderIdentity ("<pod>_<uuid>": one per process), or "" when nobody holds it.
std::string LeaseHolder(const kube::Client& client) {
  auto lease = client.Get("coordination.k8s.io/v1", "Lease", kSystem, "flywheel-leader");
  if (!lease.ok()) return "";
  return lease->value("spec", json::object()).value("holderIdentity", "");
}

// The pod of the leader Lease's holder, or "".
std::string LeaderPod(const kube::Client& client) {
  const std::string holder = LeaseHolder(client);
  return holder.substr(0, holder.find('_'));
}

// The operator's pods that are Ready, by name.
std::vector<std::string> ReadyPods(const TestEnv& env) {
  auto r = env.Kubectl(
      {"get", "pods", "-n", kSystem, "-l", "app.kubernetes.io/name=flywheel", "-o", "json"});
  std::vector<std::string> ready;
  if (r.exit_code != 0) return ready;
  const json list = json::parse(r.out);
  for (const auto& pod : list["items"]) {
    if (pod["metadata"].contains("deletionTimestamp")) continue;
    const json status = pod.value("status", json::object());
    for (const auto& c : status.value("conditions", json::array())) {
      if (c.value("type", "") == "Ready" && c.value("status", "") == "True") {
        ready.push_back(pod["metadata"]["name"]);
      }
    }
  }
  return ready;
}

// What a failed hand-over needs to be understood: the Lease, the operator's pods and their
// containers' restarts, and the end of each pod's log (the current and the previous container).
std::string Diagnostics(const TestEnv& env) {
  std::string out;
  auto add = [&](const std::vector<std::string>& args) {
    auto r = env.Kubectl(args);
    out += "\n$ kubectl";
    for (const auto& a : args) out += " " + a;
    out += "\n" + r.out + r.err;
  };
  add({"get", "lease", "flywheel-leader", "-n", kSystem, "-o", "yaml"});
  add({"get", "pods", "-n", kSystem, "-o", "wide"});
  auto pods = env.Kubectl({"get", "pods", "-n", kSystem, "-o", "name"});
  std::istringstream names(pods.out);
  for (std::string pod; std::getline(names, pod);) {
    add({"logs", "-n", kSystem, pod, "--tail=40"});
    add({"logs", "-n", kSystem, pod, "--tail=40", "--previous"});
  }
  return out;
}

// Installs the operator for the life of the object and removes all of it (namespace, cluster
// roles and bindings) after, so the next tests run without it.
class InstalledOperator {
 public:
  InstalledOperator(const TestEnv& env, std::string kustomization)
      : env_(env), kustomization_(std::move(kustomization)) {
    auto r = env_.Kubectl({"apply", "-k", kustomization_});
    applied_ = r.exit_code == 0;
    EXPECT_TRUE(applied_) << r.out << r.err;
  }
  ~InstalledOperator() {
    auto r = env_.Kubectl(
        {"delete", "-k", kustomization_, "--ignore-not-found", "--wait=true", "--timeout=120s"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  bool applied() const { return applied_; }

 private:
  const TestEnv& env_;
  std::string kustomization_;
  bool applied_ = false;
};

TEST(OperatorInClusterTest,
     TwoReplicasFromTheManifestsSyncAndLeadershipSurvivesADeletedAndACrashedLeader) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  const std::string kustomization = node->OperatorKustomization();
  ASSERT_FALSE(kustomization.empty());
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
  auto client = env->Client();
  const std::string repos = TempDir("flywheel-in-cluster");
  {
    // Pods reach the host's servers on the bridge's address only.
    GitDaemon daemon(repos, node->gateway());
    GitRepo repo(repos, "deploy");
    const std::string first = repo.Commit({{"cm.yaml", ConfigMapYaml("settings", "one")}}, "one");
    ScopedNamespace ns(*env, "in-cluster");

    InstalledOperator installed(*env, kustomization);
    ASSERT_TRUE(installed.applied());
    auto rollout =
        env->Kubectl({"rollout", "status", "deployment/flywheel", "-n", kSystem, "--timeout=120s"});
    ASSERT_EQ(rollout.exit_code, 0) << rollout.out << rollout.err << node->Diagnostics();
    // Both replicas pass their readiness probe (the standby too: it serves probes while it
    // waits for the lease).
    std::vector<std::string> pods;
    Eventually([&] { return (pods = ReadyPods(*env)).size() == 2; }, 60s);
    ASSERT_EQ(pods.size(), 2u) << node->Diagnostics();

    // Exactly as the manifests say: their ServiceAccount, non-root, read-only root filesystem,
    // every capability dropped, and the image from the local registry.
    auto got = client.Get("v1", "Pod", kSystem, pods[0]);
    ASSERT_TRUE(got.ok()) << got.status().message();
    const json& spec = (*got)["spec"];
    EXPECT_EQ(spec.value("serviceAccountName", ""), "flywheel");
    EXPECT_EQ(spec.value("nodeName", ""), node->name());
    EXPECT_EQ(spec["securityContext"].value("runAsNonRoot", false), true);
    const json& container = spec["containers"][0];
    EXPECT_EQ(container["image"], node->Image("flywheel"));
    EXPECT_EQ(container["securityContext"].value("readOnlyRootFilesystem", false), true);
    EXPECT_EQ(container["securityContext"].value("allowPrivilegeEscalation", true), false);
    EXPECT_EQ(container["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
    // It reached the API server with the pod's service account, not a kubeconfig.
    auto logs = env->Kubectl({"logs", "-n", kSystem, pods[0]});
    EXPECT_NE(logs.out.find("from in-cluster service account"), std::string::npos)
        << logs.out << logs.err;

    std::string leader;
    Eventually([&] { return !(leader = LeaderPod(client)).empty(); }, 60s);
    ASSERT_TRUE(leader == pods[0] || leader == pods[1]) << leader;

    ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "settings", daemon.Url("deploy"))).ok());
    json rel = WaitRelease(client, ns.name(), "settings",
                           [&](const json& r) { return AppliedAt(r, first); });
    ASSERT_TRUE(AppliedAt(rel, first)) << rel.dump(2);

    // The leader pod is deleted: on SIGTERM it gives the lease up, so another process takes
    // over at its next try and syncs the next commit. Which one is a race, as in any leader
    // election: usually the other replica, sometimes the Deployment's replacement pod when it
    // starts before the other replica's next try (seen once in make test).
    auto deleted = env->Kubectl({"delete", "pod", leader, "-n", kSystem, "--wait=false"});
    ASSERT_EQ(deleted.exit_code, 0) << deleted.out << deleted.err;
    const std::string second = repo.Commit({{"cm.yaml", ConfigMapYaml("settings", "two")}}, "two");
    std::string next;
    Eventually(
        [&] {
          next = LeaderPod(client);
          return !next.empty() && next != leader;
        },
        60s);
    ASSERT_FALSE(next.empty() || next == leader)
        << "the lease did not pass on from " << leader << Diagnostics(*env);
    rel = WaitRelease(client, ns.name(), "settings",
                      [&](const json& r) { return AppliedAt(r, second); });
    ASSERT_TRUE(AppliedAt(rel, second)) << rel.dump(2);
    EXPECT_EQ(ConfigMapValue(client, ns.name(), "settings"), "two");

    // The new leader crashes (SIGKILL to its process through containerd: no goodbye, the lease
    // stays held): once the lease expires another process (the other replica or this one
    // restarted, each with a new identity) holds it and syncs the third commit.
    const std::string crashed_identity = LeaseHolder(client);
    auto crashed = client.Get("v1", "Pod", kSystem, next);
    ASSERT_TRUE(crashed.ok()) << crashed.status().message();
    std::string container_id =
        (*crashed)["status"]["containerStatuses"][0].value("containerID", "");
    container_id = container_id.substr(container_id.find("://") + 3);
    auto kill = RunProcess({"ctr", "--address", env->dir() + "/node/containerd.sock", "-n",
                            "k8s.io", "task", "kill", "-s", "SIGKILL", container_id});
    ASSERT_EQ(kill.exit_code, 0) << kill.out << kill.err;
    const std::string third =
        repo.Commit({{"cm.yaml", ConfigMapYaml("settings", "three")}}, "three");
    std::string holder;
    Eventually(
        [&] {
          holder = LeaseHolder(client);
          return !holder.empty() && holder != crashed_identity;
        },
        90s);
    ASSERT_NE(holder, crashed_identity)
        << "the crashed leader's lease was never taken over" << Diagnostics(*env);
    rel = WaitRelease(client, ns.name(), "settings",
                      [&](const json& r) { return AppliedAt(r, third); });
    ASSERT_TRUE(AppliedAt(rel, third)) << rel.dump(2);
    EXPECT_EQ(ConfigMapValue(client, ns.name(), "settings"), "three");

    // The Release goes while the operator still runs (its finalizer needs the operator).
    ASSERT_TRUE(client.Delete("flywheel.dev/v1alpha1", "Release", ns.name(), "settings").ok());
    Eventually(
        [&] { return !client.Get("flywheel.dev/v1alpha1", "Release", ns.name(), "settings").ok(); },
        60s);
  }
  std::filesystem::remove_all(repos);
}

}  // namespace
}  // namespace flywheel::testing
