#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "flywheel/common/time.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/controller.h"
#include "flywheel/kube/events.h"
#include "flywheel/notify/notifier.h"
#include "flywheel/pipeline/build_pod.h"
#include "flywheel/pipeline/metrics.h"
#include "flywheel/webhook/git.h"
#include "flywheel/webhook/push_dispatcher.h"

namespace flywheel::pipeline {

// Where the Pipeline controllers read what they watch: the informer caches of Pipelines,
// PipelineRuns and build pods, by key ("namespace/name"), and the runs of one Pipeline (those
// labelled flywheel.dev/pipeline=<pipeline> in its namespace: the cache's label index, so a
// reconcile reads its own Pipeline's runs, not the namespace's).
struct Caches {
  std::function<kube::ObjectPtr(const std::string&key)> pipeline, run, pod;
  std::function<std::vector<kube::ObjectPtr>(const std::string& ns, const std::string& pipeline)>
      runs;
};

// How the Pipeline controllers run (the operator's flags).
struct PipelineOptions {
  std::function<Time()> now;  // wall clock of timeouts and status times; default: system clock
  BuildPodOptions pod;        // the images of the build pod
  git::CacheOptions git;      // RemoteHead's timeout and file:// policy
  // A step whose image cannot be pulled (or whose container cannot be created) fails the run
  // after this long.
  std::chrono::milliseconds image_pull_timeout = std::chrono::minutes(2);
  size_t log_tail_bytes = 4096;  // status.steps[].logTail bound
  // Bound on one pods/log read (the API server asks the node's kubelet, which may not answer:
  // a node gone, or a kwok node that serves no logs); the termination message is used then.
  std::chrono::milliseconds log_timeout = std::chrono::seconds(10);
  // Called after a promotion pushed (or found in place) a commit, as if the manifest
  // repository's server had sent a push webhook: wakes the Releases that follow it.
  std::function<void(const webhook::GitPush&)> wake_releases;
};

// The runs of Pipeline `pipeline` among `runs` (spec.pipelineRef.name), oldest first
// (creationTimestamp, then name).
std::vector<kube::ObjectPtr> RunsOf(const std::vector<kube::ObjectPtr>& runs,
                                    const std::string& pipeline);

// Whether a run's phase is final (Succeeded, Failed, Cancelled, TimedOut).
bool IsFinished(const nlohmann::json& run);

// Pipelines as a /hooks/git push target: a push to a Pipeline's source branch asks it to look
// at the remote at once (webhook::PushDispatcher).
webhook::PushTarget PipelinePushTarget(std::function<std::vector<kube::ObjectPtr>()> list);

// The Pipeline controller (SPEC.md "Pipeline"): asks the source branch's head without cloning
// every pollInterval, at once on a /hooks/git push (the reconcile annotation) and on creation,
// and creates exactly one PipelineRun `<pipeline>-<sha7>` per new head (a deterministic name,
// so restarts, duplicate deliveries and replicas create it once); summarizes the runs in status
// (lastRun, lastSucceededRun, lastArtifact) and prunes finished runs beyond historyLimit.
class PipelineReconciler : public kube::Reconciler {
 public:
  PipelineReconciler(kube::Client client, Caches caches, kube::EventRecorder& events,
                     PipelineMetrics& metrics, PipelineOptions options = {});

  Result<kube::ReconcileResult> Reconcile(const std::string& key, std::stop_token stop) override;

 private:
  // Creates the run of `revision` (or finds it made before); `created` says which.
  Result<std::string> CreateRun(const nlohmann::json& pipeline, const std::string& revision,
                                bool& created);

  kube::Client client_;
  Caches caches_;
  kube::EventRecorder& events_;
  PipelineMetrics& metrics_;
  PipelineOptions options_;
  std::mutex mu_;
  std::map<std::string, Time> polled_at_;  // last time each Pipeline's remote was asked
  std::set<std::string> added_;            // Pipelines whose series were made (AddPipeline)
};

// The PipelineRun controller (SPEC.md "PipelineRun"): honours the Pipeline's concurrency
// (Replace cancels older runs, Queue waits for them, Allow runs together), creates the build
// pod, follows it into status (phase, condition Succeeded, per-step state, log tails of failed,
// cancelled and timed-out steps with Secret values masked, captured before the pod goes), fails
// a step stuck on its image after a bounded wait, promotes the artifact's tag into the GitOps
// repository once the pod succeeded, and reports the end once (Event, metrics, notifications):
// a run's final status is written on the resourceVersion it was computed from, so only one
// reconcile can end it.
class PipelineRunReconciler : public kube::Reconciler {
 public:
  PipelineRunReconciler(kube::Client client, Caches caches, git::RepositoryCache& git_cache,
                        kube::EventRecorder& events, PipelineMetrics& metrics,
                        notify::Notifier& notifier, PipelineOptions options = {});

  Result<kube::ReconcileResult> Reconcile(const std::string& key, std::stop_token stop) override;

 private:
  struct Run;
  Result<kube::ReconcileResult> Advance(Run& run, std::stop_token stop);
  Status Promote(Run& run, std::stop_token stop);
  // Ends the run: final phase, condition, steps still pending or running closed, log tails.
  void Finish(Run& run, const std::string& phase, const std::string& reason,
              const std::string& message);
  void CaptureTails(Run& run);
  Status WriteStatus(Run& run);
  void Report(const Run& run);

  kube::Client client_;
  Caches caches_;
  git::RepositoryCache& git_cache_;
  kube::EventRecorder& events_;
  PipelineMetrics& metrics_;
  notify::Notifier& notifier_;
  PipelineOptions options_;
  std::mutex mu_;
  // By run: the resourceVersion the last status write replaced (a cache still at it is stale).
  std::map<std::string, std::string> replaced_;
};

}  // namespace flywheel::pipeline
