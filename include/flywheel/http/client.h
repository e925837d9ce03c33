#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flywheel/common/status.h"

namespace flywheel::http {

// Header names and values in the order they were given; names compare case-insensitively.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (case-insensitive), or "".
std::string_view FindHeader(const Headers& headers, std::string_view name);

// One HTTP request against the client's base URL.
struct Request {
  std::string method = "GET";
  std::string target;  // path and query, e.g. "/api/v1/pods?limit=500"
  Headers headers;
  std::string body;
  // Ends the request when no byte arrives for this long (0 = the client's default).
  std::chrono::milliseconds timeout{0};
};

// A complete response. A non-2xx status is a Response, not an error: only transport failures
// (refused, reset, TLS, timeout) are errors.
struct Response {
  int status = 0;
  Headers headers;
  std::string body;
};

// Receives a streamed response: the status and headers once, then each chunk of the body as
// it arrives (chunk boundaries are arbitrary). Returning false from on_data stops the stream.
struct StreamHandler {
  std::function<void(int status, const Headers& headers)> on_headers;
  std::function<bool(std::string_view chunk)> on_data;
};

// TLS settings in memory (kubeconfig-style PEM data, not file names).
struct TlsOptions {
  std::string ca_pem;           // trusted CAs; empty = the system store
  std::string client_cert_pem;  // client certificate chain, with client_key_pem
  std::string client_key_pem;
  bool insecure_skip_verify = false;
  // The name sent as SNI and checked against the server certificate instead of the URL's host
  // (kubeconfig `tls-server-name`); "" = the URL's host. A DNS name or an IP address.
  std::string server_name;
};

// How to build a Client.
struct ClientOptions {
  std::string base_url;  // scheme://host:port, e.g. https://127.0.0.1:6443
  TlsOptions tls;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // default inactivity timeout
  std::string user_agent = "flywheel";
  // The largest response body read by Send, in bytes (0 = no limit); a longer one fails the
  // request (kUnavailable). Streams are not limited: their handler sees each chunk.
  uint64_t body_limit = 0;
};

// The HTTP client every other component talks to. Implementations keep connections alive and
// are safe to use from many threads at once.
class Client {
 public:
  virtual ~Client() = default;

  // Sends a request and reads the whole response.
  virtual Result<Response> Send(const Request& request) = 0;

  // Sends a request and delivers the body as it arrives, until the server ends it, the handler
  // returns false, or `stop` is requested (then the status is kCancelled). Blocks the caller.
  virtual Status Stream(const Request& request, const StreamHandler& handler,
                        std::stop_token stop) = 0;

  // Presents this client certificate on new connections from now on (an exec plugin's rotated
  // credential) and stops reusing idle ones; requests in flight finish on their connection. A
  // no-op when the pair is the one in use. kInvalidArgument when it is not a matching PEM pair.
  virtual Status SetClientCertificate(const std::string& cert_pem, const std::string& key_pem) = 0;

  // Closes the kept-alive connections nobody has used for at least `idle_for` (Go's
  // IdleConnTimeout, on the caller's tick). A TLS connection holds about 70 KiB (Boost's record
  // buffers, OpenSSL's state), and the pool grows to the largest burst of requests made at once.
  virtual void CloseIdle(std::chrono::milliseconds idle_for) = 0;
};

// The client (HTTP/1.1 over Boost.Beast, src/http/beast_client.cpp). `base_url` is
// scheme://host[:port][/path]; a path is put before every request's target. kInvalidArgument for
// a URL that is not one, or TLS data that is not PEM or a key that does not match its certificate.
Result<std::unique_ptr<Client>> NewClient(const ClientOptions& options);

}  // namespace flywheel::http
