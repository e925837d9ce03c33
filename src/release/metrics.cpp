#include "flywheel/release/metrics.h"

namespace flywheel::release {

namespace {

const char* const kHealthStates[] = {"Healthy", "Progressing", "Degraded", "Suspended", "Unknown"};
// The values of flywheel_release_syncs_total{result} and flywheel_rollbacks_total{trigger}
// (RollbackRequest::trigger).
const char* const kSyncResults[] = {"succeeded", "failed", "unchanged"};
const char* const kRollbackTriggers[] = {"manual", "metric", "alertmanager"};

const prometheus::Histogram::BucketBoundaries kSyncBuckets{0.05, 0.1, 0.25, 0.5, 1,   2.5,
                                                           5,    10,  30,   60,  120, 300};
const prometheus::Histogram::BucketBoundaries kLeadTimeBuckets{
    10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400, 259200, 604800};
const prometheus::Histogram::BucketBoundaries kRestoreBuckets{10,   30,   60,   120,   300,  600,
                                                              1800, 3600, 7200, 21600, 86400};

}  // namespace

ReleaseMetrics::ReleaseMetrics(prometheus::Registry& registry)
    : syncs_(prometheus::BuildCounter()
                 .Name("flywheel_release_syncs_total")
                 .Help("Release syncs by result (succeeded, failed, unchanged)")
                 .Register(registry)),
      sync_duration_(prometheus::BuildHistogram()
                         .Name("flywheel_release_sync_duration_seconds")
                         .Help("Time to fetch, validate and apply one Release revision")
                         .Register(registry)),
      deployments_(prometheus::BuildCounter()
                       .Name("flywheel_deployments_total")
                       .Help("New revisions applied by Releases (deployment frequency)")
                       .Register(registry)),
      lead_time_(prometheus::BuildHistogram()
                     .Name("flywheel_lead_time_seconds")
                     .Help("Time from a manifest commit to its Release being healthy")
                     .Register(registry)),
      health_(prometheus::BuildGauge()
                  .Name("flywheel_release_health")
                  .Help("1 for the current health of each Release, 0 for the other states")
                  .Register(registry)),
      rollbacks_(prometheus::BuildCounter()
                     .Name("flywheel_rollbacks_total")
                     .Help("Rollbacks carried out on Releases")
                     .Register(registry)),
      time_to_restore_(prometheus::BuildHistogram()
                           .Name("flywheel_time_to_restore_seconds")
                           .Help("Time from applying a revision that was rolled back until what "
                                 "replaced it was healthy")
                           .Register(registry)) {}

void ReleaseMetrics::AddRelease(const std::string& ns, const std::string& name) {
  const prometheus::Labels release = {{"namespace", ns}, {"name", name}};
  for (const char* result : kSyncResults) {
    syncs_.Add({{"namespace", ns}, {"name", name}, {"result", result}});
  }
  sync_duration_.Add(release, kSyncBuckets);
  deployments_.Add(release);
  lead_time_.Add(release, kLeadTimeBuckets);
  for (const char* trigger : kRollbackTriggers) {
    rollbacks_.Add({{"namespace", ns}, {"name", name}, {"trigger", trigger}});
  }
  time_to_restore_.Add(release, kRestoreBuckets);
}

void ReleaseMetrics::ObserveSync(const std::string& ns, const std::string& name,
                                 const std::string& result, double seconds) {
  syncs_.Add({{"namespace", ns}, {"name", name}, {"result", result}}).Increment();
  sync_duration_.Add({{"namespace", ns}, {"name", name}}, kSyncBuckets).Observe(seconds);
}

void ReleaseMetrics::ObserveDeployment(const std::string& ns, const std::string& name) {
  deployments_.Add({{"namespace", ns}, {"name", name}}).Increment();
}

void ReleaseMetrics::ObserveLeadTime(const std::string& ns, const std::string& name,
                                     double seconds) {
  lead_time_.Add({{"namespace", ns}, {"name", name}}, kLeadTimeBuckets).Observe(seconds);
}

void ReleaseMetrics::ObserveRollback(const std::string& ns, const std::string& name,
                                     const std::string& trigger) {
  rollbacks_.Add({{"namespace", ns}, {"name", name}, {"trigger", trigger}}).Increment();
}

void ReleaseMetrics::ObserveTimeToRestore(const std::string& ns, const std::string& name,
                                          double seconds) {
  time_to_restore_.Add({{"namespace", ns}, {"name", name}}, kRestoreBuckets).Observe(seconds);
}

void ReleaseMetrics::SetHealth(const std::string& ns, const std::string& name,
                               const std::string& health) {
  for (const char* state : kHealthStates) {
    health_.Add({{"namespace", ns}, {"name", name}, {"health", state}})
        .Set(health == state ? 1 : 0);
  }
}

void ReleaseMetrics::Forget(const std::string& ns, const std::string& name) {
  for (const char* state : kHealthStates) {
    auto& g = health_.Add({{"namespace", ns}, {"name", name}, {"health", state}});
    health_.Remove(&g);
  }
}

}  // namespace flywheel::release
