#include "flywheel/git/url.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace flywheel::git {

namespace {

// A git URL split into the parts RepoKey and RedactUrl look at.
struct ParsedUrl {
  std::string scheme;  // lowercase; "" for the scp-like form user@host:path
  std::string_view userinfo;
  std::string_view host;  // as written (IPv6 keeps its brackets)
  std::string_view port;
  std::string_view path;  // without query or fragment
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool IsSshScheme(std::string_view scheme) {
  return scheme == "ssh" || scheme == "git+ssh" || scheme == "ssh+git";
}

// The port every client assumes for `scheme` when the URL names none.
std::string_view DefaultPort(std::string_view scheme) {
  if (scheme == "https") return "443";
  if (scheme == "http") return "80";
  if (scheme == "git") return "9418";
  if (IsSshScheme(scheme)) return "22";
  return "";
}

bool ValidHost(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    return std::all_of(host.begin() + 1, host.end() - 1,
                       [](unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; });
  }
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_';
  });
}

bool ValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  if (!std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  int n = std::stoi(std::string(port));
  return n > 0 && n <= 65535;
}

// Splits "host", "host:port", "[v6]" or "[v6]:port".
void SplitHostPort(std::string_view hostport, ParsedUrl& out) {
  size_t colon = std::string_view::npos;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close != std::string_view::npos && close + 1 < hostport.size() &&
        hostport[close + 1] == ':') {
      colon = close + 1;
    }
  } else {
    colon = hostport.rfind(':');
  }
  out.host = hostport.substr(0, colon);
  if (colon != std::string_view::npos) out.port = hostport.substr(colon + 1);
}

// Parses scheme://[userinfo@]host[:port]/path and the scp-like [user@]host:path. Does not
// validate the parts; nullopt when `url` has neither shape.
std::optional<ParsedUrl> Parse(std::string_view url) {
  ParsedUrl out;
  size_t sep = url.find("://");
  if (sep != std::string_view::npos) {
    out.scheme = Lower(url.substr(0, sep));
    if (out.scheme.empty() || !std::all_of(out.scheme.begin(), out.scheme.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
        })) {
      return std::nullopt;
    }
    std::string_view rest = url.substr(sep + 3);
    size_t end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    std::string_view path = end == std::string_view::npos ? "" : rest.substr(end);
    path = path.substr(0, path.find_first_of("?#"));
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      out.userinfo = authority.substr(0, at);
      authority = authority.substr(at + 1);
    }
    SplitHostPort(authority, out);
    out.path = path;
    return out;
  }
  // scp-like: a ':' before any '/', e.g. git@github.com:org/repo.git.
  size_t colon = url.find(':');
  if (colon == std::string_view::npos || url.substr(0, colon).find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view authority = url.substr(0, colon);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    out.userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }
  if (!authority.empty() && authority.front() == '[') {
    // git@[::1]:repo: the host is bracketed, so the path starts after "]:".
    size_t close = url.find("]:", at == std::string_view::npos ? 0 : at + 1);
    if (close == std::string_view::npos) return std::nullopt;
    size_t host_start = at == std::string_view::npos ? 0 : at + 1;
    out.host = url.substr(host_start, close + 1 - host_start);
    out.path = url.substr(close + 2);
    return out;
  }
  out.host = authority;
  out.path = url.substr(colon + 1);
  return out;
}

// "/Acme//Deploy.git/" -> "Acme/Deploy": no empty segments, no trailing ".git".
std::string NormalizePath(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t next = path.find('/', i);
    std::string_view segment = path.substr(i, next == std::string_view::npos ? next : next - i);
    if (!segment.empty()) {
      if (!out.empty()) out += '/';
      out += segment;
    }
    if (next == std::string_view::npos) break;
    i = next + 1;
  }
  if (out.size() > 4 && out.ends_with(".git") && out[out.size() - 5] != '/') {
    out.resize(out.size() - 4);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace

std::string RepoKey(std::string_view url) {
  url = Trim(url);
  if (url.find_first_of(" \t\r\n") != std::string_view::npos) return "";
  auto parsed = Parse(url);
  if (!parsed) return "";
  if (parsed->scheme == "file") {
    // file:///srv/git/x.git and file://localhost/srv/git/x.git; other hosts are not local.
    if (!parsed->userinfo.empty() || !parsed->port.empty()) return "";
    if (!parsed->host.empty() && Lower(parsed->host) != "localhost") return "";
    std::string path = NormalizePath(parsed->path);
    return path.empty() ? "" : "file/" + path;
  }
  if (!parsed->scheme.empty() && DefaultPort(parsed->scheme).empty()) return "";
  if (!ValidHost(parsed->host)) return "";
  std::string key = Lower(parsed->host);
  if (!parsed->port.empty()) {  // "host:" (an empty port) means the default, as in curl
    if (!ValidPort(parsed->port)) return "";
    std::string port = std::to_string(std::stoi(std::string(parsed->port)));  // "0443" -> "443"
    if (port != DefaultPort(parsed->scheme)) key += ":" + port;
  }
  std::string path = NormalizePath(parsed->path);
  if (path.empty()) return "";
  return key + "/" + path;
}

std::string RedactUrl(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    // scp-like user@host:path: the user name ("git") is no secret; drop a ":password" after it.
    // The same rule keeps malformed input such as "https//user:pw@host" from leaking.
    size_t at = url.find('@');
    if (at == std::string_view::npos) return std::string(url);
    size_t colon = url.substr(0, at).find(':');
    if (colon == std::string_view::npos) return std::string(url);
    return std::string(url.substr(0, colon)) + std::string(url.substr(at));
  }
  std::string_view rest = url.substr(sep + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) {
    // A password with an unencoded '/', '?' or '#' ends the authority early
    // ("https://user:p/w@host/x"): when what looks like host:port has no valid port and an '@'
    // follows, treat everything up to the last '@' as credentials.
    ParsedUrl hp;
    SplitHostPort(authority, hp);
    size_t last_at = rest.rfind('@');
    if (!hp.port.empty() && !ValidPort(hp.port) && last_at != std::string_view::npos) {
      return std::string(url.substr(0, sep + 3)) + std::string(rest.substr(last_at + 1));
    }
    return std::string(url);
  }
  std::string_view userinfo = authority.substr(0, at);
  std::string prefix(url.substr(0, sep + 3));
  std::string after(rest.substr(at + 1));
  // ssh: the user name ("git") selects an account and is no secret; keep it, drop a password.
  // Everything else (http tokens are often given as the user name): drop the whole userinfo.
  if (IsSshScheme(Lower(url.substr(0, sep)))) {
    return prefix + std::string(userinfo.substr(0, userinfo.find(':'))) + "@" + after;
  }
  return prefix + after;
}

}  // namespace flywheel::git
