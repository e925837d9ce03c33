// RollbackPolicies end to end: a real `flywheel controller` process against the testenv, a
// Release syncing from a real git repository, and Debian's Prometheus scraping a test exporter
// whose error ratio the test sets. The policy must roll the Release back (with the revert commit
// in the repository) when the ratio breaches for `for`, and never otherwise.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "flywheel/common/base64.h"
#include "flywheel/common/time.h"
#include "flywheel/http/server.h"
#include "support/alertmanager.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/net.h"
#include "support/notify_receiver.h"
#include "support/operator.h"
#include "support/prometheus.h"
#include "support/test_exporter.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kRatioQuery =
    "sum(rate(http_requests_total{code=~\"5..\"}[4s])) / sum(rate(http_requests_total[4s]))";

json PolicyObject(const std::string& ns, const std::string& name, const std::string& prometheus,
                  const std::string& for_duration, json extra = json::object()) {
  json spec = {{"releaseRef", {{"name", "web"}}},
               {"prometheus", {{"url", prometheus}, {"timeout", "2s"}}},
               {"metrics",
                {{{"name", "error-ratio"},
                  {"query", kRatioQuery},
                  {"threshold", {{"operator", ">"}, {"value", 0.05}}},
                  {"for", for_duration}}}},
               {"interval", "1s"},
               {"window", "0"}};
  spec.update(extra);
  return {{"apiVersion", "flywheel.dev/v1alpha1"},
          {"kind", "RollbackPolicy"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

json GetPolicy(const kube::Client& client, const std::string& ns, const std::string& name) {
  auto p = client.Get("flywheel.dev/v1alpha1", "RollbackPolicy", ns, name);
  return p.ok() ? *p : json::object();
}

template <typename F>
json WaitPolicy(const kube::Client& client, const std::string& ns, const std::string& name, F pred,
                std::chrono::milliseconds limit = kWait) {
  json last;
  Eventually(
      [&] {
        last = GetPolicy(client, ns, name);
        return pred(last);
      },
      limit);
  return last;
}

Time At(const json& object, const std::string& field) {
  auto t = ParseRfc3339(object.value(field, ""));
  return t.ok() ? *t : Time{};
}

// Waits until each named policy watches the Release's revision without a breach.
void WaitWatching(const kube::Client& client, const std::string& ns,
                  std::initializer_list<const char*> names) {
  for (const char* name : names) {
    WaitPolicy(client, ns, name, [&](const json& p) {
      return p.value("status", json::object()).value("phase", "") == "Watching";
    });
  }
}

// The status of an object read by GetPolicy/GetRelease ({} when the read failed).
json S(const json& object) { return object.value("status", json::object()); }

double Seconds(Time::duration d) { return std::chrono::duration<double>(d).count(); }

class RollbackPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    env_ = TestEnv::Get(&why);
    if (env_ == nullptr) GTEST_SKIP() << why;
    InstallCrds(*env_);
    if (HasFatalFailure()) return;
    repos_ = TempDir("flywheel-rbp-repos");
    repo_ = std::make_unique<GitRepo>(repos_, "deploy");
    prometheus_ =
        std::make_unique<Prometheus>(PrometheusOptions{.scrape_targets = {exporter_.target()}});
  }
  void TearDown() override {
    repo_.reset();
    if (!repos_.empty()) std::filesystem::remove_all(repos_);
  }

  // Release `web` in `ns` at revision A (healthy), then B applied; returns {A, B}.
  std::pair<std::string, std::string> ReleaseAtB(const kube::Client& client,
                                                 const std::string& ns) {
    const std::string a = repo_->Commit({{"app.yaml", ConfigMapYaml("app", "A")}}, "good A");
    EXPECT_TRUE(client.Create(ReleaseObject(ns, "web", repo_->FileUrl())).ok());
    json rel = WaitRelease(client, ns, "web", [&](const json& r) {
      return AppliedAt(r, a) && StatusField(r, "stableRevision") == a;
    });
    EXPECT_TRUE(AppliedAt(rel, a)) << rel.dump(2);
    const std::string b = repo_->Commit({{"app.yaml", ConfigMapYaml("app", "B")}}, "bad B");
    rel = WaitRelease(client, ns, "web", [&](const json& r) { return AppliedAt(r, b); });
    EXPECT_TRUE(AppliedAt(rel, b)) << rel.dump(2);
    return {a, b};
  }

  const TestEnv* env_ = nullptr;
  TestExporter exporter_{200, 0};
  std::string repos_;
  std::unique_ptr<GitRepo> repo_;
  std::unique_ptr<Prometheus> prometheus_;
};

TEST_F(RollbackPolicyTest, ABreachLastingForRollsBackOnceWithARevertCommit) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-main");
  auto client = env->Client();
  ControllerProcess controller(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  ASSERT_TRUE(client.Create(PolicyObject(ns.name(), "web-errors", prometheus_->url(), "3s")).ok());
  json policy = WaitPolicy(client, ns.name(), "web-errors", [&](const json& p) {
    const json s = p.value("status", json::object());
    return s.value("watchedRevision", "") == b && s.value("phase", "") == "Watching" &&
           !s.value("metrics", json::array()).empty() &&
           s["metrics"][0].value("state", "") == "Passing";
  });
  ASSERT_EQ(S(policy).value("phase", ""), "Watching") << policy.dump(2);
  // Evaluations that change nothing but `evaluatedAt` are not written each time (at most every
  // five minutes): four seconds of passing evaluations leave the object as it was.
  const std::string version = kube::MetaString(policy, "resourceVersion");
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(kube::MetaString(GetPolicy(client, ns.name(), "web-errors"), "resourceVersion"),
            version);

  exporter_.SetErrorRatio(0.2);  // B misbehaves
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return S(r).value("lastRollback", json::object()).value("fromRevision", "") == b &&
           S(r).value("lastRollback", json::object()).contains("revertCommit");
  });
  const json last = S(rel).value("lastRollback", json::object());
  ASSERT_EQ(last.value("fromRevision", ""), b) << rel.dump(2);
  EXPECT_EQ(last.value("toRevision", ""), a);
  EXPECT_EQ(last.value("by", ""), "RollbackPolicy/web-errors");
  EXPECT_EQ(last.value("trigger", ""), "metric");
  EXPECT_NE(last.value("reason", "").find("error-ratio 0."), std::string::npos) << last.dump();
  EXPECT_NE(last.value("reason", "").find("> 0.05 for 3s"), std::string::npos) << last.dump();
  EXPECT_EQ(ConfigMapValue(client, ns.name(), "app"), "A");
  EXPECT_EQ(StatusField(rel, "stableRevision"), a) << "B was stable, then rolled back";
  bool rejected = false;
  for (const auto& r : S(rel).value("rejectedRevisions", json::array()))
    rejected |= r.value("revision", "") == b;
  EXPECT_TRUE(rejected) << rel.dump(2);
  // The revert commit is the branch head of the manifest repository and restores A's content.
  EXPECT_EQ(repo_->Head(), last.value("revertCommit", ""));
  EXPECT_NE(repo_->Log().front().second.find("Revert"), std::string::npos);
  EXPECT_NE(repo_->Show("app.yaml").find("\"A\""), std::string::npos);

  policy = WaitPolicy(client, ns.name(), "web-errors", [&](const json& p) {
    return S(p).value("lastRollback", json::object()).contains("revertCommit");
  });
  const json& ps = S(policy);
  EXPECT_EQ(ps.value("phase", ""), "RolledBack") << policy.dump(2);
  EXPECT_EQ(ps["lastRollback"].value("fromRevision", ""), b);
  EXPECT_EQ(ps["lastRollback"].value("revertCommit", ""), last.value("revertCommit", ""));
  // Latency: from the first breaching evaluation to the rollback request, the floor is `for`
  // (3 s) plus one interval (1 s); allow 2 s over it, and 1 s for whole-second timestamps.
  ASSERT_FALSE(ps["metrics"].empty());
  const Time breach = At(ps["metrics"][0], "breachingSince");
  const Time rolled = At(last, "at");
  EXPECT_LE(Seconds(rolled - breach), 3 + 1 + 2 + 1) << policy.dump(2);

  // Errors stop (A runs again); nothing more happens.
  exporter_.SetErrorRatio(0);
  std::this_thread::sleep_for(6s);
  rel = GetRelease(client, ns.name(), "web");
  EXPECT_EQ(S(rel).value("lastRollback", json::object()).value("id", ""), last.value("id", ""));
  EXPECT_EQ(EventCount(client, ns.name(), "RolledBack"), 2)
      << "one on the policy, one on the Release";
  size_t reverts = 0;
  for (const auto& [sha, subject] : repo_->Log()) reverts += subject.rfind("Revert", 0) == 0;
  EXPECT_EQ(reverts, 1u);
  const std::string metrics = controller.Metrics();
  EXPECT_NE(metrics.find("flywheel_rollbacks_total{name=\"web\",namespace=\"" + ns.name() +
                         "\",trigger=\"metric\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("flywheel_rollback_evaluations_total{namespace=\"" + ns.name() +
                         "\",policy=\"web-errors\",result=\"breaching\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("flywheel_rollback_metric_value{metric=\"error-ratio\",namespace=\"" +
                         ns.name() + "\",policy=\"web-errors\"}"),
            std::string::npos);
}

TEST_F(RollbackPolicyTest, ASpikeShorterThanForDoesNotRollBack) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-spike");
  auto client = env->Client();
  ControllerProcess controller(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  ASSERT_TRUE(client.Create(PolicyObject(ns.name(), "web-errors", prometheus_->url(), "20s")).ok());
  // A second policy only reports (dryRun, for: 0s): it says it would roll back, and does nothing.
  ASSERT_TRUE(
      client
          .Create(PolicyObject(ns.name(), "observer", prometheus_->url(), "0s", {{"dryRun", true}}))
          .ok());
  WaitWatching(client, ns.name(), {"web-errors", "observer"});
  exporter_.SetErrorRatio(0.3);
  json policy = WaitPolicy(client, ns.name(), "web-errors",
                           [&](const json& p) { return S(p).value("phase", "") == "Breaching"; });
  ASSERT_EQ(S(policy).value("phase", ""), "Breaching") << policy.dump(2);
  exporter_.SetErrorRatio(0);
  policy = WaitPolicy(client, ns.name(), "web-errors",
                      [&](const json& p) { return S(p).value("phase", "") == "Watching"; });
  EXPECT_EQ(S(policy).value("phase", ""), "Watching") << policy.dump(2);
  std::this_thread::sleep_for(5s);
  json rel = GetRelease(client, ns.name(), "web");
  EXPECT_FALSE(S(rel).contains("lastRollback")) << rel.dump(2);
  EXPECT_EQ(StatusField(rel, "lastAppliedRevision"), b);
  EXPECT_FALSE(GetPolicy(client, ns.name(), "web-errors")["status"].contains("lastRollback"));
  json observer = GetPolicy(client, ns.name(), "observer");
  const json would = S(observer).value("lastRollback", json::object());
  EXPECT_TRUE(would.value("dryRun", false)) << observer.dump(2);
  EXPECT_EQ(would.value("fromRevision", ""), b);
  EXPECT_EQ(would.value("toRevision", ""), a);
  EXPECT_EQ(EventCount(client, ns.name(), "WouldRollBack"), 1);
}

// Prometheus down: with onError Ignore nothing is rolled back and the errors are counted; with
// Breach the outage itself rolls back after `for`.
TEST_F(RollbackPolicyTest, APrometheusOutageRollsBackOnlyWithOnErrorBreach) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-outage");
  auto client = env->Client();
  ControllerProcess controller(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  ASSERT_TRUE(client.Create(PolicyObject(ns.name(), "ignore", prometheus_->url(), "3s")).ok());
  ASSERT_TRUE(client
                  .Create(PolicyObject(ns.name(), "breach", prometheus_->url(), "12s",
                                       {{"onError", "Breach"}}))
                  .ok());
  WaitWatching(client, ns.name(), {"ignore", "breach"});
  prometheus_->Stop();
  json ignore = WaitPolicy(client, ns.name(), "ignore", [&](const json& p) {
    const json m = S(p).value("metrics", json::array());
    return !m.empty() && m[0].value("consecutiveErrors", 0) >= 6;
  });
  ASSERT_GE(S(ignore).value("metrics", json::array())[0].value("consecutiveErrors", 0), 6)
      << ignore.dump(2);
  EXPECT_EQ(S(ignore).value("metrics", json::array())[0].value("state", ""), "Error");
  EXPECT_NE(S(ignore).value("metrics", json::array())[0].value("lastError", "").find("Unavailable"),
            std::string::npos)
      << ignore.dump(2);
  EXPECT_EQ(Condition(ignore, "Ready").value("reason", ""), "QueryFailed");
  EXPECT_FALSE(S(ignore).contains("lastRollback")) << ignore.dump(2);
  EXPECT_EQ(StatusField(GetRelease(client, ns.name(), "web"), "lastAppliedRevision"), b)
      << "six seconds of outage with onError: Ignore (for: 3s) rolled nothing back";
  // The policy treating errors as breaches rolls back once the outage lasted its 12 s.
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return S(r).value("lastRollback", json::object()).value("fromRevision", "") == b;
  });
  ASSERT_EQ(S(rel).value("lastRollback", json::object()).value("by", ""), "RollbackPolicy/breach")
      << rel.dump(2);
  EXPECT_NE(S(rel).value("lastRollback", json::object()).value("reason", "").find("query failed"),
            std::string::npos);
  EXPECT_FALSE(GetPolicy(client, ns.name(), "ignore")["status"].contains("lastRollback"));
}

