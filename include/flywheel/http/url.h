#pragma once

#include <string>
#include <string_view>

#include "flywheel/common/status.h"

namespace flywheel::http {

// An http:// or https:// URL split into what a connection and a request need. One parser for
// every component that takes such a URL from a user (the API server, Prometheus, webhooks).
struct Url {
  std::string scheme;     // "http" or "https" (lower case)
  std::string userinfo;   // what precedes '@' in the authority, as written; "" when none
  std::string host;       // a DNS name or an IP address; an IPv6 address without its brackets
  std::string port;       // as written, or the scheme's default ("80", "443")
  std::string authority;  // host[:port] as written, without the user info: the Host header
  std::string path;       // "" or from the first '/' up to '?' or '#', as written
  std::string query;      // after '?' up to '#', "" when none
  bool has_query = false;
  bool has_fragment = false;

  // scheme://authority: what messages and logs may show (no user info, path or query).
  std::string base() const { return scheme + "://" + authority; }
};

// Parses `url`; `what` names it in errors ("the Prometheus URL"). kInvalidArgument when it does
// not start with http:// or https:// (case-insensitive), has no host, a space or control character
// in its host, an unclosed '[', text after
// ']' other than a port, or a port that is not a number from 1 to 65535. User info, a query and a
// fragment are kept for the caller to accept or refuse.
Result<Url> ParseUrl(std::string_view url, std::string_view what = "the URL");

}  // namespace flywheel::http
