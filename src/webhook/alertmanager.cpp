#include "flywheel/webhook/alertmanager.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "flywheel/common/sha256.h"
#include "flywheel/common/time.h"
#include "receiver.h"

namespace flywheel::webhook {

namespace {

using http::FindHeader;
using http::ServerRequest;
using http::ServerResponse;
using nlohmann::json;

constexpr std::string_view kPrefix = "/hooks/alertmanager/";
// on_alert must only queue: the spec wants receivers to answer within a second.
constexpr auto kSlowAlert = std::chrono::seconds(1);
// The one answer to every request that is not let in: a missing or wrong token and an unknown
// policy look the same, so nothing tells a caller which policies exist.
constexpr std::string_view kUnauthorized =
    "unauthorized: this policy needs Authorization: Bearer <its spec.alertmanager token>";

// Whether `s` is a DNS-1123 subdomain (a namespace is a label, a stricter subdomain): what
// every Kubernetes name is, so anything else cannot name a policy.
bool IsObjectName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return s.front() != '-' && s.front() != '.' && s.back() != '-' && s.back() != '.';
}

// <namespace> and <policy> of /hooks/alertmanager/<namespace>/<policy>; nullopt when the path
// has another form.
std::optional<std::pair<std::string, std::string>> PolicyOf(std::string_view path) {
  if (!path.starts_with(kPrefix)) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  size_t slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view ns = path.substr(0, slash), name = path.substr(slash + 1);
  if (ns.size() > 63 || ns.find('.') != std::string_view::npos || !IsObjectName(ns) ||
      !IsObjectName(name)) {
    return std::nullopt;
  }
  return std::make_pair(std::string(ns), std::string(name));
}

// The token of "Authorization: Bearer <token>" (the scheme is case-insensitive), or "".
std::string_view BearerToken(const http::Headers& headers) {
  std::string_view value = FindHeader(headers, "Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return {};
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return value;
}

// `doc[key]` as a map of strings; an error naming `where` when it is not one. A missing key is
// an empty map when `required` is false.
std::optional<std::string> ReadStringMap(const json& doc, const char* key, const std::string& where,
                                         bool required, std::map<std::string, std::string>& out) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    if (required) return where + "." + key + " is missing";
    return std::nullopt;
  }
  if (!it->is_object()) return where + "." + key + " must be an object of strings";
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return where + "." + key + "." + k + " must be a string";
    out[k] = v.get<std::string>();
  }
  return std::nullopt;
}

// `doc[key]` as a non-empty string; an error naming `where` when it is not one.
std::optional<std::string> ReadString(const json& doc, const char* key, const std::string& where,
                                      std::string& out) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return where + "." + key + " must be a non-empty string";
  }
  out = it->get<std::string>();
  return std::nullopt;
}

// The alerts of an Alertmanager webhook payload (version "4"); an error message (400) when the
// payload is not one.
std::optional<std::string> ReadPayload(std::string_view text, std::vector<Alert>& alerts) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at line 1, ..."
    if (auto close = what.find("] "); close != std::string::npos) what.erase(0, close + 2);
    return "malformed JSON payload: " + what;
  }
  if (!doc.is_object()) return "the payload must be a JSON object (an Alertmanager webhook)";
  auto version = doc.find("version");
  if (version == doc.end()) {
    return "the payload has no \"version\"; Alertmanager webhook payload version \"4\" is expected";
  }
  if (!version->is_string() || *version != "4") {
    return "unsupported payload version " + version->dump() +
           "; Alertmanager webhook payload version \"4\" is expected";
  }
  auto list = doc.find("alerts");
  if (list == doc.end() || !list->is_array()) return "the payload's \"alerts\" must be an array";
  for (size_t i = 0; i < list->size(); ++i) {
    const json& a = (*list)[i];
    const std::string where = "alerts[" + std::to_string(i) + "]";
    if (!a.is_object()) return where + " must be an object";
    Alert alert;
    if (auto e = ReadString(a, "status", where, alert.status)) return e;
    if (alert.status != "firing" && alert.status != "resolved") {
      return where + ".status must be \"firing\" or \"resolved\", not \"" + alert.status + "\"";
    }
    if (auto e = ReadString(a, "fingerprint", where, alert.fingerprint)) return e;
    if (auto e = ReadString(a, "startsAt", where, alert.starts_at)) return e;
    if (auto t = ParseRfc3339(alert.starts_at); !t.ok()) {
      return where + ".startsAt: " + t.status().message();
    }
    if (auto e = ReadStringMap(a, "labels", where, true, alert.labels)) return e;
    if (auto e = ReadStringMap(a, "annotations", where, false, alert.annotations)) return e;
    alerts.push_back(std::move(alert));
  }
  return std::nullopt;
}

