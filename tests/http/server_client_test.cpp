// http::Server and http::Client talking to each other over loopback.
#include <gtest/gtest.h>

#include "flywheel/http/client.h"
#include "flywheel/http/server.h"

namespace flywheel::http {
namespace {

class ServerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::map<std::string, Handler> routes;
    routes["/echo"] = [](const ServerRequest& r) {
      ServerResponse resp;
      resp.body = r.method + " " + r.query + " " + r.body + " " +
                  std::string(FindHeader(r.headers, "X-Test"));
      resp.headers.emplace_back("X-Reply", "yes");
      return resp;
    };
    routes["/big"] = [](const ServerRequest&) {
      ServerResponse resp;
      resp.body = std::string(1 << 20, 'b');
      return resp;
    };
    routes["/throws"] = [](const ServerRequest&) -> ServerResponse {
      throw std::runtime_error("boom");
    };
    ServerOptions so;
    so.max_body_bytes = 1024;
    auto server = Server::Start(so, routes);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ASSERT_GT(server_->port(), 0);
    auto client = NewClient({.base_url = "http://127.0.0.1:" + std::to_string(server_->port())});
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ServerClientTest, RoundTripWithHeadersQueryAndBody) {
  Request req{
      .method = "POST", .target = "/echo?a=1", .headers = {{"X-Test", "hdr"}}, .body = "payload"};
  auto resp = client_->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "POST a=1 payload hdr");
  EXPECT_EQ(FindHeader(resp->headers, "x-reply"), "yes");
}

TEST_F(ServerClientTest, UnknownPathIs404AndOversizedBodyIs413) {
  auto missing = client_->Send({.target = "/nope"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  auto big = client_->Send({.method = "POST", .target = "/echo", .body = std::string(4096, 'x')});
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->status, 413);
}

TEST_F(ServerClientTest, HandlerExceptionIs500) {
  auto resp = client_->Send({.target = "/throws"});
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->status, 500);
}

TEST_F(ServerClientTest, StreamDeliversWholeBodyInChunks) {
  std::string got;
  int status = 0;
  StreamHandler h{[&](int s, const Headers&) { status = s; },
                  [&](std::string_view chunk) {
                    got.append(chunk);
                    return true;
                  }};
  std::stop_source stop;
  Status s = client_->Stream({.target = "/big"}, h, stop.get_token());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(got.size(), size_t{1} << 20);
}

TEST_F(ServerClientTest, ConnectionRefusedIsUnavailable) {
  int port = server_->port();
  server_->Stop();
  auto client = NewClient({.base_url = "http://127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(client.ok());
  auto resp = (*client)->Send({.target = "/echo"});
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable) << resp.status().ToString();
}

TEST(ServerTest, BadAddressesAreClearErrors) {
  EXPECT_EQ(Server::Start({.address = "nocolon"}, {}).status().code(), Code::kInvalidArgument);
  auto first = Server::Start({.address = "127.0.0.1:0"}, {});
  ASSERT_TRUE(first.ok());
  auto clash = Server::Start({.address = "127.0.0.1:" + std::to_string((*first)->port())}, {});
  EXPECT_EQ(clash.status().code(), Code::kUnavailable);
  EXPECT_NE(clash.status().message().find("cannot listen"), std::string::npos);
}

TEST(ClientTest, RejectsNonHttpUrls) {
  EXPECT_EQ(NewClient({.base_url = "ftp://x"}).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace flywheel::http
