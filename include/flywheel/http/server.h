#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

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

// How a Server listens, and the limits that keep slow or hostile clients from exhausting it.
// Deadlines are totals: bytes trickling in do not extend them.
struct ServerOptions {
  std::string address = "127.0.0.1:0";  // host:port; ":8080" = all interfaces; port 0 = any
  size_t max_body_bytes = 1 << 20;      // larger bodies are refused with 413
  size_t max_header_bytes = 16 << 10;   // a larger request line + headers is refused with 431
  int workers = 4;                      // handlers running at once; only complete requests wait
  // From accepting a connection to the end of its request headers; 408 after it.
  std::chrono::milliseconds header_deadline{std::chrono::seconds(10)};
  // From the end of the headers to the end of the body; 408 after it.
  std::chrono::milliseconds body_deadline{std::chrono::seconds(30)};
  // For writing the answer; the connection is closed after it.
  std::chrono::milliseconds write_deadline{std::chrono::seconds(30)};
  size_t max_connections = 256;          // open at once; more are answered 503 and closed
  size_t max_connections_per_peer = 32;  // from one IPv4 address or IPv6 /64; more get 503
  // Request bodies held at once, summed over connections (each counted by its Content-Length
  // from its headers until its answer is written); a request that does not fit gets 503.
  size_t max_buffered_body_bytes = 16 << 20;
};

// A small HTTP/1.1 server for /metrics, /healthz, /readyz and webhook receivers. One event-loop
// thread reads requests under the deadlines above; a complete request goes to one of `workers`
// handler threads; the answer is written by the event loop. One request per connection
// (Connection: close), bodies by Content-Length only (chunked is refused with 411).
class Server {
 public:
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving `routes`. A key is an exact path ("/metrics"), or a prefix when it
  // ends in "/" ("/hooks/alertmanager/" serves every path below it, as in Go's ServeMux): an
  // exact route wins, then the longest prefix; other paths are answered 404. Paths are matched
  // as sent (not cleaned of "." or ".." segments): a prefix handler validates what follows
  // its prefix. Fails when the address cannot be bound or the options are inconsistent.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                               std::map<std::string, Handler> routes);

  // The bound port (useful with port 0).
  int port() const { return port_; }

  // Stops accepting, closes connections still reading a request, finishes requests already with
  // a handler (and writes their answers), and joins the threads. Idempotent.
  void Stop();

 private:
  Server() = default;

  struct Impl;  // the event loop and the handler threads (server.cpp)
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::unique_ptr<Impl> impl_;
};

}  // namespace flywheel::http
