#include "flywheel/webhook/alertmanager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "flywheel/common/sha256.h"
#include "flywheel/http/client.h"
#include "flywheel/http/server.h"
#include "support/text.h"

namespace flywheel::webhook {
namespace {

using http::ServerRequest;
using http::ServerResponse;
using nlohmann::json;
using testing::Contains;
using testing::LogCapture;

constexpr char kToken[] = "am-token-0123456789";
constexpr char kPath[] = "/hooks/alertmanager/team-a/web-errors";

// One alert of a payload, as Alertmanager 0.25 sends it.
json AlertJson(const std::string& status, const std::string& fingerprint,
               json labels = {{"alertname", "HighErrorRate"}, {"service", "web"}},
               const std::string& starts_at = "2026-12-01T11:00:00.123456789Z") {
  return {{"status", status},
          {"labels", std::move(labels)},
          {"annotations", {{"summary", "5% errors"}}},
          {"startsAt", starts_at},
          {"endsAt", "0001-01-01T00:00:00Z"},
          {"generatorURL", "http://prometheus.example/graph"},
          {"fingerprint", fingerprint}};
}

// A version 4 webhook payload carrying `alerts`.
std::string Payload(const json& alerts, const json& version = "4") {
  return json{{"receiver", "flywheel"},
              {"status", "firing"},
              {"alerts", alerts},
              {"groupLabels", {{"alertname", "HighErrorRate"}}},
              {"commonLabels", json::object()},
              {"commonAnnotations", json::object()},
              {"externalURL", "http://alertmanager.example"},
              {"version", version},
              {"groupKey", "{}:{alertname=\"HighErrorRate\"}"},
              {"truncatedAlerts", 0}}
      .dump();
}

ServerRequest Post(const std::string& body, const std::string& token = kToken,
                   const std::string& path = kPath) {
  ServerRequest req{.method = "POST", .path = path, .body = body, .remote = "127.0.0.1"};
  if (!token.empty()) req.headers.emplace_back("Authorization", "Bearer " + token);
  return req;
}

// Whether `resp` is a 400 whose body contains `part`.
::testing::AssertionResult Is400Saying(const ServerResponse& resp, const std::string& part) {
  if (resp.status != 400) {
    return ::testing::AssertionFailure() << "answered " << resp.status << " " << resp.body;
  }
  return Contains(resp.body, part);
}

class AlertmanagerWebhookTest : public ::testing::Test {
 protected:
  // A receiver that knows one policy, team-a/web-errors, matching HighErrorRate alerts of web.
  http::Handler Handler(AlertmanagerWebhookOptions options = {}) {
    auto lookup = [this](const std::string& ns, const std::string& name) -> Result<AlertPolicy> {
      if (!lookup_error_.ok()) return lookup_error_;
      if (ns == "team-a" && (name == "web-errors" || name == "web-latency")) {
        return AlertPolicy{.token = kToken,
                           .match_labels = {{"alertname", "HighErrorRate"}, {"service", "web"}}};
      }
      return Status(Code::kNotFound, "RollbackPolicy " + ns + "/" + name + " not found");
    };
    return AlertmanagerWebhookHandler(options, lookup, [this](const MatchedAlert& alert) {
      if (throw_) throw std::runtime_error("queue broke");
      std::lock_guard lock(mu_);
      alerts_.push_back(alert);
    });
  }
  std::vector<MatchedAlert> Alerts() {
    std::lock_guard lock(mu_);
    return alerts_;
  }

