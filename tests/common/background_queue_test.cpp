#include "flywheel/common/background_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "support/eventually.h"

namespace flywheel {
namespace {

using namespace std::chrono_literals;

// A handler that records items and, while held, waits before returning.
struct Recorder {
  void Handle(int item, std::stop_token stop) {
    std::unique_lock lock(mu);
    started.push_back(item);
    cv.notify_all();
    cv.wait(lock, stop, [&] { return !held; });
    if (!stop.stop_requested()) done.push_back(item);
  }
  void Release() {
    {
      std::lock_guard lock(mu);
      held = false;
    }
    cv.notify_all();
  }
  bool AwaitStarted(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 20s, [&] { return started.size() >= n; });
  }

  std::mutex mu;
  std::condition_variable_any cv;
  bool held = true;
  std::vector<int> started, done;
};

TEST(BackgroundQueueTest, HandlesItemsInOrderAndRefusesBeyondItsCapacity) {
  Recorder r;
  BackgroundQueue<int> queue(2, [&r](int& item, std::stop_token stop) { r.Handle(item, stop); });
  EXPECT_TRUE(queue.Push(1));
  ASSERT_TRUE(r.AwaitStarted(1)) << "1 is being handled, the queue is empty";
  EXPECT_TRUE(queue.Push(2));
  EXPECT_TRUE(queue.Push(3));
  EXPECT_FALSE(queue.Push(4)) << "two wait already";
  r.Release();
  EXPECT_TRUE(testing::Eventually(
      [&] {
        std::lock_guard lock(r.mu);
        return r.done.size() == 3;
      },
      20s));
  std::lock_guard lock(r.mu);
  EXPECT_EQ(r.done, (std::vector<int>{1, 2, 3}));
}

TEST(BackgroundQueueTest, DestructionStopsTheItemInHandAndDropsTheQueued) {
  Recorder r;
  {
    BackgroundQueue<int> queue(8, [&r](int& item, std::stop_token stop) { r.Handle(item, stop); });
    queue.Push(1);
    ASSERT_TRUE(r.AwaitStarted(1));
    queue.Push(2);
  }  // returns although 1 is held: its handler sees the stop
  EXPECT_EQ(r.started, (std::vector<int>{1}));
  EXPECT_TRUE(r.done.empty());
}

}  // namespace
}  // namespace flywheel
