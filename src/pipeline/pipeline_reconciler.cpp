#include <spdlog/spdlog.h>

#include <algorithm>

#include "flywheel/api/names.h"
#include "flywheel/git/url.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/pipeline/reconciler.h"
#include "flywheel/pipeline/spec.h"
#include "internal.h"

namespace flywheel::pipeline {

using internal::KeyOf;
using internal::Until;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr size_t kMaxRunName = 63;

std::string CreatedAt(const kube::ObjectPtr& o) {
  return o->value("metadata", json::object()).value("creationTimestamp", "");
}

// A run summary for the Pipeline's status (lastRun, lastSucceededRun).
json Summary(const json& run) {
  const json status = run.value("status", json::object());
  const std::string revision = run.value("spec", json::object()).value("revision", "");
  json s{{"name", kube::MetaString(run, "name")},
         {"revision", revision},
         {"shortRevision", ShortRevision(revision)}};
  for (const char* field : {"phase", "startTime", "completionTime"}) {
    if (status.contains(field) && status[field].is_string()) s[field] = status[field];
  }
  return s;
}

}  // namespace

std::vector<kube::ObjectPtr> RunsOf(const std::vector<kube::ObjectPtr>& runs,
                                    const std::string& pipeline) {
  std::vector<kube::ObjectPtr> out;
  for (const auto& r : runs) {
    if (r->value("spec", json::object()).value("pipelineRef", json::object()).value("name", "") ==
        pipeline)
      out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
    auto ta = CreatedAt(a), tb = CreatedAt(b);
    if (ta != tb) return ta < tb;
    return kube::MetaString(*a, "name") < kube::MetaString(*b, "name");
  });
  return out;
}

webhook::PushTarget PipelinePushTarget(std::function<std::vector<kube::ObjectPtr>()> list) {
  return {api::kGroupVersion, internal::kPipelineKind, std::move(list), [](const json& pipeline) {
            const json source =
                pipeline.value("spec", json::object()).value("source", json::object());
            return webhook::SourceRef{source.value("url", ""), source.value("branch", "main"), ""};
          }};
}

bool IsFinished(const json& run) {
  const std::string phase = run.value("status", json::object()).value("phase", "");
  return phase == "Succeeded" || phase == "Failed" || phase == "Cancelled" || phase == "TimedOut";
}

PipelineReconciler::PipelineReconciler(kube::Client client, Caches caches,
                                       kube::EventRecorder& events, PipelineMetrics& metrics,
                                       PipelineOptions options)
    : client_(std::move(client)),
      caches_(std::move(caches)),
      events_(events),
      metrics_(metrics),
      options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return std::chrono::system_clock::now(); };
}

Result<std::string> PipelineReconciler::CreateRun(const json& pipeline, const std::string& revision,
                                                  bool& created) {
  created = false;
  const std::string ns = kube::MetaString(pipeline, "namespace");
  const std::string name = kube::MetaString(pipeline, "name");
  // <pipeline>-<sha7>; on a collision with another commit's run (same 7 characters), a longer
  // prefix of the SHA, as long as the name stays a label value (63 characters).
  const size_t room = kMaxRunName - std::min(kMaxRunName - 7, name.size() + 1);
  for (size_t len : {size_t{7}, size_t{12}, size_t{20}, room}) {
    if (len > room) break;
    json run = NewRunObject(pipeline, revision);
    const std::string run_name = name + "-" + revision.substr(0, len);
    run["metadata"]["name"] = run_name;
    auto made = client_.Create(run, {.drop_managed_fields = true});
    if (made.ok()) {
      created = true;
      return run_name;
    }
    if (made.status().code() != Code::kAlreadyExists) return made.status();
    auto existing = client_.Get(api::kGroupVersion, internal::kRunKind, ns, run_name);
    if (!existing.ok()) return existing.status();
    const json spec = existing->value("spec", json::object());
    if (spec.value("revision", "") == revision &&
        spec.value("pipelineRef", json::object()).value("name", "") == name) {
      return run_name;  // made before (a restart, another delivery): exactly one run per commit
    }
  }
  return Status(Code::kAlreadyExists,
                "cannot name a PipelineRun for " + revision + ": every candidate name is taken");
}

