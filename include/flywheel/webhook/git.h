#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/http/server.h"

namespace flywheel::webhook {

// A push reported by a git host: which repository (every URL form the payload names) and ref.
struct GitPush {
  std::vector<std::string> repo_urls;  // e.g. clone_url, ssh_url, html_url
  std::string ref;                     // "refs/heads/main"; "" when the payload names none
  std::string provider;                // "github", "gitlab" or "generic"
  std::string delivery;                // X-GitHub-Delivery / X-Gitlab-Event-UUID, if any
};

// How the /hooks/git receiver authenticates. The secret comes from a file (a mounted Secret,
// flag --git-webhook-secret-file); an empty secret disables the receiver (404), never opens it.
struct GitWebhookOptions {
  std::string secret;
  size_t max_body_bytes = 1 << 20;  // larger bodies: 413
  size_t dedup_entries = 1024;      // remembered delivery IDs (replays answered 200, not acted on)
  Clock* clock = nullptr;
};

// The /hooks/git receiver. Accepts
// - GitHub: X-GitHub-Event push (ping answers 200 and does nothing), X-Hub-Signature-256
//   "sha256=<hex HMAC-SHA256(secret, raw body)>", X-GitHub-Delivery dedup; JSON or
//   form-encoded (payload=) bodies;
// - GitLab: X-Gitlab-Event "Push Hook"/"Tag Push Hook", X-Gitlab-Token equal to the secret,
//   X-Gitlab-Event-UUID dedup;
// - generic: X-Flywheel-Signature "sha256=<hex HMAC>" over a body {"repository": "<url>",
//   "ref": "refs/heads/main"} ("ref" optional), optional X-Flywheel-Delivery dedup.
// Comparisons are constant-time. Unsigned/invalid: 401; other events: 202 ignored (with a
// reason in the body); malformed payload: 400. A valid push calls `on_push` (which must only
// queue work) and answers 202.
// The payload is read only after the request is authenticated. The
// last `dedup_entries` delivery IDs that were acted on are remembered (oldest forgotten first);
// a replay answers 200 "duplicate delivery". The handler is safe to call from many server
// workers at once; `on_push` is called synchronously on the worker, possibly concurrently, and
// the answer is sent right after it returns. If it throws, the delivery is not remembered (the
// server answers 500). `clock` (default: the real clock) times `on_push` to log slow callbacks.
http::Handler GitWebhookHandler(GitWebhookOptions options,
                                std::function<void(const GitPush&)> on_push);

}  // namespace flywheel::webhook
