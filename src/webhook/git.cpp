#include "flywheel/webhook/git.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "flywheel/git/url.h"
#include "receiver.h"

namespace flywheel::webhook {

namespace {

using http::FindHeader;
using http::ServerRequest;
using http::ServerResponse;
using Digest = std::array<unsigned char, 32>;

constexpr std::string_view kGitHubSignature = "X-Hub-Signature-256";
constexpr std::string_view kGenericSignature = "X-Flywheel-Signature";
constexpr std::string_view kGitLabToken = "X-Gitlab-Token";
// on_push must only queue: the spec wants receivers to answer within a second.
constexpr auto kSlowPush = std::chrono::seconds(1);

Digest HmacSha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes 64 hex digits. Only the caller's own input decides how long this takes.
std::optional<Digest> DecodeHexDigest(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Digest out{};
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

// Checks `header` = "sha256=<hex HMAC-SHA256(secret, body)>"; nullopt when it holds, else why
// not (a message that names the header and never the secret or the expected value).
std::optional<std::string> CheckSignature(const ServerRequest& req, std::string_view header,
                                          const std::string& secret) {
  std::string_view value = FindHeader(req.headers, header);
  if (value.empty()) return "missing " + std::string(header);
  constexpr std::string_view kPrefix = "sha256=";
  if (!value.starts_with(kPrefix)) {
    return std::string(header) + " must be \"sha256=<hex HMAC-SHA256 of the body>\"";
  }
  Digest expected = HmacSha256(secret, req.body);
  std::optional<Digest> given = DecodeHexDigest(value.substr(kPrefix.size()));
  // The comparison always runs over the whole digest; a malformed value compares zeros.
  Digest got = given.value_or(Digest{});
  bool equal = CRYPTO_memcmp(expected.data(), got.data(), expected.size()) == 0;
  if (!given || !equal) return "signature mismatch";
  return std::nullopt;
}

// Checks a shared-secret token header, in constant time.
std::optional<std::string> CheckToken(const ServerRequest& req, std::string_view header,
                                      const std::string& secret) {
  std::string_view value = FindHeader(req.headers, header);
  if (value.empty()) return "missing " + std::string(header);
  if (!SecretEquals(secret, value)) return "token mismatch";
  return std::nullopt;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// GitHub's "application/x-www-form-urlencoded" content type sends the JSON as `payload=`.
std::optional<std::string> FormPayload(std::string_view body) {
  while (!body.empty()) {
    size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    if (pair.starts_with("payload=")) return UrlDecode(pair.substr(8));
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// Adds `object[key]` to `urls` when it is a non-empty string not yet listed.
void AddUrl(const nlohmann::json& object, const char* key, std::vector<std::string>& urls) {
  if (!object.is_object()) return;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return;
  const auto& url = it->get_ref<const std::string&>();
  if (!url.empty() && std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(url);
}

// Fills `push` from the payload; an error message (400) when the payload is unusable.
std::optional<std::string> ReadPayload(std::string_view text, GitPush& push) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at line 1, ..."
    if (auto close = what.find("] "); close != std::string::npos) what.erase(0, close + 2);
    return "malformed JSON payload: " + what;
  }
  if (!doc.is_object()) return "the payload must be a JSON object";
  const char* looked_at = "";
  if (push.provider == "github") {
    const auto& repo = doc.value("repository", nlohmann::json::object());
    for (const char* key : {"clone_url", "ssh_url", "git_url", "html_url"}) {
      AddUrl(repo, key, push.repo_urls);
    }
    looked_at = "repository.clone_url, ssh_url, git_url or html_url";
  } else if (push.provider == "gitlab") {
    const auto& project = doc.value("project", nlohmann::json::object());
    for (const char* key : {"git_http_url", "git_ssh_url", "web_url"}) {
      AddUrl(project, key, push.repo_urls);
    }
    const auto& repo = doc.value("repository", nlohmann::json::object());
    for (const char* key : {"git_http_url", "git_ssh_url", "url", "homepage"}) {
      AddUrl(repo, key, push.repo_urls);
    }
    looked_at = "project.git_http_url, git_ssh_url, web_url or repository.url, homepage";
  } else {
    if (doc.contains("repository") && !doc["repository"].is_string()) {
      return "\"repository\" must be one URL string";
    }
    if (doc.contains("ref") && !doc["ref"].is_string()) return "\"ref\" must be a string";
    AddUrl(doc, "repository", push.repo_urls);
    looked_at = "\"repository\"";
  }
  if (push.repo_urls.empty()) {
    return std::string("the payload names no repository URL (expected ") + looked_at + ")";
  }
  if (auto ref = doc.find("ref"); ref != doc.end() && ref->is_string()) push.ref = *ref;
  return std::nullopt;
}

// Everything the handler copies share: the options, the callback and the delivery log.
struct Receiver {
  Receiver(GitWebhookOptions opts, std::function<void(const GitPush&)> callback)
      : options(std::move(opts)),
        on_push(std::move(callback)),
        clock(options.clock != nullptr ? options.clock : &RealClock::Instance()),
        deliveries(options.dedup_entries) {}

  ServerResponse Handle(const ServerRequest& req);

  const GitWebhookOptions options;
  const std::function<void(const GitPush&)> on_push;
  Clock* const clock;
  DeliveryLog deliveries;
};

ServerResponse Receiver::Handle(const ServerRequest& req) {
  if (options.secret.empty()) return Text(404, "git webhook receiver is not configured");
  if (auto refused = RefuseNonPost(req, options.max_body_bytes)) return *refused;
  const auto& h = req.headers;
  auto reject = [&req](const std::string& why) {
    spdlog::warn("git webhook from {} rejected: {}", req.remote, why);
    return Text(401, why);
  };

  GitPush push;
  std::string_view event;
  std::optional<std::string> auth_error;
  if (!FindHeader(h, "X-GitHub-Event").empty() || !FindHeader(h, kGitHubSignature).empty() ||
      !FindHeader(h, "X-Hub-Signature").empty()) {
    push.provider = "github";
    auth_error = CheckSignature(req, kGitHubSignature, options.secret);
    if (auth_error && FindHeader(h, kGitHubSignature).empty() &&
        !FindHeader(h, "X-Hub-Signature").empty()) {
      *auth_error += " (the SHA-1 X-Hub-Signature is not accepted)";
    }
    if (auth_error) return reject(*auth_error);
    event = FindHeader(h, "X-GitHub-Event");
    push.delivery = FindHeader(h, "X-GitHub-Delivery");
    if (event.empty()) return Text(400, "missing X-GitHub-Event");
    if (event == "ping") return Text(200, "pong");
    if (event != "push") return Text(202, "ignored: GitHub event \"" + std::string(event) + "\"");
  } else if (!FindHeader(h, "X-Gitlab-Event").empty() || !FindHeader(h, kGitLabToken).empty()) {
    push.provider = "gitlab";
    if (auth_error = CheckToken(req, kGitLabToken, options.secret); auth_error) {
      return reject(*auth_error);
    }
    event = FindHeader(h, "X-Gitlab-Event");
    push.delivery = FindHeader(h, "X-Gitlab-Event-UUID");
    if (event.empty()) return Text(400, "missing X-Gitlab-Event");
    if (event != "Push Hook" && event != "Tag Push Hook") {
      return Text(202, "ignored: GitLab event \"" + std::string(event) + "\"");
    }
  } else if (!FindHeader(h, kGenericSignature).empty()) {
    push.provider = "generic";
    if (auth_error = CheckSignature(req, kGenericSignature, options.secret); auth_error) {
      return reject(*auth_error);
    }
    push.delivery = FindHeader(h, "X-Flywheel-Delivery");
  } else {
    return Text(400,
                "not a git webhook: expected X-GitHub-Event with X-Hub-Signature-256 (GitHub), "
                "X-Gitlab-Event with X-Gitlab-Token (GitLab) or X-Flywheel-Signature (generic)");
  }

  std::string form;
  std::string_view payload = req.body;
  if (FindHeader(h, "Content-Type").starts_with("application/x-www-form-urlencoded")) {
    auto decoded = FormPayload(req.body);
    if (!decoded) return Text(400, "form-encoded body without a payload= field");
    form = std::move(*decoded);
    payload = form;
  }
  if (auto error = ReadPayload(payload, push)) return Text(400, *error);

  std::string dedup_key = push.delivery.empty() ? "" : push.provider + "/" + push.delivery;
  if (!deliveries.Insert(dedup_key)) {
    spdlog::info("git webhook: {} delivery {} already handled", push.provider, push.delivery);
    return Text(200, "duplicate delivery");
  }
  spdlog::info("git webhook: {} push of {} to {} (delivery {})", push.provider,
               push.ref.empty() ? "(no ref)" : push.ref, git::RedactUrl(push.repo_urls.front()),
               push.delivery.empty() ? "-" : push.delivery);
  auto start = clock->Now();
  try {
    on_push(push);
  } catch (...) {
    deliveries.Forget(dedup_key);  // not acted on: a redelivery must not be taken for a replay
    throw;
  }
  if (auto took = clock->Now() - start; took >= kSlowPush) {
    spdlog::warn("git webhook: handling a push took {} ms; receivers must answer within a second",
                 std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  }
  return Text(202, "queued");
}

}  // namespace

http::Handler GitWebhookHandler(GitWebhookOptions options,
                                std::function<void(const GitPush&)> on_push) {
  auto receiver = std::make_shared<Receiver>(std::move(options), std::move(on_push));
  return [receiver](const ServerRequest& req) { return receiver->Handle(req); };
}

}  // namespace flywheel::webhook
