#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/common/status.h"
#include "flywheel/http/server.h"
#include "flywheel/kube/client.h"

namespace flywheel::webhook {

// One alert of an Alertmanager webhook (payload version 4).
struct Alert {
  std::string status;       // "firing" or "resolved"
  std::string fingerprint;  // Alertmanager's fingerprint of the label set
  std::string starts_at;    // RFC 3339, as sent
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

// What the receiver needs to know about the RollbackPolicy a request names: the bearer token
// its spec.alertmanager.tokenSecretRef holds, and its matchLabels. kNotFound when there is no
// such policy, or it has no spec.alertmanager (both answered 401, like a wrong token).
struct AlertPolicy {
  std::string token;
  std::map<std::string, std::string> match_labels;
};
using AlertPolicyLookup =
    std::function<Result<AlertPolicy>(const std::string& ns, const std::string& name)>;

// A firing alert that matched a policy: what the receiver hands on.
struct MatchedAlert {
  std::string ns, policy;
  Alert alert;
  std::string id;  // deterministic: hex SHA-256 of fingerprint + "/" + startsAt, first 16 chars
};

// How the /hooks/alertmanager/ receiver behaves.
struct AlertmanagerWebhookOptions {
  size_t max_body_bytes = 1 << 20;  // larger bodies: 413
  size_t dedup_entries = 4096;      // remembered (policy, alert id) pairs acted on
  Clock* clock = nullptr;
};

// The Alertmanager receiver, served under the prefix /hooks/alertmanager/: a request to
// /hooks/alertmanager/<namespace>/<policy> must carry `Authorization: Bearer <token>` equal
// (constant-time) to the policy's token; otherwise, and for unknown policies alike, 401 (nothing
// tells a caller which policies exist). The body is an Alertmanager webhook payload (version
// "4"); malformed: 400. Each firing alert whose labels include all of the policy's matchLabels
// is handed to `on_alert` once (dedup by policy + fingerprint + startsAt, the last
// `dedup_entries` remembered); resolved alerts and alerts that do not match are ignored (an
// empty matchLabels matches nothing). Answers 202 with a short summary; `on_alert` must only
// queue work (see AlertDispatcher; if it throws, that alert is not remembered and the server
// answers 500). Also: 404 for a path that is not <namespace>/<name> with valid Kubernetes
// names, 405 for another method, 413 for a larger body, and 503 (Alertmanager retries) when
// `lookup` fails with a transient error (Status::IsTransient); any other lookup error is 401.
// Safe to call from many server workers at once.
http::Handler AlertmanagerWebhookHandler(AlertmanagerWebhookOptions options,
                                         AlertPolicyLookup lookup,
                                         std::function<void(const MatchedAlert&)> on_alert);

// The `on_alert` of AlertmanagerWebhookHandler: records the alert on the RollbackPolicy as the
// annotation api::kAlertAnnotation (JSON {"id", "fingerprint", "startsAt", "alertname",
// "labels", "receivedAt"}; receivedAt is RFC 3339 UTC, when on_alert was called), with a JSON
// merge patch of metadata.annotations, so the leader acts on it whichever replica received it
// (the same alert written by two replicas carries the same id; only receivedAt may differ).
// Patches run on a background thread owned by the returned handler (at most 1000 queued;
// beyond, dropped and logged). A patch that still fails after the kube client's retries is
// logged and lost: a redelivery of the same alert is a duplicate to the receiver.
std::function<void(const MatchedAlert&)> AlertDispatcher(kube::Client client);

}  // namespace flywheel::webhook