// The breach timer lives in status: a controller killed mid-breach and started again rolls back
// once, on the original timer (not `for` after the restart).
TEST_F(RollbackPolicyTest, AControllerKilledMidBreachKeepsTheTimerAndRollsBackOnce) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-kill");
  auto client = env->Client();
  auto controller = std::make_unique<ControllerProcess>(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  ASSERT_TRUE(client.Create(PolicyObject(ns.name(), "web-errors", prometheus_->url(), "12s")).ok());
  WaitWatching(client, ns.name(), {"web-errors"});
  exporter_.SetErrorRatio(0.5);
  json policy = WaitPolicy(client, ns.name(), "web-errors",
                           [&](const json& p) { return S(p).value("phase", "") == "Breaching"; });
  ASSERT_EQ(S(policy).value("phase", ""), "Breaching") << policy.dump(2);
  const std::string since =
      S(policy).value("metrics", json::array())[0].value("breachingSince", "");
  controller->Kill();
  std::this_thread::sleep_for(2s);
  controller = std::make_unique<ControllerProcess>(*env, ns.name());
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return S(r).value("lastRollback", json::object()).value("fromRevision", "") == b;
  });
  ASSERT_EQ(S(rel).value("lastRollback", json::object()).value("fromRevision", ""), b)
      << rel.dump(2);
  policy = GetPolicy(client, ns.name(), "web-errors");
  EXPECT_EQ(S(policy).value("metrics", json::array())[0].value("breachingSince", ""), since)
      << "the restart kept the timer";
  const Time breach = *ParseRfc3339(since);
  EXPECT_LE(Seconds(At(S(rel).value("lastRollback", json::object()), "at") - breach),
            12 + 1 + 2 + 1)
      << "rolled back on the original timer";
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(EventCount(client, ns.name(), "RolledBack"), 2);
}

