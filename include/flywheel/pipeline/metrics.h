#pragma once

#include <memory>
#include <string>

#include "flywheel/kube/metric_table.h"
#include "flywheel/kube/metrics.h"

namespace flywheel::pipeline {

// The Pipeline controllers' domain metrics (docs/pipeline.md "Metrics"):
// flywheel_pipeline_runs_total{namespace,pipeline,result} (result: the run's final phase,
// lower-case: succeeded, failed, cancelled, timedout), flywheel_pipeline_run_duration_seconds
// {namespace,pipeline,result} (pod start to the end, promotion included),
// flywheel_pipeline_step_duration_seconds{namespace,pipeline,step} (each step that ran), and
// flywheel_pipeline_promotions_total{namespace,pipeline,result} (pushed, unchanged, failed).
class PipelineMetrics {
 public:
  // The families are exposed by `metrics` for as long as this object lives.
  explicit PipelineMetrics(kube::RuntimeMetrics& metrics);

  // Creates the series of Pipeline ns/pipeline at zero, as kube::RuntimeMetrics::AddController
  // does for a controller, so that its first run or promotion after the operator starts is an
  // increase PromQL's increase() and rate() count, not the appearance of a series at 1:
  // flywheel_pipeline_runs_total and flywheel_pipeline_run_duration_seconds for each result,
  // flywheel_pipeline_promotions_total for each result. (Step durations are per step name, made
  // by the first run that has the step.) Series that exist keep their values.
  void AddPipeline(const std::string& ns, const std::string& pipeline);

  void ObserveRun(const std::string& ns, const std::string& pipeline, const std::string& result,
                  double seconds);
  void ObserveStep(const std::string& ns, const std::string& pipeline, const std::string& step,
                   double seconds);
  void ObservePromotion(const std::string& ns, const std::string& pipeline,
                        const std::string& result);

 private:
  std::shared_ptr<kube::SeriesTable> runs_;
  std::shared_ptr<kube::HistogramTable> run_duration_;
  std::shared_ptr<kube::HistogramTable> step_duration_;
  std::shared_ptr<kube::SeriesTable> promotions_;
};

}  // namespace flywheel::pipeline
