// notify::ResolveTargets against the testenv's API server: `notify` entries as the CRDs store
// them, their Secrets, and a resolved target delivering to a loopback receiver.
#include <gtest/gtest.h>

#include <mutex>

#include "flywheel/api/names.h"
#include "flywheel/http/server.h"
#include "flywheel/notify/notifier.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/testenv.h"

namespace flywheel::notify {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ScopedNamespace;

constexpr char kSlackPath[] = "/services/T000/B000/XXXXsecretXXXX";

void CreateSecret(const kube::Client& client, const std::string& ns, const std::string& name,
                  const json& string_data) {
  auto r = client.Create({{"apiVersion", "v1"},
                          {"kind", "Secret"},
                          {"metadata", {{"name", name}, {"namespace", ns}}},
                          {"stringData", string_data}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

// spec.notify of a RollbackPolicy created with `notify`, as the API server stored it.
json StoredNotify(const kube::Client& client, const std::string& ns, const json& notify) {
  auto r = client.Create(
      {{"apiVersion", api::kGroupVersion},
       {"kind", "RollbackPolicy"},
       {"metadata", {{"generateName", "notify-"}, {"namespace", ns}}},
       {"spec",
        {{"releaseRef", {{"name", "web"}}},
         {"alertmanager",
          {{"tokenSecretRef", {{"name", "am"}}}, {"matchLabels", {{"alertname", "A"}}}}},
         {"notify", notify}}}});
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return nullptr;
  }
  return (*r)["spec"]["notify"];
}

TEST(ResolveTargetsTest, UrlsAndTokensComeFromTheSpecAndItsSecrets) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
  ScopedNamespace ns(*env, "notify");
  kube::Client client = env->Client();
  CreateSecret(client, ns.name(), "slack",
               {{"url", std::string("https://hooks.example.com") + kSlackPath + "\n"},
                {"token", "tok-1\n"}});
  CreateSecret(client, ns.name(), "token-only", {{"token", "tok-2"}});
  json notify = StoredNotify(
      client, ns.name(),
      json::array({
          {{"secretRef", {{"name", "slack"}}}},
          {{"url", "http://user:pw@alerts.example.com:8080/hook?key=k"}},
          {{"url", "https://chat.example.com/x"}, {"secretRef", {{"name", "token-only"}}}},
          {{"url", "https://overridden.example.com/"}, {"secretRef", {{"name", "slack"}}}},
      }));
  ASSERT_TRUE(notify.is_array());

  auto targets = ResolveTargets(client, ns.name(), notify);
  ASSERT_TRUE(targets.ok()) << targets.status().ToString();
  ASSERT_EQ(targets->size(), 4u);
  const auto& t = *targets;
  EXPECT_EQ(t[0].url, std::string("https://hooks.example.com") + kSlackPath)
      << "the trailing newline of a file-made Secret is dropped";
  EXPECT_EQ(t[0].token, "tok-1");
  EXPECT_EQ(t[0].name, "secret slack");
  EXPECT_EQ(t[1].url, "http://user:pw@alerts.example.com:8080/hook?key=k");
  EXPECT_EQ(t[1].token, "");
  EXPECT_EQ(t[1].name, "http://alerts.example.com:8080") << "no user, path or query";
  EXPECT_EQ(t[2].url, "https://chat.example.com/x");
  EXPECT_EQ(t[2].token, "tok-2");
  EXPECT_EQ(t[2].name, "https://chat.example.com");
  EXPECT_EQ(t[3].url, t[0].url) << "the Secret's url overrides the spec's";
  EXPECT_EQ(t[3].name, "secret slack");

  auto none = ResolveTargets(client, ns.name(), nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ResolveTargetsTest, AMissingSecretOrUrlIsAClearErrorWithoutValues) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "notify");
  kube::Client client = env->Client();
  CreateSecret(client, ns.name(), "no-url", {{"token", "tok-secret-3"}});
  CreateSecret(client, ns.name(), "bad-url", {{"url", "ftp://files.example.com/secret-part"}});

  auto missing = ResolveTargets(client, ns.name(),
                                json::array({{{"url", "https://ok.example.com/"}},
                                             {{"secretRef", {{"name", "does-not-exist"}}}}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "notify[1]: Secret " + ns.name() + "/does-not-exist (notify[1].secretRef) not found");

  auto neither = ResolveTargets(client, ns.name(), json::array({json::object()}));
  ASSERT_FALSE(neither.ok());
  EXPECT_EQ(neither.status().code(), Code::kInvalidArgument);
  EXPECT_NE(neither.status().message().find("notify[0] has no url"), std::string::npos)
      << neither.status().message();

  auto no_url =
      ResolveTargets(client, ns.name(), json::array({{{"secretRef", {{"name", "no-url"}}}}}));
  ASSERT_FALSE(no_url.ok());
  EXPECT_EQ(no_url.status().code(), Code::kInvalidArgument);
  EXPECT_NE(no_url.status().message().find("key url of Secret " + ns.name() + "/no-url"),
            std::string::npos)
      << no_url.status().message();
  EXPECT_EQ(no_url.status().message().find("tok-secret-3"), std::string::npos);

  auto bad_url =
      ResolveTargets(client, ns.name(), json::array({{{"secretRef", {{"name", "bad-url"}}}}}));
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_url.status().message().find("is not an http:// or https:// URL"), std::string::npos)
      << bad_url.status().message();
  EXPECT_EQ(bad_url.status().message().find("secret-part"), std::string::npos)
      << "a Secret's value is never shown";
}

TEST(ResolveTargetsTest, AResolvedTargetReceivesTheNotification) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "notify");
  kube::Client client = env->Client();
  std::mutex mu;
  std::vector<http::ServerRequest> received;
  auto server = http::Server::Start({}, {{"/services/", [&](const http::ServerRequest& r) {
                                            std::lock_guard lock(mu);
                                            received.push_back(r);
                                            return http::ServerResponse{.body = "ok"};
                                          }}});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  CreateSecret(client, ns.name(), "hook",
               {{"url", "http://127.0.0.1:" + std::to_string((*server)->port()) + kSlackPath},
                {"token", "tok-4"}});
  auto targets =
      ResolveTargets(client, ns.name(), json::array({{{"secretRef", {{"name", "hook"}}}}}));
  ASSERT_TRUE(targets.ok()) << targets.status().ToString();

  Notifier notifier;
  notifier.Send(*targets, {.event = "RolledBack",
                           .severity = "warning",
                           .kind = "RollbackPolicy",
                           .ns = ns.name(),
                           .name = "web",
                           .text = "web rolled back"});
  ASSERT_TRUE(testing::Eventually(
      [&] {
        std::lock_guard lock(mu);
        return !received.empty();
      },
      30s));
  std::lock_guard lock(mu);
  EXPECT_EQ(received[0].path, kSlackPath);
  EXPECT_EQ(http::FindHeader(received[0].headers, "Authorization"), "Bearer tok-4");
  EXPECT_EQ(json::parse(received[0].body)["text"], "web rolled back");
}

}  // namespace
}  // namespace flywheel::notify