// Two policies on one Release breaching together: one rollback. The second sees the first's
// request (or the rolled-back Release) and says so.
TEST_F(RollbackPolicyTest, TwoPoliciesBreachingTogetherRollBackOnce) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-two");
  auto client = env->Client();
  ControllerProcess controller(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  for (const char* name : {"first", "second"}) {
    ASSERT_TRUE(client.Create(PolicyObject(ns.name(), name, prometheus_->url(), "0s")).ok());
  }
  WaitWatching(client, ns.name(), {"first", "second"});
  exporter_.SetErrorRatio(0.4);
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return S(r).value("lastRollback", json::object()).contains("revertCommit");
  });
  ASSERT_EQ(S(rel).value("lastRollback", json::object()).value("fromRevision", ""), b)
      << rel.dump(2);
  std::this_thread::sleep_for(5s);
  rel = GetRelease(client, ns.name(), "web");
  EXPECT_EQ(StatusField(rel, "lastAppliedRevision"),
            S(rel).value("lastRollback", json::object()).value("revertCommit", ""));
  size_t reverts = 0;
  for (const auto& [sha, subject] : repo_->Log()) reverts += subject.rfind("Revert", 0) == 0;
  EXPECT_EQ(reverts, 1u);
  const std::string metrics = controller.Metrics();
  EXPECT_NE(metrics.find("flywheel_rollbacks_total{name=\"web\",namespace=\"" + ns.name() +
                         "\",trigger=\"metric\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(EventCount(client, ns.name(), "RolledBack"), 2)
      << "one rollback: an Event on the policy that asked and one on the Release";
}

// With a cooldown, a second bad revision soon after a rollback is not rolled back: the policy
// says why (Ready=False CoolingDown, an Event).
TEST_F(RollbackPolicyTest, CooldownHoldsASecondRollback) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-cool");
  auto client = env->Client();
  ControllerProcess controller(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  ASSERT_TRUE(client
                  .Create(PolicyObject(ns.name(), "web-errors", prometheus_->url(), "0s",
                                       {{"rollback", {{"cooldown", "1h"}}}}))
                  .ok());
  WaitWatching(client, ns.name(), {"web-errors"});
  exporter_.SetErrorRatio(0.3);
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return S(r).value("lastRollback", json::object()).contains("revertCommit");
  });
  ASSERT_EQ(S(rel).value("lastRollback", json::object()).value("fromRevision", ""), b)
      << rel.dump(2);
  // A new (also bad) commit.
  const std::string c = repo_->Commit({{"app.yaml", ConfigMapYaml("app", "C")}}, "bad C");
  rel = WaitRelease(client, ns.name(), "web", [&](const json& r) { return AppliedAt(r, c); });
  ASSERT_TRUE(AppliedAt(rel, c)) << rel.dump(2);
  json policy = WaitPolicy(client, ns.name(), "web-errors", [&](const json& p) {
    return Condition(p, "Ready").value("reason", "") == "CoolingDown";
  });
  EXPECT_EQ(Condition(policy, "Ready").value("reason", ""), "CoolingDown") << policy.dump(2);
  EXPECT_NE(Condition(policy, "Ready").value("message", "").find("cooldown 1h"), std::string::npos);
  EXPECT_GE(EventCount(client, ns.name(), "RollbackBlocked"), 1);
  EXPECT_EQ(StatusField(GetRelease(client, ns.name(), "web"), "lastAppliedRevision"), c);
}

