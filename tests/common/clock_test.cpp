#include "flywheel/common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stop_token>
#include <thread>
#include <vector>

namespace flywheel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FakeClockTest, TimeMovesOnlyOnAdvance) {
  FakeClock clock;
  const Clock::TimePoint start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(milliseconds(1500));
  EXPECT_EQ(clock.Now() - start, milliseconds(1500));
}

TEST(FakeClockTest, SleepWakesWhenTimeReachesDeadline) {
  FakeClock clock;
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(seconds(1));
    woke = true;
  });
  EXPECT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(milliseconds(999));
  EXPECT_FALSE(woke);
  clock.Advance(milliseconds(1));
  sleeper.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(clock.NumWaiters(), 0u);
}

TEST(FakeClockTest, SleepUntilPastDeadlineReturnsAtOnce) {
  FakeClock clock;
  clock.SleepUntil(clock.Now());
  clock.SleepUntil(clock.Now() - seconds(5));
  EXPECT_EQ(clock.NumWaiters(), 0u);
}

TEST(FakeClockTest, AdvanceWakesEveryWaiter) {
  FakeClock clock;
  const Clock::TimePoint start = clock.Now();
  std::vector<std::thread> sleepers;
  for (int i = 1; i <= 8; ++i) {
    sleepers.emplace_back([&clock, start, i] { clock.SleepUntil(start + seconds(i)); });
  }
  EXPECT_TRUE(clock.AwaitWaiters(8));
  clock.Advance(seconds(8));
  for (auto& t : sleepers) t.join();
  EXPECT_EQ(clock.NumWaiters(), 0u);
}

TEST(FakeClockTest, StoppableSleepReturnsTrueAtDeadline) {
  FakeClock clock;
  std::stop_source stop;
  std::atomic<int> result{-1};
  std::thread sleeper([&] { result = clock.SleepFor(seconds(1), stop.get_token()) ? 1 : 0; });
  EXPECT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(milliseconds(999));
  EXPECT_EQ(result, -1);
  clock.Advance(milliseconds(1));
  sleeper.join();
  EXPECT_EQ(result, 1);
}

TEST(FakeClockTest, StoppableSleepReturnsFalseOnStopWithoutTimeMoving) {
  FakeClock clock;
  std::stop_source stop;
  std::atomic<int> result{-1};
  std::thread sleeper([&] { result = clock.SleepFor(seconds(1), stop.get_token()) ? 1 : 0; });
  EXPECT_TRUE(clock.AwaitWaiters(1));
  stop.request_stop();
  sleeper.join();
  EXPECT_EQ(result, 0);
  EXPECT_EQ(clock.NumWaiters(), 0u);
  // Already stopped: returns at once, even before the deadline.
  EXPECT_FALSE(clock.SleepFor(seconds(1), stop.get_token()));
}

TEST(FakeClockTest, WaitUntilReturnsTrueWhenNotified) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::atomic<bool> result{false};
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    result = clock.WaitUntil(lock, cv, clock.Now() + seconds(10), [&] { return ready; });
  });
  EXPECT_TRUE(clock.AwaitWaiters(1));
  {
    std::lock_guard guard(mu);
    ready = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(result);
}

TEST(FakeClockTest, WaitUntilReturnsFalseAtDeadline) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> result{true};
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    result = clock.WaitUntil(lock, cv, clock.Now() + seconds(10), [] { return false; });
  });
  EXPECT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(seconds(10));
  waiter.join();
  EXPECT_FALSE(result);
}

TEST(FakeClockTest, WaitUntilWithoutDeadlineIgnoresTime) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    clock.WaitUntil(lock, cv, Clock::TimePoint::max(), [&] { return ready; });
    done = true;
  });
  EXPECT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(std::chrono::hours(24 * 365));
  EXPECT_FALSE(done);
  {
    std::lock_guard guard(mu);
    ready = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(done);
}

TEST(RealClockTest, NowNeverGoesBack) {
  Clock& clock = RealClock::Instance();
  Clock::TimePoint previous = clock.Now();
  for (int i = 0; i < 1000; ++i) {
    const Clock::TimePoint now = clock.Now();
    EXPECT_GE(now, previous);
    previous = now;
  }
}

TEST(RealClockTest, WaitUntilChecksPredicateAndDeadline) {
  Clock& clock = RealClock::Instance();
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  EXPECT_TRUE(clock.WaitUntil(lock, cv, clock.Now() + seconds(60), [] { return true; }));
  EXPECT_FALSE(clock.WaitUntil(lock, cv, clock.Now() - seconds(1), [] { return false; }));
  EXPECT_TRUE(lock.owns_lock());
  clock.SleepUntil(clock.Now() - seconds(1));
  std::stop_source stop;
  EXPECT_TRUE(clock.SleepUntil(clock.Now() - seconds(1), stop.get_token()));
  stop.request_stop();
  EXPECT_FALSE(clock.SleepFor(seconds(60), stop.get_token()));
}

}  // namespace
}  // namespace flywheel
