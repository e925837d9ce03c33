// Releases end to end: a real `flywheel controller` process against the testenv, syncing from real
// git servers (file://, git daemon, nginx + git http-backend with basic auth, sshd).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "flywheel/http/client.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/net.h"
#include "support/operator.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class ReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!GitServersAvailable(&why)) GTEST_SKIP() << why;
    const TestEnv* env = TestEnv::Get(&why);
    if (env == nullptr) GTEST_SKIP() << why;
    ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
    repos_ = TempDir("flywheel-repos");
  }
  void TearDown() override {
    if (!repos_.empty()) std::filesystem::remove_all(repos_);
  }
  std::string repos_;
};

TEST_F(ReleaseTest, SyncsNewCommitsAndPrunesWhatLeftTheRepository) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-sync");
  auto client = env->Client();
  GitRepo repo(repos_, "deploy");
  const std::string c1 = repo.Commit(
      {{"app/cms.yaml", ConfigMapYaml("a", "1") + "---\n" + ConfigMapYaml("b", "1") + "---\n"},
       {"app/svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n"},
       {"README.md", "not a manifest"}},
      "first");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(
      client
          .Create(ReleaseObject(ns.name(), "web", repo.FileUrl(), {{"source", {{"path", "app"}}}}))
          .ok());

  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "1");
  EXPECT_EQ(Labelled(client, "ConfigMap", ns.name(), "web"), 2u);
  EXPECT_EQ(rel["status"]["inventory"].size(), 3u);
  ASSERT_EQ(rel["status"]["history"].size(), 1u);
  EXPECT_EQ(rel["status"]["history"][0]["message"], "first");
  EXPECT_EQ(rel["status"]["history"][0]["author"], "Test <test@example.com>");

  // b leaves the repository, a changes, c arrives protected from pruning.
  const std::string c2 = repo.Commit(
      {{"app/cms.yaml",
        ConfigMapYaml("a", "2") + "---\n" +
            ConfigMapYaml("c", "1", "  annotations:\n    flywheel.dev/prune: disabled\n")}},
      "second");
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) { return AppliedAt(r, c2); });
  ASSERT_TRUE(AppliedAt(rel, c2)) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "2");
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "b"), "<NotFound>");
  EXPECT_EQ(rel["status"]["history"].size(), 2u);
  EXPECT_EQ(rel["status"]["history"][0]["revision"], c2);

  const std::string c3 = repo.Commit({{"app/cms.yaml", ConfigMapYaml("a", "2")}}, "third");
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) { return AppliedAt(r, c3); });
  ASSERT_TRUE(AppliedAt(rel, c3)) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "c"), "1") << "flywheel.dev/prune: disabled";

  // Every step left an Event and a metric.
  auto events = env->Kubectl({"get", "events.events.k8s.io", "-n", ns.name(), "-o",
                              "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}"});
  for (const char* reason : {"Syncing", "Synced", "Pruned", "Healthy"}) {
    EXPECT_NE(events.out.find(reason), std::string::npos) << reason << " not in:\n" << events.out;
  }
  std::string metrics = controller.Metrics();
  EXPECT_NE(
      metrics.find("flywheel_deployments_total{name=\"web\",namespace=\"" + ns.name() + "\"} 3"),
      std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("flywheel_release_health{health=\"Healthy\",name=\"web\",namespace=\"" +
                         ns.name() + "\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("flywheel_lead_time_seconds_count{name=\"web\""), std::string::npos);
}

TEST_F(ReleaseTest, SelfHealUndoesChangesMadeOutsideGitWithoutAWriteLoop) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-heal");
  auto client = env->Client();
  GitRepo repo(repos_, "heal");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "git")}}, "first");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "heal", repo.FileUrl())).ok());
  json rel = WaitRelease(client, ns.name(), "heal", [&](const json& r) {
    return AppliedAt(r, c1) && StatusField(r, "health") == "Healthy";
  });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);

  ASSERT_EQ(env->Kubectl({"-n", ns.name(), "patch", "configmap", "a", "--type=merge", "-p",
                          R"({"data":{"value":"by hand"}})"})
                .exit_code,
            0);
  EXPECT_TRUE(Eventually([&] { return ConfigMapValue(client, ns.name(), "a") == "git"; }, kWait))
      << ConfigMapValue(client, ns.name(), "a");

  ASSERT_EQ(env->Kubectl({"-n", ns.name(), "delete", "configmap", "a"}).exit_code, 0);
  EXPECT_TRUE(Eventually([&] { return ConfigMapValue(client, ns.name(), "a") == "git"; }, kWait));

  // In sync: several polls later the object has not been written again.
  auto before = client.Get("v1", "ConfigMap", ns.name(), "a");
  ASSERT_TRUE(before.ok());
  std::this_thread::sleep_for(4s);
  auto after = client.Get("v1", "ConfigMap", ns.name(), "a");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*before)["metadata"]["resourceVersion"], (*after)["metadata"]["resourceVersion"]);
}