// Bad input: a query Prometheus refuses ends in a condition with Prometheus' own words and an
// Event, never a rollback (even with onError: Breach it is an evaluation error, shown).
TEST_F(RollbackPolicyTest, AQuerySyntaxErrorIsShownNeverRolledBack) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-bad");
  auto client = env->Client();
  ControllerProcess controller(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  json bad = PolicyObject(ns.name(), "typo", prometheus_->url(), "0s");
  bad["spec"]["metrics"][0]["query"] = "sum(rate(http_requests_total[1m]";
  ASSERT_TRUE(client.Create(bad).ok());
  json policy = WaitPolicy(client, ns.name(), "typo", [&](const json& p) {
    return Condition(p, "Ready").value("reason", "") == "QueryFailed";
  });
  const std::string message = Condition(policy, "Ready").value("message", "");
  EXPECT_NE(message.find("bad_data"), std::string::npos) << policy.dump(2);
  EXPECT_NE(message.find("parse error"), std::string::npos) << message;
  EXPECT_GE(EventCount(client, ns.name(), "QueryFailed"), 1);
  // A Release that does not exist: the policy waits and says so.
  json orphan = PolicyObject(ns.name(), "orphan", prometheus_->url(), "0s");
  orphan["spec"]["releaseRef"]["name"] = "nope";
  ASSERT_TRUE(client.Create(orphan).ok());
  policy = WaitPolicy(client, ns.name(), "orphan", [&](const json& p) {
    return Condition(p, "Ready").value("reason", "") == "ReleaseNotFound";
  });
  EXPECT_NE(Condition(policy, "Ready").value("message", "").find("nope"), std::string::npos);
  std::this_thread::sleep_for(3s);
  EXPECT_FALSE(GetRelease(client, ns.name(), "web")["status"].contains("lastRollback"));
}