  Status lookup_error_;
  bool throw_ = false;
  std::mutex mu_;
  std::vector<MatchedAlert> alerts_;
};

TEST_F(AlertmanagerWebhookTest, AMatchingFiringAlertIsHandedOnWithItsLabels) {
  auto resp = Handler()(Post(Payload(json::array({AlertJson("firing", "fp1")}))));
  EXPECT_EQ(resp.status, 202) << resp.body;
  EXPECT_TRUE(Contains(resp.body, "1 queued"));
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].ns, "team-a");
  EXPECT_EQ(alerts[0].policy, "web-errors");
  EXPECT_EQ(alerts[0].alert.status, "firing");
  EXPECT_EQ(alerts[0].alert.fingerprint, "fp1");
  EXPECT_EQ(alerts[0].alert.starts_at, "2026-12-01T11:00:00.123456789Z");
  EXPECT_EQ(alerts[0].alert.labels, (std::map<std::string, std::string>{
                                        {"alertname", "HighErrorRate"}, {"service", "web"}}));
  EXPECT_EQ(alerts[0].alert.annotations.at("summary"), "5% errors");
  EXPECT_EQ(alerts[0].id, Sha256Hex("fp1/2026-12-01T11:00:00.123456789Z").substr(0, 16));
}

TEST_F(AlertmanagerWebhookTest, WrongTokenNoTokenAndUnknownPolicyGetTheSame401) {
  LogCapture logs;
  auto handler = Handler();
  const std::string body = Payload(json::array({AlertJson("firing", "fp1")}));
  ServerResponse wrong = handler(Post(body, "am-token-0123456788"));
  ServerResponse none = handler(Post(body, ""));
  ServerRequest basic = Post(body, "");
  basic.headers.emplace_back("Authorization", "Basic YTpi");
  ServerResponse not_bearer = handler(basic);
  ServerResponse unknown = handler(Post(body, kToken, "/hooks/alertmanager/team-a/nope"));
  ServerResponse other_ns = handler(Post(body, kToken, "/hooks/alertmanager/team-b/web-errors"));
  for (const auto* r : {&wrong, &none, &not_bearer, &unknown, &other_ns}) {
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_EQ(r->body, wrong.body) << "nothing tells which policies exist";
    EXPECT_EQ(r->headers, wrong.headers);
  }
  EXPECT_TRUE(Alerts().empty());
  EXPECT_TRUE(Contains(logs.Text(), "token mismatch"));
  EXPECT_TRUE(Contains(logs.Text(), "no bearer token"));
  EXPECT_FALSE(Contains(logs.Text(), "0123456789")) << "the token is never logged";
  EXPECT_FALSE(Contains(wrong.body, "0123456789"));
}

TEST_F(AlertmanagerWebhookTest, TheTokenIsCheckedBeforeThePayloadIsRead) {
  auto resp = Handler()(Post("{not json", "wrong"));
  EXPECT_EQ(resp.status, 401) << resp.body;
}

TEST_F(AlertmanagerWebhookTest, AnEmptyPolicyTokenOpensNothing) {
  auto handler = AlertmanagerWebhookHandler(
      {},
      [](const std::string&, const std::string&) -> Result<AlertPolicy> {
        return AlertPolicy{.token = "", .match_labels = {{"alertname", "HighErrorRate"}}};
      },
      [](const MatchedAlert&) { ADD_FAILURE() << "an alert got through an empty token"; });
  ServerRequest req = Post(Payload(json::array({AlertJson("firing", "fp1")})), "");
  req.headers.emplace_back("Authorization", "Bearer ");
  EXPECT_EQ(handler(req).status, 401);
}

TEST_F(AlertmanagerWebhookTest, MalformedPayloadsAre400SayingWhatIsWrong) {
  auto handler = Handler();
  auto not_json = handler(Post("{\"version\": \"4\", "));
  EXPECT_TRUE(Is400Saying(not_json, "malformed JSON payload"));
  EXPECT_TRUE(Contains(not_json.body, "line 1"));
  EXPECT_TRUE(Is400Saying(handler(Post("[]")), "must be a JSON object"));
  json no_alerts = json::parse(Payload(json::array()));
  no_alerts.erase("alerts");
  EXPECT_TRUE(Is400Saying(handler(Post(no_alerts.dump())), "\"alerts\" must be an array"));
  json no_fingerprint = AlertJson("firing", "fp1");
  no_fingerprint.erase("fingerprint");
  EXPECT_TRUE(
      Is400Saying(handler(Post(Payload(json::array({AlertJson("firing", "fp0"), no_fingerprint})))),
                  "alerts[1].fingerprint must be a non-empty string"));
  EXPECT_TRUE(Is400Saying(handler(Post(Payload(json::array({AlertJson("pending", "fp1")})))),
                          "alerts[0].status must be \"firing\" or \"resolved\""));
  EXPECT_TRUE(Is400Saying(handler(Post(Payload(json::array(
                              {AlertJson("firing", "fp1", {{"alertname", "A"}}, "yesterday")})))),
                          "alerts[0].startsAt"));
  EXPECT_TRUE(Is400Saying(
      handler(Post(Payload(json::array({AlertJson("firing", "fp1", {{"alertname", 3}})})))),
      "alerts[0].labels.alertname must be a string"));
  EXPECT_TRUE(Alerts().empty()) << "nothing of a rejected payload is acted on";
}

