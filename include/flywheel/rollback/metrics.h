#pragma once

#include <memory>
#include <string>
#include <vector>

#include "flywheel/kube/metric_table.h"
#include "flywheel/kube/metrics.h"

namespace flywheel::rollback {

// The RollbackPolicy controller's domain metrics: flywheel_rollback_evaluations_total
// {namespace,policy,result} (result: passing, breaching, nodata, error) and
// flywheel_rollback_metric_value{namespace,policy,metric} (the last value; NaN when there was
// none). Rollbacks themselves are counted where they happen, by the Release controller
// (flywheel_rollbacks_total{trigger}).
class RollbackMetrics {
 public:
  // The families are exposed by `metrics` for as long as this object lives.
  explicit RollbackMetrics(kube::RuntimeMetrics& metrics);

  // Creates flywheel_rollback_evaluations_total of policy ns/policy at zero for each result, as
  // kube::RuntimeMetrics::AddController does for a controller, so that the first evaluation after
  // the operator starts is an increase PromQL's increase() and rate() count. Series that exist
  // keep their values.
  void AddPolicy(const std::string& ns, const std::string& policy);

  void ObserveEvaluation(const std::string& ns, const std::string& policy,
                         const std::string& result);
  void SetValue(const std::string& ns, const std::string& policy, const std::string& metric,
                double value);
  // A policy is gone (or lost metrics): drop the value series of `metrics`.
  void Forget(const std::string& ns, const std::string& policy,
              const std::vector<std::string>& metrics);

 private:
  std::shared_ptr<kube::SeriesTable> evaluations_;
  std::shared_ptr<kube::SeriesTable> value_;
};

}  // namespace flywheel::rollback