// A controller restricted to one namespace (`--namespace`) never reconciles a Release of another
// namespace, even when objects labelled for that Release change in a kind it watches.
TEST_F(ReleaseTest, AControllerForOneNamespaceLeavesOtherNamespacesReleasesAlone) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace mine(*env, "rel-mine");
  ScopedNamespace other(*env, "rel-other");
  auto client = env->Client();
  GitRepo repo(repos_, "scoped");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "git")}}, "first");
  ControllerProcess controller(*env, mine.name());
  ASSERT_TRUE(client.Create(ReleaseObject(other.name(), "web", repo.FileUrl())).ok());
  ASSERT_TRUE(client.Create(ReleaseObject(mine.name(), "web", repo.FileUrl())).ok());
  json rel = WaitRelease(client, mine.name(), "web", [&](const json& r) {
    return AppliedAt(r, c1) && StatusField(r, "health") == "Healthy";
  });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);

  // ConfigMaps (a kind the controller now watches) labelled for the other namespace's Release.
  for (int i = 0; i < 3; ++i) {
    auto r =
        env->Kubectl({"-n", other.name(), "apply", "-f", "-"},
                     ConfigMapYaml("a", std::to_string(i),
                                   "  labels: {flywheel.dev/release: " + other.name() + ".web}\n"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // A change to this namespace's object comes later on the same watch: once it is healed, the
  // changes above have been seen too.
  ASSERT_EQ(env->Kubectl({"-n", mine.name(), "patch", "configmap", "a", "--type=merge", "-p",
                          R"({"data":{"value":"by hand"}})"})
                .exit_code,
            0);
  EXPECT_TRUE(Eventually([&] { return ConfigMapValue(client, mine.name(), "a") == "git"; }, kWait));

  EXPECT_EQ(controller.Log().find("reconciling " + other.name() + "/"), std::string::npos)
      << controller.Log();
  EXPECT_NE(controller.Log().find("reconciling " + mine.name() + "/web"), std::string::npos);
  EXPECT_FALSE(GetRelease(client, other.name(), "web").contains("status"));
  EXPECT_EQ(ConfigMapValue(client, other.name(), "a"), "2");
}

std::string DeploymentYaml(const std::string& name, const std::string& extra_spec,
                           const std::string& pod_extra = "") {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
         "\nspec:\n  replicas: 2\n" + extra_spec + "  selector:\n    matchLabels: {app: " + name +
         "}\n  template:\n    metadata:\n      labels: {app: " + name + "}\n    spec:\n" +
         pod_extra + "      containers:\n      - name: app\n        image: example/" + name +
         ":1\n";
}

TEST_F(ReleaseTest, HealthGoesFromProgressingToHealthyAndDegradesOnAProgressDeadline) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-health");
  auto client = env->Client();
  GitRepo good(repos_, "good");
  // minReadySeconds keeps the rollout Progressing long enough to be seen.
  const std::string g1 =
      good.Commit({{"d.yaml", DeploymentYaml("web", "  minReadySeconds: 4\n")}}, "rollout");
  GitRepo stuck(repos_, "stuck");
  stuck.Commit({{"d.yaml", DeploymentYaml("stuck", "  progressDeadlineSeconds: 3\n",
                                          "      nodeSelector: {flywheel-test: nowhere}\n")}},
               "cannot schedule");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "good", good.FileUrl())).ok());
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "stuck", stuck.FileUrl())).ok());

  json rel = WaitRelease(client, ns.name(), "good",
                         [&](const json& r) { return StatusField(r, "health") == "Progressing"; });
  EXPECT_EQ(StatusField(rel, "health"), "Progressing") << rel.dump(2);
  EXPECT_EQ(Condition(rel, "Reconciling").value("status", ""), "True");
  rel = WaitRelease(client, ns.name(), "good",
                    [&](const json& r) { return StatusField(r, "health") == "Healthy"; });
  ASSERT_EQ(StatusField(rel, "health"), "Healthy") << rel.dump(2);
  EXPECT_EQ(Condition(rel, "Healthy").value("status", ""), "True");
  EXPECT_EQ(StatusField(rel, "stableRevision"), g1);
  EXPECT_EQ(rel["status"]["history"][0]["result"], "Healthy");
  EXPECT_TRUE(rel["status"]["history"][0].contains("healthyAt"));

  rel = WaitRelease(client, ns.name(), "stuck",
                    [&](const json& r) { return StatusField(r, "health") == "Degraded"; });
  ASSERT_EQ(StatusField(rel, "health"), "Degraded") << rel.dump(2);
  EXPECT_NE(Condition(rel, "Healthy").value("message", "").find("timed out progressing"),
            std::string::npos)
      << rel.dump(2);
  EXPECT_EQ(rel["status"]["history"][0]["result"], "Degraded");
  EXPECT_EQ(StatusField(rel, "stableRevision"), "");
}

TEST_F(ReleaseTest, HealthTimeoutTurnsProgressingIntoDegraded) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-timeout");
  auto client = env->Client();
  GitRepo repo(repos_, "slow");
  // Unschedulable, with a progress deadline far away: only healthTimeout can call it Degraded.
  repo.Commit({{"d.yaml", DeploymentYaml("slow", "  progressDeadlineSeconds: 600\n",
                                         "      nodeSelector: {flywheel-test: nowhere}\n")}},
              "slow");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(
      client.Create(ReleaseObject(ns.name(), "slow", repo.FileUrl(), {{"healthTimeout", "3s"}}))
          .ok());
  json rel = WaitRelease(client, ns.name(), "slow",
                         [&](const json& r) { return StatusField(r, "health") == "Degraded"; });
  ASSERT_EQ(StatusField(rel, "health"), "Degraded") << rel.dump(2);
  EXPECT_NE(
      Condition(rel, "Healthy").value("message", "").find("not healthy within healthTimeout 3s"),
      std::string::npos)
      << rel.dump(2);
  EXPECT_EQ(rel["status"]["history"][0]["result"], "Degraded");
}

TEST_F(ReleaseTest, SuspendStopsEverythingButStatus) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-suspend");
  auto client = env->Client();
  GitRepo repo(repos_, "suspended");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "1")}}, "one");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "s", repo.FileUrl())).ok());
  json rel = WaitRelease(client, ns.name(), "s", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  ASSERT_TRUE(client
                  .Patch("flywheel.dev/v1alpha1", "Release", ns.name(), "s",
                         kube::PatchType::kMerge, R"({"spec":{"suspend":true}})")
                  .ok());
  rel = WaitRelease(client, ns.name(), "s",
                    [&](const json& r) { return StatusField(r, "health") == "Suspended"; });
  ASSERT_EQ(StatusField(rel, "health"), "Suspended");
  const std::string c2 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "2")}}, "two");
  ASSERT_EQ(env->Kubectl({"-n", ns.name(), "patch", "configmap", "a", "--type=merge", "-p",
                          R"({"data":{"value":"by hand"}})"})
                .exit_code,
            0);
  std::this_thread::sleep_for(4s);  // several poll intervals: nothing may happen
  EXPECT_EQ(StatusField(GetRelease(client, ns.name(), "s"), "lastAppliedRevision"), c1);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "by hand") << "no self-heal while suspended";
  ASSERT_TRUE(client
                  .Patch("flywheel.dev/v1alpha1", "Release", ns.name(), "s",
                         kube::PatchType::kMerge, R"({"spec":{"suspend":false}})")
                  .ok());
  rel = WaitRelease(client, ns.name(), "s", [&](const json& r) { return AppliedAt(r, c2); });
  ASSERT_TRUE(AppliedAt(rel, c2)) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "2");
}

