// A RollbackPolicy's evaluation counters exist at 0 from its first reconcile, so PromQL's
// increase() and rate() count its first evaluation after the operator starts.
#include "flywheel/rollback/metrics.h"

#include <gtest/gtest.h>

#include "flywheel/kube/metrics.h"
#include "support/text.h"

namespace flywheel::rollback {
namespace {

using testing::Contains;

TEST(RollbackMetricsTest, AnAddedPolicyHasAnEvaluationCounterAtZeroPerResult) {
  kube::RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  RollbackMetrics metrics(runtime);
  metrics.AddPolicy("team-a", "web-errors");
  const std::string text = runtime.Serialize();
  for (const char* result : {"passing", "breaching", "nodata", "error"}) {
    EXPECT_TRUE(
        Contains(text, std::string(R"(flywheel_rollback_evaluations_total{namespace="team-a",)"
                                   R"(policy="web-errors",result=")") +
                           result + "\"} 0\n"));
  }
}

TEST(RollbackMetricsTest, TheFirstEvaluationAfterAddingCountsFromZero) {
  kube::RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  RollbackMetrics metrics(runtime);
  metrics.AddPolicy("team-a", "web-errors");
  metrics.ObserveEvaluation("team-a", "web-errors", "breaching");
  metrics.AddPolicy("team-a", "web-errors");
  const std::string text = runtime.Serialize();
  EXPECT_TRUE(Contains(text, R"(flywheel_rollback_evaluations_total{namespace="team-a",)"
                             R"(policy="web-errors",result="breaching"} 1)"
                             "\n"));
  EXPECT_TRUE(Contains(text, R"(flywheel_rollback_evaluations_total{namespace="team-a",)"
                             R"(policy="web-errors",result="passing"} 0)"
                             "\n"));
}

}  // namespace
}  // namespace flywheel::rollback
