#include "deadline_stream.h"

#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

namespace flywheel::git {
namespace {

using Clock = std::chrono::steady_clock;

thread_local std::optional<Clock::time_point> tls_deadline;
thread_local bool tls_expired = false;

// Mirrors libgit2 1.5's internal git_socket_stream: its ssh transport takes the socket
// descriptor `s` out of whatever standard stream is registered (GIT_CONTAINER_OF), so the
// layout must match: parent, host, port, s.
struct DeadlineSocket {
  git_stream parent;
  char* host;
  char* port;
  int s;
};

// Milliseconds left for poll(): -1 (no limit) without a deadline, 0 once it has passed.
int RemainingMs() {
  if (!tls_deadline) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*tls_deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left.count());
}

// Waits until `fd` is ready for `events`; false (with a libgit2 error set) on timeout or error.
bool WaitReady(int fd, short events, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ms = RemainingMs();
    int rc = ms == 0 ? 0 : poll(&p, 1, ms);
    if (rc > 0) return true;
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      tls_expired = true;
      std::string msg = std::string(what) + ": timed out";
      git_error_set_str(GIT_ERROR_NET, msg.c_str());
    } else {
      std::string msg = std::string(what) + ": " + std::strerror(errno);
      git_error_set_str(GIT_ERROR_OS, msg.c_str());
    }
    return false;
  }
}

bool SetBlocking(int fd, bool blocking) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0) return false;
  flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  return fcntl(fd, F_SETFL, flags) == 0;
}

// Connects one address within the deadline; the socket is left in blocking mode.
int ConnectOne(const addrinfo* a, std::string* error) {
  int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
  if (fd < 0) {
    *error = std::strerror(errno);
    return -1;
  }
  if (!SetBlocking(fd, false)) {
    *error = std::strerror(errno);
    close(fd);
    return -1;
  }
  if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      *error = std::strerror(errno);
      close(fd);
      return -1;
    }
    if (!WaitReady(fd, POLLOUT, "connect")) {
      *error = tls_expired ? "timed out" : std::strerror(errno);
      close(fd);
      return -1;
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
      *error = std::strerror(so_error != 0 ? so_error : errno);
      close(fd);
      return -1;
    }
  }
  SetBlocking(fd, true);
  return fd;
}

int StreamConnect(git_stream* stream) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* info = nullptr;
  if (int rc = getaddrinfo(st->host, st->port, &hints, &info); rc != 0) {
    std::string msg =
        std::string("failed to resolve address for ") + st->host + ": " + gai_strerror(rc);
    git_error_set_str(GIT_ERROR_NET, msg.c_str());
    return -1;
  }
  std::string error = "no address";
  int fd = -1;
  for (addrinfo* a = info; a != nullptr && fd < 0 && !tls_expired; a = a->ai_next) {
    fd = ConnectOne(a, &error);
  }
  freeaddrinfo(info);
  if (fd < 0) {
    std::string msg = std::string("failed to connect to ") + st->host + ": " + error;
    git_error_set_str(GIT_ERROR_NET, msg.c_str());
    return -1;
  }
  st->s = fd;
  return 0;
}

ssize_t StreamRead(git_stream* stream, void* data, size_t len) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  for (;;) {
    if (!WaitReady(st->s, POLLIN, "could not read from socket")) return -1;
    ssize_t n = recv(st->s, data, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR || errno == EAGAIN) continue;
    std::string msg = std::string("error receiving data from socket: ") + std::strerror(errno);
    git_error_set_str(GIT_ERROR_NET, msg.c_str());
    return -1;
  }
}

ssize_t StreamWrite(git_stream* stream, const char* data, size_t len, int /*flags*/) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  for (;;) {
    if (!WaitReady(st->s, POLLOUT, "could not write to socket")) return -1;
    ssize_t n = send(st->s, data, len, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR || errno == EAGAIN) continue;
    std::string msg = std::string("error sending data to socket: ") + std::strerror(errno);
    git_error_set_str(GIT_ERROR_NET, msg.c_str());
    return -1;
  }
}

int StreamClose(git_stream* stream) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  int rc = st->s >= 0 ? close(st->s) : 0;
  st->s = -1;
  return rc;
}

void StreamFree(git_stream* stream) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  std::free(st->host);
  std::free(st->port);
  delete st;
}

int StreamInit(git_stream** out, const char* host, const char* port) {
  auto* st = new DeadlineSocket{};
  st->parent.version = GIT_STREAM_VERSION;
  st->parent.connect = StreamConnect;
  st->parent.read = StreamRead;
  st->parent.write = StreamWrite;
  st->parent.close = StreamClose;
  st->parent.free = StreamFree;
  st->host = strdup(host);
  st->port = strdup(port != nullptr ? port : "");
  st->s = -1;
  *out = &st->parent;
  return 0;
}

}  // namespace

void InstallDeadlineSocketStream() {
  static std::once_flag once;
  std::call_once(once, [] {
    static git_stream_registration registration{GIT_STREAM_VERSION, StreamInit, nullptr};
    git_stream_register(GIT_STREAM_STANDARD, &registration);
  });
}

NetworkDeadline::NetworkDeadline(std::chrono::steady_clock::time_point deadline) {
  tls_deadline = deadline;
  tls_expired = false;
}

NetworkDeadline::~NetworkDeadline() {
  tls_deadline.reset();
  tls_expired = false;
}

bool NetworkDeadline::expired() const { return tls_expired || Clock::now() >= *tls_deadline; }

}  // namespace flywheel::git
