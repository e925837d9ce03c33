#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace flywheel::notify {

// A notification URL taken apart: what the HTTP client connects to, what it requests, and the
// parts that are credentials (any user info, the path and the query: a Slack webhook's path is
// its secret).
struct WebhookUrl {
  std::string base;      // "https://hooks.example.com:8443": scheme, host and port only
  std::string target;    // "/services/T0/B0/xyz?x=1": path and query, "/" when empty
  std::string userinfo;  // "user:password" before '@', percent-decoded; "" when none

  // What logs and messages may show: `base` (no user info, path or query).
  const std::string& name() const { return base; }
};

// Parses an http:// or https:// URL (scheme case-insensitive; the fragment is dropped);
// nullopt when it is not one or has no host.
std::optional<WebhookUrl> ParseWebhookUrl(std::string_view url);

}  // namespace flywheel::notify
