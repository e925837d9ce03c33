// http::Server's routing: exact paths and prefix routes (keys ending in "/"), over loopback.
#include <gtest/gtest.h>

#include "flywheel/http/client.h"
#include "flywheel/http/server.h"

namespace flywheel::http {
namespace {

// A handler that answers its own name and the path it was given.
Handler Named(const std::string& name) {
  return [name](const ServerRequest& r) {
    ServerResponse resp;
    resp.body = name + " " + r.path;
    return resp;
  };
}

class PrefixRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = Server::Start({}, {{"/metrics", Named("metrics")},
                                     {"/hooks/", Named("hooks")},
                                     {"/hooks/alertmanager/", Named("alertmanager")},
                                     {"/hooks/alertmanager/exact", Named("exact")}});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    auto client = NewClient({.base_url = "http://127.0.0.1:" + std::to_string(server_->port())});
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }

  // "<status> <body>" of GET `target`.
  std::string Get(const std::string& target) {
    auto resp = client_->Send({.target = target});
    if (!resp.ok()) return resp.status().ToString();
    return std::to_string(resp->status) + " " + resp->body;
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(PrefixRoutesTest, APrefixRouteServesEveryPathBelowIt) {
  EXPECT_EQ(Get("/hooks/alertmanager/ns/policy"), "200 alertmanager /hooks/alertmanager/ns/policy");
  EXPECT_EQ(Get("/hooks/alertmanager/"), "200 alertmanager /hooks/alertmanager/");
  EXPECT_EQ(Get("/hooks/alertmanager/a?x=1"), "200 alertmanager /hooks/alertmanager/a")
      << "the query is not part of the path";
}

TEST_F(PrefixRoutesTest, TheLongestPrefixWins) {
  EXPECT_EQ(Get("/hooks/git"), "200 hooks /hooks/git");
  EXPECT_EQ(Get("/hooks/alertmanager"), "200 hooks /hooks/alertmanager")
      << "without its slash the path is not below /hooks/alertmanager/";
  EXPECT_EQ(Get("/hooks/alertmanagerx/y"), "200 hooks /hooks/alertmanagerx/y");
}

TEST_F(PrefixRoutesTest, AnExactRouteWinsOverPrefixes) {
  EXPECT_EQ(Get("/hooks/alertmanager/exact"), "200 exact /hooks/alertmanager/exact");
  EXPECT_EQ(Get("/hooks/alertmanager/exact/more"),
            "200 alertmanager /hooks/alertmanager/exact/more")
      << "an exact route serves only its own path";
}

TEST_F(PrefixRoutesTest, ExactRoutesDoNotServeWhatIsBelowThem) {
  EXPECT_EQ(Get("/metrics"), "200 metrics /metrics");
  EXPECT_EQ(Get("/metrics/x").substr(0, 4), "404 ");
  EXPECT_EQ(Get("/").substr(0, 4), "404 ");
  EXPECT_EQ(Get("/hook").substr(0, 4), "404 ");
}

}  // namespace
}  // namespace flywheel::http
