#include "flywheel/rollback/metrics.h"

namespace flywheel::rollback {

RollbackMetrics::RollbackMetrics(prometheus::Registry& registry)
    : evaluations_(prometheus::BuildCounter()
                       .Name("flywheel_rollback_evaluations_total")
                       .Help("RollbackPolicy metric evaluations by result (passing, breaching, "
                             "nodata, error)")
                       .Register(registry)),
      value_(prometheus::BuildGauge()
                 .Name("flywheel_rollback_metric_value")
                 .Help("Last value of each RollbackPolicy metric (NaN when there was none)")
                 .Register(registry)) {}

void RollbackMetrics::AddPolicy(const std::string& ns, const std::string& policy) {
  for (const char* result : {"passing", "breaching", "nodata", "error"}) {
    evaluations_.Add({{"namespace", ns}, {"policy", policy}, {"result", result}});
  }
}

void RollbackMetrics::ObserveEvaluation(const std::string& ns, const std::string& policy,
                                        const std::string& result) {
  evaluations_.Add({{"namespace", ns}, {"policy", policy}, {"result", result}}).Increment();
}

void RollbackMetrics::SetValue(const std::string& ns, const std::string& policy,
                               const std::string& metric, double value) {
  value_.Add({{"namespace", ns}, {"policy", policy}, {"metric", metric}}).Set(value);
}

void RollbackMetrics::Forget(const std::string& ns, const std::string& policy,
                             const std::vector<std::string>& metrics) {
  for (const auto& metric : metrics) {
    auto* gauge = &value_.Add({{"namespace", ns}, {"policy", policy}, {"metric", metric}});
    value_.Remove(gauge);
  }
}

}  // namespace flywheel::rollback
