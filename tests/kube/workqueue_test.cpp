#include "flywheel/kube/workqueue.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace flywheel::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A queue on a fake clock with only the per-key backoff, so delays are exactly 5 ms, 10 ms, ...
std::unique_ptr<WorkQueue> NewQueue(FakeClock& clock) {
  return std::make_unique<WorkQueue>(clock, std::make_unique<ItemExponentialBackoff>());
}

TEST(WorkQueueTest, GetReturnsKeysInOrder) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  queue->Add("b");
  queue->Add("c");
  EXPECT_EQ(queue->Len(), 3u);
  EXPECT_EQ(queue->Get(), "a");
  EXPECT_EQ(queue->Get(), "b");
  EXPECT_EQ(queue->Get(), "c");
  EXPECT_EQ(queue->Len(), 0u);
}

TEST(WorkQueueTest, AddDedupsWaitingKeys) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  queue->Add("b");
  queue->Add("a");
  queue->Add("a");
  EXPECT_EQ(queue->Len(), 2u);
  EXPECT_EQ(queue->Get(), "a");
  EXPECT_EQ(queue->Get(), "b");
  EXPECT_EQ(queue->Len(), 0u);
}

TEST(WorkQueueTest, KeyReAddedWhileProcessingIsProcessedAgainAfterDoneExactlyOnce) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  ASSERT_EQ(queue->Get(), "a");
  queue->Add("a");
  queue->Add("a");
  EXPECT_EQ(queue->Len(), 0u) << "a key in progress must not be handed out again";
  queue->Done("a");
  EXPECT_EQ(queue->Len(), 1u);
  ASSERT_EQ(queue->Get(), "a");
  queue->Done("a");
  EXPECT_EQ(queue->Len(), 0u);
}

TEST(WorkQueueTest, SecondWorkerWaitsUntilKeyIsDone) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  ASSERT_EQ(queue->Get(), "a");
  queue->Add("a");
  std::atomic<bool> got{false};
  std::optional<std::string> second;
  std::thread worker([&] {
    second = queue->Get();
    got = true;
  });
  EXPECT_FALSE(got);
  queue->Done("a");
  worker.join();
  EXPECT_EQ(second, "a");
}

TEST(WorkQueueTest, DoneOfKeyNotInProgressIsIgnored) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  queue->Done("a");
  queue->Done("b");
  EXPECT_EQ(queue->Len(), 1u);
  EXPECT_EQ(queue->Get(), "a");
}

TEST(WorkQueueTest, AddAfterWaitsForTheClock) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->AddAfter("a", seconds(2));
  EXPECT_EQ(queue->Len(), 0u);
  clock.Advance(milliseconds(1999));
  EXPECT_EQ(queue->Len(), 0u);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(queue->Get(), "a");
}

TEST(WorkQueueTest, AddAfterReleasesEarliestFirst) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->AddAfter("c", seconds(3));
  queue->AddAfter("a", seconds(1));
  queue->AddAfter("b", seconds(2));
  queue->AddAfter("a2", seconds(1));  // same time as "a": arrival order
  clock.Advance(seconds(3));
  EXPECT_EQ(queue->Get(), "a");
  EXPECT_EQ(queue->Get(), "a2");
  EXPECT_EQ(queue->Get(), "b");
  EXPECT_EQ(queue->Get(), "c");
}

TEST(WorkQueueTest, AddAfterEarlierTimeWins) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->AddAfter("a", seconds(10));
  queue->AddAfter("a", seconds(1));
  queue->AddAfter("a", seconds(5));  // later than the pending 1 s: ignored
  queue->AddAfter("b", seconds(2));
  clock.Advance(seconds(2));
  EXPECT_EQ(queue->Get(), "a");
  EXPECT_EQ(queue->Get(), "b");
  queue->Done("a");
  queue->Done("b");
  clock.Advance(seconds(10));
  // The superseded 10 s entry is gone: nothing else arrives.
  queue->Add("sentinel");
  EXPECT_EQ(queue->Get(), "sentinel");
  EXPECT_EQ(queue->Len(), 0u);
}

