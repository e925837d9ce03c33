#include "known_hosts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "flywheel/common/base64.h"

namespace flywheel::git {
namespace {

// The key type name at the start of an ssh public key blob ("ssh-ed25519", ...).
std::string KeyTypeOfBlob(std::string_view blob) {
  if (blob.size() < 4) return "";
  uint32_t len = (static_cast<uint32_t>(static_cast<unsigned char>(blob[0])) << 24) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(blob[1])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(blob[2])) << 8) |
                 static_cast<uint32_t>(static_cast<unsigned char>(blob[3]));
  if (len > blob.size() - 4) return "";
  return std::string(blob.substr(4, len));
}

bool WildcardMatch(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern[0] == '*') {
    for (size_t i = 0; i <= text.size(); ++i) {
      if (WildcardMatch(pattern.substr(1), text.substr(i))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  bool same = pattern[0] == '?' || std::tolower(static_cast<unsigned char>(pattern[0])) ==
                                       std::tolower(static_cast<unsigned char>(text[0]));
  return same && WildcardMatch(pattern.substr(1), text.substr(1));
}

bool HashedMatch(std::string_view pattern, std::string_view name) {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  std::string_view rest = pattern.substr(3);
  size_t bar = rest.find('|');
  if (bar == std::string_view::npos) return false;
  auto salt = Base64Decode(rest.substr(0, bar));
  auto hash = Base64Decode(rest.substr(bar + 1));
  if (!salt || !hash) return false;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (HMAC(EVP_sha1(), salt->data(), static_cast<int>(salt->size()),
           reinterpret_cast<const unsigned char*>(name.data()), name.size(), out,
           &out_len) == nullptr) {
    return false;
  }
  return std::string_view(reinterpret_cast<const char*>(out), out_len) == *hash;
}

// Whether the comma-separated host patterns of a known_hosts line name `name`.
bool HostPatternsMatch(std::string_view patterns, std::string_view name) {
  if (patterns.starts_with("|1|")) return HashedMatch(patterns, name);
  bool matched = false;
  size_t start = 0;
  while (start <= patterns.size()) {
    size_t comma = patterns.find(',', start);
    std::string_view p = patterns.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (!p.empty()) {
      bool negated = p[0] == '!';
      if (negated) p.remove_prefix(1);
      if (WildcardMatch(p, name)) {
        if (negated) return false;
        matched = true;
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return matched;
}

}  // namespace

HostKeyCheck CheckKnownHosts(std::string_view known_hosts, std::string_view host, int port,
                             std::string_view raw_key) {
  std::string name = port > 0 && port != 22 ? "[" + std::string(host) + "]:" + std::to_string(port)
                                            : std::string(host);
  std::string key_type = KeyTypeOfBlob(raw_key);
  bool host_listed = false;
  bool key_listed = false;
  std::istringstream lines{std::string(known_hosts)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string word; f.size() < 4 && fields >> word;) f.push_back(word);
    if (f.empty() || f[0][0] == '#') continue;
    bool revoked = false;
    if (f[0][0] == '@') {
      if (f[0] != "@revoked") continue;  // @cert-authority: certificates are not supported
      revoked = true;
      f.erase(f.begin());
    }
    if (f.size() < 3 || !HostPatternsMatch(f[0], name)) continue;
    auto key = Base64Decode(f[2]);
    bool same_key = key && f[1] == key_type && *key == raw_key;
    if (revoked) {
      if (same_key) return HostKeyCheck::kMismatch;  // a revoked key is never accepted
      continue;
    }
    host_listed = true;
    key_listed = key_listed || same_key;
  }
  if (key_listed) return HostKeyCheck::kMatch;
  return host_listed ? HostKeyCheck::kMismatch : HostKeyCheck::kUnknownHost;
}

}  // namespace flywheel::git
