#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "flywheel/common/clock.h"
#include "flywheel/common/status.h"
#include "flywheel/kube/informer.h"
#include "flywheel/kube/metrics.h"
#include "flywheel/kube/workqueue.h"

namespace flywheel::kube {

// What a reconcile asks for next (controller-runtime's contract). An error Status instead means:
// retry with the per-key rate-limited backoff.
struct ReconcileResult {
  std::chrono::milliseconds requeue_after{0};  // > 0: forget the backoff, look again then
  bool requeue = false;                        // true: retry with backoff although no error

  static ReconcileResult Done() { return {}; }
  static ReconcileResult After(std::chrono::milliseconds d) { return {d, false}; }
};

// The logic of one controller: bring the object named by `key` ("namespace/name") to its
// desired state. Reads come from informer caches; writes go to the API server. Must not block
// on long work: start it and requeue.
class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // `stop` is requested when the controller stops (shutdown, or this replica lost its Lease):
  // long calls made on its behalf (git, applies) return Cancelled instead of finishing.
  virtual Result<ReconcileResult> Reconcile(const std::string& key, std::stop_token stop) = 0;
};

// How a Controller runs.
struct ControllerOptions {
  int workers = 1;                    // reconciles at once (never two for the same key)
  RuntimeMetrics* metrics = nullptr;  // optional
  Clock* clock = nullptr;             // nullptr = the real clock
};

// A work queue and its workers for one Reconciler: watch events become keys, workers take keys
// and reconcile them, the result decides whether and when the key comes back. A reconcile that
// throws is counted as a panic and retried like an error.
class Controller {
 public:
  Controller(std::string name, Reconciler& reconciler, ControllerOptions options = {});
  ~Controller();

  const std::string& name() const { return name_; }

  // Queues a key now.
  void Enqueue(const std::string& key);

  // A handler that queues the key of every added, updated or deleted object. Updates that change
  // nothing (same resourceVersion: resyncs) are queued too.
  EventHandler EnqueueObject();
  // A handler that queues the owner of each object: the ownerReference with controller=true of
  // `owner_kind` (e.g. a PipelineRun's pod -> the PipelineRun).
  EventHandler EnqueueOwner(const std::string& owner_kind);

  // Runs the workers until `stop`, then stops at once: no worker takes another key (keys still
  // queued or delayed are dropped; whoever runs the controller next lists everything again) and
  // the reconciles in flight are waited for. `may_reconcile`, when set, is asked just before each
  // reconcile; false stops the workers the same way (a leader whose lease may already be another
  // replica's must not act). Blocks.
  void Run(std::stop_token stop, const std::function<bool()>& may_reconcile = {});

  WorkQueue& queue() { return *queue_; }

 private:
  void Work(std::stop_token stop, const std::function<bool()>& may_reconcile);
  void ProcessOne(const std::string& key, std::stop_token stop);

  std::string name_;
  Reconciler& reconciler_;
  ControllerOptions options_;
  Clock& clock_;
  std::unique_ptr<WorkQueue> queue_;
  std::atomic<int> active_{0};
};

}  // namespace flywheel::kube