TEST_F(AlertmanagerWebhookTest, OnlyPayloadVersion4IsAccepted) {
  auto handler = Handler();
  auto v3 = handler(Post(Payload(json::array({AlertJson("firing", "fp1")}), "3")));
  EXPECT_TRUE(Is400Saying(v3, "unsupported payload version \"3\""));
  EXPECT_TRUE(Contains(v3.body, "\"4\""));
  EXPECT_TRUE(Is400Saying(handler(Post(Payload(json::array({AlertJson("firing", "fp1")}), 4))),
                          "unsupported payload version 4"));
  json none = json::parse(Payload(json::array()));
  none.erase("version");
  EXPECT_TRUE(Is400Saying(handler(Post(none.dump())), "no \"version\""));
  EXPECT_TRUE(Alerts().empty());
}

TEST_F(AlertmanagerWebhookTest, ResolvedAlertsAreIgnored) {
  auto resp = Handler()(Post(Payload(json::array({AlertJson("resolved", "fp1")}))));
  EXPECT_EQ(resp.status, 202) << resp.body;
  EXPECT_TRUE(Contains(resp.body, "0 queued"));
  EXPECT_TRUE(Contains(resp.body, "1 resolved"));
  EXPECT_TRUE(Alerts().empty());
}

TEST_F(AlertmanagerWebhookTest, AlertsThatDoNotCarryEveryMatchLabelAreIgnored) {
  auto resp = Handler()(Post(Payload(json::array({
      AlertJson("firing", "fp1", {{"alertname", "HighErrorRate"}, {"service", "api"}}),
      AlertJson("firing", "fp2", {{"alertname", "HighErrorRate"}}),
      AlertJson("firing", "fp3", {{"alertname", "highErrorRate"}, {"service", "web"}}),
      AlertJson("firing", "fp4",
                {{"alertname", "HighErrorRate"}, {"service", "web"}, {"severity", "page"}}),
  }))));
  EXPECT_EQ(resp.status, 202) << resp.body;
  EXPECT_TRUE(Contains(resp.body, "1 queued"));
  EXPECT_TRUE(Contains(resp.body, "3 not matching"));
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.fingerprint, "fp4") << "extra labels do not matter";
  EXPECT_EQ(alerts[0].alert.labels.size(), 3u) << "labels are handed on as sent";
}

TEST_F(AlertmanagerWebhookTest, ADuplicateDeliveryIsAnsweredButNotHandedOnAgain) {
  auto handler = Handler();
  const std::string body = Payload(json::array({AlertJson("firing", "fp1")}));
  EXPECT_EQ(handler(Post(body)).status, 202);
  auto again = handler(Post(body));
  EXPECT_EQ(again.status, 202) << again.body;
  EXPECT_TRUE(Contains(again.body, "1 duplicate"));
  EXPECT_EQ(Alerts().size(), 1u);

  // The same alert firing again later (a new startsAt) is a new alert; so is the same alert for
  // another policy.
  handler(Post(Payload(
      json::array({AlertJson("firing", "fp1", {{"alertname", "HighErrorRate"}, {"service", "web"}},
                             "2026-12-01T12:00:00Z")}))));
  handler(Post(body, kToken, "/hooks/alertmanager/team-a/web-latency"));
  auto alerts = Alerts();
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_NE(alerts[1].id, alerts[0].id);
  EXPECT_EQ(alerts[2].id, alerts[0].id);
  EXPECT_EQ(alerts[2].policy, "web-latency");
}

