#include "network.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include "flywheel/git/url.h"
#include "known_hosts.h"

namespace flywheel::git {

// ---- URLs ----

std::optional<UrlParts> ParseUrl(std::string_view url) {
  UrlParts parts;
  size_t sep = url.find("://");
  std::string_view rest;
  if (sep == std::string_view::npos) {
    // scp-like: [user@]host:path, a colon before any slash.
    size_t colon = url.find(':');
    size_t slash = url.find('/');
    if (colon == std::string_view::npos || colon == 0 ||
        (slash != std::string_view::npos && slash < colon)) {
      return std::nullopt;
    }
    parts.scheme = "ssh";
    std::string_view authority = url.substr(0, colon);
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      parts.user = authority.substr(0, at);
      authority.remove_prefix(at + 1);
    }
    parts.host = authority;
    return parts.host.empty() ? std::nullopt : std::optional(parts);
  }
  parts.scheme = url.substr(0, sep);
  std::transform(parts.scheme.begin(), parts.scheme.end(), parts.scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (parts.scheme != "file" && parts.scheme != "git" && parts.scheme != "http" &&
      parts.scheme != "https" && parts.scheme != "ssh") {
    return std::nullopt;
  }
  rest = url.substr(sep + 3);
  std::string_view authority = rest.substr(0, rest.find('/'));
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    size_t colon = userinfo.find(':');
    parts.user = userinfo.substr(0, colon);
    if (colon != std::string_view::npos) parts.password = userinfo.substr(colon + 1);
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  if (host.starts_with('[')) {  // [v6]:port
    size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    parts.host = host.substr(1, close - 1);
    host.remove_prefix(close + 1);
    if (host.starts_with(':')) host.remove_prefix(1);
    if (!host.empty()) parts.port = std::atoi(std::string(host).c_str());
  } else {
    size_t colon = host.rfind(':');
    parts.host = host.substr(0, colon);
    if (colon != std::string_view::npos) {
      parts.port = std::atoi(std::string(host.substr(colon + 1)).c_str());
    }
  }
  if (parts.scheme != "file" && parts.host.empty()) return std::nullopt;
  return parts;
}

bool IsHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// `url` parsed, or InvalidArgument when it is not a git URL this cache fetches (file:// only
// when the cache allows it).
Result<UrlParts> CheckUrl(const std::string& url, const CacheOptions& options) {
  auto parsed = ParseUrl(url);
  if (!parsed) return Status(Code::kInvalidArgument, "unsupported git URL " + RedactUrl(url));
  if (parsed->scheme == "file" && !options.allow_file_urls) {
    return Status(Code::kInvalidArgument,
                  "file:// sources are disabled; start the operator with --allow-file-sources");
  }
  return *parsed;
}

// ---- libgit2 callbacks ----

namespace {

int CredentialsCallback(git_credential** out, const char* /*url*/, const char* username_from_url,
                        unsigned int allowed_types, void* payload) {
  auto* ctx = static_cast<NetworkContext*>(payload);
  const Credentials& c = *ctx->credentials;
  std::string user = username_from_url != nullptr && *username_from_url != '\0'
                         ? username_from_url
                         : (c.username.empty() ? "git" : c.username);
  // ssh asks for the user name first; that is not an authentication attempt.
  if (allowed_types & GIT_CREDENTIAL_USERNAME)
    return git_credential_username_new(out, user.c_str());
  // A second request means the server rejected what we sent: stop here, or libgit2 keeps asking
  // and finally reports a stale unrelated error.
  if (ctx->auth_attempts++ > 0) {
    ctx->auth_failed = true;
    git_error_set_str(GIT_ERROR_NET, "authentication failed");
    return GIT_EUSER;
  }
  if ((allowed_types & (GIT_CREDENTIAL_SSH_MEMORY | GIT_CREDENTIAL_SSH_KEY)) &&
      !c.ssh_private_key.empty()) {
    return git_credential_ssh_key_memory_new(out, user.c_str(), nullptr, c.ssh_private_key.c_str(),
                                             nullptr);
  }
  if (allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
    if (!c.token.empty()) {
      std::string token_user = c.username.empty() ? "git" : c.username;
      return git_credential_userpass_plaintext_new(out, token_user.c_str(), c.token.c_str());
    }
    if (!c.password.empty()) {
      return git_credential_userpass_plaintext_new(out, user.c_str(), c.password.c_str());
    }
  }
  // Nothing fits what the server asks for (or the credentials in the URL were rejected).
  ctx->auth_failed = true;
  git_error_set_str(GIT_ERROR_NET, "no credentials for this server");
  return GIT_EUSER;
}

int CertificateCallback(git_cert* cert, int /*valid*/, const char* host, void* payload) {
  auto* ctx = static_cast<NetworkContext*>(payload);
  if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) return GIT_PASSTHROUGH;  // TLS: libgit2 checks
  const auto* key = reinterpret_cast<const git_cert_hostkey*>(cert);
  std::string host_name = host != nullptr ? host : ctx->url->host;
  if (!(key->type & GIT_CERT_SSH_RAW)) {
    ctx->host_key_error =
        Status(Code::kFailedPrecondition, "ssh host key of " + host_name + " is not available");
  } else {
    switch (CheckKnownHosts(ctx->credentials->ssh_known_hosts, host_name, ctx->url->port,
                            std::string_view(key->hostkey, key->hostkey_len))) {
      case HostKeyCheck::kMatch:
        return 0;
      case HostKeyCheck::kMismatch:
        ctx->host_key_error = Status(Code::kFailedPrecondition, "ssh host key of " + host_name +
                                                                    " does not match known_hosts");
        break;
      case HostKeyCheck::kUnknownHost:
        ctx->host_key_error = Status(Code::kFailedPrecondition,
                                     "ssh host key of " + host_name + " is not in known_hosts");
        break;
    }
  }
  git_error_set_str(GIT_ERROR_SSH, "host key rejected");
  return GIT_ECERTIFICATE;
}

// Cancels the operation once its deadline passed or stop was requested (while data still flows).
int CheckDeadline(NetworkContext* ctx) {
  if (ctx->stop.stop_requested()) {
    ctx->cancelled = true;
    git_error_set_str(GIT_ERROR_NET, "cancelled");
    return -1;
  }
  if (SteadyClock::now() < ctx->deadline) return 0;
  ctx->timed_out = true;
  git_error_set_str(GIT_ERROR_NET, "timed out");
  return -1;
}

int TransferProgress(const git_indexer_progress* /*stats*/, void* payload) {
  return CheckDeadline(static_cast<NetworkContext*>(payload));
}

int SidebandProgress(const char* str, int len, void* payload) {
  auto* ctx = static_cast<NetworkContext*>(payload);
  // Kept for a rejected push, whose reason (a hook's output) the server sends this way.
  if (str != nullptr && len > 0 && ctx->remote_messages.size() < 2048)
    ctx->remote_messages.append(str, std::min<size_t>(len, 2048 - ctx->remote_messages.size()));
  return CheckDeadline(ctx);
}

int PushTransferProgress(unsigned int /*current*/, unsigned int /*total*/, size_t /*bytes*/,
                         void* payload) {
  return CheckDeadline(static_cast<NetworkContext*>(payload));
}

int PushUpdateReference(const char* /*refname*/, const char* status, void* payload) {
  if (status != nullptr) static_cast<NetworkContext*>(payload)->push_rejections.push_back(status);
  return 0;
}

}  // namespace

