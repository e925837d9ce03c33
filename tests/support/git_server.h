#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "process.h"

namespace flywheel::testing {

// A bare repository on disk with helpers to commit to it through the git CLI, as a user would.
// Served over file:// always, and over git:// or http(s) by the servers below.
class GitRepo {
 public:
  // Creates an empty bare repository `<dir>/<name>.git` (default branch main,
  // http.receivepack on) and a scratch work tree (a temporary directory) to commit from. Every
  // git failure throws std::runtime_error with git's output.
  GitRepo(const std::string& dir, const std::string& name);
  // Removes the scratch work tree; the bare repository stays in `dir`.
  ~GitRepo();
  GitRepo(const GitRepo&) = delete;
  GitRepo& operator=(const GitRepo&) = delete;

  const std::string& bare_path() const { return bare_; }
  std::string FileUrl() const { return "file://" + bare_; }

  // Writes files (path relative to the repository root -> content) on `branch` (created from
  // main when new), commits them with `message` and pushes; returns the new commit SHA. Starts
  // from the bare repository's current branch head, so pushes made by others are kept. Always
  // makes a new commit, even when the content is unchanged.
  std::string Commit(const std::map<std::string, std::string>& files, const std::string& message,
                     const std::string& branch = "main");
  // Deletes files (relative paths), commits, pushes; returns the new SHA.
  std::string Remove(const std::vector<std::string>& paths, const std::string& message,
                     const std::string& branch = "main");
  // Creates a lightweight tag at `sha` and pushes it.
  void Tag(const std::string& name, const std::string& sha);
  // `git log --format=%H %s` of `branch`, newest first, as {sha, subject} pairs (empty when the
  // branch does not exist).
  std::vector<std::pair<std::string, std::string>> Log(const std::string& branch = "main");
  // The content of `path` at `branch`'s head ("" when missing).
  std::string Show(const std::string& path, const std::string& branch = "main");
  // The SHA of `branch`'s head ("" when the branch does not exist).
  std::string Head(const std::string& branch = "main");

 private:
  std::string bare_;
  std::string work_;
};

// `git daemon` serving every repository below `base_dir` on a free port of `address` (loopback
// unless given, e.g. the real node's bridge address for pods), read-only
// (git://<address>:<port>/<name>.git). Stopped by the destructor.
class GitDaemon {
 public:
  explicit GitDaemon(const std::string& base_dir, const std::string& address = "127.0.0.1");
  ~GitDaemon();
  std::string Url(const std::string& repo_name) const;  // git://<address>:<port>/<name>.git
  int port() const { return port_; }

 private:
  std::string address_;
  int port_ = 0;
  std::string tmp_;  // the daemon's log
  std::unique_ptr<BackgroundProcess> process_;
};

// nginx + fcgiwrap + `git http-backend` on a free loopback port serving `base_dir` over HTTP
// with basic auth (user/password given here), fetch and push. Stopped by the destructor.
class GitHttpServer {
 public:
  GitHttpServer(const std::string& base_dir, const std::string& user, const std::string& password);
  ~GitHttpServer();
  std::string Url(const std::string& repo_name) const;  // http://127.0.0.1:<port>/<name>.git
  int port() const { return port_; }
  // Stops nginx (the git host is down: connections are refused) / starts it again on the same
  // port.
  void Pause();
  void Resume();

 private:
  std::string dir_;
  int port_ = 0;
  std::string tmp_;  // nginx.conf, htpasswd, the fcgiwrap socket, logs, nginx's temp files
  std::unique_ptr<BackgroundProcess> nginx_, fcgiwrap_;
};

// sshd on a free loopback port with a generated host key, accepting one generated client key
// (no password logins) for the user running the tests, whose account serves the repositories:
// ssh://<user>@127.0.0.1:<port>/<absolute base_dir>/<name>.git, where <user> is the current
// user (root on the CI machines). sshd needs root to switch to that user. Stopped by the
// destructor.
class GitSshServer {
 public:
  explicit GitSshServer(const std::string& base_dir);
  ~GitSshServer();
  // ssh://<user>@127.0.0.1:<port>/<absolute base_dir>/<name>.git
  std::string Url(const std::string& repo_name) const;
  const std::string& client_private_key() const { return client_key_; }  // OpenSSH PEM
  const std::string& known_hosts() const { return known_hosts_; }        // for 127.0.0.1:<port>
  int port() const { return port_; }

 private:
  std::string dir_;
  std::string user_;
  int port_ = 0;
  std::string tmp_;  // sshd_config, keys, authorized_keys, pid file, log
  std::string client_key_, known_hosts_;
  std::unique_ptr<BackgroundProcess> sshd_;
};

// A server that never answers: a loopback port whose connections the kernel completes and nobody
// ever reads or writes, as a hung git host looks to a client. Closed by the destructor.
class SilentServer {
 public:
  SilentServer();
  ~SilentServer();
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  std::string GitUrl(const std::string& repo_name) const;   // git://127.0.0.1:<port>/<name>.git
  std::string HttpUrl(const std::string& repo_name) const;  // http://127.0.0.1:<port>/<name>.git
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Whether the servers' programs are installed (git, git-http-backend, nginx, fcgiwrap, sshd, ssh,
// ssh-keygen, openssl); if not, `why` names the missing ones (tests skip with it, which fails
// them: support/main.cpp).
bool GitServersAvailable(std::string* why);

}  // namespace flywheel::testing
