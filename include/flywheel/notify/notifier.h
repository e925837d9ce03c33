#pragma once

#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/common/status.h"
#include "flywheel/kube/client.h"

namespace flywheel::notify {

// Where one notification goes: a `notify` entry of a Pipeline or RollbackPolicy with its Secret
// already read. `url` and `token` are credentials (a Slack webhook URL is one): never logged.
struct Target {
  std::string url;    // http:// or https://
  std::string token;  // sent as Authorization: Bearer when not empty
  std::string name;   // what logs, Events and errors call it: the spec's url with any user,
                      // query and path after the host removed, or "secret <name>"
};

// Reads `notify` entries (JSON array of {url, secretRef: {name}}) of an object in namespace
// `ns`: a Secret's `url` key overrides url, its `token` key is the bearer token. A missing
// Secret or an entry with no usable url is kInvalidArgument / kNotFound naming the entry and
// the Secret (never a value).
Result<std::vector<Target>> ResolveTargets(kube::Client client, const std::string& ns,
                                           const nlohmann::json& notify);

// One notification: what happened to which object. The body POSTed is one JSON object that
// works for generic receivers and Slack-compatible incoming webhooks alike:
//   {"text": <text>, "event": ..., "kind": ..., "namespace": ..., "name": ...,
//    "severity": ..., "details": {...}}
struct Message {
  std::string event;     // e.g. "RolledBack", "PipelineRunFailed", "WouldRollBack"
  std::string severity;  // "warning" or "info"
  std::string kind, ns, name;
  std::string text;  // one human line (Slack shows it)
  nlohmann::json details = nlohmann::json::object();
};

// How a Notifier sends.
struct NotifierOptions {
  // Per POST: it ends when no byte arrives for this long, or when the answer is still not
  // complete this long after it started (checked as bytes arrive).
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
  size_t max_queued = 256;  // messages waiting; beyond, new ones are dropped (counted, logged)
  int attempts = 3;         // a 5xx, 429 or transport failure is retried with backoff
  std::chrono::milliseconds backoff{500};    // before the 2nd attempt; doubles for each next one
  prometheus::Registry* registry = nullptr;  // flywheel_notifications_total{result} when set
  Clock* clock = nullptr;                    // times backoffs and deadlines; nullptr = real
};

// Sends notifications off the caller's path: Send queues and returns at once; one background
// thread POSTs each message to each target with the timeout, retrying transient failures a
// few times, and logs (never throws) what failed. Never blocks or fails a reconcile. Each
// (message, target) pair counts once in flywheel_notifications_total: result "sent" (a 2xx
// answer), "failed" (another answer, or retries exhausted) or "dropped" (the queue was full).
class Notifier {
 public:
  explicit Notifier(NotifierOptions options = {});
  ~Notifier();  // sends nothing more: drops what is queued, cancels the POST in flight
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Send(std::vector<Target> targets, Message message);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flywheel::notify
