#include "flywheel/http/server.h"

#include <fcntl.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace flywheel::http {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

// How long a connection keeps reading (and discarding) after its answer, so that a client still
// sending is not reset before it reads the answer (nginx's lingering close).
constexpr auto kLinger = std::chrono::seconds(1);
// How long to wait before accepting again after accept failed (out of descriptors).
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
// At most one warning about turned-away connections or accept failures per this period.
constexpr auto kWarnEvery = std::chrono::seconds(10);

std::string Str(beast::string_view s) { return std::string(s.data(), s.size()); }

std::string Millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

ServerResponse Plain(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

// The wire form of `r`: one request per connection, so always Connection: close.
bhttp::response<bhttp::string_body> Render(ServerResponse r) {
  if (r.status < 100 || r.status > 999) {
    r = Plain(500, "internal error: the handler answered status " + std::to_string(r.status));
  }
  bhttp::response<bhttp::string_body> out;
  out.version(11);
  out.result(static_cast<unsigned>(r.status));
  out.set(bhttp::field::content_type, r.content_type);
  out.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : r.headers) out.insert(name, value);
  out.body() = std::move(r.body);
  out.prepare_payload();
  return out;
}

// What `handler` answers to `req`; 500 when it throws.
ServerResponse Call(const Handler& handler, const ServerRequest& req) {
  try {
    return handler(req);
  } catch (const std::exception& e) {
    spdlog::error("handler for {} {} threw: {}", req.method, req.path, e.what());
  } catch (...) {
    spdlog::error("handler for {} {} threw something other than a std::exception", req.method,
                  req.path);
  }
  return Plain(500, "internal error");
}

// An IPv4 address as such, also when it arrives v4-mapped on an IPv6 socket.
net::ip::address Unmapped(const net::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  }
  return a;
}

