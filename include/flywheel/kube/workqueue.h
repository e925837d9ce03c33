#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "flywheel/common/clock.h"
#include "flywheel/kube/rate_limiter.h"

namespace flywheel::kube {

// Receives a work queue's events so the metrics layer can export controller-runtime's
// workqueue_* series without the queue knowing Prometheus. Called with the queue's lock held:
// implementations must be quick and must not call back into the queue.
class WorkQueueObserver {
 public:
  virtual ~WorkQueueObserver() = default;

  // A key was added that was not already waiting (workqueue_adds_total).
  virtual void OnAdd() {}
  // The number of keys waiting to be processed changed (workqueue_depth).
  virtual void OnDepth(std::size_t /*depth*/) {}
  // A worker took a key that had waited `queued` since it was added
  // (workqueue_queue_duration_seconds).
  virtual void OnGet(Clock::Duration /*queued*/) {}
  // A worker finished a key after `worked` (workqueue_work_duration_seconds).
  virtual void OnDone(Clock::Duration /*worked*/) {}
  // A key was scheduled for a later retry (workqueue_retries_total).
  virtual void OnRetry() {}
};

// Work still in the hands of workers, for workqueue_unfinished_work_seconds (`total`) and
// workqueue_longest_running_processor_seconds (`longest`).
struct UnfinishedWork {
  std::size_t keys = 0;
  Clock::Duration total{};
  Clock::Duration longest{};
};

// The queue between watch events and reconcilers, with client-go's semantics: a key waits at
// most once (adding it again while it waits does nothing); a key being processed is never handed
// to a second worker (if it is added meanwhile, it is queued again when the first worker calls
// Done); keys can be added after a delay or after the rate limiter's delay for their next retry.
// Thread-safe.
class WorkQueue {
 public:
  // Uses DefaultControllerRateLimiter(clock) when `rate_limiter` is null. `clock` must outlive
  // the queue.
  explicit WorkQueue(Clock& clock, std::unique_ptr<RateLimiter> rate_limiter = nullptr,
                     std::unique_ptr<WorkQueueObserver> observer = nullptr);
  // Shuts the queue down (dropping keys still delayed) and stops its delay thread.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already waiting or the queue is shutting down.
  void Add(const std::string& key);
  // Adds `key` once `delay` has passed on the clock. If it is already delayed, the earlier of the
  // two times wins.
  void AddAfter(const std::string& key, Clock::Duration delay);
  // Adds `key` after the rate limiter's delay for its next retry.
  void AddRateLimited(const std::string& key);
  // Resets the rate limiter's retry count of `key` (call when it succeeded).
  void Forget(const std::string& key);
  // How many times `key` was retried since it was last forgotten.
  int NumRequeues(const std::string& key);

  // Blocks until a key is ready, and marks it as being processed; the caller must call
  // Done(key) when finished. Returns nullopt once the queue is shut down and has no ready keys.
  std::optional<std::string> Get();
  // Marks `key` as processed; if it was added meanwhile, it is queued again.
  void Done(const std::string& key);

  // The number of keys ready to be handed out.
  std::size_t Len();
  UnfinishedWork Unfinished();

  // Ignores further adds, drops delayed keys and wakes every Get(): they return the keys still
  // queued, then nullopt.
  void ShutDown();
  // ShutDown(), then waits until no key is being processed (or ShutDown() is called).
  void ShutDownWithDrain();
  bool ShuttingDown();

 private:
  using Lock = std::unique_lock<std::mutex>;

  void AddLocked(const std::string& key, Clock::TimePoint now);
  void ShutDownLocked(bool drain);
  void RunDelayLoop();

  Clock& clock_;
  const std::unique_ptr<RateLimiter> rate_limiter_;
  const std::unique_ptr<WorkQueueObserver> observer_;

  std::mutex mu_;
  std::condition_variable ready_cv_;  // a key was queued, or shutdown
  std::condition_variable idle_cv_;   // nothing is processing any more, or drain cancelled
  std::condition_variable delay_cv_;  // the earliest delayed key changed, or shutdown
  bool shutting_down_ = false;
  bool draining_ = false;

  std::deque<std::string> queue_;  // ready keys, in order; each also in dirty_
  // Keys waiting to be processed (queued, or added while processing), with when they were added.
  std::unordered_map<std::string, Clock::TimePoint> dirty_;
  // Keys handed to workers, with when.
  std::unordered_map<std::string, Clock::TimePoint> processing_;
  // Delayed keys by (ready time, arrival order), and each key's entry there.
  using DelayedKey = std::pair<Clock::TimePoint, std::uint64_t>;
  std::map<DelayedKey, std::string> delayed_;
  std::unordered_map<std::string, std::map<DelayedKey, std::string>::iterator> delayed_index_;
  std::uint64_t delayed_seq_ = 0;

  std::thread delay_thread_;  // last: started once everything above is constructed
};

}  // namespace flywheel::kube