TEST(WorkQueueTest, AddAfterOfWaitingKeyDedups) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  queue->AddAfter("a", seconds(1));
  queue->AddAfter("b", seconds(1));
  clock.Advance(seconds(1));
  EXPECT_EQ(queue->Get(), "a");
  EXPECT_EQ(queue->Get(), "b");
  EXPECT_EQ(queue->Len(), 0u);
}

TEST(WorkQueueTest, AddAfterWithoutDelayAddsNow) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->AddAfter("a", Clock::Duration::zero());
  queue->AddAfter("b", -seconds(1));
  EXPECT_EQ(queue->Len(), 2u);
}

TEST(WorkQueueTest, AddRateLimitedBacksOffPerKeyUntilForget) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  for (const Clock::Duration delay : {milliseconds(5), milliseconds(10), milliseconds(20)}) {
    queue->AddRateLimited("a");
    clock.Advance(delay - milliseconds(1));
    EXPECT_EQ(queue->Len(), 0u);
    clock.Advance(milliseconds(1));
    ASSERT_EQ(queue->Get(), "a");
    queue->Done("a");
  }
  EXPECT_EQ(queue->NumRequeues("a"), 3);
  queue->Forget("a");
  EXPECT_EQ(queue->NumRequeues("a"), 0);
  queue->AddRateLimited("a");
  clock.Advance(milliseconds(5));
  EXPECT_EQ(queue->Get(), "a");
}

TEST(WorkQueueTest, DefaultRateLimiterIsBackoffAndBucket) {
  FakeClock clock;
  WorkQueue queue(clock);
  for (int i = 0; i < 101; ++i) queue.AddRateLimited("key-" + std::to_string(i));
  clock.Advance(milliseconds(5));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(queue.Get(), "key-" + std::to_string(i));
  // The 101st retry waits for the overall bucket (10 qps), not its own 5 ms.
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(milliseconds(95));
  EXPECT_EQ(queue.Get(), "key-100");
}

TEST(WorkQueueTest, ShutDownWakesBlockedGet) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  std::vector<std::thread> workers;
  std::atomic<int> nullopts{0};
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      if (!queue->Get().has_value()) ++nullopts;
    });
  }
  queue->ShutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(nullopts, 4);
  EXPECT_TRUE(queue->ShuttingDown());
}

TEST(WorkQueueTest, ShutDownHandsOutRemainingKeysThenNothing) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  queue->Add("b");
  queue->ShutDown();
  queue->Add("c");
  queue->AddAfter("d", Clock::Duration::zero());
  queue->AddRateLimited("e");
  EXPECT_EQ(queue->Len(), 2u);
  EXPECT_EQ(queue->Get(), "a");
  EXPECT_EQ(queue->Get(), "b");
  EXPECT_EQ(queue->Get(), std::nullopt);
  EXPECT_EQ(queue->Get(), std::nullopt);
  EXPECT_EQ(queue->NumRequeues("e"), 0);
}

TEST(WorkQueueTest, ShutDownDropsDelayedKeys) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->AddAfter("a", seconds(1));
  queue->ShutDown();
  clock.Advance(seconds(2));
  EXPECT_EQ(queue->Get(), std::nullopt);
}

TEST(WorkQueueTest, KeyReAddedBeforeShutDownIsStillProcessed) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  ASSERT_EQ(queue->Get(), "a");
  queue->Add("a");
  queue->ShutDown();
  queue->Done("a");
  EXPECT_EQ(queue->Get(), "a");
  queue->Done("a");
  EXPECT_EQ(queue->Get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForInFlightKeys) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  queue->Add("b");
  ASSERT_EQ(queue->Get(), "a");
  ASSERT_EQ(queue->Get(), "b");
  std::atomic<bool> drained{false};
  std::thread closer([&] {
    queue->ShutDownWithDrain();
    drained = true;
  });
  while (!queue->ShuttingDown()) std::this_thread::yield();
  queue->Done("a");
  EXPECT_FALSE(drained) << "b is still in progress";
  queue->Add("c");  // ignored: shutting down
  queue->Done("b");
  closer.join();
  EXPECT_TRUE(drained);
  EXPECT_EQ(queue->Get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWithDrainReturnsAtOnceWhenIdle) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->ShutDownWithDrain();
  EXPECT_TRUE(queue->ShuttingDown());
}

