#pragma once

#include <string>
#include <string_view>

namespace flywheel::git {

// A repository identity for matching webhooks to sources: host (lowercase, no port for the
// default ports, no user) + "/" + path without a trailing ".git" or "/". The https, ssh,
// scp-like (git@host:org/repo), git:// and http forms of one repository give the same key;
// file:// URLs give "file" + the absolute path. "" when `url` is not a git URL.
std::string RepoKey(std::string_view url);

// `url` with any user:password@ removed, safe for logs and messages.
std::string RedactUrl(std::string_view url);

}  // namespace flywheel::git
