#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "flywheel/common/clock.h"
#include "flywheel/common/status.h"
#include "flywheel/kube/config.h"

namespace flywheel::kube {

// Gives the bearer token to put on the next request. Implementations are thread-safe.
class TokenSource {
 public:
  virtual ~TokenSource() = default;

  // The current token ("" when the source authenticates by other means, e.g. an exec plugin
  // that returned a client certificate).
  virtual Result<std::string> Token() = 0;

  // Tells the source the server rejected its token (HTTP 401): the next Token() fetches a fresh
  // one instead of using a cached one.
  virtual void Invalidate() {}
};

// A token that never changes (kubeconfig `token`).
class StaticTokenSource : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  Result<std::string> Token() override { return token_; }

 private:
  const std::string token_;
};

// A token read from a file and re-read at most once per `period` (client-go's cached file token
// source), so a rotated service-account token is picked up. Surrounding whitespace is trimmed.
// When a re-read fails or finds an empty file, the last good token is kept and the read is tried
// again on the next call; an error is returned only when there has never been a good token.
class FileTokenSource : public TokenSource {
 public:
  static constexpr Clock::Duration kDefaultPeriod = std::chrono::minutes(1);

  // `initial_token`, when not empty, counts as read now: the file is next read `period` later.
  explicit FileTokenSource(std::string path, std::string initial_token = "",
                           Clock& clock = RealClock::Instance(),
                           Clock::Duration period = kDefaultPeriod);

  Result<std::string> Token() override;
  void Invalidate() override;

 private:
  const std::string path_;
  Clock& clock_;
  const Clock::Duration period_;
  std::mutex mu_;
  std::string token_;
  bool fresh_ = false;  // token_ was read at read_at_ and not invalidated since
  Clock::TimePoint read_at_;
  bool failing_ = false;  // the last read failed (logged once per run of failures)
};

// The token source for `config`: the exec plugin when set, else the token file (falling back to
// bearer_token), else bearer_token; nullptr when the config has no token authentication (client
// certificates, basic auth, or anonymous).
std::shared_ptr<TokenSource> NewTokenSource(const RestConfig& config,
                                            Clock& clock = RealClock::Instance());

}  // namespace flywheel::kube
