// A Release's counters and histograms exist at 0 from its first reconcile, so PromQL's
// increase() and rate() count its first deployment and rollback after the operator starts (a
// series that first appears at 1 has no increase).
#include "flywheel/release/metrics.h"

#include <gtest/gtest.h>

#include "flywheel/kube/metrics.h"
#include "support/text.h"

namespace flywheel::release {
namespace {

using testing::Contains;

TEST(ReleaseMetricsTest, AnAddedReleaseHasEverySeriesAtZero) {
  kube::RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  ReleaseMetrics metrics(runtime);
  metrics.AddRelease("team-a", "web");
  const std::string text = runtime.Serialize();
  for (const char* line : {
           R"(flywheel_deployments_total{name="web",namespace="team-a"} 0)",
           R"(flywheel_rollbacks_total{name="web",namespace="team-a",trigger="manual"} 0)",
           R"(flywheel_rollbacks_total{name="web",namespace="team-a",trigger="metric"} 0)",
           R"(flywheel_rollbacks_total{name="web",namespace="team-a",trigger="alertmanager"} 0)",
           R"(flywheel_release_syncs_total{name="web",namespace="team-a",result="succeeded"} 0)",
           R"(flywheel_release_syncs_total{name="web",namespace="team-a",result="failed"} 0)",
           R"(flywheel_release_syncs_total{name="web",namespace="team-a",result="unchanged"} 0)",
           R"(flywheel_lead_time_seconds_count{name="web",namespace="team-a"} 0)",
           R"(flywheel_time_to_restore_seconds_count{name="web",namespace="team-a"} 0)",
           R"(flywheel_release_sync_duration_seconds_count{name="web",namespace="team-a"} 0)",
       }) {
    EXPECT_TRUE(Contains(text, std::string("\n") + line + "\n"));
  }
}

TEST(ReleaseMetricsTest, TheFirstEventsAfterAddingCountFromZeroInTheSameSeries) {
  kube::RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  ReleaseMetrics metrics(runtime);
  metrics.AddRelease("team-a", "web");
  metrics.ObserveDeployment("team-a", "web");
  metrics.ObserveRollback("team-a", "web", "metric");
  metrics.ObserveLeadTime("team-a", "web", 42);
  metrics.ObserveTimeToRestore("team-a", "web", 42);
  metrics.AddRelease("team-a", "web");  // again (the Release was deleted and made again)
  const std::string text = runtime.Serialize();
  for (const char* line : {
           R"(flywheel_deployments_total{name="web",namespace="team-a"} 1)",
           R"(flywheel_rollbacks_total{name="web",namespace="team-a",trigger="metric"} 1)",
           R"(flywheel_rollbacks_total{name="web",namespace="team-a",trigger="manual"} 0)",
           R"(flywheel_lead_time_seconds_count{name="web",namespace="team-a"} 1)",
           // The buckets are the ones the observations use: 42 s is in le=60, not in le=30.
           R"(flywheel_lead_time_seconds_bucket{name="web",namespace="team-a",le="30"} 0)",
           R"(flywheel_lead_time_seconds_bucket{name="web",namespace="team-a",le="60"} 1)",
           R"(flywheel_time_to_restore_seconds_count{name="web",namespace="team-a"} 1)",
       }) {
    EXPECT_TRUE(Contains(text, std::string("\n") + line + "\n"));
  }
  EXPECT_EQ(text.find("flywheel_deployments_total{name=\"web\",namespace=\"team-a\"} 1\n"),
            text.rfind("flywheel_deployments_total{name=\"web\",namespace=\"team-a\"}"))
      << "one series per Release\n"
      << text;
}

}  // namespace
}  // namespace flywheel::release
