// http::Server against slow, greedy and malformed clients over real loopback sockets. Linux
// routes all of 127/8 to loopback, so one test can play many peers. Deadlines are small and the
// waits generous: these are liveness checks, not timings.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "flywheel/http/server.h"

namespace flywheel::http {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// How long any answer may take on a loaded machine.
constexpr auto kPatience = 5s;

// A raw, non-blocking TCP connection from `source` to the server on 127.0.0.1.
class RawClient {
 public:
  RawClient(int port, const std::string& source = "127.0.0.1") {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      error_ = std::strerror(errno);
      close(fd_);
      fd_ = -1;
      return;
    }
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    connected_at_ = SteadyClock::now();
  }
  ~RawClient() {
    if (fd_ >= 0) close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  SteadyClock::time_point connected_at() const { return connected_at_; }

  // Sends `data` while reading what comes back, until the server closes the connection (end of
  // stream or reset) or `until` passes. Stops sending when the server stops reading. Returns
  // everything the server sent; closed() tells whether it closed.
  std::string Exchange(std::string_view data, SteadyClock::time_point until) {
    while (!closed_ && SteadyClock::now() < until) {
      pollfd p{fd_, static_cast<short>(POLLIN | (data.empty() ? 0 : POLLOUT)), 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) continue;
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) ReadAvailable();
      if (!data.empty() && (p.revents & POLLOUT)) {
        ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) data.remove_prefix(static_cast<size_t>(n));
        if (n < 0 && errno != EAGAIN) data = {};  // the server stopped reading; keep listening
      }
    }
    return received_;
  }

  // Sends a few bytes now, ignoring a server that is gone.
  void Trickle(std::string_view data) { send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }

  // Whether the server has answered or closed (something to read now), without waiting.
  bool Answered() {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  }

  bool closed() const { return closed_; }
  SteadyClock::time_point closed_at() const { return closed_at_; }
  const std::string& received() const { return received_; }

 private:
  void ReadAvailable() {
    char buf[16384];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        received_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EAGAIN) return;
      closed_ = true;  // end of stream or reset
      closed_at_ = SteadyClock::now();
      return;
    }
  }

  int fd_ = -1;
  std::string error_;
  SteadyClock::time_point connected_at_;
  std::string received_;
  bool closed_ = false;
  SteadyClock::time_point closed_at_;
};

// `n` connections, from <prefix>1 to <prefix>n: each one its own peer.
std::vector<std::unique_ptr<RawClient>> ConnectPeers(int port, const std::string& prefix, int n) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 1; i <= n; ++i) {
    clients.push_back(std::make_unique<RawClient>(port, prefix + std::to_string(i)));
    EXPECT_TRUE(clients.back()->ok()) << clients.back()->error();
  }
  return clients;
}

// The status code of a raw answer ("HTTP/1.1 408 ..."), or 0 when there is none.
int StatusOf(const std::string& answer) {
  if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) return 0;
  return std::stoi(answer.substr(9, 3));
}