// The other trigger: a firing alert delivered by a real Alertmanager to the controller's
// /hooks/alertmanager/<namespace>/<policy> rolls the Release back through the same path, and
// the policy's notify webhook hears about it. A wrong token is refused.
TEST_F(RollbackPolicyTest, AnAlertmanagerAlertRollsBackAndNotifies) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-alert");
  auto client = env->Client();
  constexpr char kToken[] = "am-token-7f3a9";
  ASSERT_TRUE(client
                  .Create({{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata", {{"name", "am"}, {"namespace", ns.name()}}},
                           {"data", {{"token", Base64Encode(kToken)}}}})
                  .ok());
  NotifyReceiver receiver;
  ASSERT_TRUE(receiver.ok()) << receiver.error();
  ControllerProcess controller(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  json policy = PolicyObject(ns.name(), "web-alerts", prometheus_->url(), "0s");
  policy["spec"].erase("metrics");
  policy["spec"].erase("prometheus");
  policy["spec"]["alertmanager"] = {{"tokenSecretRef", {{"name", "am"}}},
                                    {"matchLabels", {{"alertname", "WebHighErrorRate"}}}};
  policy["spec"]["notify"] = {{{"url", receiver.url()}}};
  ASSERT_TRUE(client.Create(policy).ok());
  WaitPolicy(client, ns.name(), "web-alerts",
             [&](const json& p) { return S(p).value("watchedRevision", "") == b; });
  // Reconciled, never evaluated (no metrics, alerts only): its counters exist at 0.
  const std::string zero = controller.Metrics();
  for (const char* result : {"passing", "breaching", "nodata", "error"}) {
    EXPECT_NE(zero.find("\nflywheel_rollback_evaluations_total{namespace=\"" + ns.name() +
                        "\",policy=\"web-alerts\",result=\"" + result + "\"} 0\n"),
              std::string::npos)
        << result << "\n"
        << zero;
  }
  EXPECT_NE(zero.find("\nflywheel_rollbacks_total{name=\"web\",namespace=\"" + ns.name() +
                      "\",trigger=\"alertmanager\"} 0\n"),
            std::string::npos)
      << zero;

  const std::string hook = "http://127.0.0.1:" + std::to_string(controller.webhook_port()) +
                           "/hooks/alertmanager/" + ns.name() + "/web-alerts";
  // A wrong token: 401, nothing happens.
  auto http = http::NewClient(
      {.base_url = "http://127.0.0.1:" + std::to_string(controller.webhook_port())});
  ASSERT_TRUE(http.ok());
  auto refused = (*http)->Send(
      {.method = "POST",
       .target = "/hooks/alertmanager/" + ns.name() + "/web-alerts",
       .headers = {{"Authorization", "Bearer wrong"}, {"Content-Type", "application/json"}},
       .body = R"({"version":"4","status":"firing","alerts":[]})"});
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->status, 401);

  AlertmanagerServer alertmanager(WebhookConfig(hook, kToken));
  alertmanager.PostAlerts(
      json::array({{{"labels", {{"alertname", "WebHighErrorRate"}, {"service", "web"}}}}}));
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return S(r).value("lastRollback", json::object()).value("fromRevision", "") == b;
  });
  const json last = S(rel).value("lastRollback", json::object());
  ASSERT_EQ(last.value("fromRevision", ""), b) << rel.dump(2) << alertmanager.Log();
  EXPECT_EQ(last.value("trigger", ""), "alertmanager");
  EXPECT_EQ(last.value("by", ""), "RollbackPolicy/web-alerts");
  // The first rollback by this trigger is a step from 0 to 1, which increase() counts.
  EXPECT_TRUE(Eventually(
      [&] {
        return controller.Metrics().find("\nflywheel_rollbacks_total{name=\"web\",namespace=\"" +
                                         ns.name() + "\",trigger=\"alertmanager\"} 1\n") !=
               std::string::npos;
      },
      30s))
      << controller.Metrics();
  EXPECT_NE(last.value("reason", "").find("WebHighErrorRate"), std::string::npos);
  json p = WaitPolicy(client, ns.name(), "web-alerts",
                      [&](const json& x) { return S(x).value("phase", "") == "RolledBack"; });
  EXPECT_EQ(S(p).value("lastRollback", json::object()).value("trigger", ""),
            "alertmanager/WebHighErrorRate")
      << p.dump(2);
  ASSERT_TRUE(Eventually([&] { return !receiver.Received().empty(); }, 30s));
  const std::vector<json> notified = receiver.Received();
  ASSERT_EQ(notified.size(), 1u);
  EXPECT_EQ(notified[0].value("event", ""), "RolledBack") << notified[0].dump(2);
  EXPECT_NE(notified[0].value("text", "").find("rolled back web from " + b.substr(0, 7)),
            std::string::npos)
      << notified[0].dump(2);
  EXPECT_EQ(notified[0].value("namespace", ""), ns.name());
}

