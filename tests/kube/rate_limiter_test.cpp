#include "flywheel/kube/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace flywheel::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ItemExponentialBackoffTest, DoublesFromBaseUpToMax) {
  ItemExponentialBackoff backoff;  // 5 ms -> 1000 s
  Clock::Duration expected = milliseconds(5);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(backoff.NumRequeues("a"), i);
    EXPECT_EQ(backoff.When("a"), std::min<Clock::Duration>(expected, seconds(1000))) << i;
    expected = std::min<Clock::Duration>(expected * 2, seconds(2000));
  }
  EXPECT_EQ(backoff.NumRequeues("a"), 40);
}

TEST(ItemExponentialBackoffTest, FirstDelaysAreFiveTenTwenty) {
  ItemExponentialBackoff backoff;
  EXPECT_EQ(backoff.When("a"), milliseconds(5));
  EXPECT_EQ(backoff.When("a"), milliseconds(10));
  EXPECT_EQ(backoff.When("a"), milliseconds(20));
  EXPECT_EQ(backoff.When("a"), milliseconds(40));
}

TEST(ItemExponentialBackoffTest, ReachesCapAfterEighteenFailures) {
  ItemExponentialBackoff backoff;
  for (int i = 0; i < 17; ++i) backoff.When("a");
  EXPECT_EQ(backoff.When("a"), milliseconds(5 << 17));  // 655.36 s
  EXPECT_EQ(backoff.When("a"), seconds(1000));
}

TEST(ItemExponentialBackoffTest, ManyFailuresStayAtMaxWithoutOverflow) {
  ItemExponentialBackoff backoff(milliseconds(1), seconds(30));
  for (int i = 0; i < 200; ++i) {
    const Clock::Duration d = backoff.When("a");
    EXPECT_GT(d, Clock::Duration::zero());
    EXPECT_LE(d, seconds(30));
  }
  EXPECT_EQ(backoff.When("a"), seconds(30));
}

TEST(ItemExponentialBackoffTest, ForgetResets) {
  ItemExponentialBackoff backoff;
  backoff.When("a");
  backoff.When("a");
  backoff.When("a");
  EXPECT_EQ(backoff.NumRequeues("a"), 3);
  backoff.Forget("a");
  EXPECT_EQ(backoff.NumRequeues("a"), 0);
  EXPECT_EQ(backoff.When("a"), milliseconds(5));
}

TEST(ItemExponentialBackoffTest, KeysBackOffIndependently) {
  ItemExponentialBackoff backoff;
  backoff.When("a");
  backoff.When("a");
  EXPECT_EQ(backoff.When("b"), milliseconds(5));
  EXPECT_EQ(backoff.When("a"), milliseconds(20));
  backoff.Forget("a");
  EXPECT_EQ(backoff.NumRequeues("b"), 1);
}

TEST(TokenBucketTest, BurstThenSteadyRate) {
  FakeClock clock;
  TokenBucket bucket(10, 100, clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(bucket.Reserve(), Clock::Duration::zero()) << i;
  EXPECT_EQ(bucket.Reserve(), milliseconds(100));
  EXPECT_EQ(bucket.Reserve(), milliseconds(200));
  EXPECT_EQ(bucket.Reserve(), milliseconds(300));
  // Time pays the debt off at 10 tokens a second.
  clock.Advance(milliseconds(300));
  EXPECT_EQ(bucket.Reserve(), milliseconds(100));
  clock.Advance(seconds(1));
  for (int i = 0; i < 9; ++i) EXPECT_EQ(bucket.Reserve(), Clock::Duration::zero()) << i;
  EXPECT_EQ(bucket.Reserve(), milliseconds(100));
}

TEST(TokenBucketTest, TryAcceptRefillsAtRate) {
  FakeClock clock;
  TokenBucket bucket(10, 3, clock);
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_FALSE(bucket.TryAccept());
  clock.Advance(milliseconds(50));
  EXPECT_FALSE(bucket.TryAccept());
  clock.Advance(milliseconds(50));
  EXPECT_TRUE(bucket.TryAccept());
  EXPECT_FALSE(bucket.TryAccept());
}

TEST(TokenBucketTest, RefusedTryAcceptTakesNothing) {
  FakeClock clock;
  TokenBucket bucket(1, 1, clock);
  EXPECT_TRUE(bucket.TryAccept());
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(bucket.TryAccept());
  clock.Advance(seconds(1));
  EXPECT_EQ(bucket.Reserve(), Clock::Duration::zero());
}

TEST(TokenBucketTest, IdleTimeFillsOnlyUpToBurst) {
  FakeClock clock;
  TokenBucket bucket(10, 5, clock);
  clock.Advance(std::chrono::hours(1));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.TryAccept()) << i;
  EXPECT_FALSE(bucket.TryAccept());
}

