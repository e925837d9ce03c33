// Health of a Release: every applied object assessed (from the applied-objects cache once it has
// caught up with our last apply, else the API server: AppliedObjects::Wrote), healthTimeout,
// history results, stable revision, lead time and time to restore.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "flywheel/kube/conditions.h"
#include "flywheel/release/decisions.h"
#include "internal.h"

namespace flywheel::release {

Result<kube::ObjectPtr> ReleaseReconciler::ReadLive(const ObjectRef& ref) const {
  auto got = client_.Get(ref.ApiVersion(), ref.kind, ref.ns, ref.name);
  if (got.ok()) return std::make_shared<const json>(std::move(*got));
  if (got.status().code() == Code::kNotFound) return kube::ObjectPtr();
  return got.status();
}

std::string ReleaseReconciler::PodsProblem(const ObjectRef& ref) const {
  static const std::set<std::string> kWorkloads = {"Deployment", "StatefulSet", "DaemonSet",
                                                   "ReplicaSet", "Job"};
  if (!kWorkloads.contains(ref.kind)) return "";
  std::optional<kube::ObjectPtr> cached = applied_->Get(ref);
  if (!cached || *cached == nullptr) return "";
  const json labels = (**cached)
                          .value("spec", json::object())
                          .value("selector", json::object())
                          .value("matchLabels", json::object());
  if (!labels.is_object() || labels.empty()) return "";
  kube::ListOptions options;
  for (const auto& [key, value] : labels.items()) {
    if (!value.is_string()) return "";
    options.label_selector +=
        (options.label_selector.empty() ? "" : ",") + key + "=" + value.get<std::string>();
  }
  auto pods = client_.List("v1", "Pod", ref.ns, options);
  if (!pods.ok()) return "";  // an explanation, not a verdict: nothing to add
  for (const json& pod : (*pods)["items"]) {
    if (std::string problem = manifest::PodProblem(pod); !problem.empty()) {
      return "pod " + kube::MetaString(pod, "name") + ": " + problem;
    }
  }
  return "";
}

void ReleaseReconciler::AssessHealth(Run& run) {
  const std::string applied = run.status.last_applied_revision;
  if (applied.empty()) {
    run.status.health = "Unknown";
    metrics_.SetHealth(run.ns, run.name, "Unknown");
    return;
  }
  manifest::HealthState worst = manifest::HealthState::kHealthy;
  std::vector<std::string> messages;
  auto rank = [](manifest::HealthState s) {
    switch (s) {
      case manifest::HealthState::kDegraded:
        return 3;
      case manifest::HealthState::kProgressing:
        return 2;
      case manifest::HealthState::kUnknown:
        return 1;
      default:
        return 0;
    }
  };
  State& state = *run.state;
  for (const auto& ref : run.status.inventory) {
    applied_->Track(ref);
    const std::string id = ref.Id();
    // nullopt when the cache cannot answer, such as while it is behind our last apply and
    // still holds the object of the old spec: then ask the server.
    std::optional<std::string> version = applied_->ResourceVersion(ref);
    const bool current = version.has_value();
    auto known = state.health_at.find(id);
    manifest::Health h;
    if (current && !version->empty() && known != state.health_at.end() &&
        known->second.first == *version) {
      h = known->second.second;  // unchanged since last assessed
    } else {
      std::optional<kube::ObjectPtr> cached =
          current ? applied_->Get(ref) : std::optional<kube::ObjectPtr>();
      Result<kube::ObjectPtr> live = cached ? *cached : ReadLive(ref);
      if (!live.ok()) {
        // Not knowing is not "missing": no Degraded verdict and no Event from a failed read.
        h = {manifest::HealthState::kUnknown,
             "cannot read " + ref.Display() + ": " + live.status().message()};
        run.Requeue(std::chrono::seconds(5));
      } else if (*live == nullptr) {
        h = {run.spec.self_heal ? manifest::HealthState::kProgressing
                                : manifest::HealthState::kDegraded,
             ref.Display() + " is missing"};
      } else {
        h = manifest::AssessHealth(**live);
        if (cached) state.health_at[id] = {kube::MetaString(**live, "resourceVersion"), h};
      }
    }
    if (h.state == manifest::HealthState::kHealthy) continue;
    if (rank(h.state) > rank(worst)) worst = h.state;
    if (std::string why = PodsProblem(ref); !why.empty()) h.message += " (" + why + ")";
    if (messages.size() < 5) messages.push_back(h.message);
  }

  HistoryEntry* entry = run.status.FindHistory(applied);
  std::string message = Join(messages, "; ");
  if (worst == manifest::HealthState::kProgressing && entry != nullptr) {
    if (entry->applied_at) {
      HealthTimeoutVerdict verdict = CheckHealthTimeout(
          *entry->applied_at, run.now, run.spec.health_timeout, entry->result == "Healthy");
      if (verdict.degraded) {
        worst = manifest::HealthState::kDegraded;
        message = "not healthy within healthTimeout " + FormatDuration(run.spec.health_timeout) +
                  ": " + message;
      } else {
        run.Requeue(verdict.recheck_in);
      }
    }
  }
  const std::string health = manifest::HealthName(worst);
  const std::string before = run.status.health;
  run.status.health = health;
  metrics_.SetHealth(run.ns, run.name, health);
  json& conditions = run.status.conditions;
  if (worst == manifest::HealthState::kHealthy) {
    (void)kube::SetCondition(
        conditions,
        {"Healthy", kube::ConditionStatus::kTrue, "Healthy", "every applied object is healthy"},
        run.generation, run.now);
    kube::RemoveCondition(conditions, "Reconciling");
  } else {
    (void)kube::SetCondition(
        conditions,
        {"Healthy",
         worst == manifest::HealthState::kUnknown ? kube::ConditionStatus::kUnknown
                                                  : kube::ConditionStatus::kFalse,
         health, message},
        run.generation, run.now);
    if (worst == manifest::HealthState::kProgressing) {
      (void)kube::SetCondition(
          conditions, {"Reconciling", kube::ConditionStatus::kTrue, "Progressing", message},
          run.generation, run.now);
    } else {
      kube::RemoveCondition(conditions, "Reconciling");
    }
  }
  if (worst == manifest::HealthState::kHealthy) NoteRestored(run);
  if (entry == nullptr) return;
  const std::string result = entry->result;
  if (worst == manifest::HealthState::kHealthy && result != "Healthy" && result != "RolledBack") {
    entry->result = "Healthy";
    entry->healthy_at = run.now;
    entry->reason.clear();
    run.status.stable_revision = applied;
    if (entry->committed_at) {
      metrics_.ObserveLeadTime(
          run.ns, run.name, std::chrono::duration<double>(run.now - *entry->committed_at).count());
    }
    events_.Emit(run.release, "Normal", "Healthy", "Assess",
                 "revision " + Short(applied) + " is healthy");
  } else if (worst == manifest::HealthState::kDegraded && result == "Progressing") {
    entry->result = "Degraded";
    entry->reason = message.substr(0, 4000);
    events_.Emit(run.release, "Warning", "Degraded", "Assess",
                 "revision " + Short(applied) + ": " + message);
  } else if (before != health && worst == manifest::HealthState::kDegraded) {
    events_.Emit(run.release, "Warning", "Degraded", "Assess", message);
  }
}

void ReleaseReconciler::NoteRestored(Run& run) {
  if (!run.status.last_rollback || run.status.last_rollback->restored_at) return;
  LastRollback& last = *run.status.last_rollback;
  const std::string& applied = run.status.last_applied_revision;
  if (applied != last.to_revision && applied != last.revert_commit) return;
  last.restored_at = run.now;
  // Time to restore: from when the failed revision was applied (else from the rollback) until
  // what replaced it is healthy.
  std::optional<Time> since = last.at;
  if (const HistoryEntry* bad = run.status.FindHistory(last.from_revision)) {
    if (bad->applied_at) since = bad->applied_at;
  }
  if (since) {
    metrics_.ObserveTimeToRestore(run.ns, run.name,
                                  std::chrono::duration<double>(run.now - *since).count());
  }
  events_.Emit(run.release, "Normal", "Restored", "Assess",
               "revision " + Short(applied) + " is healthy again after the rollback from " +
                   Short(last.from_revision));
}

}  // namespace flywheel::release
