#include "flywheel/kube/workqueue.h"

#include <algorithm>

namespace flywheel::kube {

WorkQueue::WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> rate_limiter,
                     std::unique_ptr<WorkQueueObserver> observer)
    : clock_(clock),
      rate_limiter_(rate_limiter ? std::move(rate_limiter) : DefaultControllerRateLimiter(clock)),
      observer_(observer ? std::move(observer) : std::make_unique<WorkQueueObserver>()),
      delay_thread_([this] { RunDelayLoop(); }) {}

WorkQueue::~WorkQueue() {
  ShutDown();
  delay_thread_.join();
}

void WorkQueue::Add(const std::string& key) {
  Lock lock(mu_);
  AddLocked(key, clock_.Now());
}

void WorkQueue::AddLocked(const std::string& key, Clock::TimePoint now) {
  if (shutting_down_) return;
  if (!dirty_.emplace(key, now).second) return;
  observer_->OnAdd();
  observer_->OnDepth(dirty_.size());
  if (processing_.contains(key)) return;  // Done() queues it
  queue_.push_back(key);
  ready_cv_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, Clock::Duration delay) {
  Lock lock(mu_);
  if (shutting_down_) return;
  observer_->OnRetry();
  const Clock::TimePoint now = clock_.Now();
  if (delay <= Clock::Duration::zero()) {
    AddLocked(key, now);
    return;
  }
  const Clock::TimePoint ready_at = now + delay;
  const auto existing = delayed_index_.find(key);
  if (existing != delayed_index_.end()) {
    if (existing->second->first.first <= ready_at) return;
    delayed_.erase(existing->second);
    delayed_index_.erase(existing);
  }
  const auto entry = delayed_.emplace(DelayedKey{ready_at, delayed_seq_++}, key).first;
  delayed_index_.emplace(key, entry);
  if (entry == delayed_.begin()) delay_cv_.notify_one();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  if (ShuttingDown()) return;
  AddAfter(key, rate_limiter_->When(key));
}

void WorkQueue::Forget(const std::string& key) { rate_limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) { return rate_limiter_->NumRequeues(key); }

std::optional<std::string> WorkQueue::Get() {
  Lock lock(mu_);
  ready_cv_.wait(lock, [this] { return !queue_.empty() || shutting_down_; });
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  const Clock::TimePoint now = clock_.Now();
  const auto added = dirty_.find(key);
  observer_->OnGet(now - added->second);
  dirty_.erase(added);
  observer_->OnDepth(dirty_.size());
  processing_.emplace(key, now);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  Lock lock(mu_);
  const auto it = processing_.find(key);
  if (it == processing_.end()) return;
  observer_->OnDone(clock_.Now() - it->second);
  processing_.erase(it);
  if (dirty_.contains(key)) {
    queue_.push_back(key);
    ready_cv_.notify_one();
  }
  if (processing_.empty()) idle_cv_.notify_all();
}

std::size_t WorkQueue::Len() {
  Lock lock(mu_);
  return queue_.size();
}

UnfinishedWork WorkQueue::Unfinished() {
  Lock lock(mu_);
  const Clock::TimePoint now = clock_.Now();
  UnfinishedWork work;
  for (const auto& [key, started] : processing_) {
    ++work.keys;
    work.total += now - started;
    work.longest = std::max(work.longest, now - started);
  }
  return work;
}

void WorkQueue::ShutDown() {
  Lock lock(mu_);
  ShutDownLocked(/*drain=*/false);
}

void WorkQueue::ShutDownWithDrain() {
  Lock lock(mu_);
  ShutDownLocked(/*drain=*/true);
  idle_cv_.wait(lock, [this] { return processing_.empty() || !draining_; });
}

void WorkQueue::ShutDownLocked(bool drain) {
  shutting_down_ = true;
  draining_ = drain;
  delayed_.clear();
  delayed_index_.clear();
  ready_cv_.notify_all();
  delay_cv_.notify_all();
  idle_cv_.notify_all();
}

bool WorkQueue::ShuttingDown() {
  Lock lock(mu_);
  return shutting_down_;
}

// Moves delayed keys whose time has come to the queue, earliest first, and sleeps on the clock
// until the next one is due or AddAfter() brings an earlier one.
void WorkQueue::RunDelayLoop() {
  Lock lock(mu_);
  while (!shutting_down_) {
    const Clock::TimePoint now = clock_.Now();
    while (!delayed_.empty() && delayed_.begin()->first.first <= now) {
      const auto due = delayed_.begin();
      delayed_index_.erase(due->second);
      AddLocked(due->second, now);
      delayed_.erase(due);
    }
    const Clock::TimePoint next =
        delayed_.empty() ? Clock::TimePoint::max() : delayed_.begin()->first.first;
    clock_.Wait(lock, delay_cv_, next);
  }
}

}  // namespace flywheel::kube
