#pragma once

#include <chrono>
#include <memory>
#include <stop_token>

namespace flywheel::git {

// libgit2 1.5 has no network timeouts (GIT_OPT_SET_SERVER_*_TIMEOUT came in 1.7): a blackholed
// host blocks connect() for minutes and a stalled server blocks recv() forever. This replaces
// libgit2's plain socket stream (used by git://, http, and under the TLS stream for https; ssh
// uses it for connect only) with one that bounds connect, read and write by the deadline of the
// network operation running on the calling thread. A watchdog thread shuts a scope's sockets
// down when its deadline passes, which also ends the reads libssh2 makes on the socket itself.

// Installs the stream for the whole process. Idempotent; call after git_libgit2_init.
void InstallDeadlineSocketStream();

// The deadline and stop token for socket operations on this thread while it lives (libgit2 does
// its network I/O on the thread that called fetch or push). Nested scopes are not supported.
// When `stop` is requested, a socket wait of this scope returns at once and every socket the
// scope opened is shut down, which also ends reads that bypass the stream (libssh2 reads the
// socket itself).
class NetworkDeadline {
 public:
  NetworkDeadline(std::chrono::steady_clock::time_point deadline, std::stop_token stop = {});
  ~NetworkDeadline();
  NetworkDeadline(const NetworkDeadline&) = delete;
  NetworkDeadline& operator=(const NetworkDeadline&) = delete;

  // Whether a socket operation of this scope gave up because the deadline passed.
  bool expired() const;
  // Whether the scope's stop token was requested.
  bool cancelled() const;

  struct Scope;  // the state socket operations of this thread see

 private:
  std::unique_ptr<Scope> scope_;
};

}  // namespace flywheel::git
