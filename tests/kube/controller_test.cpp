#include "flywheel/kube/controller.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

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

  Result<ReconcileResult> Reconcile(const std::string& key, std::stop_token) override {
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
  // The keys of the finished reconciles, in order.
  std::vector<std::string> Keys() {
    std::lock_guard lock(mu_);
    return calls_;
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
  // A controller whose workers do not run yet: its queue holds what handlers enqueue.
  void Create(int workers = 2) {
    controller_ = std::make_unique<Controller>(
        "test", reconciler_, ControllerOptions{.workers = workers, .clock = &clock_});
  }
  void Start(int workers = 2) {
    Create(workers);
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

// After two failures the key has a retry count; the success resets it (the next failure backs
// off from the start again) and does not queue the key again.
TEST_F(ControllerTest, SuccessForgetsTheKey) {
  int requeues_seen_by_the_success = -1;
  reconciler_.Script([] { return Status(Code::kUnavailable, "down"); });
  reconciler_.Script([] { return Status(Code::kUnavailable, "still down"); });
  reconciler_.Script([&]() -> Result<ReconcileResult> {
    requeues_seen_by_the_success = controller_->queue().NumRequeues("ns/a");
    return ReconcileResult::Done();
  });
  Start(1);
  controller_->Enqueue("ns/a");
  ASSERT_TRUE(reconciler_.WaitForCalls(1));
  ASSERT_TRUE(AdvanceUntilCalls(3, 1ms, 1s));
  EXPECT_EQ(requeues_seen_by_the_success, 2);
  // One worker: it finishes ns/a (Forget, Done) before it takes the next key.
  controller_->Enqueue("ns/next");
  ASSERT_TRUE(reconciler_.WaitForCalls(4));
  EXPECT_EQ(controller_->queue().NumRequeues("ns/a"), 0);
  EXPECT_EQ(reconciler_.Keys(), (std::vector<std::string>{"ns/a", "ns/a", "ns/a", "ns/next"}));
  EXPECT_EQ(controller_->queue().Len(), 0u);
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

// An object with this namespace (none: cluster-scoped) and ownerReferences [{kind, name,
// controller}].
ObjectPtr Owned(const std::string& ns,
                const std::vector<std::tuple<std::string, std::string, bool>>& owners) {
  nlohmann::json refs = nlohmann::json::array();
  for (const auto& [kind, name, controller] : owners) {
    refs.push_back({{"apiVersion", "flywheel.dev/v1alpha1"},
                    {"kind", kind},
                    {"name", name},
                    {"controller", controller}});
  }
  nlohmann::json meta = {{"name", "web-abc-pod"}, {"ownerReferences", refs}};
  if (!ns.empty()) meta["namespace"] = ns;
  return std::make_shared<const nlohmann::json>(nlohmann::json{{"metadata", meta}});
}

// The keys a handler queued, in order (the workers are not running, so they stay queued).
std::vector<std::string> Drain(WorkQueue& queue) {
  std::vector<std::string> keys;
  while (queue.Len() > 0) {
    keys.push_back(*queue.Get());
    queue.Done(keys.back());
  }
  return keys;
}

// Only the ownerReference that is the controller and of the owner kind names the key, in the
// object's namespace, for adds, updates and deletes alike.
TEST_F(ControllerTest, EnqueueOwnerMapsToTheControllingOwner) {
  Create();
  EventHandler h = controller_->EnqueueOwner("PipelineRun");
  ObjectPtr pod = Owned("team", {{"ReplicaSet", "not-me", false},
                                 {"PipelineRun", "not-the-controller", false},
                                 {"PipelineRun", "web-abc", true}});
  h.on_add(pod);
  EXPECT_EQ(Drain(controller_->queue()), std::vector<std::string>{"team/web-abc"});
  h.on_update(pod, Owned("team", {{"PipelineRun", "web-def", true}}));
  EXPECT_EQ(Drain(controller_->queue()), std::vector<std::string>{"team/web-def"})
      << "an update maps the new object";
  h.on_delete(Owned("", {{"PipelineRun", "cluster-run", true}}));
  EXPECT_EQ(Drain(controller_->queue()), std::vector<std::string>{"cluster-run"})
      << "a cluster-scoped object's owner key has no namespace";

  h.on_add(Owned("team", {{"ReplicaSet", "web-abc", true}}));
  h.on_update(pod, Owned("team", {{"PipelineRun", "web-abc", false}}));
  h.on_delete(Owned("team", {}));
  EXPECT_EQ(Drain(controller_->queue()), std::vector<std::string>{})
      << "no controlling owner of the kind: nothing to queue";
}

}  // namespace
}  // namespace flywheel::kube
