#include "flywheel/common/clock.h"

#include <condition_variable>
#include <vector>

namespace flywheel {

void Clock::SleepUntil(TimePoint deadline) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  WaitUntil(lock, cv, deadline, [] { return false; });
}

bool Clock::SleepUntil(TimePoint deadline, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable cv;
  // Registered before `mu` is held: a stop already requested runs the callback right here.
  std::stop_callback wake(stop, [&] {
    std::lock_guard guard(mu);
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  return !WaitUntil(lock, cv, deadline, [&] { return stop.stop_requested(); });
}

RealClock& RealClock::Instance() {
  static RealClock clock;
  return clock;
}

Clock::TimePoint RealClock::Now() const { return std::chrono::steady_clock::now(); }

void RealClock::Wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                     TimePoint deadline) {
  if (deadline == TimePoint::max()) {
    cv.wait(lock);
  } else {
    cv.wait_until(lock, deadline);
  }
}

Clock::TimePoint FakeClock::Now() const {
  std::lock_guard guard(mu_);
  return now_;
}

// Lock order: the waiter's mutex, then mu_. Advance() never holds mu_ while it takes a waiter's
// mutex, and a waiter leaves the list only after dropping its own mutex.
void FakeClock::Wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                     TimePoint deadline) {
  std::list<Waiter>::iterator self;
  {
    std::lock_guard guard(mu_);
    if (now_ >= deadline) return;
    self = waiters_.insert(waiters_.end(), Waiter{lock.mutex(), &cv});
  }
  joined_.notify_all();
  // Advance() takes `lock`'s mutex before it notifies, so it cannot notify between the check
  // above and this wait.
  cv.wait(lock);
  lock.unlock();
  {
    std::unique_lock guard(mu_);
    released_.wait(guard, [&] { return self->notifying == 0; });
    waiters_.erase(self);
  }
  lock.lock();
}

void FakeClock::Advance(Duration d) {
  std::vector<Waiter*> waiters;
  {
    std::lock_guard guard(mu_);
    now_ += d;
    for (Waiter& w : waiters_) {
      ++w.notifying;
      waiters.push_back(&w);
    }
  }
  for (Waiter* w : waiters) {
    std::lock_guard guard(*w->mutex);
    w->cv->notify_all();
  }
  {
    std::lock_guard guard(mu_);
    for (Waiter* w : waiters) --w->notifying;
  }
  released_.notify_all();
}

std::size_t FakeClock::NumWaiters() const {
  std::lock_guard guard(mu_);
  return waiters_.size();
}

bool FakeClock::AwaitWaiters(std::size_t n, std::chrono::milliseconds real_timeout) {
  std::unique_lock lock(mu_);
  return joined_.wait_for(lock, real_timeout, [&] { return waiters_.size() >= n; });
}

bool SleepOrStop(std::stop_token stop, std::chrono::nanoseconds d) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  return !cv.wait_for(lock, stop, d, [] { return false; }) && !stop.stop_requested();
}

}  // namespace flywheel
