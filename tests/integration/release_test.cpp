// Releases end to end: a real `flywheel controller` process against the testenv, syncing from real
// git servers (file://, git daemon, nginx + git http-backend with basic auth, sshd).
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "flywheel/http/client.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/net.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kWait = 90s;

std::string TempDir(const std::string& prefix) {
  std::string dir = std::filesystem::temp_directory_path() /
                    (prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(rand()));
  std::filesystem::create_directories(dir);
  return dir;
}

// `flywheel controller` watching one namespace, with its own git cache and webhook port.
class ControllerProcess {
 public:
  ControllerProcess(const TestEnv& env, const std::string& ns, const std::string& secret = "")
      : dir_(TempDir("flywheel-release")), webhook_port_(FreePort()), metrics_port_(FreePort()) {
    std::vector<std::string> argv = {FLYWHEEL_BINARY,
                                     "controller",
                                     "--kubeconfig",
                                     env.kubeconfig(),
                                     "--namespace",
                                     ns,
                                     "--metrics-bind-address",
                                     "127.0.0.1:" + std::to_string(metrics_port_),
                                     "--health-probe-bind-address",
                                     "0",
                                     "--webhook-bind-address",
                                     "127.0.0.1:" + std::to_string(webhook_port_),
                                     "--git-cache-dir",
                                     dir_ + "/git",
                                     "--allow-file-sources",
                                     "--concurrent",
                                     "4",
                                     "--log-level",
                                     "debug"};
    if (!secret.empty()) {
      std::ofstream(dir_ + "/secret") << secret << "\n";
      argv.push_back("--git-webhook-secret-file");
      argv.push_back(dir_ + "/secret");
    }
    process_ = std::make_unique<BackgroundProcess>(argv, dir_ + "/controller.log");
  }
  ~ControllerProcess() {
    if (process_->Running()) {
      process_->Signal(SIGTERM);
      process_->Wait(30000);
    }
    if (::testing::Test::HasFailure()) {
      std::string log = process_->Log();
      if (log.size() > 30000) log = "...\n" + log.substr(log.size() - 30000);
      std::cerr << "---- controller log ----\n" << log << "\n";
    }
    std::filesystem::remove_all(dir_);
  }
  void Kill() {
    process_->Signal(SIGKILL);
    process_->Wait(10000);
  }
  int webhook_port() const { return webhook_port_; }
  // "<status> <body>" of GET /metrics ("" when unreachable).
  std::string Metrics() const { return LoopbackGet(metrics_port_, "/metrics"); }
  std::string Log() const { return process_->Log(); }

 private:
  std::string dir_;
  int webhook_port_;
  int metrics_port_;
  std::unique_ptr<BackgroundProcess> process_;
};

json ReleaseObject(const std::string& ns, const std::string& name, const std::string& url,
                   json spec = json::object()) {
  if (!spec["source"].contains("url")) spec["source"]["url"] = url;
  if (!spec["source"].contains("pollInterval")) spec["source"]["pollInterval"] = "1s";
  return {{"apiVersion", "flywheel.dev/v1alpha1"},
          {"kind", "Release"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

json GetRelease(const kube::Client& client, const std::string& ns, const std::string& name) {
  auto r = client.Get("flywheel.dev/v1alpha1", "Release", ns, name);
  return r.ok() ? *r : json::object();
}

json Condition(const json& release, const std::string& type) {
  for (const auto& c : release.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == type) return c;
  }
  return json::object();
}

std::string StatusField(const json& release, const std::string& field) {
  const json status = release.value("status", json::object());
  auto it = status.find(field);
  return it != status.end() && it->is_string() ? it->get<std::string>() : "";
}

// Waits until the Release satisfies `pred`; returns the last object seen.
template <typename F>
json WaitRelease(const kube::Client& client, const std::string& ns, const std::string& name, F pred,
                 std::chrono::milliseconds limit = kWait) {
  json last;
  Eventually(
      [&] {
        last = GetRelease(client, ns, name);
        return pred(last);
      },
      limit);
  return last;
}

bool AppliedAt(const json& release, const std::string& sha) {
  return StatusField(release, "lastAppliedRevision") == sha &&
         Condition(release, "Ready").value("status", "") == "True";
}

std::string ConfigMapYaml(const std::string& name, const std::string& value,
                          const std::string& extra_meta = "") {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" + extra_meta +
         "data:\n  value: \"" + value + "\"\n";
}

std::string ConfigMapValue(const kube::Client& client, const std::string& ns,
                           const std::string& name) {
  auto cm = client.Get("v1", "ConfigMap", ns, name);
  if (!cm.ok()) return "<" + std::string(CodeName(cm.status().code())) + ">";
  return cm->value("data", json::object()).value("value", "");
}

size_t Labelled(const kube::Client& client, const std::string& kind, const std::string& ns,
                const std::string& release) {
  kube::ListOptions lo;
  lo.label_selector = "flywheel.dev/release=" + ns + "." + release;
  auto list = client.List("v1", kind, ns, lo);
  return list.ok() ? (*list)["items"].size() : 0;
}

class ReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!GitServersAvailable(&why)) GTEST_SKIP() << why;
    const TestEnv* env = TestEnv::Get(&why);
    if (env == nullptr) GTEST_SKIP() << why;
    ASSERT_EQ(env->Kubectl({"apply", "--server-side", "-f", SourcePath("crds")}).exit_code, 0);
    ASSERT_EQ(env->Kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                            "crd/releases.flywheel.dev"})
                  .exit_code,
              0);
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

std::string HmacHex(const std::string& key, const std::string& body) {
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
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

}  // namespace
}  // namespace flywheel::testing
