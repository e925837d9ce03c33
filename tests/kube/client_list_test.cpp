// Client::List paging against a small HTTP server that answers like kube-apiserver: pages joined
// into one list, and a continue token that expires mid-way (the server's real 410 Expired body)
// restarting the list without paging.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include "flywheel/http/client.h"
#include "flywheel/http/server.h"
#include "flywheel/kube/client.h"
#include "support/testenv.h"

namespace flywheel::kube {
namespace {

constexpr const char* kCollection = "/api/v1/namespaces/demo/configmaps";

std::string ExpiredBody() {
  std::ifstream in(testing::SourcePath("tests/kube/testdata/api_errors/expired.json"),
                   std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  return body.str();
}

json Item(const std::string& name) {
  return {{"metadata", {{"name", name}, {"namespace", "demo"}, {"resourceVersion", "7"}}}};
}

json Page(const std::vector<std::string>& names, const std::string& rv, const std::string& cont) {
  json list = {{"kind", "ConfigMapList"},
               {"apiVersion", "v1"},
               {"metadata", {{"resourceVersion", rv}}},
               {"items", json::array()}};
  if (!cont.empty()) list["metadata"]["continue"] = cont;
  for (const auto& n : names) list["items"].push_back(Item(n));
  return list;
}

// The query's parameter names and values (undecoded), in order.
std::vector<std::pair<std::string, std::string>> Params(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream in(query);
  for (std::string kv; std::getline(in, kv, '&');) {
    auto eq = kv.find('=');
    out.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
  }
  return out;
}

bool Has(const std::string& query, const std::string& name) {
  for (const auto& [k, v] : Params(query)) {
    if (k == name) return true;
  }
  return false;
}

std::vector<std::string> Names(const json& list) {
  std::vector<std::string> out;
  for (const auto& item : list["items"]) out.push_back(item["metadata"]["name"]);
  return out;
}

// Serves discovery for v1 ConfigMaps and the demo namespace's collection through `list`,
// recording each collection request's query.
class ClientListTest : public ::testing::Test {
 protected:
  void Serve(std::function<http::ServerResponse(const std::string& query)> list) {
    std::map<std::string, http::Handler> routes;
    routes["/api/v1"] = [](const http::ServerRequest&) {
      http::ServerResponse r;
      r.content_type = "application/json";
      r.body = json{{"kind", "APIResourceList"},
                    {"groupVersion", "v1"},
                    {"resources",
                     {{{"name", "configmaps"}, {"namespaced", true}, {"kind", "ConfigMap"}}}}}
                   .dump();
      return r;
    };
    routes[kCollection] = [this, list](const http::ServerRequest& req) {
      {
        std::lock_guard lock(mu_);
        queries_.push_back(req.query);
        if (queries_.size() > 10) {
          // A client that keeps asking is looping: end it with an error instead of a hang.
          return Json(400, R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
                           R"("message":"test server: too many list requests","code":400})");
        }
      }
      return list(req.query);
    };
    auto server = http::Server::Start({}, routes);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    auto http =
        http::NewClient({.base_url = "http://127.0.0.1:" + std::to_string(server_->port())});
    ASSERT_TRUE(http.ok()) << http.status().ToString();
    client_.emplace(std::shared_ptr<http::Client>(std::move(*http)), ClientOptions{});
  }

  static http::ServerResponse Json(int status, std::string body) {
    http::ServerResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
  }

  std::vector<std::string> Queries() {
    std::lock_guard lock(mu_);
    return queries_;
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::unique_ptr<http::Server> server_;
  std::optional<Client> client_;
  std::mutex mu_;
  std::vector<std::string> queries_;
};

TEST_F(ClientListTest, JoinsPagesIntoOneList) {
  Serve([](const std::string& query) {
    if (!Has(query, "continue")) return Json(200, Page({"a", "b"}, "100", "page2").dump());
    if (query.find("continue=page2") != std::string::npos) {
      return Json(200, Page({"c", "d"}, "100", "page3").dump());
    }
    return Json(200, Page({"e"}, "100", "").dump());
  });
  ListOptions options;
  options.limit = 2;
  auto list = client_->List("v1", "ConfigMap", "demo", options);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(Names(*list), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ((*list)["metadata"]["resourceVersion"], "100");
  EXPECT_FALSE((*list)["metadata"].contains("continue"));
  auto queries = Queries();
  ASSERT_EQ(queries.size(), 3u);
  for (const auto& q : queries) EXPECT_TRUE(Has(q, "limit")) << q;
}

// kube-apiserver answers a continue token whose resourceVersion etcd has compacted with 410
// Expired (the captured body). The client lists again from the start in one request, without
// `limit` or `continue`, and returns that list only: no items of the abandoned first page twice.
TEST_F(ClientListTest, ExpiredContinueTokenRestartsTheListWithoutPaging) {
  Serve([](const std::string& query) {
    if (Has(query, "continue")) return Json(410, ExpiredBody());
    if (Has(query, "limit")) return Json(200, Page({"a", "b"}, "100", "page2").dump());
    return Json(200, Page({"a", "b", "c", "d", "e"}, "120", "").dump());
  });
  ListOptions options;
  options.limit = 2;
  options.label_selector = "app=web";
  auto list = client_->List("v1", "ConfigMap", "demo", options);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(Names(*list), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ((*list)["metadata"]["resourceVersion"], "120") << "the full list's version";
  EXPECT_FALSE((*list)["metadata"].contains("continue"));

  auto queries = Queries();
  ASSERT_EQ(queries.size(), 3u);
  EXPECT_TRUE(Has(queries[0], "limit") && !Has(queries[0], "continue")) << queries[0];
  EXPECT_TRUE(Has(queries[1], "limit") && Has(queries[1], "continue")) << queries[1];
  EXPECT_FALSE(Has(queries[2], "limit")) << queries[2];
  EXPECT_FALSE(Has(queries[2], "continue")) << queries[2];
  EXPECT_TRUE(Has(queries[2], "labelSelector")) << "the selector is kept: " << queries[2];
}

// ListEach hands items over page by page (each page's items before the next page is asked for),
// and tells its caller when an expired continue token makes it start over.
TEST_F(ClientListTest, ListEachDeliversPagesAsTheyArriveAndSaysWhenItStartsOver) {
  Serve([](const std::string& query) {
    if (Has(query, "continue")) return Json(410, ExpiredBody());
    if (Has(query, "limit")) return Json(200, Page({"a", "b"}, "100", "page2").dump());
    return Json(200, Page({"a", "b", "c"}, "120", "").dump());
  });
  ListOptions options;
  options.limit = 2;
  std::vector<std::string> seen;  // item names, "restart" and "(n requests)" in order
  auto list = client_->ListEach(
      "v1", "ConfigMap", "demo", options,
      [&](nlohmann::json&& item) {
        seen.push_back(item["metadata"]["name"].get<std::string>() + " (" +
                       std::to_string(Queries().size()) + " requests)");
      },
      [&] { seen.push_back("restart"); });
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"a (1 requests)", "b (1 requests)", "restart",
                                            "a (3 requests)", "b (3 requests)", "c (3 requests)"}));
  EXPECT_FALSE(list->contains("items")) << "items went to the callback";
  EXPECT_EQ((*list)["metadata"]["resourceVersion"], "120");
  EXPECT_FALSE((*list)["metadata"].contains("continue"));
}

// Without a continue token there is nothing to restart: 410 is the caller's (an informer relists
// from scratch anyway).
TEST_F(ClientListTest, ExpiredFirstPageIsReturnedAsOutOfRange) {
  Serve([](const std::string&) { return Json(410, ExpiredBody()); });
  auto list = client_->List("v1", "ConfigMap", "demo");
  EXPECT_EQ(list.status().code(), Code::kOutOfRange) << list.status().ToString();
  EXPECT_EQ(Queries().size(), 1u);
}

}  // namespace
}  // namespace flywheel::kube
