#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "flywheel/api/names.h"
#include "flywheel/common/base64.h"
#include "flywheel/git/url.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/kube/secret.h"
#include "flywheel/pipeline/observe.h"
#include "flywheel/pipeline/promote.h"
#include "flywheel/pipeline/reconciler.h"
#include "flywheel/pipeline/spec.h"
#include "internal.h"

namespace flywheel::pipeline {

using internal::KeyOf;
using internal::Until;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

// Bytes of a step's log asked from the API server before the tail is cut to its bound (after
// masking, so a secret cut by the bound is still recognized).
constexpr int kLogTailLines = 200;
constexpr int kLogLimitBytes = 64 * 1024;

std::optional<Time> TimeOf(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto t = ParseRfc3339(text);
  if (!t.ok()) return std::nullopt;
  return *t;
}

bool IsTransient(Code code) {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded || code == Code::kAborted ||
         code == Code::kInternal || code == Code::kResourceExhausted;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

// One reconcile of one run: what was read, and the status being computed.
struct PipelineRunReconciler::Run {
  std::string key, ns, name;
  json run;            // the object as read
  json server_status;  // its status as read
  json status;         // the status being computed
  int64_t generation = 0;
  Time now;
  RunSpec spec;
  std::optional<PipelineSpec> pipeline_spec;
  json pipeline;        // the Pipeline, when found
  kube::ObjectPtr pod;  // the build pod, when it exists
  std::optional<PodObservation> observed;
  bool finished = false;    // this reconcile ended the run
  bool delete_pod = false;  // the pod must go once the end is written (cancel, timeout, stuck)
};

PipelineRunReconciler::PipelineRunReconciler(kube::Client client, Caches caches,
                                             git::RepositoryCache& git_cache,
                                             kube::EventRecorder& events, PipelineMetrics& metrics,
                                             notify::Notifier& notifier, PipelineOptions options)
    : client_(std::move(client)),
      caches_(std::move(caches)),
      git_cache_(git_cache),
      events_(events),
      metrics_(metrics),
      notifier_(notifier),
      options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return std::chrono::system_clock::now(); };
}

Result<kube::ReconcileResult> PipelineRunReconciler::Reconcile(const std::string& key,
                                                               std::stop_token stop) {
  kube::ObjectPtr cached = caches_.run(key);
  {
    std::lock_guard lock(mu_);
    if (!cached) {
      replaced_.erase(key);
      return kube::ReconcileResult::Done();
    }
    // The cache still holds the version this controller's last status write replaced: its own
    // write has not arrived yet (the watch event wakes the run again). Working from the old
    // status would redo what that write recorded (log reads, Secret reads) only to conflict.
    auto it = replaced_.find(key);
    if (it != replaced_.end() && it->second == kube::MetaString(*cached, "resourceVersion"))
      return kube::ReconcileResult::After(milliseconds(500));
  }
  Run run;
  run.key = key;
  run.run = *cached;
  run.ns = kube::MetaString(run.run, "namespace");
  run.name = kube::MetaString(run.run, "name");
  run.generation = run.run["metadata"].value("generation", int64_t{0});
  run.now = options_.now();
  run.server_status = run.run.value("status", json::object());
  run.status = run.server_status.is_object() ? run.server_status : json::object();
  run.pod = caches_.pod(key);

  if (IsFinished(run.run)) {
    // A run stopped by the controller (cancelled, timed out, a step that cannot start) never
    // leaves a running pod behind: the end is written first, then the pod goes. A run whose
    // step failed keeps its pod (kubectl logs): the kubelet ends it, and its status may still
    // say Running for a moment after the step's exit.
    const std::string phase = run.status.value("phase", "");
    const json conditions = run.status.value("conditions", json::array());
    const json* succeeded = kube::FindCondition(conditions, "Succeeded");
    const bool stopped = phase == "Cancelled" || phase == "TimedOut" ||
                         (succeeded && succeeded->value("reason", "") == "StepCannotStart");
    const std::string pod_phase =
        run.pod ? (*run.pod).value("status", json::object()).value("phase", "") : "";
    if (stopped && run.pod && pod_phase != "Succeeded" && pod_phase != "Failed" &&
        !(*run.pod)["metadata"].contains("deletionTimestamp")) {
      Status s = client_.Delete("v1", "Pod", run.ns, kube::MetaString(*run.pod, "name"),
                                {.precondition_uid = kube::MetaString(*run.pod, "uid")});
      if (!s.ok() && s.code() != Code::kNotFound) return s;
      spdlog::info("pipelinerun {}: build pod deleted ({})", key, phase);
    }
    return kube::ReconcileResult::Done();
  }

  auto result = Advance(run, stop);
  if (!result.ok() && !run.finished) {
    // Keep what was learnt (step states) even when the reconcile is retried.
    if (run.status != run.server_status) (void)WriteStatus(run);
    return result.status();
  }
  if (Status s = WriteStatus(run); !s.ok()) return s;
  if (run.finished) {
    Report(run);
    if (run.delete_pod && run.pod) {
      Status s = client_.Delete("v1", "Pod", run.ns, kube::MetaString(*run.pod, "name"),
                                {.precondition_uid = kube::MetaString(*run.pod, "uid")});
      if (!s.ok() && s.code() != Code::kNotFound) {
        spdlog::warn("pipelinerun {}: cannot delete the build pod: {}", key, s.message());
        return kube::ReconcileResult{milliseconds(0), true};
      }
    }
    return kube::ReconcileResult::Done();
  }
  return result;
}

