#include "flywheel/pipeline/metrics.h"

namespace flywheel::pipeline {

namespace {

// The values of flywheel_pipeline_runs_total{result} (a run's final phase, lower-case) and of
// flywheel_pipeline_promotions_total{result}.
const char* const kRunResults[] = {"succeeded", "failed", "cancelled", "timedout"};
const char* const kPromotionResults[] = {"pushed", "unchanged", "failed"};

}  // namespace

PipelineMetrics::PipelineMetrics(kube::RuntimeMetrics& metrics)
    : runs_(metrics.NewSeries(
          kube::SeriesTable::Type::kCounter, "flywheel_pipeline_runs_total",
          "Finished PipelineRuns by result (succeeded, failed, cancelled, timedout)",
          std::vector<std::string>{"namespace", "pipeline", "result"})),
      run_duration_(metrics.NewHistogram(
          "flywheel_pipeline_run_duration_seconds",
          "Time from a PipelineRun's start to its end, promotion included",
          std::vector<std::string>{"namespace", "pipeline", "result"},
          std::vector<double>{5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200})),
      step_duration_(metrics.NewHistogram(
          "flywheel_pipeline_step_duration_seconds",
          "Time each step of a PipelineRun's build pod ran",
          std::vector<std::string>{"namespace", "pipeline", "step"},
          std::vector<double>{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600})),
      promotions_(
          metrics.NewSeries(kube::SeriesTable::Type::kCounter, "flywheel_pipeline_promotions_total",
                            "Promotions of a built image into the GitOps repository by result "
                            "(pushed, unchanged, failed)",
                            std::vector<std::string>{"namespace", "pipeline", "result"})) {}

void PipelineMetrics::AddPipeline(const std::string& ns, const std::string& pipeline) {
  for (const char* result : kRunResults) {
    runs_->Add({ns, pipeline, result});
    run_duration_->Add({ns, pipeline, result});
  }
  for (const char* result : kPromotionResults) promotions_->Add({ns, pipeline, result});
}

void PipelineMetrics::ObserveRun(const std::string& ns, const std::string& pipeline,
                                 const std::string& result, double seconds) {
  runs_->Increment({ns, pipeline, result});
  run_duration_->Observe({ns, pipeline, result}, seconds);
}

void PipelineMetrics::ObserveStep(const std::string& ns, const std::string& pipeline,
                                  const std::string& step, double seconds) {
  step_duration_->Observe({ns, pipeline, step}, seconds);
}

void PipelineMetrics::ObservePromotion(const std::string& ns, const std::string& pipeline,
                                       const std::string& result) {
  promotions_->Increment({ns, pipeline, result});
}

}  // namespace flywheel::pipeline
