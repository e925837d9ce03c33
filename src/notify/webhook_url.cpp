#include "webhook_url.h"

#include <cctype>

#include "flywheel/http/url.h"

namespace flywheel::notify {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::optional<WebhookUrl> ParseWebhookUrl(std::string_view url) {
  auto parsed = http::ParseUrl(url);  // the fragment is dropped
  if (!parsed.ok()) return std::nullopt;
  WebhookUrl out;
  out.base = parsed->base();
  out.target = parsed->path.empty() ? "/" : parsed->path;
  if (parsed->has_query) out.target += "?" + parsed->query;
  out.userinfo = PercentDecode(parsed->userinfo);
  return out;
}

}  // namespace flywheel::notify