Result<kube::ReconcileResult> PipelineRunReconciler::Advance(Run& run, std::stop_token stop) {
  auto spec = RunSpec::Parse(run.run);
  if (!spec.ok()) {
    Finish(run, "Failed", "InvalidSpec", spec.status().message());
    return kube::ReconcileResult::Done();
  }
  run.spec = *spec;
  run.status["shortRevision"] = ShortRevision(run.spec.revision);
  kube::ObjectPtr pipeline = caches_.pipeline(KeyOf(run.ns, run.spec.pipeline));
  if (!pipeline) {
    Finish(run, "Failed", "PipelineNotFound",
           "Pipeline " + run.ns + "/" + run.spec.pipeline + " not found");
    return kube::ReconcileResult::Done();
  }
  run.pipeline = *pipeline;
  // The Pipeline's runs are found by label: a run made by hand without it gets it first (the
  // update wakes this run again).
  const json labels = run.run["metadata"].value("labels", json::object());
  if (!labels.is_object() || labels.value(api::kPipelineLabel, "") != run.spec.pipeline) {
    json patch{{"metadata", {{"labels", {{api::kPipelineLabel, run.spec.pipeline}}}}}};
    auto patched = client_.Patch(api::kGroupVersion, internal::kRunKind, run.ns, run.name,
                                 kube::PatchType::kMerge, patch.dump());
    if (!patched.ok()) return patched.status();
    return kube::ReconcileResult::Done();
  }
  auto pipeline_spec = PipelineSpec::Parse(run.pipeline);
  if (!pipeline_spec.ok()) {
    Finish(run, "Failed", "InvalidPipeline",
           "Pipeline " + run.spec.pipeline + ": " + pipeline_spec.status().message());
    return kube::ReconcileResult::Done();
  }
  run.pipeline_spec = std::move(*pipeline_spec);
  const PipelineSpec& ps = *run.pipeline_spec;

  json& conditions = run.status["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  auto succeeded_unknown = [&](const std::string& reason, const std::string& message) {
    (void)kube::SetCondition(conditions,
                             {"Succeeded", kube::ConditionStatus::kUnknown, reason, message},
                             run.generation, run.now);
  };
  if (!run.status.contains("phase")) {
    run.status["phase"] = "Pending";
    succeeded_unknown("Pending", "waiting to start");
  }
  // The steps, in order, once: the pod's containers and the promotion.
  if (!run.status.contains("steps") || !run.status["steps"].is_array() ||
      run.status["steps"].empty()) {
    json steps = json::array();
    for (const auto& n : ps.PodStepNames()) steps.push_back({{"name", n}, {"phase", "Pending"}});
    if (ps.promote) steps.push_back({{"name", kPromoteStep}, {"phase", "Pending"}});
    run.status["steps"] = steps;
  }

  if (run.spec.cancelled) {
    CaptureTails(run);
    Finish(run, "Cancelled", "Cancelled", "cancelled by the user (spec.cancelled)");
    run.delete_pod = true;
    return kube::ReconcileResult::Done();
  }

  // Concurrency with the Pipeline's other runs (oldest first).
  std::vector<kube::ObjectPtr> siblings =
      RunsOf(caches_.runs(run.ns, run.spec.pipeline), run.spec.pipeline);
  auto self = std::find_if(siblings.begin(), siblings.end(), [&](const kube::ObjectPtr& r) {
    return kube::MetaString(*r, "name") == run.name;
  });
  if (ps.concurrency == Concurrency::kReplace && self != siblings.end() &&
      self + 1 != siblings.end()) {
    const std::string newer = kube::MetaString(*siblings.back(), "name");
    CaptureTails(run);
    Finish(run, "Cancelled", "Replaced",
           "replaced by the newer PipelineRun " + newer + " (concurrency: Replace)");
    run.delete_pod = true;
    return kube::ReconcileResult::Done();
  }

  if (!run.pod && !run.status.value("podName", "").empty()) {
    // Created earlier; the cache may not have it yet.
    auto pod = client_.Get("v1", "Pod", run.ns, run.status.value("podName", ""));
    if (pod.ok()) {
      run.pod = std::make_shared<const json>(std::move(*pod));
    } else if (pod.status().code() == Code::kNotFound) {
      Finish(run, "Failed", "PodDeleted",
             "the build pod " + run.status.value("podName", "") +
                 " was deleted before the run finished");
      return kube::ReconcileResult::Done();
    } else {
      return pod.status();
    }
  }

  if (!run.pod) {
    if (ps.concurrency == Concurrency::kQueue) {
      for (auto it = siblings.begin(); it != self && it != siblings.end(); ++it) {
        if (!IsFinished(**it)) {
          const std::string older = kube::MetaString(**it, "name");
          run.status["phase"] = "Pending";
          succeeded_unknown("Queued", "waiting for the older PipelineRun " + older +
                                          " to finish (concurrency: Queue)");
          return kube::ReconcileResult::Done();  // its end wakes this run
        }
      }
    }
    auto pod = BuildPod(run.run, ps, options_.pod);
    if (!pod.ok()) {
      Finish(run, "Failed", "InvalidPipeline", pod.status().message());
      return kube::ReconcileResult::Done();
    }
    auto created = client_.Create(*pod, {.drop_managed_fields = true});
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
      const Code code = created.status().code();
      if (code == Code::kInvalidArgument || code == Code::kPermissionDenied ||
          code == Code::kFailedPrecondition) {
        Finish(run, "Failed", "PodRejected",
               "the API server rejected the build pod: " + created.status().message());
        return kube::ReconcileResult::Done();
      }
      return created.status();  // transient (quota races, outages): retried with backoff
    }
    if (created.ok()) {
      run.pod = std::make_shared<const json>(std::move(*created));
      events_.Emit(run.run, "Normal", "Started", "CreatePod",
                   "build pod " + kube::MetaString(*pod, "name") + " created for " +
                       ShortRevision(run.spec.revision));
    }
    run.status["podName"] = kube::MetaString(*pod, "name");
    if (!run.status.contains("startTime")) run.status["startTime"] = FormatRfc3339(run.now);
    succeeded_unknown("Pending", "build pod created, waiting for it to start");
    if (!run.pod) return kube::ReconcileResult::After(milliseconds(500));
  }

  // Follow the pod.
  const json& pod = *run.pod;
  // A pod of the same name owned by an earlier run of that name (deleted and made again) is
  // not ours: wait for the garbage collector to remove it.
  bool ours = false;
  for (const auto& ref : pod["metadata"].value("ownerReferences", json::array()))
    ours = ours || ref.value("uid", "") == kube::MetaString(run.run, "uid");
  if (!ours) return kube::ReconcileResult::After(milliseconds(500));
  run.status["podName"] = kube::MetaString(pod, "name");
  if (!run.status.contains("startTime"))
    run.status["startTime"] = pod["metadata"].value("creationTimestamp", FormatRfc3339(run.now));
  PodObservation obs = ObservePod(pod, ps.PodStepNames());
  run.observed = obs;
  json& steps = run.status["steps"];
  for (const auto& o : obs.steps) {
    for (json& s : steps) {
      if (s.value("name", "") != o.name) continue;
      s["phase"] = o.phase;
      if (o.exit_code) s["exitCode"] = *o.exit_code;
      if (!o.reason.empty()) s["reason"] = o.reason;
      if (!o.started_at.empty()) s["startedAt"] = o.started_at;
      if (!o.finished_at.empty()) s["finishedAt"] = o.finished_at;
    }
  }

  const Time started = TimeOf(run.status.value("startTime", "")).value_or(run.now);
  const Time deadline = started + ps.timeout;
  if (obs.phase == "Failed") {
    CaptureTails(run);
    const bool build = obs.failed_step == kBuildImageStep;
    Finish(run, "Failed", obs.reason.empty() ? (build ? "BuildFailed" : "StepFailed") : obs.reason,
           obs.message);
    return kube::ReconcileResult::Done();
  }
  if (obs.phase == "TimedOut" || run.now >= deadline) {
    CaptureTails(run);
    Finish(run, "TimedOut", "TimedOut",
           "the run exceeded its timeout of " + FormatDuration(ps.timeout) +
               (obs.message.empty() ? "" : " (" + obs.message + ")"));
    run.delete_pod = true;
    return kube::ReconcileResult::Done();
  }
  if (!obs.stuck_step.empty()) {
    const Time since = TimeOf(obs.stuck_since).value_or(started);
    const std::string what = "step \"" + obs.stuck_step + "\" cannot start: " + obs.stuck_reason +
                             (obs.stuck_message.empty() ? "" : ": " + obs.stuck_message);
    if (run.now >= since + options_.image_pull_timeout) {
      for (json& s : steps) {
        if (s.value("name", "") == obs.stuck_step) {
          s["phase"] = "Failed";
          s["reason"] = obs.stuck_reason;
        }
      }
      Finish(run, "Failed", "StepCannotStart",
             what + " (gave up after " + FormatDuration(options_.image_pull_timeout) + ")");
      run.delete_pod = true;
      return kube::ReconcileResult::Done();
    }
    run.status["phase"] = obs.phase == "Running" ? "Running" : "Pending";
    succeeded_unknown(obs.stuck_reason.empty() ? "Pending" : obs.stuck_reason, what);
    return kube::ReconcileResult::After(
        Until(std::min(since + options_.image_pull_timeout, deadline), run.now));
  }
  if (obs.phase != "Succeeded") {
    run.status["phase"] = obs.phase == "Running" ? "Running" : "Pending";
    succeeded_unknown(obs.phase == "Running" ? "Running" : "Pending",
                      obs.message.empty() ? "waiting for the build pod" : obs.message);
    return kube::ReconcileResult::After(Until(deadline, run.now));  // pod changes wake it earlier
  }

  // The pod succeeded: the artifact, then the promotion.
  if (ps.artifact) {
    json artifact{{"image", ps.artifact->image + ":" + ShortRevision(run.spec.revision)}};
    for (const auto& o : obs.steps) {
      if (o.name != kBuildImageStep) continue;
      if (auto digest = DigestFromTerminationMessage(o.termination_message))
        artifact["digest"] = *digest;
    }
    run.status["artifact"] = artifact;
  }
  if (ps.promote && run.status.value("promotion", json::object()).value("commit", "").empty()) {
    run.status["phase"] = "Running";
    if (Status s = Promote(run, stop); !s.ok()) {
      if (IsTransient(s.code()) && run.now < deadline) {
        succeeded_unknown("Promoting", "promotion will be retried: " + s.message());
        return s;  // retried with backoff until the timeout
      }
      if (s.code() == Code::kCancelled) return s;
      for (json& step : steps) {
        if (step.value("name", "") == kPromoteStep) {
          step["phase"] = "Failed";
          step["reason"] = "PromotionFailed";
          step["finishedAt"] = FormatRfc3339(run.now);
        }
      }
      metrics_.ObservePromotion(run.ns, run.spec.pipeline, "failed");
      Finish(run, "Failed", "PromotionFailed", "promotion failed: " + s.message());
      return kube::ReconcileResult::Done();
    }
  }
  std::string message = "all steps succeeded";
  if (run.status.contains("artifact"))
    message += "; pushed " + run.status["artifact"].value("image", "");
  if (run.status.contains("promotion"))
    message += "; promoted in commit " +
               ShortRevision(run.status["promotion"].value("commit", "")) + " of " +
               run.status["promotion"].value("url", "");
  Finish(run, "Succeeded", "Succeeded", message);
  return kube::ReconcileResult::Done();
}