TEST(WorkQueueTest, ShutDownCancelsAWaitingDrain) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("stuck");
  ASSERT_EQ(queue->Get(), "stuck");
  std::thread closer([&] { queue->ShutDownWithDrain(); });
  // Wait until the drain has begun, then cancel it; the key is never Done.
  while (!queue->ShuttingDown()) std::this_thread::yield();
  queue->ShutDown();
  closer.join();
  EXPECT_EQ(queue->Unfinished().keys, 1u);
}

// Records what the queue reports, into state the test keeps after handing the observer over.
struct ObservedEvents {
  std::mutex mu;
  int adds = 0;
  int retries = 0;
  std::vector<std::size_t> depths;
  std::vector<Clock::Duration> queued;
  std::vector<Clock::Duration> worked;
};

class RecordingObserver : public WorkQueueObserver {
 public:
  explicit RecordingObserver(std::shared_ptr<ObservedEvents> events) : events_(std::move(events)) {}
  void OnAdd() override {
    std::lock_guard guard(events_->mu);
    ++events_->adds;
  }
  void OnDepth(std::size_t depth) override {
    std::lock_guard guard(events_->mu);
    events_->depths.push_back(depth);
  }
  void OnGet(Clock::Duration queued) override {
    std::lock_guard guard(events_->mu);
    events_->queued.push_back(queued);
  }
  void OnDone(Clock::Duration worked) override {
    std::lock_guard guard(events_->mu);
    events_->worked.push_back(worked);
  }
  void OnRetry() override {
    std::lock_guard guard(events_->mu);
    ++events_->retries;
  }

 private:
  std::shared_ptr<ObservedEvents> events_;
};

TEST(WorkQueueTest, ObserverSeesAddsDepthDurationsAndRetries) {
  FakeClock clock;
  auto events = std::make_shared<ObservedEvents>();
  WorkQueue queue(clock, std::make_unique<ItemExponentialBackoff>(),
                  std::make_unique<RecordingObserver>(events));
  queue.Add("a");
  queue.Add("a");  // deduped: not an add
  clock.Advance(seconds(3));
  queue.Add("b");
  ASSERT_EQ(queue.Get(), "a");
  clock.Advance(seconds(2));
  queue.Done("a");
  ASSERT_EQ(queue.Get(), "b");
  queue.Done("b");
  queue.AddRateLimited("c");
  queue.AddAfter("d", seconds(1));
  clock.Advance(seconds(1));
  ASSERT_EQ(queue.Get(), "c");
  ASSERT_EQ(queue.Get(), "d");

  std::lock_guard guard(events->mu);
  EXPECT_EQ(events->adds, 4);  // a, b, c, d
  EXPECT_EQ(events->retries, 2);
  EXPECT_EQ(events->depths, (std::vector<std::size_t>{1, 2, 1, 0, 1, 2, 1, 0}));
  ASSERT_EQ(events->queued.size(), 4u);
  EXPECT_EQ(events->queued[0], seconds(3));  // a: added at 0, taken at 3 s
  EXPECT_EQ(events->queued[1], seconds(2));  // b: added at 3 s, taken at 5 s
  ASSERT_EQ(events->worked.size(), 2u);
  EXPECT_EQ(events->worked[0], seconds(2));
  EXPECT_EQ(events->worked[1], Clock::Duration::zero());
}

TEST(WorkQueueTest, UnfinishedReportsTotalAndLongestInFlight) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  queue->Add("a");
  queue->Add("b");
  ASSERT_EQ(queue->Get(), "a");
  clock.Advance(seconds(4));
  ASSERT_EQ(queue->Get(), "b");
  clock.Advance(seconds(1));
  UnfinishedWork work = queue->Unfinished();
  EXPECT_EQ(work.keys, 2u);
  EXPECT_EQ(work.total, seconds(6));
  EXPECT_EQ(work.longest, seconds(5));
  queue->Done("a");
  work = queue->Unfinished();
  EXPECT_EQ(work.keys, 1u);
  EXPECT_EQ(work.longest, seconds(1));
}