Result<kube::ReconcileResult> PipelineReconciler::Reconcile(const std::string& key,
                                                            std::stop_token stop) {
  kube::ObjectPtr cached = caches_.pipeline(key);
  if (!cached) {
    std::lock_guard lock(mu_);
    polled_at_.erase(key);
    added_.erase(key);  // its series stay (PipelineMetrics removes none)
    return kube::ReconcileResult::Done();
  }
  const json& pipeline = *cached;
  const std::string ns = kube::MetaString(pipeline, "namespace");
  const std::string name = kube::MetaString(pipeline, "name");
  {
    // First reconcile since the start: the Pipeline's series start at 0, so its first run
    // counts in increase().
    std::lock_guard lock(mu_);
    if (added_.insert(key).second) metrics_.AddPipeline(ns, name);
  }
  const int64_t generation = pipeline["metadata"].value("generation", int64_t{0});
  const Time now = options_.now();
  const json server_status = pipeline.value("status", json::object());
  json status = server_status;
  if (!status.is_object()) status = json::object();
  json& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  // Sets Ready; returns whether it changed (Events are emitted only then).
  auto ready = [&](kube::ConditionStatus s, const std::string& reason, const std::string& message) {
    auto changed = kube::SetCondition(conditions, {"Ready", s, reason, message}, generation, now);
    return changed.ok() && *changed;
  };
  auto write = [&]() -> Status {
    status["observedGeneration"] = generation;
    if (status == server_status) return Status::Ok();
    json object = pipeline;
    object["status"] = status;
    auto updated = client_.UpdateStatus(object, {.drop_managed_fields = true});
    if (!updated.ok()) {
      spdlog::debug("pipeline {}: status update failed: {}", key, updated.status().ToString());
      return updated.status();
    }
    return Status::Ok();
  };

  auto spec = PipelineSpec::Parse(pipeline);
  if (!spec.ok()) {
    if (ready(kube::ConditionStatus::kFalse, "InvalidSpec", spec.status().message()))
      events_.Emit(pipeline, "Warning", "InvalidSpec", "Validate", spec.status().message());
    if (Status s = write(); !s.ok()) return s;
    return kube::ReconcileResult::Done();  // a spec change wakes it
  }

  // The runs: summaries, and pruning beyond historyLimit (oldest finished first).
  std::vector<kube::ObjectPtr> runs = RunsOf(caches_.runs(ns, name), name);
  if (!runs.empty()) status["lastRun"] = Summary(*runs.back());
  std::vector<kube::ObjectPtr> succeeded, failed;
  for (const auto& r : runs) {
    if (!IsFinished(*r)) continue;
    const std::string phase = (*r)["status"].value("phase", "");
    (phase == "Succeeded" ? succeeded : failed).push_back(r);
  }
  if (!succeeded.empty()) {
    const json& last = *succeeded.back();
    status["lastSucceededRun"] = Summary(last);
    const json artifact = last["status"].value("artifact", json::object());
    if (artifact.is_object() && artifact.contains("image")) {
      json a = artifact;
      a["revision"] = last["spec"].value("revision", "");
      const std::string promoted =
          last["status"].value("promotion", json::object()).value("commit", "");
      if (!promoted.empty()) a["promotedCommit"] = promoted;
      status["lastArtifact"] = a;
    }
  }
  auto prune = [&](std::vector<kube::ObjectPtr>& finished, int keep) {
    // By completion, oldest first (a run without completionTime counts as oldest).
    std::stable_sort(finished.begin(), finished.end(), [](const auto& a, const auto& b) {
      return (*a)["status"].value("completionTime", "") <
             (*b)["status"].value("completionTime", "");
    });
    for (size_t i = 0; i + keep < finished.size(); ++i) {
      const std::string run_name = kube::MetaString(*finished[i], "name");
      Status s = client_.Delete(api::kGroupVersion, internal::kRunKind, ns, run_name,
                                {.propagation = kube::DeleteOptions::Propagation::kBackground,
                                 .precondition_uid = kube::MetaString(*finished[i], "uid")});
      if (s.ok()) {
        spdlog::info("pipeline {}: pruned PipelineRun {} (historyLimit)", key, run_name);
      } else if (s.code() != Code::kNotFound) {
        spdlog::warn("pipeline {}: cannot prune PipelineRun {}: {}", key, run_name, s.message());
      }
    }
  };
  prune(succeeded, spec->keep_succeeded);
  prune(failed, spec->keep_failed);

  if (spec->suspend) {
    ready(kube::ConditionStatus::kTrue, "Suspended", "spec.suspend is true: no run is started");
    if (Status s = write(); !s.ok()) return s;
    return kube::ReconcileResult::Done();
  }

  // Ask the remote when a poll is due, a push was announced (the reconcile annotation), or the
  // Pipeline was never asked (new, or this process just started).
  const std::string requested = pipeline["metadata"]
                                    .value("annotations", json::object())
                                    .value(api::kReconcileAnnotation, "");
  const bool announced =
      !requested.empty() && requested != status.value("lastHandledReconcileAt", "");
  std::optional<Time> polled;
  {
    std::lock_guard lock(mu_);
    if (auto it = polled_at_.find(key); it != polled_at_.end()) polled = it->second;
  }
  const auto poll = std::chrono::duration_cast<milliseconds>(spec->poll_interval);
  const bool due = announced || !polled || (poll.count() > 0 && now >= *polled + poll);
  auto next = [&]() -> kube::ReconcileResult {
    if (poll.count() == 0) return kube::ReconcileResult::Done();
    std::lock_guard lock(mu_);
    return kube::ReconcileResult::After(Until(polled_at_[key] + poll, options_.now()));
  };
  if (!due) {
    if (Status s = write(); !s.ok()) return s;
    return next();
  }
  {
    std::lock_guard lock(mu_);
    polled_at_[key] = now;
  }
  if (announced) status["lastHandledReconcileAt"] = requested;
  const std::string url = git::RedactUrl(spec->url);
  auto credentials =
      internal::GitCredentials(client_, ns, spec->secret, "spec.source.secretRef", spec->url);
  if (!credentials.ok()) {
    const std::string reason =
        credentials.status().code() == Code::kNotFound ? "SecretNotFound" : "InvalidSecret";
    if (ready(kube::ConditionStatus::kFalse, reason, credentials.status().message()))
      events_.Emit(pipeline, "Warning", reason, "Poll", credentials.status().message());
    if (Status s = write(); !s.ok()) return s;
    return next();
  }
  git::CacheOptions git_options = options_.git;
  auto head = git::RemoteHead(spec->url, *credentials, spec->branch, git_options, stop);
  if (!head.ok()) {
    if (head.status().code() == Code::kCancelled) return head.status();
    std::string message = head.status().message();
    if (head.status().code() == Code::kNotFound)
      message = "branch " + spec->branch + " not found in " + url + ": " + message;
    const std::string reason = internal::GitReason(head.status());
    if (ready(kube::ConditionStatus::kFalse, reason, message))
      events_.Emit(pipeline, "Warning", reason, "Poll", message);
    if (Status s = write(); !s.ok()) return s;
    return next();
  }
  if (*head != status.value("lastSeenRevision", "")) {
    bool created = false;
    auto run = CreateRun(pipeline, *head, created);
    if (!run.ok()) {
      const std::string message = "cannot create the PipelineRun for " + ShortRevision(*head) +
                                  ": " + run.status().message();
      if (ready(kube::ConditionStatus::kFalse, "RunNotCreated", message))
        events_.Emit(pipeline, "Warning", "RunNotCreated", "Trigger", message);
      (void)write();
      return run.status();  // retried with backoff
    }
    // Only the reconcile that created the run says so (a stale cache may repeat the creation,
    // which finds the run in place).
    if (created) {
      events_.Emit(
          pipeline, "Normal", "RunCreated", "Trigger",
          "PipelineRun " + *run + " created for " + spec->branch + " at " + ShortRevision(*head));
    }
    status["lastSeenRevision"] = *head;
  }
  ready(kube::ConditionStatus::kTrue, "Watching",
        "following " + url + " " + spec->branch + " (at " + ShortRevision(*head) + ")");
  if (Status s = write(); !s.ok()) return s;
  return next();
}

}  // namespace flywheel::pipeline