TEST_F(ReleaseTest, RevisionPinHoldsUntilRemoved) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-pin");
  auto client = env->Client();
  GitRepo repo(repos_, "pin");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "1")}}, "one");
  repo.Tag("v1", c1);
  const std::string c2 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "2")}}, "two");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(
      client.Create(ReleaseObject(ns.name(), "pin", repo.FileUrl(), {{"revision", "v1"}})).ok());
  json rel = WaitRelease(client, ns.name(), "pin", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "1");

  ASSERT_TRUE(client
                  .Patch("flywheel.dev/v1alpha1", "Release", ns.name(), "pin",
                         kube::PatchType::kMerge, R"({"spec":{"revision":null}})")
                  .ok());
  rel = WaitRelease(client, ns.name(), "pin", [&](const json& r) { return AppliedAt(r, c2); });
  ASSERT_TRUE(AppliedAt(rel, c2)) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "2");
}

ProcessResult FlywheelCli(const TestEnv& env, std::vector<std::string> args) {
  args.insert(args.begin(), FLYWHEEL_BINARY);
  args.push_back("--kubeconfig");
  args.push_back(env.kubeconfig());
  return RunProcess(args);
}

TEST_F(ReleaseTest, RollbackPushesARevertAndAutoSyncSkipsTheRejectedRevision) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-rollback");
  auto client = env->Client();
  GitRepo repo(repos_, "rollback");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "good")}}, "good");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "web", repo.FileUrl())).ok());
  json rel = WaitRelease(client, ns.name(), "web",
                         [&](const json& r) { return StatusField(r, "stableRevision") == c1; });
  ASSERT_EQ(StatusField(rel, "stableRevision"), c1) << rel.dump(2);
  const std::string c2 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "bad")}}, "bad");
  rel = WaitRelease(client, ns.name(), "web",
                    [&](const json& r) { return StatusField(r, "stableRevision") == c2; });
  ASSERT_EQ(ConfigMapValue(client, ns.name(), "a"), "bad");

  auto out = FlywheelCli(*env, {"rollback", "web", "-n", ns.name(), "--reason", "errors up"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("RolledBack"), std::string::npos) << out.out;
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "good");
  auto log = repo.Log();
  ASSERT_GE(log.size(), 3u);
  EXPECT_EQ(log[0].second.rfind("Revert . to " + c1.substr(0, 7) + ": errors up", 0), 0u)
      << log[0].second;
  EXPECT_EQ(repo.Show("cm.yaml"), ConfigMapYaml("a", "good"));
  rel = GetRelease(client, ns.name(), "web");
  EXPECT_EQ(StatusField(rel, "lastAppliedRevision"), log[0].first) << "git log and cluster agree";
  ASSERT_FALSE(rel["status"]["rejectedRevisions"].empty());
  EXPECT_EQ(rel["status"]["rejectedRevisions"][0]["revision"], c2);
  bool marked = false;
  for (const auto& e : rel["status"]["history"]) {
    if (e["revision"] == c2) marked = e["result"] == "RolledBack";
  }
  EXPECT_TRUE(marked) << rel.dump(2);

  // Without a revert commit the branch still points at the rejected revision: auto-sync must
  // not apply it again, but a newer commit is applied.
  const std::string c3 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "worse")}}, "worse");
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return AppliedAt(r, c3) && StatusField(r, "health") == "Healthy";
  });
  ASSERT_TRUE(AppliedAt(rel, c3));
  out = FlywheelCli(*env, {"rollback", "web", "-n", ns.name(), "--no-git-revert"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "good");
  EXPECT_EQ(repo.Head(), c3) << "no revert commit was pushed";
  std::this_thread::sleep_for(4s);  // several polls of the rejected head
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "good");
  const std::string c4 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "fixed")}}, "fixed");
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) { return AppliedAt(r, c4); });
  ASSERT_TRUE(AppliedAt(rel, c4)) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "fixed");
}

TEST_F(ReleaseTest, ImpersonationDeniesWhatTheServiceAccountMayNotCreate) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-tenant");
  auto client = env->Client();
  std::string rbac =
      "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: deployer}\n---\n"
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: cm}\n"
      "rules: [{apiGroups: [''], resources: [configmaps], verbs: ['*']}]\n---\n"
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: cm}\n"
      "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm}\n"
      "subjects: [{kind: ServiceAccount, name: deployer}]\n";
  ASSERT_EQ(env->Kubectl({"-n", ns.name(), "apply", "-f", "-"}, rbac).exit_code, 0);
  GitRepo repo(repos_, "tenant");
  repo.Commit({{"cm.yaml", ConfigMapYaml("allowed", "1")},
               {"secret.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata: {name: denied}\nstringData: {k: v}\n"}},
              "cm and secret");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client
                  .Create(ReleaseObject(ns.name(), "tenant", repo.FileUrl(),
                                        {{"serviceAccountName", "deployer"}}))
                  .ok());
  json rel = WaitRelease(client, ns.name(), "tenant", [&](const json& r) {
    return Condition(r, "Ready").value("reason", "") == "ValidationFailed";
  });
  std::string message = Condition(rel, "Ready").value("message", "");
  EXPECT_NE(message.find("secrets \"denied\" is forbidden"), std::string::npos) << message;
  EXPECT_NE(message.find("system:serviceaccount:" + ns.name() + ":deployer"), std::string::npos)
      << message;
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "allowed"), "<NotFound>") << "nothing applied";
}

// One bad input: the files of its repository (or a setup step), and what the Ready condition
// must say.
struct BadInput {
  std::string name;
  std::map<std::string, std::string> files;
  json spec;  // merged into the Release spec
  std::string reason;
  std::vector<std::string> message_parts;
};

