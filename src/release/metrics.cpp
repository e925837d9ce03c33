#include "flywheel/release/metrics.h"

namespace flywheel::release {

namespace {

const char* const kHealthStates[] = {"Healthy", "Progressing", "Degraded", "Suspended", "Unknown"};
// The values of flywheel_release_syncs_total{result} and flywheel_rollbacks_total{trigger}
// (RollbackRequest::trigger).
const char* const kSyncResults[] = {"succeeded", "failed", "unchanged"};
const char* const kRollbackTriggers[] = {"manual", "metric", "alertmanager"};

// The labels of the series per Release alone.
const std::vector<std::string> kReleaseLabels = {"namespace", "name"};

}  // namespace

ReleaseMetrics::ReleaseMetrics(kube::RuntimeMetrics& metrics)
    : syncs_(metrics.NewSeries(kube::SeriesTable::Type::kCounter, "flywheel_release_syncs_total",
                               "Release syncs by result (succeeded, failed, unchanged)",
                               {"namespace", "name", "result"})),
      sync_duration_(metrics.NewHistogram("flywheel_release_sync_duration_seconds",
                                          "Time to fetch, validate and apply one Release revision",
                                          kReleaseLabels,
                                          {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300})),
      deployments_(metrics.NewSeries(
          kube::SeriesTable::Type::kCounter, "flywheel_deployments_total",
          "New revisions applied by Releases (deployment frequency)", kReleaseLabels)),
      lead_time_(metrics.NewHistogram(
          "flywheel_lead_time_seconds", "Time from a manifest commit to its Release being healthy",
          kReleaseLabels, {10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400, 259200, 604800})),
      health_(metrics.NewSeries(kube::SeriesTable::Type::kGauge, "flywheel_release_health",
                                "1 for the current health of each Release, 0 for the other states",
                                {"namespace", "name", "health"})),
      rollbacks_(metrics.NewSeries(kube::SeriesTable::Type::kCounter, "flywheel_rollbacks_total",
                                   "Rollbacks carried out on Releases",
                                   {"namespace", "name", "trigger"})),
      time_to_restore_(metrics.NewHistogram(
          "flywheel_time_to_restore_seconds",
          "Time from applying a revision that was rolled back until what replaced it was healthy",
          kReleaseLabels, {10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400})) {}

void ReleaseMetrics::AddRelease(const std::string& ns, const std::string& name) {
  for (const char* result : kSyncResults) syncs_->Add({ns, name, result});
  sync_duration_->Add({ns, name});
  deployments_->Add({ns, name});
  lead_time_->Add({ns, name});
  for (const char* trigger : kRollbackTriggers) rollbacks_->Add({ns, name, trigger});
  time_to_restore_->Add({ns, name});
}

void ReleaseMetrics::ObserveSync(const std::string& ns, const std::string& name,
                                 const std::string& result, double seconds) {
  syncs_->Increment({ns, name, result});
  sync_duration_->Observe({ns, name}, seconds);
}

void ReleaseMetrics::ObserveDeployment(const std::string& ns, const std::string& name) {
  deployments_->Increment({ns, name});
}

void ReleaseMetrics::ObserveLeadTime(const std::string& ns, const std::string& name,
                                     double seconds) {
  lead_time_->Observe({ns, name}, seconds);
}

void ReleaseMetrics::ObserveRollback(const std::string& ns, const std::string& name,
                                     const std::string& trigger) {
  rollbacks_->Increment({ns, name, trigger});
}

void ReleaseMetrics::ObserveTimeToRestore(const std::string& ns, const std::string& name,
                                          double seconds) {
  time_to_restore_->Observe({ns, name}, seconds);
}

void ReleaseMetrics::SetHealth(const std::string& ns, const std::string& name,
                               const std::string& health) {
  for (const char* state : kHealthStates) health_->Set({ns, name, state}, health == state ? 1 : 0);
}

void ReleaseMetrics::Forget(const std::string& ns, const std::string& name) {
  for (const char* state : kHealthStates) health_->Remove({ns, name, state});
}

}  // namespace flywheel::release
