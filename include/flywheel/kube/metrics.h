#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flywheel/kube/metric_table.h"
#include "flywheel/kube/workqueue.h"

namespace flywheel::kube {

// The controller runtime's Prometheus metrics, under controller-runtime's names so existing
// dashboards and alerts work: controller_runtime_reconcile_*, workqueue_*,
// leader_election_master_status.
class RuntimeMetrics {
 public:
  explicit RuntimeMetrics(std::shared_ptr<prometheus::Registry> registry);

  prometheus::Registry& registry() { return *registry_; }
  // Exposes `family` (a SeriesTable or HistogramTable, kube/metric_table.h) after the registry's
  // own families, for as long as it lives; it writes its own text into the scrape.
  void Register(std::weak_ptr<const MetricTable> family);
  // A table made and registered in one step (the caller keeps it alive; see Register).
  std::shared_ptr<SeriesTable> NewSeries(SeriesTable::Type type, std::string name, std::string help,
                                         std::vector<std::string> label_names);
  std::shared_ptr<HistogramTable> NewHistogram(std::string name, std::string help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> buckets);
  // The registered tables still alive, in order of registration.
  std::vector<std::shared_ptr<const MetricTable>> Tables() const;

  // An observer feeding the workqueue_* metrics of the queue named `name`.
  std::unique_ptr<WorkQueueObserver> QueueObserver(const std::string& name);
  // Refreshes workqueue_unfinished_work_seconds / workqueue_longest_running_processor_seconds.
  void ObserveUnfinished(const std::string& name, const UnfinishedWork& work);

  // Creates every series of `controller` at zero, as controller-runtime does when a controller
  // starts, so dashboards show 0 rather than no data before the first reconcile:
  // controller_runtime_reconcile_total for each result, _reconcile_errors_total,
  // _reconcile_panics_total and _active_workers at 0, _max_concurrent_reconciles at `workers`.
  void AddController(const std::string& controller, int workers);
  // One reconcile of `controller` finished with `result`: success, error, requeue or
  // requeue_after.
  void ObserveReconcile(const std::string& controller, const std::string& result, double seconds);
  // A reconcile threw (controller_runtime_reconcile_panics_total).
  void ObservePanic(const std::string& controller);
  void SetWorkers(const std::string& controller, int max, int active);
  void SetLeader(const std::string& lease, bool leading);

  // The text exposition of every metric in the registry.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& reconcile_total_;
  prometheus::Family<prometheus::Counter>& reconcile_errors_;
  prometheus::Family<prometheus::Counter>& reconcile_panics_;
  prometheus::Family<prometheus::Histogram>& reconcile_time_;
  prometheus::Family<prometheus::Gauge>& max_workers_;
  prometheus::Family<prometheus::Gauge>& active_workers_;
  prometheus::Family<prometheus::Gauge>& depth_;
  prometheus::Family<prometheus::Counter>& adds_;
  prometheus::Family<prometheus::Histogram>& queue_duration_;
  prometheus::Family<prometheus::Histogram>& work_duration_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Gauge>& unfinished_;
  prometheus::Family<prometheus::Gauge>& longest_;
  prometheus::Family<prometheus::Gauge>& leader_;
  // The size of the last exposition: the next one is written into a buffer of about that size
  // instead of one that doubles and is copied (with hundreds of Releases it is megabytes).
  mutable std::atomic<size_t> last_size_{0};
  mutable std::mutex families_mu_;
  std::vector<std::weak_ptr<const MetricTable>> families_;
};

}  // namespace flywheel::kube