TEST_F(ReleaseTest, BadInputEndsInAClearConditionAndNothingApplied) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-bad");
  auto client = env->Client();
  const std::string good = ConfigMapYaml("good", "1");
  std::string big(10u << 20, 'x');
  GitHttpServer http(repos_, "alice", "s3cret-pass");
  std::vector<BadInput> cases = {
      {"malformed-yaml",
       {{"good.yaml", good},
        {"bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n"}},
       {},
       "ManifestError",
       {"bad.yaml:"}},
      {"no-kind",
       {{"good.yaml", good}, {"nokind.yaml", "apiVersion: v1\nmetadata: {name: x}\n"}},
       {},
       "ManifestError",
       {"nokind.yaml:1", "kind"}},
      {"server-rejects",
       {{"good.yaml", good},
        {"bad.yaml",
         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {\"a b\": x}\n"}},
       {},
       "ValidationFailed",
       {"bad.yaml:1", "ConfigMap", "bad", "a b"}},
      {"no-crd",
       {{"good.yaml", good},
        {"w.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"}},
       {},
       "ValidationFailed",
       {"w.yaml:1", "Widget", "not served"}},
      {"missing-path",
       {{"good.yaml", good}},
       {{"source", {{"path", "nope"}}}},
       "SourceError",
       {"nope"}},
      {"missing-branch",
       {{"good.yaml", good}},
       {{"source", {{"branch", "nope"}}}},
       "RevisionNotFound",
       {"nope"}},
      {"unreachable-host",
       {{"good.yaml", good}},
       {{"source", {{"url", "git://127.0.0.1:" + std::to_string(FreePort()) + "/x.git"}}}},
       "FetchFailed",
       {"127.0.0.1"}},
      {"wrong-credentials",
       {{"good.yaml", good}},
       {{"source", {{"url", http.Url("wrong-credentials")}, {"secretRef", {{"name", "wrong"}}}}}},
       "FetchFailed",
       {"authentication failed"}},
      {"secret-missing-key",
       {{"good.yaml", good}},
       {{"source", {{"url", http.Url("secret-missing-key")}, {"secretRef", {{"name", "nopass"}}}}}},
       "CredentialsError",
       {"nopass", "\"password\""}},
      {"kustomization-field",
       {{"good.yaml", good}, {"kustomization.yaml", "resources: [good.yaml]\npatches: []\n"}},
       {},
       "ManifestError",
       {"kustomization.yaml:2", "patches"}},
      {"duplicate",
       {{"a.yaml", good}, {"b.yaml", good}},
       {},
       "ManifestError",
       {"b.yaml:1", "a.yaml:1"}},
      {"only-big-non-manifests",
       {{"blob1.bin", big},
        {"blob2.bin", big},
        {"blob3.bin", big},
        {"blob4.bin", big},
        {"blob5.bin", big}},
       {},
       "ManifestError",
       {"no manifests"}},
  };
  ASSERT_EQ(env->Kubectl({"-n", ns.name(), "create", "secret", "generic", "wrong",
                          "--from-literal=username=alice", "--from-literal=password=nope"})
                .exit_code,
            0);
  ASSERT_EQ(env->Kubectl({"-n", ns.name(), "create", "secret", "generic", "nopass",
                          "--from-literal=username=alice"})
                .exit_code,
            0);
  std::vector<std::unique_ptr<GitRepo>> repos;
  for (const auto& c : cases) {
    repos.push_back(std::make_unique<GitRepo>(repos_, c.name));
    repos.back()->Commit(c.files, c.name);
  }
  ControllerProcess controller(*env, ns.name());
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(
        client.Create(ReleaseObject(ns.name(), cases[i].name, repos[i]->FileUrl(), cases[i].spec))
            .ok());
  }
  for (const auto& c : cases) {
    json rel = WaitRelease(client, ns.name(), c.name, [&](const json& r) {
      return Condition(r, "Ready").value("reason", "") == c.reason;
    });
    json ready = Condition(rel, "Ready");
    EXPECT_EQ(ready.value("status", ""), "False") << c.name << ": " << rel.dump(2);
    EXPECT_EQ(ready.value("reason", ""), c.reason) << c.name << ": " << rel.dump(2);
    for (const auto& part : c.message_parts) {
      EXPECT_NE(ready.value("message", "").find(part), std::string::npos)
          << c.name << ": \"" << part << "\" not in: " << ready.value("message", "");
    }
    EXPECT_EQ(ready.value("message", "").find("s3cret-pass"), std::string::npos);
    EXPECT_EQ(Labelled(client, "ConfigMap", ns.name(), c.name), 0u) << c.name << ": half-applied";
  }
  // A missing branch is RevisionNotFound from the first fetch on, never FetchFailed between
  // two polls (the fetch itself worked).
  EXPECT_EQ(EventCount(client, ns.name(), "FetchFailed", "branch \"nope\""), 0);
  EXPECT_EQ(controller.Log().find("s3cret-pass"), std::string::npos);
}

TEST_F(ReleaseTest, SyncsOverGitDaemonHttpWithBasicAuthAndSsh) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-servers");
  auto client = env->Client();
  GitRepo repo(repos_, "served");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("served", "1")}}, "one");
  GitDaemon daemon(repos_);
  GitHttpServer http(repos_, "alice", "s3cret-pass");
  GitSshServer ssh(repos_);
  ASSERT_EQ(env->Kubectl({"-n", ns.name(), "create", "secret", "generic", "http",
                          "--from-literal=username=alice", "--from-literal=password=s3cret-pass"})
                .exit_code,
            0);
  std::string key_file = repos_ + "/id", hosts_file = repos_ + "/known_hosts";
  std::ofstream(key_file) << ssh.client_private_key();
  std::ofstream(hosts_file) << ssh.known_hosts();
  ASSERT_EQ(
      env->Kubectl({"-n", ns.name(), "create", "secret", "generic", "ssh",
                    "--from-file=identity=" + key_file, "--from-file=known_hosts=" + hosts_file})
          .exit_code,
      0);
  ControllerProcess controller(*env, ns.name());
  // Each Release applies the same ConfigMap into its own target namespace.
  std::map<std::string, json> sources = {
      {"daemon", {{"url", daemon.Url("served")}}},
      {"http", {{"url", http.Url("served")}, {"secretRef", {{"name", "http"}}}}},
      {"ssh", {{"url", ssh.Url("served")}, {"secretRef", {{"name", "ssh"}}}}},
  };
  std::vector<std::unique_ptr<ScopedNamespace>> targets;
  for (const auto& [name, source] : sources) {
    targets.push_back(std::make_unique<ScopedNamespace>(*env, "rel-" + name));
    json spec = {{"source", source}, {"targetNamespace", targets.back()->name()}};
    ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), name, source["url"], spec)).ok());
  }
  size_t i = 0;
  for (const auto& [name, source] : sources) {
    json rel =
        WaitRelease(client, ns.name(), name, [&](const json& r) { return AppliedAt(r, c1); });
    EXPECT_TRUE(AppliedAt(rel, c1)) << name << ": " << rel.dump(2);
    EXPECT_EQ(ConfigMapValue(client, targets[i++]->name(), "served"), "1") << name;
  }
  EXPECT_EQ(controller.Log().find("s3cret-pass"), std::string::npos);
}