git_remote_callbacks Callbacks(NetworkContext* ctx) {
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  cb.credentials = CredentialsCallback;
  cb.certificate_check = CertificateCallback;
  cb.transfer_progress = TransferProgress;
  cb.sideband_progress = SidebandProgress;
  cb.push_transfer_progress = PushTransferProgress;
  cb.push_update_reference = PushUpdateReference;
  cb.payload = ctx;
  return cb;
}

// `message` with every secret the operation knows replaced, so it is safe to show.
std::string Scrub(std::string message, const NetworkContext& ctx) {
  for (const std::string* secret :
       {&ctx.credentials->password, &ctx.credentials->token, &ctx.url->password}) {
    if (secret->size() < 3) continue;
    for (size_t at; (at = message.find(*secret)) != std::string::npos;) {
      message.replace(at, secret->size(), "***");
    }
  }
  return message;
}

// Maps a failed fetch or push (libgit2 return code `rc`) to a Status.
Status NetworkError(int rc, const NetworkContext& ctx, const NetworkDeadline& deadline,
                    std::string_view op) {
  const std::string& url = ctx.redacted_url;
  if (ctx.cancelled || deadline.cancelled() || ctx.stop.stop_requested()) {
    return Status(Code::kCancelled, std::string(op) + " " + url + " cancelled");
  }
  if (ctx.host_key_error) return *ctx.host_key_error;
  if (ctx.auth_failed || rc == GIT_EAUTH) {
    return Status(Code::kUnauthenticated, "authentication failed for " + url);
  }
  if (ctx.timed_out || deadline.expired()) {
    return Status(Code::kUnavailable, std::string(op) + " " + url + " timed out");
  }
  std::string detail = Scrub(LastGitErrorMessage(), ctx);
  int klass = LastGitErrorClass();
  if (rc == GIT_ECERTIFICATE) {
    return Status(Code::kFailedPrecondition,
                  "TLS certificate of " + ctx.url->host + " is not trusted: " + detail);
  }
  if (detail.find("status code: 401") != std::string::npos) {
    return Status(Code::kUnauthenticated, "authentication failed for " + url);
  }
  if (detail.find("status code: 403") != std::string::npos) {
    return Status(Code::kPermissionDenied, "access to " + url + " denied");
  }
  if (rc == GIT_ENOTFOUND || detail.find("status code: 404") != std::string::npos ||
      detail.find("could not find repository") != std::string::npos ||
      detail.find("failed to resolve path") != std::string::npos ||
      detail.find("no such repository") != std::string::npos) {  // git daemon
    return Status(Code::kNotFound, "repository " + url + " not found: " + detail);
  }
  if (detail.find("service not enabled") != std::string::npos) {  // a read-only git daemon
    return Status(Code::kPermissionDenied, std::string(op) + " " + url + " refused: " + detail);
  }
  if (klass == GIT_ERROR_NET || klass == GIT_ERROR_SSH || klass == GIT_ERROR_HTTP ||
      klass == GIT_ERROR_SSL || klass == GIT_ERROR_OS || klass == GIT_ERROR_CALLBACK) {
    return Status(Code::kUnavailable,
                  std::string("cannot ") + std::string(op) + " " + url + ": " + detail);
  }
  return Status(Code::kInternal, std::string(op) + " " + url + " failed: " + detail);
}

