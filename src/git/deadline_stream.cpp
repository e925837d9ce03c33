#include "deadline_stream.h"

#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace flywheel::git {

using SteadyClock = std::chrono::steady_clock;

struct NetworkDeadline::Scope {
  SteadyClock::time_point deadline;
  std::atomic<bool> expired{false};  // a wait of this scope gave up at the deadline
  std::atomic<bool> cancelled{false};
  int wake_fd = -1;       // an eventfd that becomes readable when stop is requested
  std::mutex mu;          // guards sockets (closing one races with the stop callback)
  std::set<int> sockets;  // open sockets of this scope
  std::optional<std::stop_callback<std::function<void()>>> on_stop;
};

namespace {

thread_local NetworkDeadline::Scope* tls_scope = nullptr;

// Runs on the thread that requests stop: wakes the scope's waits and ends its sockets' reads.
void Cancel(NetworkDeadline::Scope* scope) {
  std::lock_guard<std::mutex> lock(scope->mu);
  scope->cancelled = true;
  uint64_t one = 1;
  if (scope->wake_fd >= 0 && write(scope->wake_fd, &one, sizeof(one)) < 0) {
    // The eventfd counter cannot overflow from one write; nothing else can fail here.
  }
  for (int fd : scope->sockets) shutdown(fd, SHUT_RDWR);
}

// Shuts down the sockets of scopes whose deadline passed. poll() in this stream bounds git://
// and http(s), but libssh2 reads the socket itself after connect, so without this an ssh server
// that never answers would hold its fetch forever.
class Watchdog {
 public:
  // The process-wide watchdog; its thread lives as long as the process.
  static Watchdog& Instance() {
    static Watchdog* watchdog = new Watchdog();
    return *watchdog;
  }

  void Add(NetworkDeadline::Scope* scope) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      scopes_.insert(scope);
    }
    changed_.notify_one();
  }

  // After this returns the watchdog no longer touches `scope`.
  void Remove(NetworkDeadline::Scope* scope) {
    std::lock_guard<std::mutex> lock(mu_);
    scopes_.erase(scope);
  }

 private:
  Watchdog() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      SteadyClock::time_point next = SteadyClock::time_point::max();
      const SteadyClock::time_point now = SteadyClock::now();
      for (NetworkDeadline::Scope* scope : scopes_) {
        if (scope->deadline > now) {
          next = std::min(next, scope->deadline);
        } else if (!scope->expired) {
          std::lock_guard<std::mutex> scope_lock(scope->mu);  // order: mu_, then scope->mu
          scope->expired = true;
          for (int fd : scope->sockets) shutdown(fd, SHUT_RDWR);
        }
      }
      if (next == SteadyClock::time_point::max()) {
        changed_.wait(lock);
      } else {
        changed_.wait_until(lock, next);
      }
    }
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::set<NetworkDeadline::Scope*> scopes_;
};

// A socket of the current scope, shut down when the scope is cancelled.
int OpenSocket(const addrinfo* a) {
  int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
  if (fd >= 0 && tls_scope != nullptr) {
    std::lock_guard<std::mutex> lock(tls_scope->mu);
    tls_scope->sockets.insert(fd);
    if (tls_scope->cancelled) shutdown(fd, SHUT_RDWR);
  }
  return fd;
}

int CloseSocket(int fd) {
  if (tls_scope == nullptr) return close(fd);
  std::lock_guard<std::mutex> lock(tls_scope->mu);
  tls_scope->sockets.erase(fd);
  return close(fd);
}

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
  if (tls_scope == nullptr) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(tls_scope->deadline -
                                                                    SteadyClock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left.count());
}

bool Cancelled() { return tls_scope != nullptr && tls_scope->cancelled; }
bool Expired() { return tls_scope != nullptr && tls_scope->expired; }

// Waits until `fd` is ready for `events`; false (with a libgit2 error set) on timeout, stop or
// error.
bool WaitReady(int fd, short events, const char* what) {
  for (;;) {
    pollfd p[2] = {{fd, events, 0}, {tls_scope != nullptr ? tls_scope->wake_fd : -1, POLLIN, 0}};
    int ms = RemainingMs();
    int rc = ms == 0 || Cancelled() ? 0 : poll(p, 2, ms);
    if (Cancelled()) {
      std::string msg = std::string(what) + ": cancelled";
      git_error_set_str(GIT_ERROR_NET, msg.c_str());
      return false;
    }
    if (rc > 0) return true;
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      tls_scope->expired = true;
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
  int fd = OpenSocket(a);
  if (fd < 0) {
    *error = std::strerror(errno);
    return -1;
  }
  if (!SetBlocking(fd, false)) {
    *error = std::strerror(errno);
    CloseSocket(fd);
    return -1;
  }
  if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      *error = std::strerror(errno);
      CloseSocket(fd);
      return -1;
    }
    if (!WaitReady(fd, POLLOUT, "connect")) {
      *error = Cancelled() ? "cancelled" : Expired() ? "timed out" : std::strerror(errno);
      CloseSocket(fd);
      return -1;
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
      *error = std::strerror(so_error != 0 ? so_error : errno);
      CloseSocket(fd);
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
  for (addrinfo* a = info; a != nullptr && fd < 0 && !Expired() && !Cancelled(); a = a->ai_next) {
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
  int rc = st->s >= 0 ? CloseSocket(st->s) : 0;
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

NetworkDeadline::NetworkDeadline(std::chrono::steady_clock::time_point deadline,
                                 std::stop_token stop)
    : scope_(std::make_unique<Scope>()) {
  scope_->deadline = deadline;
  if (stop.stop_possible()) {
    scope_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    Scope* scope = scope_.get();
    scope_->on_stop.emplace(stop, [scope] { Cancel(scope); });
  }
  tls_scope = scope_.get();
  Watchdog::Instance().Add(scope_.get());
}

NetworkDeadline::~NetworkDeadline() {
  Watchdog::Instance().Remove(scope_.get());
  scope_->on_stop.reset();  // waits for a stop callback that is running
  if (scope_->wake_fd >= 0) close(scope_->wake_fd);
  tls_scope = nullptr;
}

bool NetworkDeadline::expired() const {
  return scope_->expired || SteadyClock::now() >= scope_->deadline;
}

bool NetworkDeadline::cancelled() const { return scope_->cancelled; }

}  // namespace flywheel::git
