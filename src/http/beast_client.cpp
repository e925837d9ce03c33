// The http::Client every component uses: HTTP/1.1 over Boost.Beast, each request run to its end
// on the calling thread (on its connection's own io_context), over kept-alive connections taken
// from a small pool. A request costs a write and a read with no hand-off to another thread.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "flywheel/http/client.h"
#include "flywheel/http/transport_error.h"
#include "flywheel/http/url.h"

namespace flywheel::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using std::chrono::milliseconds;
using tcp = asio::ip::tcp;

// Idle connections kept per client: the controller runs 4 workers per controller by default.
constexpr size_t kMaxIdle = 16;
// The largest response head read (the API server's are a few hundred bytes).
constexpr uint32_t kHeaderLimit = 1 << 20;
// "No limit": Boost 1.74's parser compares a Content-Length with an empty limit as larger, so
// boost::none would refuse every such body.
constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();
// How much of a streamed body is read at once.
constexpr size_t kStreamChunk = 64 << 10;

bool IsIpAddress(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

using TlsContext = std::shared_ptr<asio::ssl::context>;

// The TLS context all of a client's connections share (one trust store, loaded once): only the
// given CAs when there are some (as client-go trusts only the kubeconfig's CA), else the system
// store; the client certificate when there is one. kInvalidArgument on data that is not PEM or a
// key that does not match its certificate, so a bad pair fails here rather than in a handshake.
Result<TlsContext> NewTlsContext(const TlsOptions& tls) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  error_code ec;
  if (tls.ca_pem.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->add_certificate_authority(asio::buffer(tls.ca_pem), ec);
  }
  if (!ec && (!tls.client_cert_pem.empty() || !tls.client_key_pem.empty())) {
    ctx->use_certificate_chain(asio::buffer(tls.client_cert_pem), ec);
    if (!ec) {
      ctx->use_private_key(asio::buffer(tls.client_key_pem), asio::ssl::context::pem, ec);
    }
  }
  ERR_clear_error();
  if (ec) {
    return Status(Code::kInvalidArgument, "unusable TLS certificate or key: " + ec.message());
  }
  ctx->set_verify_mode(tls.insecure_skip_verify ? asio::ssl::verify_none : asio::ssl::verify_peer);
  return ctx;
}