// A remote for `url` that lives only as long as the returned handle, on `repo` (nullptr: none).
Result<RemotePtr> NewRemote(git_repository* repo, const std::string& url) {
  git_remote* remote = nullptr;
  // Anonymous (no name): the URL (which may carry credentials) is never written to the cache's
  // config. No `url.<base>.insteadOf` rewriting: the URL is used as the Release gives it,
  // whatever the machine's git config says, and libgit2 1.5.1 with PCRE2 10.42 (Debian 12)
  // leaks about 50 KiB in the regex match of that lookup on every remote it creates
  // (RepositoryCacheTest.FetchesDoNotGrowMemory).
  git_remote_create_options options = GIT_REMOTE_CREATE_OPTIONS_INIT;
  options.repository = repo;
  options.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  if (git_remote_create_with_opts(&remote, url.c_str(), &options) != 0) {
    return Status(Code::kInvalidArgument,
                  "unsupported git URL " + RedactUrl(url) + ": " + LastGitErrorMessage());
  }
  return RemotePtr(remote);
}

// Checks what must hold before any connection; ssh host keys are always verified.
Status Preflight(const UrlParts& url, const Credentials& credentials, const std::string& redacted,
                 std::stop_token stop) {
  if (stop.stop_requested()) return Status(Code::kCancelled, redacted + ": cancelled");
  if (url.scheme == "ssh" && credentials.ssh_known_hosts.empty()) {
    return Status(Code::kFailedPrecondition,
                  "no known_hosts for " + redacted + ": ssh host keys are always verified");
  }
  return Status::Ok();
}

// ---- reading objects ----

CommitInfo InfoOf(const git_commit* commit) {
  CommitInfo info;
  char sha[GIT_OID_HEXSZ + 1];
  git_oid_tostr(sha, sizeof(sha), git_commit_id(commit));
  info.sha = sha;
  const char* message = git_commit_message(commit);
  std::string_view m = message != nullptr ? message : "";
  info.message = std::string(m.substr(0, m.find('\n')));
  if (const git_signature* a = git_commit_author(commit)) {
    info.author = std::string(a->name) + " <" + a->email + ">";
  }
  info.committed_at = std::chrono::system_clock::time_point(
      std::chrono::seconds(static_cast<int64_t>(git_commit_time(commit))));
  return info;
}

void InitLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    // The cache must not depend on the user's or the system's git config (insteadOf, proxies).
    for (int level : {GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL,
                      GIT_CONFIG_LEVEL_PROGRAMDATA}) {
      git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
    }
    // Memory bounds for a long-running process: libgit2 keeps up to 256 MiB of decoded objects
    // and maps up to 8 GiB of pack windows by default. Trees are read once per revision, so a
    // small cache loses little.
    git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, static_cast<ssize_t>(4 << 20));
    git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, static_cast<size_t>(64 << 20));
    InstallDeadlineSocketStream();
  });
}

}  // namespace flywheel::git
