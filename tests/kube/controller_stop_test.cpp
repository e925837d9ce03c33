// A controller stops at once: on `stop` (shutdown, lost leadership) and when `may_reconcile`
// says no (a lease that may be another replica's), no worker takes another key; only the
// reconcile in flight finishes.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "flywheel/kube/controller.h"

namespace flywheel::kube {
namespace {

using namespace std::chrono_literals;

// Records every key; the first reconcile waits until the test opens the gate.
class GatedReconciler : public Reconciler {
 public:
  Result<ReconcileResult> Reconcile(const std::string& key, std::stop_token) override {
    std::unique_lock lock(mu_);
    keys_.push_back(key);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return ReconcileResult::Done();
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits (bounded, real time) until `n` reconciles have started.
  bool WaitForStarted(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return keys_.size() >= n; });
  }
  std::vector<std::string> Keys() {
    std::lock_guard lock(mu_);
    return keys_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::vector<std::string> keys_;
};

TEST(ControllerStopTest, StopTakesNoMoreKeysAndFinishesTheOneInFlight) {
  FakeClock clock;
  GatedReconciler reconciler;
  Controller controller("test", reconciler, {.workers = 1, .clock = &clock});
  std::jthread runner([&](std::stop_token stop) { controller.Run(stop); });
  controller.Enqueue("ns/a");
  ASSERT_TRUE(reconciler.WaitForStarted(1));
  controller.Enqueue("ns/b");
  controller.Enqueue("ns/c");
  runner.request_stop();  // b and c are queued, a is in flight
  reconciler.Open();
  runner.join();
  EXPECT_EQ(reconciler.Keys(), std::vector<std::string>{"ns/a"})
      << "keys queued when the stop came must not be reconciled";
}

TEST(ControllerStopTest, NoReconcileOnceMayReconcileSaysNo) {
  FakeClock clock;
  GatedReconciler reconciler;
  reconciler.Open();
  Controller controller("test", reconciler, {.workers = 2, .clock = &clock});
  std::mutex mu;
  std::condition_variable asked_cv;
  bool allowed = true;
  int refused = 0;
  auto may_reconcile = [&] {
    std::lock_guard lock(mu);
    if (!allowed) ++refused;
    asked_cv.notify_all();
    return allowed;
  };
  std::jthread runner([&](std::stop_token stop) { controller.Run(stop, may_reconcile); });
  controller.Enqueue("ns/a");
  ASSERT_TRUE(reconciler.WaitForStarted(1));
  {
    std::lock_guard lock(mu);
    allowed = false;  // the lease is no longer certainly ours
  }
  controller.Enqueue("ns/b");
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(asked_cv.wait_for(lock, 10s, [&] { return refused > 0; }));
  }
  runner.request_stop();
  runner.join();  // every worker has returned: nothing can reconcile b any more
  EXPECT_EQ(reconciler.Keys(), std::vector<std::string>{"ns/a"});
}

// Many controllers on one stop token (the manager runs them so): request_stop() sets the flag
// before it runs the callbacks one by one, so a controller can see the stop and leave before its
// own callback (the one that wakes its workers) ran. Every Run must still return.
TEST(ControllerStopTest, EveryControllerOnASharedStopTokenStops) {
  GatedReconciler reconciler;
  reconciler.Open();
  for (int round = 0; round < 20; ++round) {
    std::vector<std::unique_ptr<Controller>> controllers;
    for (int i = 0; i < 16; ++i) {
      controllers.push_back(std::make_unique<Controller>("c" + std::to_string(i), reconciler,
                                                         ControllerOptions{.workers = 2}));
    }
    std::stop_source stop;
    std::mutex mu;
    std::condition_variable cv;
    int returned = 0;
    std::vector<std::thread> runs;
    for (auto& c : controllers) {
      runs.emplace_back([&, c = c.get()] {
        c->Run(stop.get_token());
        std::lock_guard lock(mu);
        ++returned;
        cv.notify_all();
      });
    }
    std::this_thread::sleep_for(50ms);  // every Run waits in its sleep
    stop.request_stop();
    std::unique_lock lock(mu);
    const bool all = cv.wait_for(lock, 20s, [&] { return returned == 16; });
    lock.unlock();
    ASSERT_TRUE(all) << "round " << round << ": " << returned << " of 16 controllers stopped";
    for (auto& t : runs) t.join();
  }
}

}  // namespace
}  // namespace flywheel::kube
