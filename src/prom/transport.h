#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "flywheel/common/status.h"
#include "flywheel/http/client.h"

namespace flywheel::prom {

// Where the transport connects and what it trusts.
struct TransportOptions {
  bool tls = false;    // https
  std::string host;    // a DNS name or an IP address (no brackets)
  std::string port;    // "9090"; the scheme's default when the URL has none
  std::string base;    // scheme://host[:port], for messages and the Host header
  std::string ca_pem;  // CAs trusted for https; "" = the system store
};

// The HTTP/1.1 transport of prom::Client: each request runs to its end on the calling thread
// (Boost.Beast over a connection's own io_context), over a kept-alive connection taken from a
// small pool. A query costs a write and a read, with no hand-off to another thread: through
// cpprestsdk (http::Client) each request hopped between pool threads about ten times, which
// was most of the controller's CPU at 200 policies. Timeouts are inactivity timeouts (no byte
// for that long ends the request); TLS is always verified (chain, host name or IP address).
// Transport failures map onto Status codes as http::StatusFromTransportError does. Safe to use
// from many threads at once.
class Transport {
 public:
  // kInvalidArgument when ca_pem is not PEM.
  static Result<std::unique_ptr<Transport>> New(TransportOptions options);
  virtual ~Transport() = default;

  // Sends `request` (its timeout must be positive) and reads the whole response. A kept-alive
  // connection the server closed meanwhile is replaced once, transparently.
  virtual Result<http::Response> Send(const http::Request& request) = 0;
};

}  // namespace flywheel::prom