TEST(TokenBucketTest, FractionalRate) {
  FakeClock clock;
  TokenBucket bucket(0.5, 1, clock);
  EXPECT_EQ(bucket.Reserve(), Clock::Duration::zero());
  EXPECT_EQ(bucket.Reserve(), seconds(2));
  EXPECT_EQ(bucket.Reserve(), seconds(4));
}

TEST(TokenBucketTest, NonPositiveQpsMeansUnlimited) {
  FakeClock clock;
  TokenBucket bucket(0, 1, clock);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(bucket.Reserve(), Clock::Duration::zero());
    EXPECT_TRUE(bucket.TryAccept());
  }
}

TEST(TokenBucketTest, AcceptSleepsOnTheClockUntilTokenIsDue) {
  FakeClock clock;
  TokenBucket bucket(10, 1, clock);
  bucket.Accept();  // the burst token: no wait
  std::atomic<bool> accepted{false};
  std::thread caller([&] {
    bucket.Accept();
    accepted = true;
  });
  EXPECT_TRUE(clock.AwaitWaiters(1));
  clock.Advance(milliseconds(99));
  EXPECT_FALSE(accepted);
  clock.Advance(milliseconds(1));
  caller.join();
  EXPECT_TRUE(accepted);
}

TEST(MaxOfRateLimiterTest, TakesTheLargerDelay) {
  FakeClock clock;
  std::unique_ptr<RateLimiter> limiter = DefaultControllerRateLimiter(clock);
  // The bucket's burst of 100 covers the first 100 retries: the per-key backoff decides.
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(limiter->When("key-" + std::to_string(i)), milliseconds(5)) << i;
  }
  // Then the bucket's 10 qps is the larger delay for fresh keys...
  EXPECT_EQ(limiter->When("fresh"), milliseconds(100));
  // ...until a key's own backoff grows past it.
  clock.Advance(seconds(100));
  for (int i = 0; i < 10; ++i) limiter->When("hot");
  EXPECT_EQ(limiter->When("hot"), milliseconds(5 << 10));
}

TEST(MaxOfRateLimiterTest, ForgetAndRequeuesReachEveryLimiter) {
  std::vector<std::unique_ptr<RateLimiter>> parts;
  parts.push_back(std::make_unique<ItemExponentialBackoff>(milliseconds(1), seconds(1)));
  parts.push_back(std::make_unique<ItemExponentialBackoff>(milliseconds(3), seconds(1)));
  MaxOfRateLimiter limiter(std::move(parts));
  EXPECT_EQ(limiter.When("a"), milliseconds(3));
  EXPECT_EQ(limiter.When("a"), milliseconds(6));
  EXPECT_EQ(limiter.NumRequeues("a"), 2);
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.When("a"), milliseconds(3));
}

TEST(BucketRateLimiterTest, SharesOneBucketAcrossKeys) {
  FakeClock clock;
  BucketRateLimiter limiter(1, 2, clock);
  EXPECT_EQ(limiter.When("a"), Clock::Duration::zero());
  EXPECT_EQ(limiter.When("b"), Clock::Duration::zero());
  EXPECT_EQ(limiter.When("c"), seconds(1));
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
}

}  // namespace
}  // namespace flywheel::kube
