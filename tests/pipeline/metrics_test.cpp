// A Pipeline's run and promotion series exist at 0 from its first reconcile, so PromQL's
// increase() and rate() count its first run after the operator starts.
#include "flywheel/pipeline/metrics.h"

#include <gtest/gtest.h>

#include "flywheel/kube/metrics.h"
#include "support/text.h"

namespace flywheel::pipeline {
namespace {

using testing::Contains;

TEST(PipelineMetricsTest, AnAddedPipelineHasItsRunAndPromotionSeriesAtZero) {
  kube::RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  PipelineMetrics metrics(runtime);
  metrics.AddPipeline("ci", "web");
  const std::string text = runtime.Serialize();
  for (const char* result : {"succeeded", "failed", "cancelled", "timedout"}) {
    const std::string labels =
        std::string(R"({namespace="ci",pipeline="web",result=")") + result + "\"}";
    EXPECT_TRUE(Contains(text, "\nflywheel_pipeline_runs_total" + labels + " 0\n"));
    EXPECT_TRUE(Contains(text, "\nflywheel_pipeline_run_duration_seconds_count" + labels + " 0\n"));
  }
  for (const char* result : {"pushed", "unchanged", "failed"}) {
    EXPECT_TRUE(Contains(text, std::string(R"(flywheel_pipeline_promotions_total{namespace="ci",)"
                                           R"(pipeline="web",result=")") +
                                   result + "\"} 0\n"));
  }
}

TEST(PipelineMetricsTest, TheFirstRunAfterAddingCountsFromZero) {
  kube::RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  PipelineMetrics metrics(runtime);
  metrics.AddPipeline("ci", "web");
  metrics.ObserveRun("ci", "web", "failed", 90);
  metrics.ObservePromotion("ci", "web", "pushed");
  metrics.AddPipeline("ci", "web");
  const std::string text = runtime.Serialize();
  for (
      const char* line : {
          R"(flywheel_pipeline_runs_total{namespace="ci",pipeline="web",result="failed"} 1)",
          R"(flywheel_pipeline_runs_total{namespace="ci",pipeline="web",result="succeeded"} 0)",
          R"(flywheel_pipeline_run_duration_seconds_count{namespace="ci",pipeline="web",result="failed"} 1)",
          R"(flywheel_pipeline_run_duration_seconds_bucket{namespace="ci",pipeline="web",result="failed",le="60"} 0)",
          R"(flywheel_pipeline_run_duration_seconds_bucket{namespace="ci",pipeline="web",result="failed",le="120"} 1)",
          R"(flywheel_pipeline_promotions_total{namespace="ci",pipeline="web",result="pushed"} 1)",
      }) {
    EXPECT_TRUE(Contains(text, std::string("\n") + line + "\n"));
  }
}

}  // namespace
}  // namespace flywheel::pipeline
