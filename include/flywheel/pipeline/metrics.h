#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace flywheel::pipeline {

// The Pipeline controllers' domain metrics (docs/pipeline.md "Metrics"):
// flywheel_pipeline_runs_total{namespace,pipeline,result} (result: the run's final phase,
// lower-case: succeeded, failed, cancelled, timedout), flywheel_pipeline_run_duration_seconds
// {namespace,pipeline,result} (pod start to the end, promotion included),
// flywheel_pipeline_step_duration_seconds{namespace,pipeline,step} (each step that ran), and
// flywheel_pipeline_promotions_total{namespace,pipeline,result} (pushed, unchanged, failed).
class PipelineMetrics {
 public:
  explicit PipelineMetrics(prometheus::Registry& registry);

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
  prometheus::Family<prometheus::Counter>& runs_;
  prometheus::Family<prometheus::Histogram>& run_duration_;
  prometheus::Family<prometheus::Histogram>& step_duration_;
  prometheus::Family<prometheus::Counter>& promotions_;
};

}  // namespace flywheel::pipeline
