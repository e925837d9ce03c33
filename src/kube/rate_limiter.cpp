#include "flywheel/kube/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

namespace flywheel::kube {
namespace {

Clock::Duration RefillInterval(double qps) {
  if (!(qps > 0) || std::isinf(qps)) return Clock::Duration::zero();
  const std::chrono::duration<double> interval(1.0 / qps);
  return std::max(Clock::Duration(1), std::chrono::round<Clock::Duration>(interval));
}

}  // namespace

TokenBucket::TokenBucket(double qps, int burst, Clock& clock)
    : clock_(clock),
      unlimited_(!(qps > 0) || std::isinf(qps)),
      interval_(RefillInterval(qps)),
      capacity_(interval_ * std::max(burst, 1)),
      full_at_(clock.Now()) {}

// The bucket is kept as the time it will be full again (a "theoretical arrival time"): taking a
// token pushes that time one interval later, and the bucket is short of tokens when it lies more
// than a whole bucket's refill time in the future. Integer time keeps the arithmetic exact.
Clock::Duration TokenBucket::Reserve() {
  if (unlimited_) return Clock::Duration::zero();
  std::lock_guard guard(mu_);
  const Clock::TimePoint now = clock_.Now();
  full_at_ = std::max(full_at_, now) + interval_;
  return std::max(Clock::Duration::zero(), full_at_ - now - capacity_);
}

bool TokenBucket::TryAccept() {
  if (unlimited_) return true;
  std::lock_guard guard(mu_);
  const Clock::TimePoint now = clock_.Now();
  const Clock::TimePoint next = std::max(full_at_, now) + interval_;
  if (next - now > capacity_) return false;
  full_at_ = next;
  return true;
}

void TokenBucket::Accept() {
  const Clock::Duration delay = Reserve();
  if (delay > Clock::Duration::zero()) clock_.SleepFor(delay);
}

ItemExponentialBackoff::ItemExponentialBackoff(Clock::Duration base, Clock::Duration max_delay)
    : base_(base), max_delay_(max_delay) {}

Clock::Duration ItemExponentialBackoff::When(const std::string& key) {
  int exponent;
  {
    std::lock_guard guard(mu_);
    exponent = failures_[key]++;
  }
  // base * 2^exponent, without overflowing: it is within max_delay iff base <= max_delay >> exp.
  if (exponent >= 62 || base_.count() > (max_delay_.count() >> exponent)) return max_delay_;
  return base_ * (std::int64_t{1} << exponent);
}

void ItemExponentialBackoff::Forget(const std::string& key) {
  std::lock_guard guard(mu_);
  failures_.erase(key);
}

int ItemExponentialBackoff::NumRequeues(const std::string& key) {
  std::lock_guard guard(mu_);
  const auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

Clock::Duration BucketRateLimiter::When(const std::string& /*key*/) { return bucket_.Reserve(); }

void BucketRateLimiter::Forget(const std::string& /*key*/) {}

int BucketRateLimiter::NumRequeues(const std::string& /*key*/) { return 0; }

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
    : limiters_(std::move(limiters)) {}

Clock::Duration MaxOfRateLimiter::When(const std::string& key) {
  Clock::Duration longest = Clock::Duration::zero();
  for (const auto& limiter : limiters_) longest = std::max(longest, limiter->When(key));
  return longest;
}

void MaxOfRateLimiter::Forget(const std::string& key) {
  for (const auto& limiter : limiters_) limiter->Forget(key);
}

int MaxOfRateLimiter::NumRequeues(const std::string& key) {
  int most = 0;
  for (const auto& limiter : limiters_) most = std::max(most, limiter->NumRequeues(key));
  return most;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialBackoff>(std::chrono::milliseconds(5),
                                                              std::chrono::seconds(1000)));
  limiters.push_back(std::make_unique<BucketRateLimiter>(10.0, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

}  // namespace flywheel::kube