// An alert recorded before the watched revision was applied judged the revision before it: it is
// ignored (AlertIgnored), and only an alert received while the revision runs rolls it back.
TEST_F(RollbackPolicyTest, AnAlertFromBeforeTheRevisionIsIgnored) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "rbp-old-alert");
  auto client = env->Client();
  ASSERT_TRUE(client
                  .Create({{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata", {{"name", "am"}, {"namespace", ns.name()}}},
                           {"data", {{"token", Base64Encode("t0k3n")}}}})
                  .ok());
  ControllerProcess controller(*env, ns.name());
  auto [a, b] = ReleaseAtB(client, ns.name());
  json policy = PolicyObject(ns.name(), "web-alerts", prometheus_->url(), "0s");
  policy["spec"].erase("metrics");
  policy["spec"].erase("prometheus");
  policy["spec"]["alertmanager"] = {{"tokenSecretRef", {{"name", "am"}}},
                                    {"matchLabels", {{"alertname", "WebDown"}}}};
  ASSERT_TRUE(client.Create(policy).ok());
  WaitPolicy(client, ns.name(), "web-alerts",
             [&](const json& p) { return S(p).value("watchedRevision", "") == b; });
  auto record = [&](const std::string& id, Time received) {
    json alert = {{"id", id},
                  {"fingerprint", "f" + id},
                  {"startsAt", FormatRfc3339(received)},
                  {"alertname", "WebDown"},
                  {"labels", {{"alertname", "WebDown"}}},
                  {"receivedAt", FormatRfc3339(received)}};
    json patch = {{"metadata", {{"annotations", {{"flywheel.dev/alert", alert.dump()}}}}}};
    ASSERT_TRUE(client
                    .Patch("flywheel.dev/v1alpha1", "RollbackPolicy", ns.name(), "web-alerts",
                           kube::PatchType::kMerge, patch.dump())
                    .ok());
  };
  record("old", std::chrono::system_clock::now() - std::chrono::hours(1));
  json p = WaitPolicy(client, ns.name(), "web-alerts",
                      [&](const json& x) { return S(x).value("lastHandledAlert", "") == "old"; });
  ASSERT_EQ(S(p).value("lastHandledAlert", ""), "old") << p.dump(2);
  EXPECT_FALSE(S(p).contains("lastRollback")) << p.dump(2);
  EXPECT_EQ(EventCount(client, ns.name(), "AlertIgnored"), 1);
  EXPECT_EQ(StatusField(GetRelease(client, ns.name(), "web"), "lastAppliedRevision"), b);

  record("new", std::chrono::system_clock::now());
  json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
    return S(r).value("lastRollback", json::object()).value("fromRevision", "") == b;
  });
  EXPECT_EQ(S(rel).value("lastRollback", json::object()).value("trigger", ""), "alertmanager")
      << rel.dump(2);
}

}  // namespace
}  // namespace flywheel::testing
