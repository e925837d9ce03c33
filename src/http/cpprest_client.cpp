// The cpprestsdk implementation of http::Client. Everything cpprestsdk-specific stays in this
// file so the library can be replaced (libcurl is the usual choice) without touching callers.
#include <cpprest/http_client.h>

#include <map>
#include <mutex>
#include <system_error>

#include "flywheel/http/client.h"
#include "flywheel/http/transport_error.h"

namespace flywheel::http {
namespace {

namespace web_http = web::http;
using web_http::client::http_client;
using web_http::client::http_client_config;

Status TransportError(const Request& request, const std::string& base_url,
                      const std::exception& e) {
  std::error_code code;
  if (const auto* he = dynamic_cast<const web_http::http_exception*>(&e)) code = he->error_code();
  return StatusFromTransportError(code, request.method + " " + base_url + request.target, e.what());
}

Headers CopyHeaders(const web_http::http_headers& in) {
  Headers out;
  for (const auto& [k, v] : in) out.emplace_back(k, v);
  return out;
}

class CppRestClient final : public Client {
 public:
  explicit CppRestClient(ClientOptions options) : options_(std::move(options)) {}

  Result<Response> Send(const Request& request) override {
    try {
      auto resp = ClientFor(request.timeout).request(ToMessage(request)).get();
      Response out;
      out.status = resp.status_code();
      out.headers = CopyHeaders(resp.headers());
      out.body = resp.extract_utf8string(true).get();
      return out;
    } catch (const std::exception& e) {
      return TransportError(request, options_.base_url, e);
    }
  }

  Status Stream(const Request& request, const StreamHandler& handler,
                std::stop_token stop) override {
    pplx::cancellation_token_source cts;
    std::stop_callback on_stop(stop, [&cts] { cts.cancel(); });
    try {
      auto resp = ClientFor(request.timeout).request(ToMessage(request), cts.get_token()).get();
      if (handler.on_headers) handler.on_headers(resp.status_code(), CopyHeaders(resp.headers()));
      auto buf = resp.body().streambuf();
      std::string chunk;
      while (!stop.stop_requested()) {
        // bumpc() completes as soon as one byte is there; then take whatever else has arrived.
        // (getn(n) would wait for n bytes and hold events back.)
        auto c = buf.bumpc().get();
        if (c == decltype(buf)::traits::eof()) break;
        chunk.assign(1, static_cast<char>(c));
        size_t avail = buf.in_avail();
        if (avail > 0) {
          chunk.resize(1 + avail);
          size_t n = buf.getn(reinterpret_cast<uint8_t*>(chunk.data() + 1), avail).get();
          chunk.resize(1 + n);
        }
        if (handler.on_data && !handler.on_data(chunk)) return Status::Ok();
      }
      if (stop.stop_requested()) return {Code::kCancelled, "stream stopped"};
      return Status::Ok();
    } catch (const std::exception& e) {
      if (stop.stop_requested()) return {Code::kCancelled, "stream stopped"};
      return TransportError(request, options_.base_url, e);
    }
  }

 private:
  web_http::http_request ToMessage(const Request& request) const {
    web_http::http_request msg(request.method);
    msg.set_request_uri(request.target);
    msg.headers().add("User-Agent", options_.user_agent);
    for (const auto& [k, v] : request.headers) msg.headers().add(k, v);
    if (!request.body.empty()) {
      auto content_type = FindHeader(request.headers, "Content-Type");
      msg.set_body(request.body,
                   content_type.empty() ? "application/json" : std::string(content_type));
    }
    return msg;
  }

  // One cpprestsdk client (with its own connection pool) per inactivity timeout, so watches
  // with long timeouts never share connections with ordinary requests.
  http_client& ClientFor(std::chrono::milliseconds timeout) {
    if (timeout.count() == 0) timeout = options_.timeout;
    std::lock_guard lock(mu_);
    auto it = clients_.find(timeout);
    if (it != clients_.end()) return *it->second;
    http_client_config config;
    config.set_timeout(timeout);
    config.set_max_redirects(0);
    config.set_validate_certificates(!options_.tls.insecure_skip_verify);
    TlsOptions tls = options_.tls;
    config.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) {
      if (!tls.ca_pem.empty()) {
        ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
      }
      if (!tls.client_cert_pem.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(tls.client_cert_pem));
        ctx.use_private_key(boost::asio::buffer(tls.client_key_pem),
                            boost::asio::ssl::context::pem);
      }
    });
    auto client = std::make_unique<http_client>(web::uri(options_.base_url), config);
    return *clients_.emplace(timeout, std::move(client)).first->second;
  }

  ClientOptions options_;
  std::mutex mu_;
  std::map<std::chrono::milliseconds, std::unique_ptr<http_client>> clients_;
};

}  // namespace

Result<std::unique_ptr<Client>> NewClient(const ClientOptions& options) {
  try {
    web::uri uri(options.base_url);
    if (uri.scheme() != "http" && uri.scheme() != "https") {
      return Status(Code::kInvalidArgument,
                    "server URL must start with http:// or https://: " + options.base_url);
    }
  } catch (const std::exception& e) {
    return Status(Code::kInvalidArgument,
                  "invalid server URL \"" + options.base_url + "\": " + e.what());
  }
  return std::unique_ptr<Client>(std::make_unique<CppRestClient>(options));
}

}  // namespace flywheel::http
