#include "flywheel/kube/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace flywheel::kube {

namespace {

using prometheus::Histogram;

// workqueue duration buckets: 1e-8 .. 1e1 s, as client-go.
Histogram::BucketBoundaries QueueBuckets() {
  Histogram::BucketBoundaries b;
  for (double v = 1e-8; v <= 10.0; v *= 10) b.push_back(v);
  return b;
}

Histogram::BucketBoundaries ReconcileBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
          0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
          6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
}

double Seconds(Clock::Duration d) { return std::chrono::duration<double>(d).count(); }

// Feeds one queue's events into the workqueue_* families.
class Observer : public WorkQueueObserver {
 public:
  Observer(prometheus::Gauge& depth, prometheus::Counter& adds, Histogram& queued,
           Histogram& worked, prometheus::Counter& retries)
      : depth_(depth), adds_(adds), queued_(queued), worked_(worked), retries_(retries) {}
  void OnAdd() override { adds_.Increment(); }
  void OnDepth(std::size_t depth) override { depth_.Set(static_cast<double>(depth)); }
  void OnGet(Clock::Duration queued) override { queued_.Observe(Seconds(queued)); }
  void OnDone(Clock::Duration worked) override { worked_.Observe(Seconds(worked)); }
  void OnRetry() override { retries_.Increment(); }

 private:
  prometheus::Gauge& depth_;
  prometheus::Counter& adds_;
  Histogram& queued_;
  Histogram& worked_;
  prometheus::Counter& retries_;
};

}  // namespace

RuntimeMetrics::RuntimeMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      reconcile_total_(prometheus::BuildCounter()
                           .Name("controller_runtime_reconcile_total")
                           .Help("Total number of reconciliations per controller")
                           .Register(*registry_)),
      reconcile_errors_(prometheus::BuildCounter()
                            .Name("controller_runtime_reconcile_errors_total")
                            .Help("Total number of reconciliation errors per controller")
                            .Register(*registry_)),
      reconcile_panics_(prometheus::BuildCounter()
                            .Name("controller_runtime_reconcile_panics_total")
                            .Help("Total number of reconciliation panics per controller")
                            .Register(*registry_)),
      reconcile_time_(prometheus::BuildHistogram()
                          .Name("controller_runtime_reconcile_time_seconds")
                          .Help("Length of time per reconciliation per controller")
                          .Register(*registry_)),
      max_workers_(prometheus::BuildGauge()
                       .Name("controller_runtime_max_concurrent_reconciles")
                       .Help("Maximum number of concurrent reconciles per controller")
                       .Register(*registry_)),
      active_workers_(prometheus::BuildGauge()
                          .Name("controller_runtime_active_workers")
                          .Help("Number of currently used workers per controller")
                          .Register(*registry_)),
      depth_(prometheus::BuildGauge()
                 .Name("workqueue_depth")
                 .Help("Current depth of workqueue")
                 .Register(*registry_)),
      adds_(prometheus::BuildCounter()
                .Name("workqueue_adds_total")
                .Help("Total number of adds handled by workqueue")
                .Register(*registry_)),
      queue_duration_(prometheus::BuildHistogram()
                          .Name("workqueue_queue_duration_seconds")
                          .Help("How long in seconds an item stays in workqueue before being "
                                "requested")
                          .Register(*registry_)),
      work_duration_(prometheus::BuildHistogram()
                         .Name("workqueue_work_duration_seconds")
                         .Help("How long in seconds processing an item from workqueue takes")
                         .Register(*registry_)),
      retries_(prometheus::BuildCounter()
                   .Name("workqueue_retries_total")
                   .Help("Total number of retries handled by workqueue")
                   .Register(*registry_)),
      unfinished_(prometheus::BuildGauge()
                      .Name("workqueue_unfinished_work_seconds")
                      .Help("How many seconds of work has been done that is in progress and "
                            "hasn't been observed by work_duration")
                      .Register(*registry_)),
      longest_(prometheus::BuildGauge()
                   .Name("workqueue_longest_running_processor_seconds")
                   .Help("How many seconds has the longest running processor for workqueue "
                         "been running")
                   .Register(*registry_)),
      leader_(prometheus::BuildGauge()
                  .Name("leader_election_master_status")
                  .Help("Gauge of if the reporting system is master of the relevant lease, 0 "
                        "indicates backup, 1 indicates master")
                  .Register(*registry_)) {}

