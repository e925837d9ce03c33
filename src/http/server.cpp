#include "flywheel/http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

namespace flywheel::http {

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

void Respond(int fd, const ServerResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + Reason(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: close\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  out += r.body;
  WriteAll(fd, out);
}

ServerResponse Plain(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

}  // namespace

// Accepted connections waiting for a worker.
struct Server::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<int, std::string>> pending;
  std::vector<std::thread> threads;
};

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              std::map<std::string, Handler> routes) {
  auto colon = options.address.rfind(':');
  if (colon == std::string::npos) {
    return Status(Code::kInvalidArgument,
                  "bind address must be host:port, not \"" + options.address + "\"");
  }
  std::string host = options.address.substr(0, colon);
  std::string port = options.address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
      rc != 0) {
    return Status(Code::kInvalidArgument,
                  "bind address \"" + options.address + "\": " + gai_strerror(rc));
  }
  int fd = -1;
  std::string last_error;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
    last_error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return Status(Code::kUnavailable, "cannot listen on " + options.address + ": " + last_error);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  std::unique_ptr<Server> server(new Server());
  server->options_ = options;
  server->routes_ = std::move(routes);
  server->listen_fd_ = fd;
  server->port_ =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  server->pool_ = std::make_unique<Pool>();
  Server* s = server.get();
  for (int i = 0; i < std::max(1, options.workers); ++i) {
    server->pool_->threads.emplace_back([s] {
      for (;;) {
        std::unique_lock lock(s->pool_->mu);
        s->pool_->cv.wait(lock, [s] { return s->stopping_ || !s->pool_->pending.empty(); });
        if (s->pool_->pending.empty()) return;
        auto [conn, remote] = std::move(s->pool_->pending.front());
        s->pool_->pending.pop_front();
        lock.unlock();
        s->Serve(conn, remote);
        close(conn);
      }
    });
  }
  server->acceptor_ = std::thread([s] { s->AcceptLoop(); });
  return server;
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (stopping_.exchange(true)) return;
  shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  close(listen_fd_);
  {
    std::lock_guard lock(pool_->mu);
    pool_->cv.notify_all();
  }
  for (auto& t : pool_->threads) t.join();
}

void Server::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int conn = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (conn < 0) continue;
    char host[NI_MAXHOST] = "?";
    getnameinfo(reinterpret_cast<sockaddr*>(&peer), len, host, sizeof host, nullptr, 0,
                NI_NUMERICHOST);
    timeval tv{static_cast<time_t>(options_.read_timeout.count()), 0};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::lock_guard lock(pool_->mu);
    pool_->pending.emplace_back(conn, host);
    pool_->cv.notify_one();
  }
}

void Server::Serve(int fd, const std::string& remote) {
  std::string data;
  char buf[16384];
  size_t header_end = std::string::npos;
  while (header_end == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;  // closed or timed out before a request arrived
    data.append(buf, static_cast<size_t>(n));
    header_end = data.find("\r\n\r\n");
    if (header_end == std::string::npos && data.size() > 65536) {
      return Respond(fd, Plain(400, "request headers too large"));
    }
  }
  ServerRequest req;
  req.remote = remote;
  size_t line_end = data.find("\r\n");
  std::string line = data.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    return Respond(fd, Plain(400, "malformed request line"));
  }
  req.method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  size_t pos = line_end + 2;
  while (pos < header_end) {
    size_t eol = data.find("\r\n", pos);
    std::string h = data.substr(pos, eol - pos);
    pos = eol + 2;
    auto colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    req.headers.emplace_back(h.substr(0, colon), value);
  }
  if (!FindHeader(req.headers, "Transfer-Encoding").empty()) {
    return Respond(fd, Plain(411, "chunked request bodies are not accepted; send Content-Length"));
  }
  size_t length = 0;
  if (auto cl = FindHeader(req.headers, "Content-Length"); !cl.empty()) {
    try {
      length = std::stoul(std::string(cl));
    } catch (const std::exception&) {
      return Respond(fd, Plain(400, "invalid Content-Length"));
    }
  }
  if (length > options_.max_body_bytes) {
    return Respond(
        fd, Plain(413, "body larger than " + std::to_string(options_.max_body_bytes) + " bytes"));
  }
  req.body = data.substr(header_end + 4);
  while (req.body.size() < length) {
    ssize_t n = recv(fd, buf, std::min(sizeof buf, length - req.body.size()), 0);
    if (n <= 0) return Respond(fd, Plain(408, "request body incomplete"));
    req.body.append(buf, static_cast<size_t>(n));
  }
  req.body.resize(length);

  auto route = routes_.find(req.path);
  if (route == routes_.end()) return Respond(fd, Plain(404, "not found"));
  ServerResponse resp;
  try {
    resp = route->second(req);
  } catch (const std::exception& e) {
    spdlog::error("handler for {} {} threw: {}", req.method, req.path, e.what());
    resp = Plain(500, "internal error");
  }
  Respond(fd, resp);
}

}  // namespace flywheel::http