Status PipelineRunReconciler::Promote(Run& run, std::stop_token stop) {
  const PipelineSpec& ps = *run.pipeline_spec;
  json* step = nullptr;
  for (json& s : run.status["steps"]) {
    if (s.value("name", "") == kPromoteStep) step = &s;
  }
  if (step) {
    (*step)["phase"] = "Running";
    if (!step->contains("startedAt")) (*step)["startedAt"] = FormatRfc3339(run.now);
  }
  auto credentials = internal::GitCredentials(client_, run.ns, ps.promote->secret,
                                              "spec.promote.secretRef", ps.promote->url);
  if (!credentials.ok()) return credentials.status();
  auto promoted =
      pipeline::Promote(git_cache_, *credentials, ps, {run.ns, run.name, run.spec.revision}, stop);
  if (!promoted.ok()) return promoted.status();
  const std::string url = git::RedactUrl(ps.promote->url);
  run.status["promotion"] = {{"url", url},
                             {"branch", ps.promote->branch},
                             {"commit", promoted->commit},
                             {"pushedAt", FormatRfc3339(options_.now())}};
  if (step) {
    (*step)["phase"] = "Succeeded";
    (*step)["reason"] = promoted->changed ? "Pushed" : "AlreadyPromoted";
    (*step)["finishedAt"] = FormatRfc3339(options_.now());
  }
  metrics_.ObservePromotion(run.ns, run.spec.pipeline, promoted->changed ? "pushed" : "unchanged");
  spdlog::info("pipelinerun {}: {} {}:{} into {} {} ({})", run.key,
               promoted->changed ? "promoted" : "already promoted", ps.artifact->image,
               ShortRevision(run.spec.revision), url, ps.promote->branch,
               ShortRevision(promoted->commit));
  if (options_.wake_releases) {
    options_.wake_releases({.repo_urls = {ps.promote->url},
                            .ref = "refs/heads/" + ps.promote->branch,
                            .provider = "flywheel",
                            .delivery = ""});
  }
  return Status::Ok();
}

