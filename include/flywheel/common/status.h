#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace flywheel {

// What went wrong, in terms of what the caller should do next (the Abseil codes). Every
// external failure (Kubernetes API, git, Prometheus, I/O) is mapped onto one of these once, at
// the edge where it happens.
enum class Code {
  kOk,
  kCancelled,           // the caller stopped the work (shutdown)
  kInvalidArgument,     // bad input or spec: do not retry until it changes (HTTP 400, 422)
  kNotFound,            // HTTP 404
  kAlreadyExists,       // HTTP 409 AlreadyExists
  kPermissionDenied,    // HTTP 403
  kUnauthenticated,     // HTTP 401
  kAborted,             // a write lost a race (HTTP 409 Conflict): redo the read-modify-write
  kFailedPrecondition,  // the system is not in a state to do this (e.g. a CRD is missing)
  kOutOfRange,          // a resourceVersion or continue token expired (HTTP 410): relist
  kResourceExhausted,   // throttled (HTTP 429): retry after a delay
  kUnavailable,         // transient (HTTP 5xx, connection refused, reset): retry with backoff
  kDeadlineExceeded,    // the request timed out (HTTP 504, client timeout): retry
  kInternal,            // a bug or an impossible answer
  kUnknown,
};

// The name of a code, e.g. "Unavailable".
const char* CodeName(Code code);

// An error (or success) with a human message that is safe to show a user: it never contains
// credentials. `retry_after` carries a server's Retry-After hint.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::optional<std::chrono::milliseconds>& retry_after() const { return retry_after_; }
  Status& set_retry_after(std::chrono::milliseconds d) {
    retry_after_ = d;
    return *this;
  }

  // Whether repeating the same call later may succeed (Unavailable, ResourceExhausted,
  // DeadlineExceeded). Aborted is not included: it needs a fresh read first.
  bool IsTransient() const;

  // "Code: message", for logs and conditions.
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::optional<std::chrono::milliseconds> retry_after_;
};

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: must not be Ok

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace flywheel
