#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "flywheel/common/status.h"
#include "flywheel/http/client.h"

namespace flywheel::http {

// A request as the server received it.
struct ServerRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', undecoded
  Headers headers;
  std::string body;
  std::string remote;  // peer address, for logs
};

// What a handler answers.
struct ServerResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  Headers headers;
};

using Handler = std::function<ServerResponse(const ServerRequest&)>;

// How a Server listens.
struct ServerOptions {
  std::string address = "127.0.0.1:0";  // host:port; ":8080" = all interfaces; port 0 = any
  size_t max_body_bytes = 1 << 20;      // larger bodies are refused with 413
  int workers = 4;                      // connections served at once
  std::chrono::seconds read_timeout{10};
};

// A small HTTP/1.1 server for /metrics, /healthz, /readyz and webhook receivers. One request per
// connection (Connection: close), bodies by Content-Length only, bounded in size and time.
class Server {
 public:
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving `routes` (exact paths). Fails when the address cannot be bound.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               std::map<std::string, Handler> routes);

  // The bound port (useful with port 0).
  int port() const { return port_; }

  // Stops accepting, finishes in-flight requests and joins the threads. Idempotent.
  void Stop();

 private:
  Server() = default;
  void AcceptLoop();
  void Serve(int fd, const std::string& remote);

  ServerOptions options_;
  std::map<std::string, Handler> routes_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

}  // namespace flywheel::http