// The key a peer's connections are counted under: its IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64).
std::string PeerKey(const net::ip::address& address) {
  net::ip::address a = Unmapped(address);
  if (a.is_v4()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::ip::address_v6(bytes).to_string() + "/64";
}

// The handler of `path`: its exact route, else the longest prefix route (a key ending in "/")
// that `path` starts with; nullptr when none.
const Handler* FindRoute(const std::map<std::string, Handler>& routes, const std::string& path) {
  if (auto exact = routes.find(path); exact != routes.end()) return &exact->second;
  for (size_t end = path.rfind('/'); end != std::string::npos;
       end = end == 0 ? std::string::npos : path.rfind('/', end - 1)) {
    if (auto prefix = routes.find(path.substr(0, end + 1)); prefix != routes.end()) {
      return &prefix->second;
    }
  }
  return nullptr;
}

const std::error_category& HttpErrors() {
  return bhttp::make_error_code(bhttp::error::bad_method).category();
}

class Connection;

// The event loop's state: the listening socket and the open connections with what they hold.
// Everything but `workers` (the handler threads) and the constant options and routes is touched
// on the loop thread only.
class Listener {
 public:
  Listener(const ServerOptions& server_options, std::map<std::string, Handler> server_routes)
      : options(server_options),
        routes(std::move(server_routes)),
        workers(static_cast<size_t>(std::max(1, server_options.workers))) {}

  // Accepts connections until StopAccepting().
  void Accept();
  // Closes the listening socket and every connection that is still reading a request.
  void StopAccepting();

  // Takes `bytes` from the budget for request bodies; false when they do not fit.
  bool ReserveBody(size_t bytes);
  // Bookkeeping of a Connection's life (constructor and destructor).
  void Opened(Connection* c, const std::string& peer);
  void Closed(Connection* c, const std::string& peer, size_t body_bytes);

  const ServerOptions options;
  const std::map<std::string, Handler> routes;
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  net::thread_pool workers;
  std::array<char, 4096> discard{};  // where lingering reads go (only the loop thread reads)
  int port = 0;

 private:
  void Admit(tcp::socket socket);
  // Answers 503 with `why` and closes, without reading anything.
  void TurnAway(tcp::socket& socket, const std::string& why);
  // Logs `what` unless a warning was logged less than kWarnEvery ago (then counts it).
  void Warn(const std::string& what);

  net::steady_timer accept_backoff_{io};
  bool stopping_ = false;
  std::unordered_set<Connection*> open_;
  std::unordered_map<std::string, size_t> per_peer_;
  size_t body_bytes_ = 0;
  std::chrono::steady_clock::time_point last_warning_{};
  size_t unlogged_warnings_ = 0;
};

// One accepted connection, driven by the loop thread: reads one request within the header and
// body deadlines, hands it to a handler thread, writes the answer, lingers and closes. Every
// shared_ptr to it is released on the loop thread, so its destructor (which gives back its share
// of the limits) runs there.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Listener& listener, tcp::socket socket, std::string peer, std::string remote)
      : listener_(listener),
        socket_(std::move(socket)),
        timer_(listener.io),
        peer_(std::move(peer)),
        remote_(std::move(remote)) {
    listener_.Opened(this, peer_);
  }
  ~Connection() { listener_.Closed(this, peer_, body_bytes_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start();
  // Closes the connection unless its request is with a handler or its answer is being written.
  void Abort() {
    if (phase_ != Phase::kHandler && phase_ != Phase::kWrite) Close();
  }

 private:
  enum class Phase { kHeaders, kBody, kHandler, kWrite, kLingering };

  // Starts the deadline of the current phase.
  void Arm(std::chrono::steady_clock::duration d);
  void OnHeaders(beast::error_code ec);
  void OnReadError(beast::error_code ec);
  void Dispatch();
  void Answer(ServerResponse r);
  void Linger();
  void Drain();
  void Close();

  Listener& listener_;
  tcp::socket socket_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  bhttp::request_parser<bhttp::string_body> parser_;
  bhttp::response<bhttp::string_body> response_;
  const std::string peer_;
  const std::string remote_;
  Phase phase_ = Phase::kHeaders;
  unsigned armed_ = 0;     // counts Arm() and Close(), so a stale expiry is ignored
  bool expired_ = false;   // the current phase's deadline passed
  size_t body_bytes_ = 0;  // taken from the listener's body budget
};

void Connection::Start() {
  const ServerOptions& o = listener_.options;
  parser_.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(o.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser_.body_limit(o.max_body_bytes);
  Arm(o.header_deadline);
  bhttp::async_read_header(
      socket_, buffer_, parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeaders(ec); });
}

void Connection::Arm(std::chrono::steady_clock::duration d) {
  expired_ = false;
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this(), armed = ++armed_](beast::error_code ec) {
    if (ec || armed != self->armed_) return;
    self->expired_ = true;
    beast::error_code ignored;
    if (self->phase_ != Phase::kHeaders && self->phase_ != Phase::kBody) {
      self->socket_.close(ignored);  // writing or lingering: nothing more to say
      return;
    }
    // Ends the read in progress; the shutdown also ends a composed read that is between two
    // reads (the cancel would miss it) once the bytes already queued are read, which the header
    // and body limits bound. The answer can still be written.
    self->socket_.cancel(ignored);
    self->socket_.shutdown(tcp::socket::shutdown_receive, ignored);
  });
}

void Connection::OnHeaders(beast::error_code ec) {
  if (ec) return OnReadError(ec);
  const auto& msg = parser_.get();
  if (msg.find(bhttp::field::transfer_encoding) != msg.end()) {
    return Answer(Plain(411, "chunked request bodies are not accepted; send Content-Length"));
  }
  size_t length = static_cast<size_t>(parser_.content_length().value_or(0));
  if (!listener_.ReserveBody(length)) {
    return Answer(Plain(503, "too many request bodies in flight; retry later"));
  }
  body_bytes_ = length;
  if (parser_.is_done()) return Dispatch();
  phase_ = Phase::kBody;
  Arm(listener_.options.body_deadline);
  bhttp::async_read(socket_, buffer_, parser_,
                    [self = shared_from_this()](beast::error_code read_ec, size_t) {
                      if (read_ec) return self->OnReadError(read_ec);
                      self->Dispatch();
                    });
}