TEST_F(ReleaseTest, SignedGitHubPushSyncsAtOnce) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-hook");
  auto client = env->Client();
  GitRepo repo(repos_, "hooked");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "1")}}, "one");
  const std::string secret = "hook-secret";
  ControllerProcess controller(*env, ns.name(), secret);
  ASSERT_TRUE(client
                  .Create(ReleaseObject(ns.name(), "hooked", repo.FileUrl(),
                                        {{"source", {{"pollInterval", "1h"}}}}))
                  .ok());
  json rel =
      WaitRelease(client, ns.name(), "hooked", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);

  const std::string c2 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "2")}}, "two");
  json payload = {{"ref", "refs/heads/main"},
                  {"after", c2},
                  {"repository", {{"clone_url", repo.FileUrl()}, {"full_name", "t/hooked"}}}};
  std::string body = payload.dump();
  auto http = http::NewClient(
      {.base_url = "http://127.0.0.1:" + std::to_string(controller.webhook_port())});
  ASSERT_TRUE(http.ok());
  auto post = [&](const std::string& signature, const std::string& delivery) {
    http::Request req{.method = "POST", .target = "/hooks/git", .body = body, .timeout = 5s};
    req.headers = {{"Content-Type", "application/json"},
                   {"X-GitHub-Event", "push"},
                   {"X-GitHub-Delivery", delivery},
                   {"X-Hub-Signature-256", signature}};
    auto resp = (*http)->Send(req);
    return resp.ok() ? resp->status : -1;
  };
  ASSERT_TRUE(Eventually([&] { return post("sha256=" + std::string(64, '0'), "d-1") == 401; }, 30s))
      << "an unsigned push is refused";
  // A push to another branch of the repository does not concern this Release.
  const std::string main_body = body;
  payload["ref"] = "refs/heads/feature";
  body = payload.dump();
  EXPECT_EQ(post("sha256=" + HmacHex(secret, body), "d-other"), 202);
  std::this_thread::sleep_for(2s);
  rel = GetRelease(client, ns.name(), "hooked");
  EXPECT_FALSE(rel["metadata"]
                   .value("annotations", json::object())
                   .contains("flywheel.dev/reconcile-requested-at"))
      << "a push to refs/heads/feature woke a Release that follows main: " << rel.dump(2);
  EXPECT_TRUE(AppliedAt(rel, c1));
  body = main_body;
  EXPECT_EQ(post("sha256=" + HmacHex(secret, body), "d-2"), 202);
  rel = WaitRelease(
      client, ns.name(), "hooked", [&](const json& r) { return AppliedAt(r, c2); }, 30s);
  EXPECT_TRUE(AppliedAt(rel, c2)) << "with a 1h poll interval only the webhook explains the sync: "
                                  << rel.dump(2);
}

TEST_F(ReleaseTest, ControllerKilledDuringASyncConvergesAfterRestart) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-kill");
  auto client = env->Client();
  GitRepo repo(repos_, "many");
  std::string docs;
  for (int i = 0; i < 200; ++i) docs += ConfigMapYaml("cm-" + std::to_string(i), "1") + "---\n";
  const std::string c1 = repo.Commit({{"cms.yaml", docs}}, "200 configmaps");
  {
    ControllerProcess first(*env, ns.name());
    ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "many", repo.FileUrl())).ok());
    ASSERT_TRUE(
        Eventually([&] { return Labelled(client, "ConfigMap", ns.name(), "many") > 0; }, kWait));
    first.Kill();
  }
  size_t at_kill = Labelled(client, "ConfigMap", ns.name(), "many");
  std::cerr << "objects applied when the controller was killed: " << at_kill << " of 200\n";
  EXPECT_LT(at_kill, 200u) << "the kill must land in the middle of the sync to test anything";
  ControllerProcess second(*env, ns.name());
  json rel =
      WaitRelease(client, ns.name(), "many", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  EXPECT_EQ(Labelled(client, "ConfigMap", ns.name(), "many"), 200u);
  EXPECT_EQ(rel["status"]["inventory"].size(), 200u);
  EXPECT_EQ(rel["status"]["history"].size(), 1u);
}

// Events of `reason` in `ns` whose note starts with `prefix`, counting each series' repeats.

// Every revision in the Release's history, once each.
void ExpectHistoryUnique(const json& rel) {
  std::set<std::string> seen;
  for (const auto& e : rel["status"]["history"]) {
    EXPECT_TRUE(seen.insert(e.value("revision", "")).second)
        << "revision " << e.value("revision", "") << " twice in history: " << rel.dump(2);
  }
}

// The value of a sample of `metrics` ("" when absent), e.g. Sample(m, "flywheel_x{a=\"b\"}").
std::string Sample(const std::string& metrics, const std::string& series) {
  auto at = metrics.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  at += series.size() + 2;
  return metrics.substr(at, metrics.find('\n', at) - at);
}

// A Release's counters exist at 0 from its first reconcile, before anything was deployed, so
// PromQL's increase() counts the first deployment (a series born at 1 has no increase).
TEST_F(ReleaseTest, ItsSeriesStartAtZeroSoTheFirstDeploymentCounts) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-zero");
  auto client = env->Client();
  GitRepo repo(repos_, "zero");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "1")}}, "one");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(
      client.Create(ReleaseObject(ns.name(), "web", repo.FileUrl(), {{"suspend", true}})).ok());
  json rel = WaitRelease(client, ns.name(), "web",
                         [&](const json& r) { return StatusField(r, "health") == "Suspended"; });
  ASSERT_EQ(StatusField(rel, "health"), "Suspended") << rel.dump(2);
  const std::string labels = "{name=\"web\",namespace=\"" + ns.name() + "\"";
  std::string metrics = controller.Metrics();
  EXPECT_EQ(Sample(metrics, "flywheel_deployments_total" + labels + "}"), "0") << metrics;
  for (const char* trigger : {"manual", "metric", "alertmanager"}) {
    EXPECT_EQ(
        Sample(metrics, "flywheel_rollbacks_total" + labels + ",trigger=\"" + trigger + "\"}"), "0")
        << trigger;
  }
  EXPECT_EQ(Sample(metrics, "flywheel_lead_time_seconds_count" + labels + "}"), "0");
  EXPECT_EQ(Sample(metrics, "flywheel_time_to_restore_seconds_count" + labels + "}"), "0");

  ASSERT_TRUE(client
                  .Patch("flywheel.dev/v1alpha1", "Release", ns.name(), "web",
                         kube::PatchType::kMerge, R"({"spec":{"suspend":false}})")
                  .ok());
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  metrics = controller.Metrics();
  EXPECT_EQ(Sample(metrics, "flywheel_deployments_total" + labels + "}"), "1") << metrics;
  EXPECT_EQ(Sample(metrics, "flywheel_rollbacks_total" + labels + ",trigger=\"manual\"}"), "0");
}

