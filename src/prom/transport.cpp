#include "transport.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "flywheel/http/transport_error.h"

namespace flywheel::prom {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using std::chrono::milliseconds;
using tcp = asio::ip::tcp;

// Idle connections kept per transport (the controller runs 4 workers by default).
constexpr size_t kMaxIdle = 8;
// The largest answer read: a threshold check needs one sample; this bounds a query that
// returns a huge vector by mistake.
constexpr uint64_t kBodyLimit = uint64_t{64} << 20;

bool IsIpAddress(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// One kept-alive connection with its own io_context, run only by the thread sending on it.
struct Connection {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool reused = false;  // it carried a request before (a failure may be the server closing it)

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

// Starts one operation on `c` with `start(handler)`, bounded by `timeout`, and runs it to its
// end on this thread.
template <typename Start>
error_code Await(Connection& c, milliseconds timeout, Start start) {
  error_code result;
  c.tcp().expires_after(timeout);
  start([&result](error_code ec, auto&&...) { result = ec; });
  c.ioc.restart();
  c.ioc.run();
  return result;
}

// Writes the request and reads the response; the timeout applies to each step (inactivity).
template <typename Stream>
error_code Exchange(Connection& c, Stream& stream, const bhttp::request<bhttp::string_body>& req,
                    milliseconds timeout, bhttp::response_parser<bhttp::string_body>& parser) {
  error_code ec =
      Await(c, timeout, [&](auto handler) { bhttp::async_write(stream, req, handler); });
  while (!ec && !parser.is_done()) {
    ec = Await(c, timeout,
               [&](auto handler) { bhttp::async_read_some(stream, c.buffer, parser, handler); });
  }
  return ec;
}

class BeastTransport final : public Transport {
 public:
  BeastTransport(TransportOptions options, std::unique_ptr<asio::ssl::context> tls)
      : options_(std::move(options)),
        authority_(options_.base.substr(options_.base.find("://") + 3)),
        tls_(std::move(tls)) {}

  Result<http::Response> Send(const http::Request& request) override {
    const std::string what = request.method + " " + options_.base + request.target;
    const bhttp::verb verb = bhttp::string_to_verb(request.method);
    if (verb == bhttp::verb::unknown) {
      return Status(Code::kInvalidArgument, what + ": unknown HTTP method");
    }
    bhttp::request<bhttp::string_body> req{verb, request.target, 11};
    req.set(bhttp::field::host, authority_);
    req.set(bhttp::field::user_agent, "flywheel");
    for (const auto& [name, value] : request.headers) req.set(name, value);
    req.body() = request.body;
    req.prepare_payload();

    for (int attempt = 0;; ++attempt) {
      std::string detail;
      error_code ec;
      std::unique_ptr<Connection> c = TakeIdle();
      if (!c) {
        c = std::make_unique<Connection>();
        ec = Connect(*c, request.timeout, &detail);
      }
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(kBodyLimit);
      if (!ec) {
        ec = c->secure ? Exchange(*c, *c->secure, req, request.timeout, parser)
                       : Exchange(*c, *c->plain, req, request.timeout, parser);
      }
      if (ec) {
        // A kept-alive connection the server closed while it was idle fails before any byte
        // of an answer: send once more on a new one.
        if (c->reused && attempt == 0 && !parser.got_some() && ec != beast::error::timeout) {
          continue;
        }
        return Failure(ec, what, detail);
      }
      http::Response out;
      auto& message = parser.get();
      out.status = message.result_int();
      for (const auto& field : message) {
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      const bool keep_alive = message.keep_alive();
      out.body = std::move(message.body());
      if (keep_alive) {
        c->reused = true;
        GiveBack(std::move(c));
      }
      return out;
    }
  }

 private:
  error_code Connect(Connection& c, milliseconds timeout, std::string* detail) {
    error_code ec;
    tcp::resolver resolver(c.ioc);
    const auto endpoints = resolver.resolve(options_.host, options_.port, ec);
    if (ec) return ec;
    if (tls_) {
      c.secure.emplace(c.ioc, *tls_);
    } else {
      c.plain.emplace(c.ioc);
    }
    ec = Await(c, timeout, [&](auto handler) { c.tcp().async_connect(endpoints, handler); });
    if (ec || !tls_) return ec;
    SSL* ssl = c.secure->native_handle();
    if (IsIpAddress(options_.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options_.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, options_.host.c_str());
      SSL_set1_host(ssl, options_.host.c_str());
    }
    ec = Await(c, timeout, [&](auto handler) {
      c.secure->async_handshake(asio::ssl::stream_base::client, handler);
    });
    if (ec) {
      const long verdict = SSL_get_verify_result(ssl);
      if (verdict != X509_V_OK) {
        *detail = std::string("certificate verify failed: ") +
                  X509_verify_cert_error_string(verdict) + " (checked for \"" + options_.host +
                  "\")";
      }
    }
    return ec;
  }

  static Status Failure(const error_code& ec, const std::string& what, const std::string& detail) {
    std::error_code code = ec;
    if (ec == beast::error::timeout) code = std::make_error_code(std::errc::timed_out);
    return http::StatusFromTransportError(code, what, detail);
  }

  std::unique_ptr<Connection> TakeIdle() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return nullptr;
    std::unique_ptr<Connection> c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }

  void GiveBack(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }

  const TransportOptions options_;
  const std::string authority_;                    // host[:port], the Host header
  const std::unique_ptr<asio::ssl::context> tls_;  // null for http
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

Result<std::unique_ptr<Transport>> Transport::New(TransportOptions options) {
  std::unique_ptr<asio::ssl::context> tls;
  if (options.tls || !options.ca_pem.empty()) {
    // Built once and shared by every connection (one trust store, loaded once).
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    tls->set_verify_mode(asio::ssl::verify_peer);
    error_code ec;
    if (options.ca_pem.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->add_certificate_authority(asio::buffer(options.ca_pem), ec);
    }
    if (ec) {
      return Status(Code::kInvalidArgument,
                    "unusable TLS CA certificate (ca.crt): " + ec.message());
    }
    if (!options.tls) tls.reset();  // only checked: http needs no context
  }
  return std::unique_ptr<Transport>(
      std::make_unique<BeastTransport>(std::move(options), std::move(tls)));
}

}  // namespace flywheel::prom
