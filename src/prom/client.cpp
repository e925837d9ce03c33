// prom::Client over http::Client: the request (form body, path prefix, auth); answer.cpp decodes
// what Prometheus says.
#include "flywheel/prom/client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "answer.h"
#include "flywheel/common/base64.h"
#include "flywheel/http/client.h"
#include "flywheel/http/url.h"

namespace flywheel::prom {
namespace {

using std::chrono::milliseconds;

// What replaces a credential that a server's answer repeats.
constexpr char kRedacted[] = "<redacted>";

// ClientOptions::url split: the server, and the path every API path goes under.
struct ApiUrl {
  std::string base;    // scheme://host[:port]
  std::string prefix;  // "" or "/path" without a trailing '/'
};

Result<ApiUrl> ParseApiUrl(const std::string& url) {
  auto parsed = http::ParseUrl(url, "the Prometheus URL");
  if (!parsed.ok()) return parsed.status();
  if (!parsed->userinfo.empty()) {
    // Not quoted: what precedes '@' is a user name and maybe a password.
    return Status(Code::kInvalidArgument,
                  "the Prometheus URL must not carry credentials (user:password@host); put them "
                  "in the Secret's username and password");
  }
  if (parsed->has_query || parsed->has_fragment) {
    return Status(Code::kInvalidArgument,
                  "the Prometheus URL must not have a query or fragment: \"" + url + "\"");
  }
  std::string prefix = parsed->path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return ApiUrl{parsed->base(), std::move(prefix)};
}

// application/x-www-form-urlencoded: every byte but ALPHA / DIGIT / - . _ ~ as %XX.
std::string FormEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// Seconds with millisecond precision, as the API's `time` and `timeout` accept them: "10",
// "0.25", "1796121135.5".
std::string FormatSeconds(milliseconds ms) {
  long long count = ms.count();
  long long whole = count / 1000;
  long long frac = count % 1000;
  if (frac < 0) {  // before 1970: floor
    whole -= 1;
    frac += 1000;
  }
  if (frac == 0) return std::to_string(whole);
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03lld", frac);
  std::string out = std::to_string(whole) + buf;
  while (out.back() == '0') out.pop_back();
  return out;
}

class HttpPromClient final : public Client {
 public:
  HttpPromClient(ClientOptions options, const ApiUrl& url, std::unique_ptr<http::Client> http)
      : options_(std::move(options)),
        target_(url.prefix + "/api/v1/query"),
        server_("Prometheus at " + url.base + url.prefix),
        http_(std::move(http)) {
    if (!options_.bearer_token.empty()) {
      authorization_ = "Bearer " + options_.bearer_token;
    } else if (!options_.username.empty()) {
      basic_credentials_ = Base64Encode(options_.username + ":" + options_.password);
      authorization_ = "Basic " + basic_credentials_;
    }
  }

  Result<QueryResult> Query(const std::string& promql, std::optional<Time> at) override {
    http::Request request;
    request.method = "POST";
    request.target = target_;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/json"}};
    if (!authorization_.empty()) request.headers.emplace_back("Authorization", authorization_);
    request.body = "query=" + FormEscape(promql);
    if (at) {
      auto since_epoch = std::chrono::duration_cast<milliseconds>(at->time_since_epoch());
      request.body += "&time=" + FormatSeconds(since_epoch);
    }
    request.body += "&timeout=" + FormatSeconds(options_.timeout);
    request.timeout = options_.timeout;

    auto response = http_->Send(request);
    if (!response.ok()) return response.status();  // refused, reset, TLS, timeout: mapped there
    auto result = DecodeAnswer(response->status, Redact(std::move(response->body)), server_);
    if (result.ok() && !result->warnings.empty()) {
      for (const std::string& warning : result->warnings) {
        spdlog::warn("{}: query {} warns: {}", server_, promql, warning);
      }
    }
    return result;
  }

 private:
  // The body with every credential of this client replaced, in case a server repeats one (an
  // echoing proxy): what Prometheus says ends up in messages, conditions and logs.
  std::string Redact(std::string body) const {
    for (const std::string* secret :
         {&options_.bearer_token, &options_.password, &basic_credentials_}) {
      if (secret->empty()) continue;
      for (size_t at = body.find(*secret); at != std::string::npos; at = body.find(*secret, at)) {
        body.replace(at, secret->size(), kRedacted);
        at += sizeof kRedacted - 1;
      }
    }
    return body;
  }

  const ClientOptions options_;
  const std::string target_;       // <prefix>/api/v1/query
  const std::string server_;       // "Prometheus at <url>", for messages
  std::string basic_credentials_;  // base64(username:password), when basic auth
  std::string authorization_;      // the Authorization header, "" for none
  std::unique_ptr<http::Client> http_;
};

}  // namespace

Result<std::unique_ptr<Client>> NewClient(const ClientOptions& options) {
  auto url = ParseApiUrl(options.url);
  if (!url.ok()) return url.status();
  if (!options.bearer_token.empty() && (!options.username.empty() || !options.password.empty())) {
    return Status(Code::kInvalidArgument,
                  "both a bearer token and a username/password are given for Prometheus; use one");
  }
  if (options.username.empty() && !options.password.empty()) {
    return Status(Code::kInvalidArgument, "a Prometheus password is given without a username");
  }
  if (options.timeout <= milliseconds(0)) {
    return Status(Code::kInvalidArgument, "the Prometheus query timeout must be positive");
  }
  auto http = http::NewClient(
      {.base_url = url->base,
       .tls = {.ca_pem = options.ca_pem},
       .timeout = options.timeout,
       // A threshold check needs one sample; this bounds a query that returns a huge vector.
       .body_limit = uint64_t{64} << 20});
  if (!http.ok()) {
    return Status(http.status().code(), "Prometheus client: " + http.status().message());
  }
  return std::unique_ptr<Client>(
      std::make_unique<HttpPromClient>(options, *url, std::move(http).value()));
}

}  // namespace flywheel::prom
