// The cpprestsdk implementation of http::Client. Everything cpprestsdk-specific stays in this
// file so the library can be replaced (libcurl is the usual choice) without touching callers.
#include <cpprest/http_client.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>

#include "flywheel/http/client.h"
#include "flywheel/http/transport_error.h"

namespace flywheel::http {
namespace {

namespace web_http = web::http;
using web_http::client::http_client;
using web_http::client::http_client_config;

// What the TLS callbacks of one client's connections need, attached to each OpenSSL context
// (SSL_CTX ex_data) and freed with it, since cpprestsdk makes a context per connection.
struct TlsCheck {
  std::string server_name;  // SNI when not empty (never an IP address, as in Go)
  std::string verify_name;  // the certificate must be valid for this DNS name or IP address
  // The last verification failure, shared with the client so its error can say why.
  std::shared_ptr<std::mutex> mu;
  std::shared_ptr<std::string> last_failure;
};

void FreeTlsCheck(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*index*/, long /*argl*/,
                  void* /*argp*/) {
  delete static_cast<TlsCheck*>(ptr);
}

int TlsCheckIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeTlsCheck);
  return index;
}

const TlsCheck* TlsCheckOf(const SSL* ssl) {
  return static_cast<const TlsCheck*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), TlsCheckIndex()));
}

bool IsIpAddress(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

// Sends the configured server name as SNI. cpprestsdk sets the URL's host as SNI on each new
// connection right before its handshake (no hook runs after that), so this runs at the start of
// the handshake and overrides it.
void SetServerNameOnHandshakeStart(const SSL* ssl, int where, int /*ret*/) {
  if ((where & SSL_CB_HANDSHAKE_START) == 0) return;
  const TlsCheck* check = TlsCheckOf(ssl);
  if (check == nullptr || check->server_name.empty()) return;
  SSL_set_tlsext_host_name(const_cast<SSL*>(ssl), check->server_name.c_str());
}

int AcceptOpenSslVerdict(int ok, X509_STORE_CTX* /*store*/) { return ok; }

// Verifies the server's chain and that its certificate is valid for verify_name, with OpenSSL's
// own host/IP check (as Go's crypto/tls does). This replaces the whole chain verification, so
// cpprestsdk's per-connection callback, which checks the URL's host (boost's deprecated
// rfc2818_verification), never runs.
int VerifyServerCertificate(X509_STORE_CTX* store, void* /*arg*/) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const TlsCheck* check = ssl != nullptr ? TlsCheckOf(ssl) : nullptr;
  if (check == nullptr) return 0;
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store);
  if (IsIpAddress(check->verify_name)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, check->verify_name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, check->verify_name.c_str(), check->verify_name.size());
  }
  X509_STORE_CTX_set_verify_cb(store, AcceptOpenSslVerdict);
  int ok = X509_verify_cert(store);
  std::lock_guard lock(*check->mu);
  if (ok > 0) {
    check->last_failure->clear();
  } else {
    *check->last_failure =
        "certificate verify failed: " +
        std::string(X509_verify_cert_error_string(X509_STORE_CTX_get_error(store))) +
        " (checked for \"" + check->verify_name + "\")";
  }
  return ok;
}

// The host of a URL without an IPv6 address's brackets.
std::string HostOf(const std::string& url) {
  std::string host = web::uri(url).host();
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

using CertStorePtr = std::shared_ptr<X509_STORE>;

// The trust store of a CA bundle: only its certificates, as client-go trusts only the
// kubeconfig's CA when one is given. Built once per client and shared (reference-counted) by
// every connection's context: cpprestsdk loads the system's whole CA bundle into each new
// connection's context (about 300 KiB each), which this replaces. Null if `pem` is empty.
CertStorePtr CertStoreOf(const std::string& pem) {
  if (pem.empty()) return nullptr;
  CertStorePtr store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), cert);
    X509_free(cert);
  }
  ERR_clear_error();  // the end of the data reads as an error
  return store;
}

// Trust, client certificate and server name checks for one connection's context.
void ConfigureContext(boost::asio::ssl::context& ctx, const TlsOptions& tls,
                      const CertStorePtr& trust, const TlsCheck& check) {
  if (trust) SSL_CTX_set1_cert_store(ctx.native_handle(), trust.get());
  if (!tls.client_cert_pem.empty()) {
    ctx.use_certificate_chain(boost::asio::buffer(tls.client_cert_pem));
    ctx.use_private_key(boost::asio::buffer(tls.client_key_pem), boost::asio::ssl::context::pem);
  }
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_ex_data(native, TlsCheckIndex(), new TlsCheck(check));
  SSL_CTX_set_info_callback(native, SetServerNameOnHandshakeStart);
  if (!tls.insecure_skip_verify)
    SSL_CTX_set_cert_verify_callback(native, VerifyServerCertificate, nullptr);
}

