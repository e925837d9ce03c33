#pragma once

#include <string>
#include <string_view>

namespace flywheel::git {

// A repository identity for matching webhooks to sources: host (lowercase, no port for the
// default ports, no user) + "/" + path without a trailing ".git" or "/". The https, ssh,
// scp-like (git@host:org/repo), git:// and http forms of one repository give the same key;
// file:// URLs give "file" + the absolute path. "" when `url` is not a git URL.
// - The path keeps its case and is compared exactly: GitHub paths are case-insensitive, but
//   other hosts' are not, and a false match would sync the wrong repository.
// - A non-default port is kept ("host:8443/org/repo"), so ssh on port 2222 and https on 443 of
//   one server give different keys; a webhook payload names several URLs, one of which matches.
// - Empty path segments, the query and the fragment are dropped; %-escapes are not decoded.
// - Schemes: http, https, ssh, git+ssh, ssh+git, git, file; others (ftp, ...) give "".
std::string RepoKey(std::string_view url);

// `url` with any user:password@ removed, safe for logs and messages. http(s) and other schemes
// lose the whole userinfo (tokens are often given as the user name); ssh and scp-like URLs keep
// the user name ("git", no secret) and lose only a password; so does malformed input with an
// "x:y@" part. Nothing else changes.
std::string RedactUrl(std::string_view url);

}  // namespace flywheel::git
