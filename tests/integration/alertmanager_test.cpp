// The Alertmanager receiver with real parts: its dispatcher writing to the testenv's API server,
// and Debian's prometheus-alertmanager delivering to it over loopback.
#include "flywheel/webhook/alertmanager.h"

#include <gtest/gtest.h>

#include <mutex>

#include "flywheel/api/names.h"
#include "flywheel/common/time.h"
#include "flywheel/http/server.h"
#include "support/alertmanager.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/testenv.h"

namespace flywheel::webhook {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::AlertmanagerServer;
using testing::Eventually;
using testing::ScopedNamespace;
using testing::WebhookConfig;

constexpr auto kPatience = 60s;

// A RollbackPolicy with an alertmanager trigger (the Release it names need not exist).
json AlertPolicyObject(const std::string& ns, const std::string& name) {
  return {{"apiVersion", api::kGroupVersion},
          {"kind", "RollbackPolicy"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"releaseRef", {{"name", "web"}}},
            {"alertmanager",
             {{"tokenSecretRef", {{"name", "am-token"}}},
              {"matchLabels", {{"alertname", "HighErrorRate"}}}}}}}};
}

// The alert annotation of `ns/name`, parsed; null while there is none.
json AlertAnnotation(const kube::Client& client, const std::string& ns, const std::string& name) {
  auto policy = client.Get(api::kGroupVersion, "RollbackPolicy", ns, name);
  if (!policy.ok()) return nullptr;
  const json& annotations = (*policy)["metadata"].value("annotations", json::object());
  auto it = annotations.find(api::kAlertAnnotation);
  if (it == annotations.end()) return nullptr;
  return json::parse(it->get<std::string>());
}

TEST(AlertDispatcherTest, RecordsTheAlertOnItsRollbackPolicy) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
  ScopedNamespace ns(*env, "alerts");
  kube::Client client = env->Client();
  auto created = client.Create(AlertPolicyObject(ns.name(), "web-errors"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  auto dispatch = AlertDispatcher(client);
  const auto before = std::chrono::system_clock::now() - 1s;
  MatchedAlert alert{.ns = ns.name(),
                     .policy = "web-errors",
                     .alert = {.status = "firing",
                               .fingerprint = "89913a2c38360f51",
                               .starts_at = "2026-12-01T11:31:08.237361386Z",
                               .labels = {{"alertname", "HighErrorRate"}, {"service", "web"}}},
                     .id = "0123456789abcdef"};
  dispatch(alert);
  json value;
  ASSERT_TRUE(Eventually(
      [&] {
        value = AlertAnnotation(client, ns.name(), "web-errors");
        return !value.is_null();
      },
      kPatience));
  EXPECT_EQ(value["id"], "0123456789abcdef");
  EXPECT_EQ(value["fingerprint"], "89913a2c38360f51");
  EXPECT_EQ(value["startsAt"], "2026-12-01T11:31:08.237361386Z");
  EXPECT_EQ(value["alertname"], "HighErrorRate");
  EXPECT_EQ(value["labels"], (json{{"alertname", "HighErrorRate"}, {"service", "web"}}));
  auto received = ParseRfc3339(value["receivedAt"].get<std::string>());
  ASSERT_TRUE(received.ok()) << received.status().ToString();
  EXPECT_GE(*received, std::chrono::time_point_cast<std::chrono::seconds>(before));

  // A later alert replaces it; the rest of the policy is untouched.
  alert.id = "fedcba9876543210";
  dispatch(alert);
  ASSERT_TRUE(Eventually(
      [&] { return AlertAnnotation(client, ns.name(), "web-errors")["id"] == "fedcba9876543210"; },
      kPatience));
  auto policy = client.Get(api::kGroupVersion, "RollbackPolicy", ns.name(), "web-errors");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ((*policy)["spec"], (*created)["spec"]);
}

// What the receiver was asked and what it handed on.
struct Deliveries {
  std::mutex mu;
  std::vector<std::string> answers;  // "<status> <body>" of each request
  std::vector<MatchedAlert> alerts;

  size_t Answers() {
    std::lock_guard lock(mu);
    return answers.size();
  }
  std::vector<MatchedAlert> Alerts() {
    std::lock_guard lock(mu);
    return alerts;
  }
};

TEST(AlertmanagerEndToEndTest, AlertmanagerDeliversAFiringAlertToTheReceiver) {
  constexpr char kToken[] = "am-e2e-token-4242";
  Deliveries seen;
  auto lookup = [&](const std::string& ns, const std::string& name) -> Result<AlertPolicy> {
    if (ns != "team-a" || name != "web") return Status(Code::kNotFound, "no such policy");
    return AlertPolicy{.token = kToken, .match_labels = {{"alertname", "FlywheelE2E"}}};
  };
  auto receiver = AlertmanagerWebhookHandler({}, lookup, [&](const MatchedAlert& alert) {
    std::lock_guard lock(seen.mu);
    seen.alerts.push_back(alert);
  });
  auto server = http::Server::Start(
      {}, {{"/hooks/alertmanager/", [&](const http::ServerRequest& req) {
              http::ServerResponse resp = receiver(req);
              std::lock_guard lock(seen.mu);
              seen.answers.push_back(std::to_string(resp.status) + " " + resp.body);
              return resp;
            }}});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string hook =
      "http://127.0.0.1:" + std::to_string((*server)->port()) + "/hooks/alertmanager/team-a/web";
  AlertmanagerServer alertmanager(WebhookConfig(hook, kToken, /*send_resolved=*/true));

  const json labels = {{"alertname", "FlywheelE2E"}, {"service", "web"}, {"severity", "page"}};
  alertmanager.PostAlerts(json::array({{{"labels", labels}, {"annotations", {{"summary", "x"}}}}}));
  ASSERT_TRUE(Eventually([&] { return !seen.Alerts().empty(); }, kPatience)) << alertmanager.Log();
  auto alerts = seen.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].ns, "team-a");
  EXPECT_EQ(alerts[0].policy, "web");
  EXPECT_EQ(alerts[0].alert.status, "firing");
  EXPECT_EQ(json(alerts[0].alert.labels), labels);
  EXPECT_EQ(alerts[0].alert.annotations.at("summary"), "x");
  EXPECT_FALSE(alerts[0].alert.fingerprint.empty());
  EXPECT_TRUE(ParseRfc3339(alerts[0].alert.starts_at).ok()) << alerts[0].alert.starts_at;
  EXPECT_EQ(alerts[0].id.size(), 16u);
  {
    std::lock_guard lock(seen.mu);
    ASSERT_EQ(seen.answers.size(), 1u);
    EXPECT_EQ(seen.answers[0].substr(0, 4), "202 ") << seen.answers[0];
  }

  // Resolving it: Alertmanager delivers the resolved alert, which is answered and ignored.
  const size_t before = seen.Answers();
  alertmanager.PostAlerts(json::array(
      {{{"labels", labels}, {"endsAt", FormatRfc3339(std::chrono::system_clock::now() - 1s)}}}));
  ASSERT_TRUE(Eventually([&] { return seen.Answers() > before; }, kPatience)) << alertmanager.Log();
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.answers.back().substr(0, 4), "202 ") << seen.answers.back();
  EXPECT_NE(seen.answers.back().find("1 resolved"), std::string::npos) << seen.answers.back();
  EXPECT_EQ(seen.alerts.size(), 1u);
}

}  // namespace
}  // namespace flywheel::webhook
