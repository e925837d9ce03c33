#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "flywheel/common/clock.h"

namespace flywheel::kube {

// Decides how long a work-queue key waits before it is retried (client-go's RateLimiter). All
// implementations are thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;

  // The delay before `key` may be processed again; counts one more retry of it.
  virtual Clock::Duration When(const std::string& key) = 0;
  // Stops tracking `key` (it succeeded): its next failure starts from the smallest delay.
  virtual void Forget(const std::string& key) = 0;
  // How many times `key` has been retried since it was last forgotten.
  virtual int NumRequeues(const std::string& key) = 0;
};

// A token bucket holding up to `burst` tokens that refills at `qps` tokens per second, starting
// full (golang.org/x/time/rate semantics). Used as the overall limit of a work queue and as the
// client-side QPS/burst limit of the API client. qps <= 0 means no limit; burst is at least 1.
class TokenBucket {
 public:
  TokenBucket(double qps, int burst, Clock& clock);

  // Takes a token, going into debt if there is none, and returns how long the caller must wait
  // before using it (zero if one was available).
  Clock::Duration Reserve();
  // Takes a token if one is available now.
  bool TryAccept();
  // Takes a token, sleeping on the clock until it is available.
  void Accept();

 private:
  Clock& clock_;
  const bool unlimited_;
  const Clock::Duration interval_;  // time to refill one token
  const Clock::Duration capacity_;  // time to refill a whole bucket: burst * interval
  std::mutex mu_;
  // When the bucket will be full again; the bucket is full whenever this is not in the future.
  Clock::TimePoint full_at_;
};

// Per-key exponential backoff: base, 2*base, 4*base, ... capped at max_delay, counted from the
// key's first failure until Forget() (client-go's ItemExponentialFailureRateLimiter).
class ItemExponentialBackoff : public RateLimiter {
 public:
  explicit ItemExponentialBackoff(Clock::Duration base = std::chrono::milliseconds(5),
                                  Clock::Duration max_delay = std::chrono::seconds(1000));

  Clock::Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  const Clock::Duration base_;
  const Clock::Duration max_delay_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
};

// A TokenBucket as a RateLimiter: every key shares the bucket, nothing is tracked per key.
class BucketRateLimiter : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, Clock& clock) : bucket_(qps, burst, clock) {}

  Clock::Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  TokenBucket bucket_;
};

// Combines limiters: the delay is the largest of theirs (every one of them counts the retry),
// requeues the largest count, and Forget() reaches them all.
class MaxOfRateLimiter : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters);

  Clock::Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// controller-runtime's default: per-key backoff 5 ms -> 1000 s combined with an overall bucket of
// 10 qps and burst 100.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock);

}  // namespace flywheel::kube