void Connection::OnReadError(beast::error_code ec) {
  const ServerOptions& o = listener_.options;
  if (expired_) {
    bool headers = phase_ == Phase::kHeaders;
    if (headers && buffer_.size() == 0) return Close();  // not a byte sent: nothing to answer
    return Answer(
        Plain(408, headers ? "request headers not received within " + Millis(o.header_deadline)
                           : "request body not received within " + Millis(o.body_deadline)));
  }
  if (ec == bhttp::error::header_limit) {
    return Answer(
        Plain(431, "request headers larger than " + std::to_string(o.max_header_bytes) + " bytes"));
  }
  if (ec == bhttp::error::body_limit) {
    return Answer(Plain(413, "body larger than " + std::to_string(o.max_body_bytes) + " bytes"));
  }
  if (ec.category() == HttpErrors() && ec != bhttp::error::end_of_stream &&
      ec != bhttp::error::partial_message) {
    return Answer(Plain(400, "malformed request: " + ec.message()));
  }
  Close();  // the peer left, or the server stops
}

void Connection::Dispatch() {
  phase_ = Phase::kHandler;
  ++armed_;
  timer_.cancel();
  auto& msg = parser_.get();
  ServerRequest req;
  req.method = Str(msg.method_string());
  std::string target = Str(msg.target());
  auto q = target.find('?');
  req.path = target.substr(0, q);
  if (q != std::string::npos) req.query = target.substr(q + 1);
  for (const auto& field : msg) {
    req.headers.emplace_back(Str(field.name_string()), Str(field.value()));
  }
  req.body = std::move(msg.body());
  req.remote = remote_;
  const Handler* handler = FindRoute(listener_.routes, req.path);
  if (handler == nullptr) return Answer(Plain(404, "not found"));
  // The work guard keeps the loop running until the answer is posted back to it.
  net::post(listener_.workers, [self = shared_from_this(), handler, req = std::move(req),
                                work = net::make_work_guard(listener_.io)]() mutable {
    ServerResponse resp = Call(*handler, req);
    auto loop = self->socket_.get_executor();
    net::post(loop, [self = std::move(self), resp = std::move(resp)]() mutable {
      self->Answer(std::move(resp));
    });
  });
}

void Connection::Answer(ServerResponse r) {
  if (r.status >= 400) spdlog::debug("http {}: {} {}", remote_, r.status, r.body);
  phase_ = Phase::kWrite;
  response_ = Render(std::move(r));
  Arm(listener_.options.write_deadline);
  bhttp::async_write(socket_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) return self->Close();
    self->Linger();
  });
}

void Connection::Linger() {
  phase_ = Phase::kLingering;
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  Arm(kLinger);
  Drain();
}

void Connection::Drain() {
  socket_.async_read_some(net::buffer(listener_.discard),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->Close();
                            self->Drain();
                          });
}

void Connection::Close() {
  ++armed_;
  timer_.cancel();
  beast::error_code ignored;
  socket_.close(ignored);
}

void Listener::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (stopping_ || ec == net::error::operation_aborted) return;
    if (ec) {
      Warn("cannot accept a connection: " + ec.message());
      accept_backoff_.expires_after(kAcceptBackoff);
      accept_backoff_.async_wait([this](beast::error_code timer_ec) {
        if (!timer_ec) Accept();
      });
      return;
    }
    Admit(std::move(socket));
    Accept();
  });
}

void Listener::Admit(tcp::socket socket) {
  fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);  // not inherited by plugins we run
  beast::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;  // the peer already left
  std::string key = PeerKey(peer.address());
  if (open_.size() >= options.max_connections) {
    return TurnAway(socket, "the server holds its limit of " +
                                std::to_string(options.max_connections) + " connections");
  }
  if (auto it = per_peer_.find(key);
      it != per_peer_.end() && it->second >= options.max_connections_per_peer) {
    return TurnAway(socket, "too many connections from " + key + " (limit " +
                                std::to_string(options.max_connections_per_peer) + ")");
  }
  std::make_shared<Connection>(*this, std::move(socket), key, Unmapped(peer.address()).to_string())
      ->Start();
}