std::string Post(std::string_view body) {
  return "POST /echo HTTP/1.1\r\nHost: flywheel\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// A server whose /echo answers the request body.
std::unique_ptr<Server> StartEcho(const ServerOptions& options) {
  auto server = Server::Start(options, {{"/echo", [](const ServerRequest& r) {
                                           ServerResponse resp;
                                           resp.body = r.body;
                                           return resp;
                                         }}});
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

// Sends a whole valid request and expects the echo back.
void ExpectEchoed(int port, const std::string& source = "127.0.0.1") {
  RawClient c(port, source);
  ASSERT_TRUE(c.ok()) << c.error();
  std::string answer = c.Exchange(Post("ping"), SteadyClock::now() + kPatience);
  EXPECT_EQ(StatusOf(answer), 200) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nping")) << answer;
}

TEST(ServerLimitsTest, FiftySlowClientsDoNotDelayAValidRequest) {
  ServerOptions options;
  options.header_deadline = 4s;
  auto server = StartEcho(options);
  ASSERT_TRUE(server);
  auto slow = ConnectPeers(server->port(), "127.0.1.", 50);
  ASSERT_FALSE(HasFailure());
  for (auto& c : slow) c->Trickle("POST /echo HTTP/1.1\r\nHost: flywheel\r\nX-Slow: ");

  auto asked = SteadyClock::now();
  ExpectEchoed(server->port());
  EXPECT_LT(SteadyClock::now() - asked, kPatience);
  for (auto& c : slow) {
    EXPECT_FALSE(c->Answered()) << "a slow client was dropped before its header deadline";
  }

  // They go on sending a header byte every 200 ms; the header deadline ends them all the same.
  auto give_up = asked + options.header_deadline + kPatience;
  for (size_t open = slow.size(); open > 0 && SteadyClock::now() < give_up;) {
    open = 0;
    for (auto& c : slow) {
      if (c->closed()) continue;
      if (c->Answered()) {
        c->Exchange("", SteadyClock::now() + kPatience);
        continue;
      }
      c->Trickle("a");
      ++open;
    }
    std::this_thread::sleep_for(200ms);
  }
  for (auto& c : slow) {
    ASSERT_TRUE(c->closed()) << "a slow client was still connected " << kPatience.count()
                             << " s after its header deadline";
    EXPECT_TRUE(c->received().empty() || StatusOf(c->received()) == 408) << c->received();
    EXPECT_GE(c->closed_at() - c->connected_at(), options.header_deadline);
  }
  ExpectEchoed(server->port());
}

TEST(ServerLimitsTest, BodyTricklingPastItsDeadlineGets408) {
  ServerOptions options;
  options.body_deadline = 500ms;
  auto server = StartEcho(options);
  ASSERT_TRUE(server);
  RawClient c(server->port());
  ASSERT_TRUE(c.ok()) << c.error();
  c.Trickle("POST /echo HTTP/1.1\r\nHost: flywheel\r\nContent-Length: 100\r\n\r\n");
  // A byte every 100 ms would finish in 10 s and resets any inactivity timeout.
  auto give_up = SteadyClock::now() + options.body_deadline + kPatience;
  while (!c.Answered() && SteadyClock::now() < give_up) {
    c.Trickle("b");
    std::this_thread::sleep_for(100ms);
  }
  std::string answer = c.Exchange("", SteadyClock::now() + kPatience);
  EXPECT_EQ(StatusOf(answer), 408) << answer;
  EXPECT_NE(answer.find("request body not received within 500 ms"), std::string::npos) << answer;
  EXPECT_TRUE(c.closed());
}

TEST(ServerLimitsTest, ConnectionsOverThePeerCapAreRefused) {
  ServerOptions options;
  options.max_connections_per_peer = 2;
  auto server = StartEcho(options);
  ASSERT_TRUE(server);
  auto held = std::make_unique<RawClient>(server->port());
  RawClient held2(server->port());
  RawClient third(server->port());
  ASSERT_TRUE(held->ok() && held2.ok() && third.ok());
  std::string answer = third.Exchange("", SteadyClock::now() + kPatience);
  EXPECT_TRUE(third.closed()) << "a third connection from one address was kept";
  EXPECT_EQ(StatusOf(answer), 503) << answer;
  EXPECT_NE(answer.find("too many connections from 127.0.0.1 (limit 2)"), std::string::npos)
      << answer;

  // Another peer is not affected, and the peer gets its slot back when a connection ends.
  ExpectEchoed(server->port(), "127.0.0.2");
  held.reset();
  auto give_up = SteadyClock::now() + kPatience;
  std::string again;
  while (StatusOf(again) != 200 && SteadyClock::now() < give_up) {
    RawClient next(server->port());
    again = next.Exchange(Post("ping"), give_up);
  }
  EXPECT_EQ(StatusOf(again), 200) << again;
}

TEST(ServerLimitsTest, ConnectionsOverTheTotalCapAreRefused) {
  ServerOptions options;
  options.max_connections = 3;
  auto server = StartEcho(options);
  ASSERT_TRUE(server);
  auto held = ConnectPeers(server->port(), "127.0.2.", 3);
  ASSERT_FALSE(HasFailure());
  RawClient fourth(server->port(), "127.0.2.4");
  ASSERT_TRUE(fourth.ok()) << fourth.error();
  std::string answer = fourth.Exchange("", SteadyClock::now() + kPatience);
  EXPECT_TRUE(fourth.closed());
  EXPECT_EQ(StatusOf(answer), 503) << answer;
  EXPECT_NE(answer.find("limit of 3 connections"), std::string::npos) << answer;
}

TEST(ServerLimitsTest, BodiesBeyondTheBufferBudgetAreRefused) {
  ServerOptions options;
  options.max_body_bytes = 100;
  options.max_buffered_body_bytes = 150;
  auto server = StartEcho(options);
  ASSERT_TRUE(server);
  RawClient first(server->port());
  ASSERT_TRUE(first.ok());
  first.Trickle("POST /echo HTTP/1.1\r\nHost: flywheel\r\nContent-Length: 100\r\n\r\n");
  // The first connection holds 100 bytes of the budget once its headers are read; retry until
  // the second one is refused.
  auto give_up = SteadyClock::now() + kPatience;
  std::string answer;
  while (StatusOf(answer) != 503 && SteadyClock::now() < give_up) {
    RawClient second(server->port());
    answer = second.Exchange(Post(std::string(100, 'x')), give_up);
  }
  EXPECT_EQ(StatusOf(answer), 503) << answer;
  EXPECT_NE(answer.find("too many request bodies in flight"), std::string::npos) << answer;
  ExpectEchoed(server->port());  // 4 bytes still fit
}

TEST(ServerLimitsTest, MalformedRequestsAreRefusedCleanly) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  auto server = StartEcho(options);
  ASSERT_TRUE(server);
  struct Case {
    std::string name;
    std::string request;
    int status;
  };
  std::vector<Case> cases = {
      {"4 MiB header",
       "GET /echo HTTP/1.1\r\nHost: flywheel\r\nX-Big: " + std::string(4 << 20, 'h') + "\r\n\r\n",
       431},
      {"negative Content-Length",
       "POST /echo HTTP/1.1\r\nHost: flywheel\r\nContent-Length: -1\r\n\r\n", 400},
      {"Content-Length not a number",
       "POST /echo HTTP/1.1\r\nHost: flywheel\r\nContent-Length: ten\r\n\r\n", 400},
      {"two different Content-Lengths",
       "POST /echo HTTP/1.1\r\nHost: flywheel\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
       "abcd",
       400},
      {"Content-Length over the cap",
       "POST /echo HTTP/1.1\r\nHost: flywheel\r\nContent-Length: 99999999999\r\n\r\n", 413},
      {"chunked body",
       "POST /echo HTTP/1.1\r\nHost: flywheel\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nping\r\n"
       "0\r\n\r\n",
       411},
      {"no request line", "\r\n\r\n", 400},
      {"header without a colon", "GET /echo HTTP/1.1\r\nHost flywheel\r\n\r\n", 400},
      {"bad version", "GET /echo HTTP/9\r\n\r\n", 400},
      {"binary junk", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400},
  };
  for (const auto& c : cases) {
    RawClient client(server->port());
    ASSERT_TRUE(client.ok()) << client.error();
    std::string answer = client.Exchange(c.request, SteadyClock::now() + kPatience);
    EXPECT_EQ(StatusOf(answer), c.status) << c.name << ": " << answer.substr(0, 200);
    EXPECT_TRUE(client.closed()) << c.name;
  }
  ExpectEchoed(server->port());
}

TEST(ServerLimitsTest, StopClosesConnectionsStillReadingARequest) {
  auto server = StartEcho({});  // header deadline 10 s
  ASSERT_TRUE(server);
  RawClient slow(server->port());
  ASSERT_TRUE(slow.ok());
  slow.Trickle("GET /echo HTTP/1.1\r\n");
  ExpectEchoed(server->port());  // the slow connection has been accepted before this one
  auto stopping = SteadyClock::now();
  server->Stop();
  EXPECT_LT(SteadyClock::now() - stopping, kPatience);
  slow.Exchange("", SteadyClock::now() + kPatience);
  EXPECT_TRUE(slow.closed());
}

TEST(ServerLimitsTest, InconsistentLimitsAreClearErrors) {
  auto small_budget =
      Server::Start({.max_body_bytes = 1 << 20, .max_buffered_body_bytes = 1024}, {});
  ASSERT_FALSE(small_budget.ok());
  EXPECT_EQ(small_budget.status().code(), Code::kInvalidArgument);
  EXPECT_NE(small_budget.status().message().find("max_buffered_body_bytes (1024)"),
            std::string::npos)
      << small_budget.status().message();
  EXPECT_EQ(Server::Start({.header_deadline = 0ms}, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Server::Start({.max_connections_per_peer = 0}, {}).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace flywheel::http
