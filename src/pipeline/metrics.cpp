#include "flywheel/pipeline/metrics.h"

namespace flywheel::pipeline {

namespace {

const prometheus::Histogram::BucketBoundaries kRunBuckets{5,   15,  30,   60,   120, 300,
                                                          600, 900, 1800, 3600, 7200};
// The values of flywheel_pipeline_runs_total{result} (a run's final phase, lower-case) and of
// flywheel_pipeline_promotions_total{result}.
const char* const kRunResults[] = {"succeeded", "failed", "cancelled", "timedout"};
const char* const kPromotionResults[] = {"pushed", "unchanged", "failed"};

const prometheus::Histogram::BucketBoundaries kStepBuckets{0.5, 1,   2.5, 5,   10,   30,
                                                           60,  120, 300, 600, 1800, 3600};

}  // namespace

PipelineMetrics::PipelineMetrics(prometheus::Registry& registry)
    : runs_(prometheus::BuildCounter()
                .Name("flywheel_pipeline_runs_total")
                .Help("Finished PipelineRuns by result (succeeded, failed, cancelled, timedout)")
                .Register(registry)),
      run_duration_(prometheus::BuildHistogram()
                        .Name("flywheel_pipeline_run_duration_seconds")
                        .Help("Time from a PipelineRun's start to its end, promotion included")
                        .Register(registry)),
      step_duration_(prometheus::BuildHistogram()
                         .Name("flywheel_pipeline_step_duration_seconds")
                         .Help("Time each step of a PipelineRun's build pod ran")
                         .Register(registry)),
      promotions_(prometheus::BuildCounter()
                      .Name("flywheel_pipeline_promotions_total")
                      .Help("Promotions of a built image into the GitOps repository by result "
                            "(pushed, unchanged, failed)")
                      .Register(registry)) {}

void PipelineMetrics::AddPipeline(const std::string& ns, const std::string& pipeline) {
  for (const char* result : kRunResults) {
    const prometheus::Labels labels = {
        {"namespace", ns}, {"pipeline", pipeline}, {"result", result}};
    runs_.Add(labels);
    run_duration_.Add(labels, kRunBuckets);
  }
  for (const char* result : kPromotionResults) {
    promotions_.Add({{"namespace", ns}, {"pipeline", pipeline}, {"result", result}});
  }
}

void PipelineMetrics::ObserveRun(const std::string& ns, const std::string& pipeline,
                                 const std::string& result, double seconds) {
  runs_.Add({{"namespace", ns}, {"pipeline", pipeline}, {"result", result}}).Increment();
  run_duration_.Add({{"namespace", ns}, {"pipeline", pipeline}, {"result", result}}, kRunBuckets)
      .Observe(seconds);
}

void PipelineMetrics::ObserveStep(const std::string& ns, const std::string& pipeline,
                                  const std::string& step, double seconds) {
  step_duration_.Add({{"namespace", ns}, {"pipeline", pipeline}, {"step", step}}, kStepBuckets)
      .Observe(seconds);
}

void PipelineMetrics::ObservePromotion(const std::string& ns, const std::string& pipeline,
                                       const std::string& result) {
  promotions_.Add({{"namespace", ns}, {"pipeline", pipeline}, {"result", result}}).Increment();
}

}  // namespace flywheel::pipeline
