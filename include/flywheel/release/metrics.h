#pragma once

#include <memory>
#include <string>

#include "flywheel/kube/metric_table.h"
#include "flywheel/kube/metrics.h"

namespace flywheel::release {

// The Release controller's domain metrics; the DORA figures come out of them directly:
// flywheel_deployments_total (deployment frequency), flywheel_lead_time_seconds (commit ->
// healthy), flywheel_rollbacks_total (change failure rate = rollbacks / deployments),
// flywheel_time_to_restore_seconds (see docs/release.md for the formulas),
// flywheel_release_syncs_total{result}, flywheel_release_sync_duration_seconds and
// flywheel_release_health{health} (1 for the current health of each Release, 0 for the others).
class ReleaseMetrics {
 public:
  // The families are exposed by `metrics` for as long as this object lives.
  explicit ReleaseMetrics(kube::RuntimeMetrics& metrics);

  // Creates every counter and histogram series of Release ns/name at zero, as
  // kube::RuntimeMetrics::AddController does for a controller, so that the first deployment,
  // rollback or sync after the operator starts is an increase of a series PromQL's increase()
  // and rate() count, not the appearance of a series at 1: flywheel_release_syncs_total for each
  // result, flywheel_deployments_total, flywheel_rollbacks_total for each trigger (manual,
  // metric, alertmanager), flywheel_release_sync_duration_seconds, flywheel_lead_time_seconds
  // and flywheel_time_to_restore_seconds. Series that exist keep their values.
  void AddRelease(const std::string& ns, const std::string& name);

  // One sync ended: result is "succeeded", "failed" or "unchanged".
  void ObserveSync(const std::string& ns, const std::string& name, const std::string& result,
                   double seconds);
  // A new revision was applied.
  void ObserveDeployment(const std::string& ns, const std::string& name);
  // A revision became healthy `seconds` after it was committed.
  void ObserveLeadTime(const std::string& ns, const std::string& name, double seconds);
  // A Release was rolled back (flywheel_rollbacks_total{trigger}; change failure rate =
  // rollbacks / deployments). `trigger`: manual, metric or alertmanager.
  void ObserveRollback(const std::string& ns, const std::string& name, const std::string& trigger);
  // What a rollback applied became healthy `seconds` after the revision it replaced was
  // applied (flywheel_time_to_restore_seconds).
  void ObserveTimeToRestore(const std::string& ns, const std::string& name, double seconds);
  void SetHealth(const std::string& ns, const std::string& name, const std::string& health);
  // A Release is gone: drop its health series (its counters and histograms stay).
  void Forget(const std::string& ns, const std::string& name);

 private:
  std::shared_ptr<kube::SeriesTable> syncs_;
  std::shared_ptr<kube::HistogramTable> sync_duration_;
  std::shared_ptr<kube::SeriesTable> deployments_;
  std::shared_ptr<kube::HistogramTable> lead_time_;
  std::shared_ptr<kube::SeriesTable> health_;
  std::shared_ptr<kube::SeriesTable> rollbacks_;
  std::shared_ptr<kube::HistogramTable> time_to_restore_;
};

}  // namespace flywheel::release