TEST_F(ReleaseTest, ConcurrentRequestsRecordEachRevisionOnce) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-race");
  auto client = env->Client();
  GitRepo repo(repos_, "race");
  const std::string secret = "race-secret";
  std::vector<std::string> revisions = {
      repo.Commit({{"cm.yaml", ConfigMapYaml("a", "0")}}, "zero")};
  ControllerProcess controller(*env, ns.name(), secret);
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "web", repo.FileUrl())).ok());
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return StatusField(r, "stableRevision") == revisions[0];
  });
  ASSERT_EQ(StatusField(rel, "stableRevision"), revisions[0]) << rel.dump(2);
  auto hook = http::NewClient(
      {.base_url = "http://127.0.0.1:" + std::to_string(controller.webhook_port())});
  ASSERT_TRUE(hook.ok());

  // Bursts of webhook pushes, sync requests and (in some rounds) a rollback request, fired from
  // three threads while the controller syncs a new revision: every write of an annotation races
  // the controller's own status writes.
  int rollbacks = 0, request = 0;
  for (int round = 1; round <= 4; ++round) {
    const bool rollback = round % 2 == 0;
    const std::string sha =
        repo.Commit({{"cm.yaml", ConfigMapYaml("a", std::to_string(round))}}, "round");
    revisions.push_back(sha);
    if (rollback) {
      // Roll back the revision once it is healthy, while more requests arrive.
      rel = WaitRelease(client, ns.name(), "web",
                        [&](const json& r) { return StatusField(r, "stableRevision") == sha; });
      ASSERT_EQ(StatusField(rel, "stableRevision"), sha) << rel.dump(2);
    }
    json payload = {{"ref", "refs/heads/main"},
                    {"after", sha},
                    {"repository", {{"clone_url", repo.FileUrl()}}}};
    const std::string body = payload.dump();
    std::vector<std::thread> threads;
    threads.emplace_back([&, round] {
      for (int i = 0; i < 10; ++i) {
        http::Request req{.method = "POST", .target = "/hooks/git", .body = body, .timeout = 5s};
        req.headers = {{"Content-Type", "application/json"},
                       {"X-GitHub-Event", "push"},
                       {"X-GitHub-Delivery", "r" + std::to_string(round) + "-" + std::to_string(i)},
                       {"X-Hub-Signature-256", "sha256=" + HmacHex(secret, body)}};
        (void)(*hook)->Send(req);
        std::this_thread::sleep_for(30ms);
      }
    });
    threads.emplace_back([&, round] {
      for (int i = 0; i < 10; ++i) {
        json patch = {{"metadata",
                       {{"annotations",
                         {{"flywheel.dev/reconcile-requested-at",
                           "sync-" + std::to_string(round) + "-" + std::to_string(i)}}}}}};
        (void)client.Patch("flywheel.dev/v1alpha1", "Release", ns.name(), "web",
                           kube::PatchType::kMerge, patch.dump());
        std::this_thread::sleep_for(45ms);
      }
    });
    if (rollback) {
      ++rollbacks;
      threads.emplace_back([&] {
        std::this_thread::sleep_for(100ms);
        json patch = {
            {"metadata",
             {{"annotations",
               {{"flywheel.dev/rollback", json{{"id", "race-" + std::to_string(++request)},
                                               {"reason", "race test"},
                                               {"by", "test"}}
                                              .dump()}}}}}};
        EXPECT_TRUE(client
                        .Patch("flywheel.dev/v1alpha1", "Release", ns.name(), "web",
                               kube::PatchType::kMerge, patch.dump())
                        .ok());
      });
    }
    for (auto& t : threads) t.join();
    if (rollback) {
      rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
        return StatusField(r, "lastHandledRollback") == "race-" + std::to_string(request) &&
               StatusField(r, "health") == "Healthy";
      });
      ASSERT_EQ(ConfigMapValue(client, ns.name(), "a"), std::to_string(round - 1)) << rel.dump(2);
    } else {
      rel = WaitRelease(client, ns.name(), "web",
                        [&](const json& r) { return StatusField(r, "stableRevision") == sha; });
      ASSERT_EQ(StatusField(rel, "stableRevision"), sha) << rel.dump(2);
    }
  }
  std::this_thread::sleep_for(3s);  // let anything that was going to repeat itself do so

  rel = GetRelease(client, ns.name(), "web");
  ExpectHistoryUnique(rel);
  EXPECT_EQ(rel["status"]["history"].size(), revisions.size()) << rel.dump(2);
  for (const auto& sha : revisions) {
    EXPECT_EQ(EventCount(client, ns.name(), "Synced", "applied revision " + sha.substr(0, 7)), 1)
        << sha;
    EXPECT_EQ(EventCount(client, ns.name(), "Healthy", "revision " + sha.substr(0, 7)), 1) << sha;
  }
  EXPECT_EQ(EventCount(client, ns.name(), "RolledBack"), rollbacks);
  const std::string labels = "{name=\"web\",namespace=\"" + ns.name() + "\"}";
  const std::string metrics = controller.Metrics();
  EXPECT_EQ(Sample(metrics, "flywheel_deployments_total" + labels),
            std::to_string(revisions.size()))
      << metrics;
  EXPECT_EQ(Sample(metrics, "flywheel_rollbacks_total{name=\"web\",namespace=\"" + ns.name() +
                                "\",trigger=\"manual\"}"),
            std::to_string(rollbacks));
  EXPECT_EQ(Sample(metrics, "flywheel_lead_time_seconds_count" + labels),
            std::to_string(revisions.size()))
      << "a rollback is no deployment and has no lead time";
  EXPECT_EQ(Sample(metrics, "flywheel_time_to_restore_seconds_count" + labels),
            std::to_string(rollbacks));
}