// kInvalidArgument unless the PEM data loads into a context (a client key that does not match its
// certificate, or data that is not PEM), so a bad pair fails here rather than in a handshake.
Status CheckPem(const TlsOptions& tls) {
  try {
    boost::asio::ssl::context ctx(boost::asio::ssl::context::sslv23);
    if (!tls.ca_pem.empty()) ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
    if (!tls.client_cert_pem.empty() || !tls.client_key_pem.empty()) {
      ctx.use_certificate_chain(boost::asio::buffer(tls.client_cert_pem));
      ctx.use_private_key(boost::asio::buffer(tls.client_key_pem), boost::asio::ssl::context::pem);
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return {Code::kInvalidArgument, std::string("unusable TLS certificate or key: ") + e.what()};
  }
}

Headers CopyHeaders(const web_http::http_headers& in) {
  Headers out;
  for (const auto& [k, v] : in) out.emplace_back(k, v);
  return out;
}

class CppRestClient final : public Client {
 public:
  explicit CppRestClient(ClientOptions options)
      : options_(std::move(options)),
        verify_name_(options_.tls.server_name.empty() ? HostOf(options_.base_url)
                                                      : options_.tls.server_name) {}

  Result<Response> Send(const Request& request) override {
    try {
      auto client = ClientFor(request.timeout);
      auto resp = client->request(ToMessage(request)).get();
      Response out;
      out.status = resp.status_code();
      out.headers = CopyHeaders(resp.headers());
      out.body = resp.extract_utf8string(true).get();
      return out;
    } catch (const std::exception& e) {
      return TransportError(request, e);
    }
  }

  Status Stream(const Request& request, const StreamHandler& handler,
                std::stop_token stop) override {
    pplx::cancellation_token_source cts;
    std::stop_callback on_stop(stop, [&cts] { cts.cancel(); });
    try {
      auto client = ClientFor(request.timeout);
      auto resp = client->request(ToMessage(request), cts.get_token()).get();
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
      return TransportError(request, e);
    }
  }

  Status SetClientCertificate(const std::string& cert_pem, const std::string& key_pem) override {
    std::lock_guard lock(mu_);
    if (cert_pem == options_.tls.client_cert_pem && key_pem == options_.tls.client_key_pem) {
      return Status::Ok();
    }
    TlsOptions tls = options_.tls;
    tls.client_cert_pem = cert_pem;
    tls.client_key_pem = key_pem;
    if (Status s = CheckPem(tls); !s.ok()) return s;
    options_.tls = std::move(tls);
    // cpprestsdk pools connections per client with no way to close them: new clients (and
    // pools) take the new certificate; requests in flight keep their old client alive.
    clients_.clear();
    return Status::Ok();
  }

 private:
  // The transport's error, plus why the server's certificate was rejected when that is known:
  // cpprestsdk only says "Error in SSL handshake".
  Status TransportError(const Request& request, const std::exception& e) {
    std::error_code code;
    if (const auto* he = dynamic_cast<const web_http::http_exception*>(&e)) code = he->error_code();
    std::string detail = e.what();
    {
      std::lock_guard lock(*verify_mu_);
      if (!verify_failure_->empty() && detail.find("handshake") != std::string::npos) {
        detail += ": " + *verify_failure_;
      }
    }
    return StatusFromTransportError(code, request.method + " " + options_.base_url + request.target,
                                    detail);
  }

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
  std::shared_ptr<http_client> ClientFor(std::chrono::milliseconds timeout) {
    if (timeout.count() == 0) timeout = options_.timeout;
    std::lock_guard lock(mu_);
    auto it = clients_.find(timeout);
    if (it != clients_.end()) return it->second;
    http_client_config config;
    config.set_timeout(timeout);
    config.set_max_redirects(0);
    // Verification itself is VerifyServerCertificate's (set in ConfigureContext); this only turns
    // OpenSSL's verify_peer on or off for each connection.
    config.set_validate_certificates(!options_.tls.insecure_skip_verify);
    const std::string& name = options_.tls.server_name;
    TlsCheck check{IsIpAddress(name) ? "" : name, verify_name_, verify_mu_, verify_failure_};
    config.set_ssl_context_callback(
        [tls = options_.tls, trust = CertStoreOf(options_.tls.ca_pem),
         check](boost::asio::ssl::context& ctx) { ConfigureContext(ctx, tls, trust, check); });
    auto client = std::make_shared<http_client>(web::uri(options_.base_url), config);
    clients_.emplace(timeout, client);
    return client;
  }

  ClientOptions options_;  // tls changes with SetClientCertificate, under mu_
  const std::string verify_name_;
  std::shared_ptr<std::mutex> verify_mu_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::string> verify_failure_ = std::make_shared<std::string>();
  std::mutex mu_;
  std::map<std::chrono::milliseconds, std::shared_ptr<http_client>> clients_;
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
  if (Status s = CheckPem(options.tls); !s.ok()) return s;
  return std::unique_ptr<Client>(std::make_unique<CppRestClient>(options));
}

}  // namespace flywheel::http