constexpr int kKeys = 64;

// Checks that no key is ever held by two workers at once.
class InProgressSet {
 public:
  // Returns false if `key` was already in progress.
  bool Enter(int key) { return !busy_[key].exchange(true); }
  void Leave(int key) { busy_[key] = false; }

 private:
  std::array<std::atomic<bool>, kKeys> busy_{};
};

TEST(WorkQueueTest, ConcurrentProducersAndConsumersNeverShareAKeyOrLoseAnAdd) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  // generation[k] counts the adds of key k; a worker notes the generation it saw when it took
  // the key. Once everything is done, the last processing of each key must have seen its last add.
  std::array<std::atomic<int>, kKeys> generation{};
  std::array<std::atomic<int>, kKeys> seen{};
  InProgressSet in_progress;
  std::atomic<int> overlaps{0};
  std::atomic<int> processed{0};

  std::vector<std::thread> consumers;
  for (int c = 0; c < 8; ++c) {
    consumers.emplace_back([&] {
      while (std::optional<std::string> key = queue->Get()) {
        const int k = std::stoi(*key);
        if (!in_progress.Enter(k)) ++overlaps;
        const int gen = generation[k].load();
        int previous = seen[k].load();
        while (previous < gen && !seen[k].compare_exchange_weak(previous, gen)) {
        }
        std::this_thread::yield();
        ++processed;
        in_progress.Leave(k);
        queue->Done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  constexpr int kAddsPerProducer = 5000;
  for (int p = 0; p < 8; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 random(p);
      for (int i = 0; i < kAddsPerProducer; ++i) {
        const int k = static_cast<int>(random() % kKeys);
        ++generation[k];
        queue->Add(std::to_string(k));
      }
    });
  }
  for (auto& p : producers) p.join();
  queue->ShutDown();  // keys still queued or re-added while processing are still handed out
  for (auto& c : consumers) c.join();

  EXPECT_EQ(overlaps, 0);
  EXPECT_LE(processed, 8 * kAddsPerProducer);
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_EQ(seen[k].load(), generation[k].load()) << "key " << k << " lost its last add";
  }
  EXPECT_EQ(queue->Unfinished().keys, 0u);
}

TEST(WorkQueueTest, ConcurrentDelayedAndRateLimitedAddsAllArrive) {
  FakeClock clock;
  auto queue = NewQueue(clock);
  InProgressSet in_progress;
  std::atomic<int> overlaps{0};
  std::mutex mu;
  std::condition_variable all_seen_cv;
  std::set<int> seen_keys;

  std::vector<std::thread> consumers;
  for (int c = 0; c < 6; ++c) {
    consumers.emplace_back([&] {
      while (std::optional<std::string> key = queue->Get()) {
        const int k = std::stoi(*key);
        if (!in_progress.Enter(k)) ++overlaps;
        {
          std::lock_guard guard(mu);
          seen_keys.insert(k);
          if (seen_keys.size() == kKeys) all_seen_cv.notify_all();
        }
        in_progress.Leave(k);
        queue->Done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < 6; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 random(p);
      for (int i = 0; i < 2000; ++i) {
        const std::string key = std::to_string(random() % kKeys);
        switch (random() % 3) {
          case 0:
            queue->AddAfter(key, milliseconds(1 + random() % 500));
            break;
          case 1:
            queue->AddRateLimited(key);
            break;
          default:
            queue->Forget(key);
            break;
        }
      }
    });
  }
  // Time moves while the producers run, so some delayed keys fall due early.
  for (int i = 0; i < 100; ++i) {
    clock.Advance(milliseconds(5));
    std::this_thread::yield();
  }
  for (auto& p : producers) p.join();
  clock.Advance(seconds(2000));  // past the largest possible backoff
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(all_seen_cv.wait_for(lock, std::chrono::minutes(2),
                                     [&] { return seen_keys.size() == kKeys; }))
        << "only " << seen_keys.size() << " keys arrived";
  }
  queue->ShutDown();
  for (auto& c : consumers) c.join();
  EXPECT_EQ(overlaps, 0);
}

}  // namespace
}  // namespace flywheel::kube