TEST_F(ReleaseTest, RollbackWorksWhileGitIsDownAndTheRevertIsPushedOnceItIsBack) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-gitdown");
  auto client = env->Client();
  GitRepo repo(repos_, "down");
  const std::string good = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "good")}}, "good");
  GitHttpServer server(repos_, "bob", "down-pass");
  ASSERT_EQ(env->Kubectl({"-n", ns.name(), "create", "secret", "generic", "git",
                          "--from-literal=username=bob", "--from-literal=password=down-pass"})
                .exit_code,
            0);
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client
                  .Create(ReleaseObject(ns.name(), "web", server.Url("down"),
                                        {{"source", {{"secretRef", {{"name", "git"}}}}}}))
                  .ok());
  json rel = WaitRelease(client, ns.name(), "web",
                         [&](const json& r) { return StatusField(r, "stableRevision") == good; });
  ASSERT_EQ(StatusField(rel, "stableRevision"), good) << rel.dump(2);
  const std::string bad = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "bad")}}, "bad");
  rel = WaitRelease(client, ns.name(), "web",
                    [&](const json& r) { return StatusField(r, "stableRevision") == bad; });
  ASSERT_EQ(StatusField(rel, "stableRevision"), bad) << rel.dump(2);

  server.Pause();
  auto out = FlywheelCli(*env, {"rollback", "web", "-n", ns.name(), "--reason", "5xx up"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "good") << "restored with git down";
  rel = GetRelease(client, ns.name(), "web");
  const json last = rel["status"].value("lastRollback", json::object());
  EXPECT_EQ(last.value("fromRevision", ""), bad) << rel.dump(2);
  EXPECT_EQ(last.value("toRevision", ""), good);
  EXPECT_EQ(last.value("reason", ""), "5xx up");
  EXPECT_EQ(last.value("by", ""), "flywheel rollback");
  EXPECT_TRUE(last.value("revertPending", false)) << rel.dump(2);
  EXPECT_FALSE(last.contains("revertCommit"));
  EXPECT_EQ(repo.Log().size(), 2u) << "nothing could be pushed";
  EXPECT_GE(EventCount(client, ns.name(), "RevertPending"), 1);
  std::this_thread::sleep_for(3s);  // polls fail meanwhile; the rollback holds
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "good");

  server.Resume();
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return r["status"].value("lastRollback", json::object()).contains("revertCommit");
  });
  const json pushed = rel["status"]["lastRollback"];
  ASSERT_TRUE(pushed.contains("revertCommit")) << rel.dump(2);
  EXPECT_FALSE(pushed.value("revertPending", false));
  std::this_thread::sleep_for(3s);  // more polls: the revert must not be pushed again
  auto log = repo.Log();
  ASSERT_EQ(log.size(), 3u) << "exactly one revert commit";
  EXPECT_EQ(log[0].first, pushed.value("revertCommit", ""));
  EXPECT_EQ(log[0].second.rfind("Revert . to " + good.substr(0, 7) + ": 5xx up", 0), 0u)
      << log[0].second;
  EXPECT_EQ(repo.Show("cm.yaml"), ConfigMapYaml("a", "good"));
  rel = GetRelease(client, ns.name(), "web");
  EXPECT_EQ(StatusField(rel, "lastAppliedRevision"), log[0].first) << "Git and cluster agree";
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "good");
  // The history keeps the healthy revision as it was, marks the bad one, and holds no entry
  // for the revert (it is no deployment).
  ExpectHistoryUnique(rel);
  ASSERT_EQ(rel["status"]["history"].size(), 2u) << rel.dump(2);
  EXPECT_EQ(rel["status"]["history"][0]["revision"], bad);
  EXPECT_EQ(rel["status"]["history"][0]["result"], "RolledBack");
  EXPECT_EQ(rel["status"]["history"][1]["revision"], good);
  EXPECT_EQ(rel["status"]["history"][1]["result"], "Healthy");
  EXPECT_TRUE(rel["status"]["lastRollback"].contains("restoredAt")) << rel.dump(2);
  EXPECT_EQ(controller.Log().find("down-pass"), std::string::npos);
}

TEST_F(ReleaseTest, RollbackOfAPinnedReleaseHoldsUntilThePinChanges) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-pinback");
  auto client = env->Client();
  GitRepo repo(repos_, "pinback");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "1")}}, "one");
  const std::string c2 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "2")}}, "two");
  const std::string c3 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "3")}}, "three");
  repo.Tag("v1", c1);
  repo.Tag("v2", c2);
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(
      client.Create(ReleaseObject(ns.name(), "pin", repo.FileUrl(), {{"revision", "v1"}})).ok());
  auto pin = [&](const std::string& revision) {
    json patch = {{"spec", {{"revision", revision.empty() ? json() : json(revision)}}}};
    ASSERT_TRUE(client
                    .Patch("flywheel.dev/v1alpha1", "Release", ns.name(), "pin",
                           kube::PatchType::kMerge, patch.dump())
                    .ok());
  };
  json rel = WaitRelease(client, ns.name(), "pin",
                         [&](const json& r) { return StatusField(r, "stableRevision") == c1; });
  ASSERT_EQ(StatusField(rel, "stableRevision"), c1) << rel.dump(2);
  pin("v2");
  rel = WaitRelease(client, ns.name(), "pin",
                    [&](const json& r) { return StatusField(r, "stableRevision") == c2; });
  ASSERT_EQ(StatusField(rel, "stableRevision"), c2) << rel.dump(2);

  // What a RollbackPolicy sends: the annotation, not a new pin.
  auto out = FlywheelCli(*env, {"rollback", "pin", "-n", ns.name(), "--reason", "bad v2"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "1");
  rel = WaitRelease(client, ns.name(), "pin", [&](const json& r) {
    return Condition(r, "Ready").value("reason", "") == "PinRejected";
  });
  EXPECT_EQ(Condition(rel, "Ready").value("status", ""), "False") << rel.dump(2);
  EXPECT_NE(Condition(rel, "Ready").value("message", "").find("spec.revision v2"),
            std::string::npos)
      << rel.dump(2);
  std::this_thread::sleep_for(4s);  // several polls: the pin to v2 is not applied again
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "1");
  EXPECT_EQ(StatusField(GetRelease(client, ns.name(), "pin"), "lastAppliedRevision"), c1);
  EXPECT_EQ(EventCount(client, ns.name(), "PinRejected"), 1);
  EXPECT_EQ(repo.Head(), c3) << "a pinned Release's rollback pushes no revert to the branch";

  pin("");  // follow the branch again
  rel = WaitRelease(client, ns.name(), "pin", [&](const json& r) { return AppliedAt(r, c3); });
  ASSERT_TRUE(AppliedAt(rel, c3)) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "3");
}

TEST_F(ReleaseTest, PollIntervalZeroSyncsOnlyWhenAsked) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-nopoll");
  auto client = env->Client();
  GitRepo repo(repos_, "nopoll");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "1")}}, "one");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client
                  .Create(ReleaseObject(ns.name(), "web", repo.FileUrl(),
                                        {{"source", {{"pollInterval", "0s"}}}}))
                  .ok());
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  const std::string c2 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "2")}}, "two");
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "1") << "pollInterval 0 does not poll";
  auto out = FlywheelCli(*env, {"sync", "web", "-n", ns.name()});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "2");
}

