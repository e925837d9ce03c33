// http::Client against a scripted loopback TCP server: kept-alive connections reused (and closed
// once idle long enough), a connection the server closed while idle replaced transparently, the
// base URL's path, a stream stopped while the server is silent, the body limit, and ParseUrl.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "flywheel/http/client.h"
#include "flywheel/http/url.h"

namespace flywheel::http {
namespace {

// A loopback server that runs `serve(fd)` for each connection it accepts, one after another.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int fd)> serve) : serve_(std::move(serve)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listener_, 8);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int fd = accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        ++accepted_;
        serve_(fd);
        close(fd);
      }
    });
  }
  ~ScriptedServer() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_; }

 private:
  std::function<void(int)> serve_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Reads one request head (up to the blank line) and returns it; "" when the peer closed.
std::string ReadHead(int fd) {
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (read(fd, &c, 1) != 1) return "";
    head += c;
  }
  return head;
}

void Write(int fd, const std::string& data) {
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

const char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(BeastClientTest, KeptAliveConnectionsCarryTheNextRequests) {
  ScriptedServer server([](int fd) {
    while (!ReadHead(fd).empty()) Write(fd, kOk);
  });
  auto client = NewClient({.base_url = server.url()});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  for (int i = 0; i < 3; ++i) {
    auto r = (*client)->Send({.target = "/x"});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST(BeastClientTest, CloseIdleClosesOnlyConnectionsIdleThatLong) {
  ScriptedServer server([](int fd) {
    while (!ReadHead(fd).empty()) Write(fd, kOk);
  });
  auto client = NewClient({.base_url = server.url()});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE((*client)->Send({.target = "/x"}).ok());
  // Idle for less than an hour: kept, and it carries the next request.
  (*client)->CloseIdle(std::chrono::hours(1));
  ASSERT_TRUE((*client)->Send({.target = "/x"}).ok());
  EXPECT_EQ(server.accepted(), 1);
  // Idle for at least 0 ms: closed (the server sees the end of the connection and takes the
  // next), so the next request opens a new one.
  (*client)->CloseIdle(std::chrono::milliseconds(0));
  auto r = (*client)->Send({.target = "/x"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(server.accepted(), 2);
}

TEST(BeastClientTest, AConnectionTheServerClosedWhileIdleIsReplacedTransparently) {
  // Each connection answers one request and is closed without saying so (no Connection: close).
  ScriptedServer server([](int fd) {
    if (!ReadHead(fd).empty()) Write(fd, kOk);
  });
  auto client = NewClient({.base_url = server.url()});
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 3; ++i) {
    auto r = (*client)->Send({.target = "/x"});
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(server.accepted(), 3);
}

TEST(BeastClientTest, TheBaseUrlsPathGoesBeforeEveryTargetAndTheHostHeaderIsTheAuthority) {
  std::string head;
  ScriptedServer server([&head](int fd) {
    head = ReadHead(fd);
    Write(fd, kOk);
  });
  auto client = NewClient({.base_url = server.url() + "/k8s/clusters/c-1/", .user_agent = "ua/1"});
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Send({.method = "POST", .target = "/api/v1/pods?limit=1", .body = "{}"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(head.substr(0, head.find("\r\n")),
            "POST /k8s/clusters/c-1/api/v1/pods?limit=1 HTTP/1.1");
  EXPECT_NE(head.find("Host: " + server.url().substr(7) + "\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("User-Agent: ua/1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: application/json\r\n"), std::string::npos) << head;
}

TEST(BeastClientTest, AStopEndsAStreamWhileTheServerIsSilent) {
  std::atomic<bool> release{false};
  ScriptedServer server([&release](int fd) {
    ReadHead(fd);
    Write(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    // Then nothing, until the test ends.
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
  auto client = NewClient({.base_url = server.url()});
  ASSERT_TRUE(client.ok());
  std::stop_source stop;
  std::string got;
  std::thread stopper;
  StreamHandler handler{.on_headers = [](int, const Headers&) {},
                        .on_data =
                            [&](std::string_view chunk) {
                              got.append(chunk);
                              // Stop from another thread once the first chunk is in.
                              if (!stopper.joinable())
                                stopper = std::thread([&] { stop.request_stop(); });
                              return true;
                            }};
  // An inactivity timeout far longer than any test: only the stop can end this stream.
  Status s = (*client)->Stream({.target = "/watch", .timeout = std::chrono::hours(1)}, handler,
                               stop.get_token());
  release = true;
  if (stopper.joinable()) stopper.join();
  EXPECT_EQ(s.code(), Code::kCancelled) << s.ToString();
  EXPECT_EQ(got, "hello");
}

TEST(BeastClientTest, AStreamEndsWhenTheHandlerSaysSoAndAfterTheLastChunk) {
  ScriptedServer server([](int fd) {
    while (!ReadHead(fd).empty()) {
      Write(
          fd,
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n");
    }
  });
  auto client = NewClient({.base_url = server.url()});
  ASSERT_TRUE(client.ok());
  std::string got;
  int status = 0;
  StreamHandler all{.on_headers = [&](int s, const Headers&) { status = s; },
                    .on_data =
                        [&](std::string_view chunk) {
                          got.append(chunk);
                          return true;
                        }};
  EXPECT_TRUE((*client)->Stream({.target = "/s"}, all, {}).ok());
  EXPECT_EQ(status, 200);
  EXPECT_EQ(got, "onetwo");
  got.clear();
  StreamHandler first{.on_headers = nullptr, .on_data = [&](std::string_view chunk) {
                        got.append(chunk);
                        return false;
                      }};
  EXPECT_TRUE((*client)->Stream({.target = "/s"}, first, {}).ok());
  EXPECT_FALSE(got.empty());
  EXPECT_EQ(std::string("onetwo").rfind(got, 0), 0u) << got;
}

TEST(BeastClientTest, ABodyOverTheLimitFailsTheRequest) {
  ScriptedServer server([](int fd) {
    ReadHead(fd);
    Write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  });
  auto client = NewClient({.base_url = server.url(), .body_limit = 10});
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Send({.target = "/x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("GET " + server.url() + "/x"), std::string::npos);
}

TEST(BeastClientTest, BadBaseUrlsAreInvalidArgument) {
  for (const char* url : {"ftp://x", "http://", "http://user:pw@host", "http://host?x=1",
                          "http://host:0", "http://[::1"}) {
    auto client = NewClient({.base_url = url});
    ASSERT_FALSE(client.ok()) << url;
    EXPECT_EQ(client.status().code(), Code::kInvalidArgument) << url;
    EXPECT_EQ(client.status().message().find("pw"), std::string::npos)
        << client.status().ToString();
  }
}

TEST(ParseUrlTest, SplitsHostPortPathAndQuery) {
  auto u = ParseUrl("HTTPS://[::1]:8443/a/b?x=1#top");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->authority, "[::1]:8443");
  EXPECT_EQ(u->path, "/a/b");
  EXPECT_TRUE(u->has_query);
  EXPECT_EQ(u->query, "x=1");
  EXPECT_TRUE(u->has_fragment);
  EXPECT_EQ(u->base(), "https://[::1]:8443");

  u = ParseUrl("http://bob:s3cret@example.com?q");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->userinfo, "bob:s3cret");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->query, "q");
  EXPECT_EQ(u->base(), "http://example.com");
  EXPECT_EQ(ParseUrl("https://example.com")->port, "443");
}

TEST(ParseUrlTest, SaysWhatIsWrongWithoutTheUserInfo) {
  struct Case {
    const char* url;
    const char* problem;
  };
  for (const Case& c :
       {Case{"example.com", "must start with http:// or https://"},
        Case{"http://alice:pw@", "has no host"}, Case{"http://[::1:80", "has an unclosed ["},
        Case{"http://[::1]x", "has text after ]"}, Case{"http://host:65536", "has an invalid port"},
        Case{"http://host:8o", "has an invalid port"},
        Case{"http://ho st", "has a space or control character"}}) {
    auto u = ParseUrl(c.url, "the webhook URL");
    ASSERT_FALSE(u.ok()) << c.url;
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(u.status().message().rfind(std::string("the webhook URL ") + c.problem, 0), 0u)
        << u.status().ToString();
    EXPECT_EQ(u.status().message().find(":pw"), std::string::npos) << u.status().ToString();
  }
}

}  // namespace
}  // namespace flywheel::http
