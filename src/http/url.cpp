#include "flywheel/http/url.h"

#include <algorithm>
#include <cctype>

namespace flywheel::http {

Result<Url> ParseUrl(std::string_view url, std::string_view what) {
  auto fail = [&](const std::string& problem) {
    return Status(Code::kInvalidArgument, std::string(what) + " " + problem);
  };
  const size_t scheme_end = url.find("://");
  Url out;
  if (scheme_end != std::string_view::npos) out.scheme = std::string(url.substr(0, scheme_end));
  std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (out.scheme != "http" && out.scheme != "https") {
    // Quoted unless it may carry credentials (user:password@host).
    return fail(url.find('@') == std::string_view::npos
                    ? "must start with http:// or https://: \"" + std::string(url) + "\""
                    : std::string("must start with http:// or https://"));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos) {
    out.has_fragment = true;
    rest = rest.substr(0, hash);
  }
  if (const size_t question = rest.find('?'); question != std::string_view::npos) {
    out.has_query = true;
    out.query = std::string(rest.substr(question + 1));
    rest = rest.substr(0, question);
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  // Never quoted from here on: the user info (a user name, maybe a password) is gone.
  out.authority = std::string(authority);
  for (char c : authority) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return fail("has a space or control character in its host: \"" + out.base() + "\"");
    }
  }
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail("has an unclosed [: \"" + out.authority + "\"");
    }
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return fail("has text after ]: \"" + out.authority + "\"");
      }
      port = std::string(authority.substr(close + 2));
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty()) return fail("has no host: \"" + std::string(out.base()) + "\"");
  if (port.empty()) port = out.scheme == "https" ? "443" : "80";
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) == 0 || std::stoi(port) > 65535) {
    return fail("has an invalid port: \"" + port + "\"");
  }
  out.port = std::move(port);
  return out;
}

}  // namespace flywheel::http