// A Release created while the last fetch of its repository (same URL, no credentials) is younger
// than its pollInterval syncs from that fetch in its first reconcile instead of asking for
// another: here the remote is gone by then, so a fetch of its own would fail. A sync asked for
// still fetches.
TEST_F(ReleaseTest, AReleaseOfARecentlyFetchedRepositorySyncsFromThatFetch) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-share");
  auto client = env->Client();
  GitRepo repo(repos_, "shared");
  const std::string c1 = repo.Commit(
      {{"a/cm.yaml", ConfigMapYaml("a", "1")}, {"b/cm.yaml", ConfigMapYaml("b", "1")}}, "one");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client
                  .Create(ReleaseObject(ns.name(), "first", repo.FileUrl(),
                                        {{"source", {{"path", "a"}, {"pollInterval", "1h"}}}}))
                  .ok());
  json rel =
      WaitRelease(client, ns.name(), "first", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);

  const std::string away = repo.bare_path() + ".away";
  std::filesystem::rename(repo.bare_path(), away);
  ASSERT_TRUE(client
                  .Create(ReleaseObject(ns.name(), "second", repo.FileUrl(),
                                        {{"source", {{"path", "b"}, {"pollInterval", "1h"}}}}))
                  .ok());
  rel = WaitRelease(client, ns.name(), "second", [&](const json& r) { return AppliedAt(r, c1); });
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  EXPECT_EQ(Condition(rel, "Ready").value("status", ""), "True") << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "b"), "1");

  std::filesystem::rename(away, repo.bare_path());
  const std::string c2 = repo.Commit({{"b/cm.yaml", ConfigMapYaml("b", "2")}}, "two");
  auto out = FlywheelCli(*env, {"sync", "second", "-n", ns.name()});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_EQ(StatusField(GetRelease(client, ns.name(), "second"), "lastAppliedRevision"), c2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "b"), "2");
}

TEST_F(ReleaseTest, ACrdAndItsCustomResourcesApplyInOneRevision) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-crd");
  auto client = env->Client();
  const std::string group = ns.name() + ".flywheel.test";
  const std::string crd = "widgets." + group;
  GitRepo repo(repos_, "crd");
  const std::string c1 = repo.Commit(
      {{"crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: " +
            crd + "\nspec:\n  group: " + group +
            "\n  scope: Namespaced\n  names: {plural: widgets, singular: widget, kind: Widget}\n"
            "  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n"
            "      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-"
            "fields: true\n"},
       {"widget.yaml",
        "apiVersion: " + group + "/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"}},
      "a CRD and a custom resource");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "crd", repo.FileUrl())).ok());
  json rel = WaitRelease(client, ns.name(), "crd", [&](const json& r) { return AppliedAt(r, c1); });
  EXPECT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  auto widget = client.Get(group + "/v1", "Widget", ns.name(), "w");
  EXPECT_TRUE(widget.ok()) << widget.status().ToString();
  EXPECT_EQ(rel["status"]["inventory"].size(), 2u);
  EXPECT_EQ(EventCount(client, ns.name(), "Syncing"), 1) << "announced once, however long it waits";
  (void)client.Delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", crd);
}

TEST_F(ReleaseTest, AGitHostThatNeverAnswersStallsNoOtherRelease) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-stuck");
  auto client = env->Client();
  SilentServer silent;
  GitRepo repo(repos_, "alive");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "1")}}, "one");
  ControllerProcess controller(*env, ns.name());  // 4 reconcile workers
  // More Releases on the silent host than there are workers, each its own repository (and so
  // its own fetch), created first.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(client
                    .Create(ReleaseObject(ns.name(), "stuck-" + std::to_string(i),
                                          silent.GitUrl("stuck-" + std::to_string(i))))
                    .ok());
  }
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "alive", repo.FileUrl())).ok());
  json rel = WaitRelease(
      client, ns.name(), "alive", [&](const json& r) { return AppliedAt(r, c1); }, 30s);
  ASSERT_TRUE(AppliedAt(rel, c1)) << rel.dump(2);
  const std::string c2 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "2")}}, "two");
  rel = WaitRelease(
      client, ns.name(), "alive", [&](const json& r) { return AppliedAt(r, c2); }, 30s);
  EXPECT_TRUE(AppliedAt(rel, c2)) << "the next poll still gets through: " << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "2");
  json stuck = GetRelease(client, ns.name(), "stuck-0");
  EXPECT_EQ(StatusField(stuck, "lastAppliedRevision"), "") << stuck.dump(2);
}
// A rollback request names the revision it rolls back (`from`); when another revision runs by
// the time it is handled (a newer deployment, another rollback), it is acknowledged and nothing
// is rolled back: a request computed from an old state never rolls back its successor.
TEST_F(ReleaseTest, AStaleRollbackRequestIsAcknowledgedAndNotCarriedOut) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rel-stale");
  auto client = env->Client();
  GitRepo repo(repos_, "stale");
  const std::string c1 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "1")}}, "one");
  ControllerProcess controller(*env, ns.name());
  ASSERT_TRUE(client.Create(ReleaseObject(ns.name(), "web", repo.FileUrl())).ok());
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return AppliedAt(r, c1) && StatusField(r, "stableRevision") == c1;
  });
  const std::string c2 = repo.Commit({{"cm.yaml", ConfigMapYaml("a", "2")}}, "two");
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) { return AppliedAt(r, c2); });
  ASSERT_TRUE(AppliedAt(rel, c2)) << rel.dump(2);
  // A request to roll back c1, which no longer runs.
  json patch = {
      {"metadata",
       {{"annotations",
         {{"flywheel.dev/rollback",
           json{{"id", "stale-1"}, {"from", c1}, {"reason", "computed before c2"}, {"by", "test"}}
               .dump()}}}}}};
  ASSERT_TRUE(client
                  .Patch("flywheel.dev/v1alpha1", "Release", ns.name(), "web",
                         kube::PatchType::kMerge, patch.dump())
                  .ok());
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return StatusField(r, "lastHandledRollback") == "stale-1";
  });
  ASSERT_EQ(StatusField(rel, "lastHandledRollback"), "stale-1") << rel.dump(2);
  EXPECT_EQ(StatusField(rel, "lastAppliedRevision"), c2);
  EXPECT_FALSE(rel["status"].contains("lastRollback")) << rel.dump(2);
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "a"), "2");
  EXPECT_EQ(EventCount(client, ns.name(), "RollbackSkipped"), 1);
}

}  // namespace
}  // namespace flywheel::testing
