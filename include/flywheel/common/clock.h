#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <mutex>
#include <stop_token>

namespace flywheel {

// The source of time for everything that waits, times out or measures durations, so tests can
// replace real time with a FakeClock and never depend on how fast the machine is.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;

  virtual TimePoint Now() const = 0;

  // Blocks on `cv`, whose mutex `lock` holds, until `cv` is notified, the wait wakes spuriously,
  // or Now() reaches `deadline` (TimePoint::max() waits for a notification only). Returns with
  // `lock` held. Callers loop on their own condition, as with std::condition_variable.
  virtual void Wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                    TimePoint deadline) = 0;

  // Waits on `cv` until `done()` holds (returns true) or Now() reaches `deadline` first (returns
  // false).
  template <typename Predicate>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline, Predicate done) {
    while (!done()) {
      if (Now() >= deadline) return false;
      Wait(lock, cv, deadline);
    }
    return true;
  }

  // Blocks the calling thread until Now() reaches `deadline`.
  void SleepUntil(TimePoint deadline);
  void SleepFor(Duration d) { SleepUntil(Now() + d); }

  // Blocks until Now() reaches `deadline` (returns true) or `stop` is requested (returns false),
  // whichever comes first. For periodic work in long-running threads that tests drive with a
  // FakeClock.
  bool SleepUntil(TimePoint deadline, std::stop_token stop);
  bool SleepFor(Duration d, std::stop_token stop) { return SleepUntil(Now() + d, stop); }
};

// The machine's monotonic clock.
class RealClock : public Clock {
 public:
  // The process-wide instance, for code that is not given a clock.
  static RealClock& Instance();

  TimePoint Now() const override;
  void Wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
            TimePoint deadline) override;
};

// A clock for tests: time stands still until Advance() moves it, which wakes every thread
// waiting in Wait() or SleepUntil() so it can see the new time. Do not call Advance() while
// holding a mutex that a waiter passes to Wait().
class FakeClock : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  TimePoint Now() const override;
  void Wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
            TimePoint deadline) override;

  // Moves time forward by `d` and wakes all waiters.
  void Advance(Duration d);

  // How many threads are blocked in Wait() (or SleepUntil()) right now.
  std::size_t NumWaiters() const;
  // Blocks until at least `n` threads wait on this clock, so a test can advance time once they
  // are asleep. Gives up after `real_timeout` of real time (returns false): a safety net that
  // only a broken test or component should ever hit.
  bool AwaitWaiters(std::size_t n,
                    std::chrono::milliseconds real_timeout = std::chrono::minutes(1));

 private:
  struct Waiter {
    std::mutex* mutex;
    std::condition_variable* cv;
    int notifying = 0;  // Advance() calls that may still touch `mutex` and `cv`
  };

  mutable std::mutex mu_;
  std::condition_variable released_;  // signalled when an Advance() is done with its waiters
  std::condition_variable joined_;    // signalled when a thread starts waiting
  TimePoint now_;
  std::list<Waiter> waiters_;  // a list: entries stay put while Advance() points at them
};

// Sleeps on real time for `d`, waking early when `stop` is requested. Returns true when the whole
// time passed, false when stopped. For loops in long-running threads (retries, periodic work).
bool SleepOrStop(std::stop_token stop, std::chrono::nanoseconds d);

}  // namespace flywheel