// One kept-alive connection with its own io_context, run only by the thread sending on it.
struct Connection {
  asio::io_context ioc;
  TlsContext tls;  // the context it was made with (null for http), kept alive with it
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool reused = false;  // it carried a request before (a failure may be the server closing it)
  std::chrono::steady_clock::time_point idle_since;  // when it was last given back

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

// Starts one operation on `c` with `start(handler)`, bounded by `timeout` (no byte for that
// long ends it), and runs it to its end on this thread.
template <typename Start>
error_code Await(Connection& c, milliseconds timeout, Start start) {
  error_code result;
  c.tcp().expires_after(timeout);
  start([&result](error_code ec, auto&&...) { result = ec; });
  c.ioc.restart();
  c.ioc.run();
  return result;
}

// Runs `op(stream)` with the connection's stream, TLS or not.
template <typename Op>
error_code WithStream(Connection& c, Op op) {
  return c.secure ? op(*c.secure) : op(*c.plain);
}

Headers CopyHeaders(const bhttp::fields& fields) {
  Headers out;
  for (const auto& field : fields) {
    out.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

class BeastClient final : public Client {
 public:
  BeastClient(ClientOptions options, Url url, TlsContext tls)
      : options_(std::move(options)),
        url_(std::move(url)),
        verify_name_(options_.tls.server_name.empty() ? url_.host : options_.tls.server_name),
        cert_pem_(options_.tls.client_cert_pem),
        key_pem_(options_.tls.client_key_pem),
        tls_(std::move(tls)) {}

  Result<Response> Send(const Request& request) override {
    const milliseconds timeout = TimeoutOf(request);
    auto req = ToMessage(request);
    if (!req.ok()) return req.status();
    for (int attempt = 0;; ++attempt) {
      std::string detail;
      error_code ec;
      std::unique_ptr<Connection> c = Take(timeout, &ec, &detail);
      bhttp::response_parser<bhttp::string_body> parser;
      parser.header_limit(kHeaderLimit);
      if (options_.body_limit > 0) {
        parser.body_limit(options_.body_limit);
      } else {
        parser.body_limit(kNoLimit);
      }
      if (!ec) {
        ec = WithStream(*c, [&](auto& stream) {
          error_code e =
              Await(*c, timeout, [&](auto done) { bhttp::async_write(stream, *req, done); });
          while (!e && !parser.is_done()) {
            e = Await(*c, timeout,
                      [&](auto done) { bhttp::async_read_some(stream, c->buffer, parser, done); });
          }
          return e;
        });
      }
      if (ec) {
        if (Retry(*c, attempt, parser.got_some(), ec)) continue;
        return Failure(ec, request, detail);
      }
      Response out;
      auto& message = parser.get();
      out.status = message.result_int();
      out.headers = CopyHeaders(message.base());
      const bool keep_alive = message.keep_alive();
      out.body = std::move(message.body());
      if (keep_alive) GiveBack(std::move(c));
      return out;
    }
  }

  Status Stream(const Request& request, const StreamHandler& handler,
                std::stop_token stop) override {
    const milliseconds timeout = TimeoutOf(request);
    auto req = ToMessage(request);
    if (!req.ok()) return req.status();
    for (int attempt = 0;; ++attempt) {
      if (stop.stop_requested()) return {Code::kCancelled, "stream stopped"};
      std::string detail;
      error_code ec;
      std::unique_ptr<Connection> c = Take(timeout, &ec, &detail);
      // A stop cancels the operation in progress: the cancel is queued on the connection's
      // io_context and runs within the Await that is (or is about to be) running it, since
      // the stop is checked before each operation starts.
      Connection* raw = c.get();
      std::stop_callback on_stop(stop,
                                 [raw] { asio::post(raw->ioc, [raw] { raw->tcp().cancel(); }); });
      bhttp::response_parser<bhttp::buffer_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(kNoLimit);
      bool headers_delivered = false;
      bool handler_stopped = false;
      std::string chunk(kStreamChunk, '\0');
      if (!ec) {
        ec = WithStream(*c, [&](auto& stream) {
          error_code e =
              Await(*c, timeout, [&](auto done) { bhttp::async_write(stream, *req, done); });
          if (!e && !stop.stop_requested()) {
            e = Await(*c, timeout, [&](auto done) {
              bhttp::async_read_header(stream, c->buffer, parser, done);
            });
          }
          if (e || stop.stop_requested()) return e;
          headers_delivered = true;
          if (handler.on_headers) {
            handler.on_headers(parser.get().result_int(), CopyHeaders(parser.get().base()));
          }
          while (!parser.is_done() && !stop.stop_requested()) {
            parser.get().body().data = chunk.data();
            parser.get().body().size = chunk.size();
            e = Await(*c, timeout,
                      [&](auto done) { bhttp::async_read_some(stream, c->buffer, parser, done); });
            if (e == bhttp::error::need_buffer) e = {};
            const size_t n = chunk.size() - parser.get().body().size;
            if (n > 0 && handler.on_data && !handler.on_data(std::string_view(chunk.data(), n))) {
              handler_stopped = true;
              return error_code{};
            }
            if (e) return e;
          }
          return e;
        });
      }
      if (stop.stop_requested()) return {Code::kCancelled, "stream stopped"};
      if (handler_stopped) return Status::Ok();
      if (ec) {
        if (!headers_delivered && Retry(*c, attempt, parser.got_some(), ec)) continue;
        return Failure(ec, request, detail);
      }
      return Status::Ok();
    }
  }

  Status SetClientCertificate(const std::string& cert_pem, const std::string& key_pem) override {
    std::lock_guard lock(mu_);
    if (cert_pem == cert_pem_ && key_pem == key_pem_) return Status::Ok();
    TlsOptions tls = options_.tls;
    tls.client_cert_pem = cert_pem;
    tls.client_key_pem = key_pem;
    auto ctx = NewTlsContext(tls);
    if (!ctx.ok()) return ctx.status();
    cert_pem_ = cert_pem;
    key_pem_ = key_pem;
    // New connections present the new pair; idle ones are dropped; requests in flight finish on
    // their own connection (which keeps its context alive).
    if (tls_) tls_ = std::move(*ctx);
    idle_.clear();
    return Status::Ok();
  }

  void CloseIdle(milliseconds idle_for) override {
    const auto before = std::chrono::steady_clock::now() - idle_for;
    std::vector<std::unique_ptr<Connection>> closing;
    {
      std::lock_guard lock(mu_);
      // Given back in order, taken from the back: the oldest idle ones are at the front.
      auto end = idle_.begin();
      while (end != idle_.end() && (*end)->idle_since <= before) ++end;
      closing.assign(std::make_move_iterator(idle_.begin()), std::make_move_iterator(end));
      idle_.erase(idle_.begin(), end);
    }
    // Closed (destroyed) outside the lock.
  }

 private:
  milliseconds TimeoutOf(const Request& request) const {
    return request.timeout.count() > 0 ? request.timeout : options_.timeout;
  }

  Result<bhttp::request<bhttp::string_body>> ToMessage(const Request& request) const {
    bhttp::request<bhttp::string_body> req;
    const bhttp::verb verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown) {
      return Status(Code::kInvalidArgument,
                    request.method + " " + url_.base() + request.target + ": unknown HTTP method");
    }
    req.method(verb);
    req.target(url_.path + request.target);
    req.version(11);
    req.set(bhttp::field::host, url_.authority);
    req.set(bhttp::field::user_agent, options_.user_agent);
    for (const auto& [name, value] : request.headers) req.set(name, value);
    if (!request.body.empty() && FindHeader(request.headers, "Content-Type").empty()) {
      req.set(bhttp::field::content_type, "application/json");
    }
    req.body() = request.body;
    req.prepare_payload();
    return req;
  }

  // A kept-alive connection, or a new one (connected, TLS handshake done). On failure `ec` is
  // set and `detail` says why a server certificate was refused, when it was.
  std::unique_ptr<Connection> Take(milliseconds timeout, error_code* ec, std::string* detail) {
    TlsContext tls;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Connection> c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      tls = tls_;
    }
    auto c = std::make_unique<Connection>();
    c->tls = std::move(tls);
    *ec = Connect(*c, timeout, detail);
    return c;
  }

  void GiveBack(std::unique_ptr<Connection> c) {
    c->reused = true;
    c->idle_since = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    // A connection made with a client certificate that was replaced since is not kept.
    if (idle_.size() < kMaxIdle && c->tls == tls_) idle_.push_back(std::move(c));
  }

  // Whether to send once more on a new connection: a kept-alive connection the server closed
  // while it was idle fails before any byte of an answer arrives.
  static bool Retry(const Connection& c, int attempt, bool got_some, const error_code& ec) {
    return c.reused && attempt == 0 && !got_some && ec != beast::error::timeout &&
           ec != asio::error::operation_aborted;
  }

  error_code Connect(Connection& c, milliseconds timeout, std::string* detail) {
    error_code ec;
    tcp::resolver resolver(c.ioc);
    const auto endpoints = resolver.resolve(url_.host, url_.port, ec);
    if (ec) return ec;
    if (c.tls) {
      c.secure.emplace(c.ioc, *c.tls);
    } else {
      c.plain.emplace(c.ioc);
    }
    ec = Await(c, timeout, [&](auto done) { c.tcp().async_connect(endpoints, done); });
    if (ec || !c.tls) return ec;
    SSL* ssl = c.secure->native_handle();
    // SNI: the name verified (below); never an IP address (as in Go).
    if (!IsIpAddress(verify_name_)) SSL_set_tlsext_host_name(ssl, verify_name_.c_str());
    if (!options_.tls.insecure_skip_verify) {
      // The certificate must be valid for the server name when set, else for the URL's host.
      if (IsIpAddress(verify_name_)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_name_.c_str());
      } else {
        SSL_set1_host(ssl, verify_name_.c_str());
      }
    }
    ec = Await(c, timeout,
               [&](auto done) { c.secure->async_handshake(asio::ssl::stream_base::client, done); });
    if (ec) {
      const long verdict = SSL_get_verify_result(ssl);
      if (verdict != X509_V_OK) {
        *detail = std::string("certificate verify failed: ") +
                  X509_verify_cert_error_string(verdict) + " (checked for \"" + verify_name_ +
                  "\")";
      }
    }
    return ec;
  }