void PipelineRunReconciler::Finish(Run& run, const std::string& phase, const std::string& reason,
                                   const std::string& message) {
  run.finished = true;
  run.status["phase"] = phase;
  run.status["completionTime"] = FormatRfc3339(run.now);
  if (!run.status.contains("shortRevision") && !run.spec.revision.empty())
    run.status["shortRevision"] = ShortRevision(run.spec.revision);
  json& conditions = run.status["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  (void)kube::SetCondition(
      conditions,
      {"Succeeded",
       phase == "Succeeded" ? kube::ConditionStatus::kTrue : kube::ConditionStatus::kFalse, reason,
       message},
      run.generation, run.now);
  if (run.status.contains("steps") && run.status["steps"].is_array()) {
    for (json& s : run.status["steps"]) {
      const std::string p = s.value("phase", "Pending");
      if (p == "Running") {
        s["phase"] = phase == "Cancelled" ? "Cancelled" : "Failed";
        if (phase == "TimedOut") s["reason"] = "TimedOut";
        if (phase == "Cancelled") s["reason"] = reason;
        if (!s.contains("finishedAt")) s["finishedAt"] = FormatRfc3339(run.now);
      } else if (p == "Pending") {
        s["phase"] = "Skipped";
      }
    }
  }
}

void PipelineRunReconciler::CaptureTails(Run& run) {
  if (!run.pod || !run.pipeline_spec) return;
  PodObservation obs =
      run.observed ? *run.observed : ObservePod(*run.pod, run.pipeline_spec->PodStepNames());
  run.observed = obs;
  // The steps whose log matters: the failed one, and those running when the run ends.
  std::vector<const StepObservation*> wanted;
  for (const auto& o : obs.steps) {
    if (o.phase == "Failed" || o.phase == "Running") wanted.push_back(&o);
  }
  if (wanted.empty()) return;
  // Every value of every Secret the pod references is masked.
  std::vector<std::string> secrets;
  for (const auto& name : ReferencedSecrets(*run.pod)) {
    auto secret = client_.Get("v1", "Secret", run.ns, name);
    if (!secret.ok()) continue;
    // (The items of a named object: iterating a temporary's items() would dangle.)
    const json data = secret->value("data", json::object());
    for (const auto& [k, v] : data.items()) {
      auto value = kube::SecretValue(*secret, k, "Secret " + name);
      if (value.ok() && !value->empty()) secrets.push_back(*value);
    }
  }
  const std::string pod_name = kube::MetaString(*run.pod, "name");
  for (const StepObservation* o : wanted) {
    std::string log;
    auto text =
        client_.WithCallTimeout(options_.log_timeout)
            .GetText("/api/v1/namespaces/" + run.ns + "/pods/" + pod_name +
                     "/log?container=" + o->name + "&tailLines=" + std::to_string(kLogTailLines) +
                     "&limitBytes=" + std::to_string(kLogLimitBytes));
    if (text.ok() && !text->empty()) {
      log = *text;
    } else {
      // No log from the node (kubelet gone, container never ran): the termination message,
      // which FallbackToLogsOnError fills with the log's end.
      log = o->termination_message;
      if (!text.ok())
        spdlog::debug("pipelinerun {}: log of step {}: {}", run.key, o->name,
                      text.status().message());
    }
    if (log.empty()) continue;
    for (json& s : run.status["steps"]) {
      if (s.value("name", "") == o->name)
        s["logTail"] = LogTail(log, options_.log_tail_bytes, secrets);
    }
  }
}

