#include "flywheel/kube/controller.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <thread>

namespace flywheel::kube {
namespace {

using namespace std::chrono_literals;

// A reconciler whose answers the test scripts, recording every call.
class ScriptedReconciler : public Reconciler {
 public:
  explicit ScriptedReconciler(Clock& clock) : clock_(clock) {}

  using Answer = std::function<Result<ReconcileResult>()>;

  void Script(Answer a) {
    std::lock_guard lock(mu_);
    answers_.push_back(std::move(a));
  }

  Result<ReconcileResult> Reconcile(const std::string& key) override {
    Answer answer;
    {
      std::lock_guard lock(mu_);
      EXPECT_FALSE(in_flight_) << "two workers reconciled " << key << " at once";
      in_flight_ = true;
      if (!answers_.empty()) {
        answer = std::move(answers_.front());
        answers_.pop_front();
      }
    }
    auto record = [&] {
      std::lock_guard lock(mu_);
      in_flight_ = false;
      calls_.push_back(key);
      times_.push_back(clock_.Now());
      cv_.notify_all();
    };
    try {
      Result<ReconcileResult> r = answer ? answer() : Result<ReconcileResult>(ReconcileResult{});
      record();
      return r;
    } catch (...) {
      record();
      throw;
    }
  }

  // The (fake) time of the n-th finished reconcile.
  Clock::TimePoint TimeOf(size_t n) {
    std::lock_guard lock(mu_);
    return times_.at(n);
  }

  // Waits (bounded, real time) until `n` reconciles have finished.
  bool WaitForCalls(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return calls_.size() >= n; });
  }
  size_t Calls() {
    std::lock_guard lock(mu_);
    return calls_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Answer> answers_;
  std::vector<std::string> calls_;
  std::vector<Clock::TimePoint> times_;
  bool in_flight_ = false;
  Clock& clock_;
};

class ControllerTest : public ::testing::Test {
 protected:
  void Start(int workers = 2) {
    controller_ = std::make_unique<Controller>(
        "test", reconciler_, ControllerOptions{.workers = workers, .clock = &clock_});
    runner_ = std::jthread([this](std::stop_token stop) { controller_->Run(stop); });
  }
  void TearDown() override {
    if (runner_.joinable()) {
      runner_.request_stop();
      runner_.join();
    }
  }
  // Moves fake time forward in `step`s until `n` reconciles have finished (at most `limit`);
  // the reconciler records the fake time of each, which the tests compare. Only lower bounds
  // are asserted: a slow machine adds fake time between steps, never removes it.
  bool AdvanceUntilCalls(size_t n, Clock::Duration step, Clock::Duration limit) {
    for (Clock::Duration moved{}; moved <= limit; moved += step) {
      if (reconciler_.Calls() >= n) return true;
      clock_.Advance(step);
      std::this_thread::sleep_for(2ms);  // let the delay thread and a worker run
    }
    return reconciler_.WaitForCalls(n);
  }

  FakeClock clock_;
  ScriptedReconciler reconciler_{clock_};
  std::unique_ptr<Controller> controller_;
  std::jthread runner_;
};

TEST_F(ControllerTest, SuccessForgetsTheKey) {
  Start();
  controller_->Enqueue("ns/a");
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  EXPECT_EQ(controller_->queue().NumRequeues("ns/a"), 0);
}

TEST_F(ControllerTest, ErrorRetriesWithGrowingBackoff) {
  reconciler_.Script([] { return Status(Code::kUnavailable, "down"); });
  reconciler_.Script([] { return Status(Code::kUnavailable, "still down"); });
  Start();
  controller_->Enqueue("ns/a");
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  ASSERT_TRUE(AdvanceUntilCalls(2, 1ms, 1s));
  ASSERT_TRUE(AdvanceUntilCalls(3, 1ms, 1s));
  auto first = reconciler_.TimeOf(1) - reconciler_.TimeOf(0);
  auto second = reconciler_.TimeOf(2) - reconciler_.TimeOf(1);
  EXPECT_GE(first, 5ms);  // 5 ms, then 10 ms: exponential per-key backoff
  EXPECT_GE(second, 10ms);
  ASSERT_TRUE(reconciler_.WaitForCalls(3));
  EXPECT_EQ(controller_->queue().NumRequeues("ns/a"), 0) << "success forgets the backoff";
}

TEST_F(ControllerTest, RequeueAfterComesBackThenWithoutBackoff) {
  reconciler_.Script([] { return ReconcileResult::After(30s); });
  Start();
  controller_->Enqueue("ns/a");
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  EXPECT_EQ(controller_->queue().NumRequeues("ns/a"), 0);
  ASSERT_TRUE(AdvanceUntilCalls(2, 500ms, 60s));
  auto gap = reconciler_.TimeOf(1) - reconciler_.TimeOf(0);
  EXPECT_GE(gap, 30s);
}

TEST_F(ControllerTest, ExceptionIsRetriedLikeAnError) {
  reconciler_.Script([]() -> Result<ReconcileResult> { throw std::runtime_error("bug"); });
  Start();
  controller_->Enqueue("ns/a");
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  ASSERT_TRUE(AdvanceUntilCalls(2, 1ms, 1s));
  EXPECT_GE(reconciler_.TimeOf(1) - reconciler_.TimeOf(0), 5ms);
}

TEST_F(ControllerTest, KeyReaddedWhileReconcilingRunsAgainAfterwardsNeverConcurrently) {
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool release = false, entered = false;
  reconciler_.Script([&]() -> Result<ReconcileResult> {
    std::unique_lock lock(gate_mu);
    entered = true;
    gate_cv.notify_all();
    gate_cv.wait(lock, [&] { return release; });
    return ReconcileResult{};
  });
  Start(4);
  controller_->Enqueue("ns/a");
  {
    std::unique_lock lock(gate_mu);
    ASSERT_TRUE(gate_cv.wait_for(lock, 10s, [&] { return entered; }));
  }
  controller_->Enqueue("ns/a");  // while the first reconcile is still running
  controller_->Enqueue("ns/a");  // deduplicated with the one above
  {
    std::lock_guard lock(gate_mu);
    release = true;
    gate_cv.notify_all();
  }
  ASSERT_TRUE(reconciler_.WaitForCalls(2));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reconciler_.Calls(), 2u);
}

TEST_F(ControllerTest, EnqueueOwnerMapsToTheControllingOwner) {
  Start();
  EventHandler h = controller_->EnqueueOwner("PipelineRun");
  auto pod = std::make_shared<const nlohmann::json>(
      nlohmann::json{{"metadata",
                      {{"name", "web-abc-pod"},
                       {"namespace", "team"},
                       {"ownerReferences",
                        {{{"kind", "ReplicaSet"}, {"name", "not-me"}, {"controller", false}},
                         {{"kind", "PipelineRun"}, {"name", "web-abc"}, {"controller", true}}}}}}});
  h.on_add(pod);
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  EXPECT_EQ(reconciler_.Calls(), 1u);
}

}  // namespace
}  // namespace flywheel::kube