  Status Failure(const error_code& ec, const Request& request, const std::string& detail) const {
    std::error_code code = ec;
    if (ec == beast::error::timeout) code = std::make_error_code(std::errc::timed_out);
    if (ec == asio::error::operation_aborted) {
      code = std::make_error_code(std::errc::operation_canceled);
    }
    return StatusFromTransportError(code, request.method + " " + url_.base() + request.target,
                                    detail);
  }

  // Never written after construction: connections read it on many threads at once. The client
  // certificate in use is cert_pem_/key_pem_.
  const ClientOptions options_;
  const Url url_;
  // The server name when set, else the URL's host: what the server certificate must be valid
  // for, and the SNI.
  const std::string verify_name_;
  std::mutex mu_;
  std::string cert_pem_, key_pem_;  // the client certificate in use, under mu_
  TlsContext tls_;                  // null for http; replaced by SetClientCertificate, under mu_
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

Result<std::unique_ptr<Client>> NewClient(const ClientOptions& options) {
  auto url = ParseUrl(options.base_url, "the server URL");
  if (!url.ok()) return url.status();
  if (!url->userinfo.empty() || url->has_query || url->has_fragment) {
    return Status(Code::kInvalidArgument,
                  "the server URL must be scheme://host[:port][/path], without user info, query "
                  "or fragment: \"" +
                      url->base() + "\"");
  }
  while (!url->path.empty() && url->path.back() == '/') url->path.pop_back();
  const bool https = url->scheme == "https";
  TlsContext tls;
  // Checked for http too: bad TLS data is an error wherever it is given.
  if (https || !options.tls.ca_pem.empty() || !options.tls.client_cert_pem.empty() ||
      !options.tls.client_key_pem.empty()) {
    auto made = NewTlsContext(options.tls);
    if (!made.ok()) return made.status();
    if (https) tls = std::move(*made);
  }
  return std::unique_ptr<Client>(
      std::make_unique<BeastClient>(options, std::move(*url), std::move(tls)));
}

}  // namespace flywheel::http