void Listener::TurnAway(tcp::socket& socket, const std::string& why) {
  Warn("turned a connection away: " + why);
  std::ostringstream out;
  out << Render(Plain(503, why));
  std::string wire = out.str();
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(net::buffer(wire), ignored);  // a new socket's send buffer takes it whole
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void Listener::Warn(const std::string& what) {
  auto now = std::chrono::steady_clock::now();
  if (now - last_warning_ < kWarnEvery) {
    ++unlogged_warnings_;
    return;
  }
  if (unlogged_warnings_ == 0) {
    spdlog::warn("http server on port {}: {}", port, what);
  } else {
    spdlog::warn("http server on port {}: {} ({} more since the last warning)", port, what,
                 unlogged_warnings_);
  }
  last_warning_ = now;
  unlogged_warnings_ = 0;
}

void Listener::StopAccepting() {
  stopping_ = true;
  beast::error_code ignored;
  acceptor.close(ignored);
  accept_backoff_.cancel();
  // Closing never destroys a connection here (its pending operations hold it), so the set
  // stays valid; copied anyway to keep the loop independent of that.
  for (Connection* c : std::vector<Connection*>(open_.begin(), open_.end())) c->Abort();
}

bool Listener::ReserveBody(size_t bytes) {
  if (bytes > options.max_buffered_body_bytes - body_bytes_) return false;
  body_bytes_ += bytes;
  return true;
}

void Listener::Opened(Connection* c, const std::string& peer) {
  open_.insert(c);
  ++per_peer_[peer];
}

void Listener::Closed(Connection* c, const std::string& peer, size_t body_bytes) {
  open_.erase(c);
  if (auto it = per_peer_.find(peer); it != per_peer_.end() && --it->second == 0) {
    per_peer_.erase(it);
  }
  body_bytes_ -= body_bytes;
}

// Checks that the limits make sense together.
Status Validate(const ServerOptions& o) {
  if (o.header_deadline.count() <= 0 || o.body_deadline.count() <= 0 ||
      o.write_deadline.count() <= 0) {
    return Status(Code::kInvalidArgument, "server deadlines must be positive");
  }
  if (o.max_connections == 0 || o.max_connections_per_peer == 0 || o.max_header_bytes == 0) {
    return Status(Code::kInvalidArgument,
                  "max_connections, max_connections_per_peer and max_header_bytes must be "
                  "positive");
  }
  if (o.max_buffered_body_bytes < o.max_body_bytes) {
    return Status(Code::kInvalidArgument,
                  "max_buffered_body_bytes (" + std::to_string(o.max_buffered_body_bytes) +
                      ") must be at least max_body_bytes (" + std::to_string(o.max_body_bytes) +
                      "), or no request at the body limit could be served");
  }
  return Status::Ok();
}

// A bound, listening socket and its address family.
struct ListeningSocket {
  int fd = -1;
  int family = AF_UNSPEC;
};

// A listening socket on `address` (host:port), or why not.
Result<ListeningSocket> Listen(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Status(Code::kInvalidArgument,
                  "bind address must be host:port, not \"" + address + "\"");
  }
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
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
    return Status(Code::kInvalidArgument, "bind address \"" + address + "\": " + gai_strerror(rc));
  }
  int fd = -1;
  int family = AF_UNSPEC;
  std::string last_error;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) {
      family = ai->ai_family;
      break;
    }
    last_error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return Status(Code::kUnavailable, "cannot listen on " + address + ": " + last_error);
  }
  return ListeningSocket{fd, family};
}

}  // namespace

struct Server::Impl {
  Impl(const ServerOptions& options, std::map<std::string, Handler> routes)
      : listener(options, std::move(routes)) {}
  Listener listener;
  std::thread loop;
};

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              std::map<std::string, Handler> routes) {
  if (Status s = Validate(options); !s.ok()) return s;
  auto socket = Listen(options.address);
  if (!socket.ok()) return socket.status();
  auto [fd, family] = *socket;
  std::unique_ptr<Server> server(new Server());
  server->impl_ = std::make_unique<Impl>(options, std::move(routes));
  Listener& listener = server->impl_->listener;
  beast::error_code ec;
  listener.acceptor.assign(family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) {
    close(fd);
    return Status(Code::kUnavailable, "cannot listen on " + options.address + ": " + ec.message());
  }
  server->port_ = listener.acceptor.local_endpoint(ec).port();
  listener.port = server->port_;
  listener.Accept();
  server->impl_->loop = std::thread([&listener] { listener.io.run(); });
  return server;
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (stopped_.exchange(true)) return;
  Listener& listener = impl_->listener;
  net::post(listener.io, [&listener] { listener.StopAccepting(); });
  impl_->loop.join();  // returns once no connection is left
  listener.workers.join();
}

}  // namespace flywheel::http