TEST_F(AlertmanagerWebhookTest, TheDedupMemoryIsBounded) {
  auto handler = Handler({.dedup_entries = 2});
  for (const char* fp : {"fp1", "fp2", "fp3"}) {
    handler(Post(Payload(json::array({AlertJson("firing", fp)}))));
  }
  handler(Post(Payload(json::array({AlertJson("firing", "fp3")}))));
  EXPECT_EQ(Alerts().size(), 3u) << "fp3 is remembered";
  handler(Post(Payload(json::array({AlertJson("firing", "fp1")}))));
  EXPECT_EQ(Alerts().size(), 4u) << "fp1 was the oldest and is forgotten";
}

TEST_F(AlertmanagerWebhookTest, AnAlertNotQueuedIsNotRemembered) {
  auto handler = Handler();
  const std::string body = Payload(json::array({AlertJson("firing", "fp1")}));
  throw_ = true;
  EXPECT_THROW(handler(Post(body)), std::runtime_error);
  throw_ = false;
  EXPECT_EQ(handler(Post(body)).status, 202);
  EXPECT_EQ(Alerts().size(), 1u) << "the redelivery is acted on";
}

TEST_F(AlertmanagerWebhookTest, OtherMethodsPathsAndLookupOutages) {
  auto handler = Handler();
  ServerRequest get = Post("");
  get.method = "GET";
  auto g = handler(get);
  EXPECT_EQ(g.status, 405);
  EXPECT_EQ(http::FindHeader(g.headers, "Allow"), "POST");
  for (const char* path :
       {"/hooks/alertmanager/", "/hooks/alertmanager/team-a", "/hooks/alertmanager/team-a/",
        "/hooks/alertmanager/team-a/web-errors/x", "/hooks/alertmanager/Team-A/web-errors",
        "/hooks/alertmanager/../web-errors"}) {
    auto r = handler(Post(Payload(json::array()), kToken, path));
    EXPECT_EQ(r.status, 404) << path << ": " << r.body;
  }
  lookup_error_ = Status(Code::kUnavailable, "API server unreachable");
  auto outage = handler(Post(Payload(json::array({AlertJson("firing", "fp1")}))));
  EXPECT_EQ(outage.status, 503) << "Alertmanager retries a 5xx";
  EXPECT_TRUE(Alerts().empty());
}

// The receiver behind a real server: the body cap holds on the wire.
TEST(AlertmanagerWebhookServerTest, ATwoMiBBodyIsRefusedWith413) {
  std::atomic<int> called = 0;
  auto handler = AlertmanagerWebhookHandler(
      {},
      [](const std::string&, const std::string&) -> Result<AlertPolicy> {
        return AlertPolicy{.token = kToken, .match_labels = {{"alertname", "HighErrorRate"}}};
      },
      [&called](const MatchedAlert&) { ++called; });
  auto server = http::Server::Start({}, {{"/hooks/alertmanager/", handler}});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto client =
      http::NewClient({.base_url = "http://127.0.0.1:" + std::to_string((*server)->port())});
  ASSERT_TRUE(client.ok());
  auto alert = AlertJson("firing", "fp1");
  alert["annotations"]["description"] = std::string(2 << 20, 'x');
  const std::string big = Payload(json::array({alert}));
  ASSERT_GT(big.size(), 2u << 20);
  http::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};
  auto resp = (*client)->Send({.method = "POST", .target = kPath, .headers = auth, .body = big});
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 413) << resp->body;

  auto small = (*client)->Send({.method = "POST",
                                .target = kPath,
                                .headers = auth,
                                .body = Payload(json::array({AlertJson("firing", "fp1")}))});
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->status, 202) << small->body;
  EXPECT_EQ(called, 1);
}

}  // namespace
}  // namespace flywheel::webhook