Status PipelineRunReconciler::WriteStatus(Run& run) {
  run.status["observedGeneration"] = run.generation;
  if (run.status == run.server_status) return Status::Ok();
  json object = run.run;
  object["status"] = run.status;
  auto updated = client_.UpdateStatus(object, {.drop_managed_fields = true});
  if (!updated.ok()) {
    // A conflict means another reconcile (or a stale read) raced this one: retry from a fresh
    // read; nothing was reported yet.
    spdlog::debug("pipelinerun {}: status update failed: {}", run.key, updated.status().ToString());
    run.finished = false;
    return updated.status();
  }
  std::lock_guard lock(mu_);
  replaced_[run.key] = kube::MetaString(run.run, "resourceVersion");
  return Status::Ok();
}

void PipelineRunReconciler::Report(const Run& run) {
  const std::string phase = run.status.value("phase", "");
  const json conditions = run.status.value("conditions", json::array());
  const json* cond = kube::FindCondition(conditions, "Succeeded");
  const std::string reason = cond ? cond->value("reason", "") : "";
  const std::string message = cond ? cond->value("message", "") : "";
  const std::string pipeline = run.spec.pipeline.empty() ? "unknown" : run.spec.pipeline;
  const bool ok = phase == "Succeeded";
  events_.Emit(run.run, ok ? "Normal" : "Warning", ok ? "Succeeded" : reason, "Run", message);
  const Time start = TimeOf(run.status.value("startTime", "")).value_or(run.now);
  metrics_.ObserveRun(run.ns, pipeline, Lower(phase),
                      std::chrono::duration<double>(run.now - start).count());
  for (const json& s : run.status.value("steps", json::array())) {
    auto a = TimeOf(s.value("startedAt", "")), b = TimeOf(s.value("finishedAt", ""));
    if (a && b && *b >= *a)
      metrics_.ObserveStep(run.ns, pipeline, s.value("name", ""),
                           std::chrono::duration<double>(*b - *a).count());
  }
  spdlog::info("pipelinerun {}: {} ({}): {}", run.key, phase, reason, message);
  // Failures reach people (cancellations were asked for by someone).
  if ((phase == "Failed" || phase == "TimedOut") && run.pipeline_spec &&
      !run.pipeline_spec->notify.empty()) {
    auto targets = notify::ResolveTargets(client_, run.ns, run.pipeline_spec->notify);
    if (!targets.ok()) {
      events_.Emit(run.run, "Warning", "NotifyFailed", "Notify", targets.status().message());
      return;
    }
    json details{{"pipeline", pipeline},
                 {"run", run.name},
                 {"revision", run.spec.revision},
                 {"phase", phase},
                 {"reason", reason}};
    for (const json& s : run.status.value("steps", json::array())) {
      if (s.value("phase", "") != "Failed") continue;
      details["step"] = s.value("name", "");
      if (s.contains("exitCode")) details["exitCode"] = s["exitCode"];
      if (s.contains("logTail")) details["logTail"] = s["logTail"];
      break;
    }
    notifier_.Send(*targets,
                   {.event = "PipelineRunFailed",
                    .severity = "warning",
                    .kind = internal::kRunKind,
                    .ns = run.ns,
                    .name = run.name,
                    .text = "PipelineRun " + run.ns + "/" + run.name + " (" +
                            ShortRevision(run.spec.revision) + ") " + Lower(phase) + ": " + message,
                    .details = details});
  }
}

}  // namespace flywheel::pipeline