std::unique_ptr<WorkQueueObserver> RuntimeMetrics::QueueObserver(const std::string& name) {
  prometheus::Labels l = {{"name", name}, {"controller", name}};
  return std::make_unique<Observer>(depth_.Add(l), adds_.Add(l),
                                    queue_duration_.Add(l, QueueBuckets()),
                                    work_duration_.Add(l, QueueBuckets()), retries_.Add(l));
}

void RuntimeMetrics::ObserveUnfinished(const std::string& name, const UnfinishedWork& work) {
  prometheus::Labels l = {{"name", name}, {"controller", name}};
  unfinished_.Add(l).Set(Seconds(work.total));
  longest_.Add(l).Set(Seconds(work.longest));
}

void RuntimeMetrics::AddController(const std::string& controller, int workers) {
  for (const char* result : {"success", "error", "requeue", "requeue_after"}) {
    reconcile_total_.Add({{"controller", controller}, {"result", result}});
  }
  reconcile_errors_.Add({{"controller", controller}});
  reconcile_panics_.Add({{"controller", controller}});
  SetWorkers(controller, workers, 0);
}

void RuntimeMetrics::ObserveReconcile(const std::string& controller, const std::string& result,
                                      double seconds) {
  reconcile_total_.Add({{"controller", controller}, {"result", result}}).Increment();
  if (result == "error") reconcile_errors_.Add({{"controller", controller}}).Increment();
  reconcile_time_.Add({{"controller", controller}}, ReconcileBuckets()).Observe(seconds);
}

void RuntimeMetrics::ObservePanic(const std::string& controller) {
  reconcile_panics_.Add({{"controller", controller}}).Increment();
}

void RuntimeMetrics::SetWorkers(const std::string& controller, int max, int active) {
  max_workers_.Add({{"controller", controller}}).Set(max);
  active_workers_.Add({{"controller", controller}}).Set(active);
}

void RuntimeMetrics::SetLeader(const std::string& lease, bool leading) {
  leader_.Add({{"name", lease}}).Set(leading ? 1 : 0);
}

void RuntimeMetrics::Register(std::weak_ptr<const MetricTable> family) {
  std::lock_guard lock(families_mu_);
  families_.push_back(std::move(family));
}

std::shared_ptr<SeriesTable> RuntimeMetrics::NewSeries(SeriesTable::Type type, std::string name,
                                                       std::string help,
                                                       std::vector<std::string> label_names) {
  auto table =
      std::make_shared<SeriesTable>(type, std::move(name), std::move(help), std::move(label_names));
  Register(table);
  return table;
}

std::shared_ptr<HistogramTable> RuntimeMetrics::NewHistogram(std::string name, std::string help,
                                                             std::vector<std::string> label_names,
                                                             std::vector<double> buckets) {
  auto table = std::make_shared<HistogramTable>(std::move(name), std::move(help),
                                                std::move(label_names), std::move(buckets));
  Register(table);
  return table;
}

std::vector<std::shared_ptr<const MetricTable>> RuntimeMetrics::Tables() const {
  std::vector<std::shared_ptr<const MetricTable>> tables;
  std::lock_guard lock(families_mu_);
  for (const auto& weak : families_) {
    if (auto family = weak.lock()) tables.push_back(std::move(family));
  }
  return tables;
}

std::string RuntimeMetrics::Serialize() const {
  std::string buffer;
  const size_t last = last_size_.load();
  buffer.reserve(last + last / 8 + 4096);
  std::ostringstream out(std::move(buffer));  // writes into the reserved capacity
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  std::string text = std::move(out).str();
  // The tables (the series per object, most of the text) write straight into the buffer.
  for (const auto& table : Tables()) table->WriteText(text);
  last_size_.store(text.size());
  return text;
}

}  // namespace flywheel::kube
