#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/http/server.h"

namespace flywheel::release {

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
//   "sha256=<hex HMAC-SHA256(secret, raw body)>", X-GitHub-Delivery dedup;
// - GitLab: X-Gitlab-Event "Push Hook"/"Tag Push Hook", X-Gitlab-Token equal to the secret;
// - generic: X-Flywheel-Signature "sha256=<hex HMAC>" over a body {"repository": "<url>",
//   "ref": "refs/heads/main"}.
// Comparisons are constant-time. Unsigned/invalid: 401; other events: 202 ignored (with a
// reason in the body); malformed payload: 400. A valid push calls `on_push` (which must only
// queue work) and answers 202.
http::Handler GitWebhookHandler(GitWebhookOptions options,
                                std::function<void(const GitPush&)> on_push);

}  // namespace flywheel::release