// Whether `labels` carry every one of `match` (an empty `match` matches nothing: a policy never
// takes every alert).
bool Matches(const std::map<std::string, std::string>& labels,
             const std::map<std::string, std::string>& match) {
  if (match.empty()) return false;
  for (const auto& [k, v] : match) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

// Everything the handler copies share: the options, the lookup, the callback and the log of
// alerts acted on.
struct Receiver {
  Receiver(AlertmanagerWebhookOptions opts, AlertPolicyLookup policy_lookup,
           std::function<void(const MatchedAlert&)> callback)
      : options(std::move(opts)),
        lookup(std::move(policy_lookup)),
        on_alert(std::move(callback)),
        clock(options.clock != nullptr ? options.clock : &RealClock::Instance()),
        seen(options.dedup_entries) {}

  ServerResponse Handle(const ServerRequest& req);
  // The alerts of a let-in request handed on (or not); the answer.
  ServerResponse Dispatch(const std::string& ns, const std::string& policy, const AlertPolicy& spec,
                          std::vector<Alert> alerts);

  const AlertmanagerWebhookOptions options;
  const AlertPolicyLookup lookup;
  const std::function<void(const MatchedAlert&)> on_alert;
  Clock* const clock;
  DeliveryLog seen;  // "<namespace>/<policy>/<alert id>"
};

ServerResponse Receiver::Handle(const ServerRequest& req) {
  if (auto refused = RefuseNonPost(req, options.max_body_bytes)) return *refused;
  auto target = PolicyOf(req.path);
  if (!target) {
    return Text(404, "not found: the Alertmanager receiver is " + std::string(kPrefix) +
                         "<namespace>/<RollbackPolicy name>");
  }
  const auto& [ns, name] = *target;
  auto reject = [&](const std::string& why) {
    spdlog::warn("alertmanager webhook from {} for RollbackPolicy {}/{} rejected: {}", req.remote,
                 ns, name, why);
    ServerResponse r = Text(401, std::string(kUnauthorized));
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  };
  std::string_view token = BearerToken(req.headers);
  if (token.empty()) return reject("no bearer token");
  Result<AlertPolicy> policy = lookup(ns, name);
  if (!policy.ok()) {
    if (policy.status().IsTransient()) {
      spdlog::warn("alertmanager webhook for RollbackPolicy {}/{}: cannot check the token: {}", ns,
                   name, policy.status().ToString());
      return Text(503, "cannot check the token now; retry later");
    }
    return reject("no such policy with spec.alertmanager (" + policy.status().ToString() + ")");
  }
  if (!SecretEquals(policy->token, token)) return reject("token mismatch");

  std::vector<Alert> alerts;
  if (auto error = ReadPayload(req.body, alerts)) return Text(400, *error);
  return Dispatch(ns, name, *policy, std::move(alerts));
}

ServerResponse Receiver::Dispatch(const std::string& ns, const std::string& policy,
                                  const AlertPolicy& spec, std::vector<Alert> alerts) {
  int queued = 0, duplicate = 0, resolved = 0, unmatched = 0;
  auto start = clock->Now();
  for (auto& alert : alerts) {
    if (alert.status == "resolved") {
      ++resolved;
      continue;
    }
    if (!Matches(alert.labels, spec.match_labels)) {
      ++unmatched;
      continue;
    }
    MatchedAlert matched{.ns = ns, .policy = policy, .alert = std::move(alert)};
    matched.id = Sha256Hex(matched.alert.fingerprint + "/" + matched.alert.starts_at).substr(0, 16);
    std::string key = ns + "/" + policy + "/" + matched.id;
    if (!seen.Insert(key)) {
      ++duplicate;
      continue;
    }
    auto alertname = matched.alert.labels.find("alertname");
    spdlog::info("alertmanager webhook: alert {} ({}) for RollbackPolicy {}/{}",
                 alertname == matched.alert.labels.end() ? "(no alertname)" : alertname->second,
                 matched.id, ns, policy);
    try {
      on_alert(matched);
    } catch (...) {
      seen.Forget(key);  // not acted on: a redelivery must not be taken for a replay
      throw;
    }
    ++queued;
  }
  if (auto took = clock->Now() - start; took >= kSlowAlert) {
    spdlog::warn(
        "alertmanager webhook: handling alerts took {} ms; receivers must answer within a second",
        std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  }
  return Text(202, "accepted: " + std::to_string(queued) + " queued, " + std::to_string(duplicate) +
                       " duplicate, " + std::to_string(resolved) + " resolved (ignored), " +
                       std::to_string(unmatched) + " not matching (ignored)");
}

}  // namespace

http::Handler AlertmanagerWebhookHandler(AlertmanagerWebhookOptions options,
                                         AlertPolicyLookup lookup,
                                         std::function<void(const MatchedAlert&)> on_alert) {
  auto receiver =
      std::make_shared<Receiver>(std::move(options), std::move(lookup), std::move(on_alert));
  return [receiver](const ServerRequest& req) { return receiver->Handle(req); };
}

}  // namespace flywheel::webhook
