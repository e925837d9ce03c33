#include "flywheel/rollback/metrics.h"

namespace flywheel::rollback {

RollbackMetrics::RollbackMetrics(kube::RuntimeMetrics& metrics)
    : evaluations_(metrics.NewSeries(
          kube::SeriesTable::Type::kCounter, "flywheel_rollback_evaluations_total",
          "RollbackPolicy metric evaluations by result (passing, breaching, nodata, error)",
          std::vector<std::string>{"namespace", "policy", "result"})),
      value_(metrics.NewSeries(kube::SeriesTable::Type::kGauge, "flywheel_rollback_metric_value",
                               "Last value of each RollbackPolicy metric (NaN when there was none)",
                               std::vector<std::string>{"namespace", "policy", "metric"})) {}

void RollbackMetrics::AddPolicy(const std::string& ns, const std::string& policy) {
  for (const char* result : {"passing", "breaching", "nodata", "error"}) {
    evaluations_->Add({ns, policy, result});
  }
}

void RollbackMetrics::ObserveEvaluation(const std::string& ns, const std::string& policy,
                                        const std::string& result) {
  evaluations_->Increment({ns, policy, result});
}

void RollbackMetrics::SetValue(const std::string& ns, const std::string& policy,
                               const std::string& metric, double value) {
  value_->Set({ns, policy, metric}, value);
}

void RollbackMetrics::Forget(const std::string& ns, const std::string& policy,
                             const std::vector<std::string>& metrics) {
  for (const auto& metric : metrics) value_->Remove({ns, policy, metric});
}

}  // namespace flywheel::rollback
