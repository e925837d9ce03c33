#include "flywheel/manifest/health.h"

#include <string>
#include <string_view>

namespace flywheel::manifest {
namespace {

using nlohmann::json;

const json& Field(const json& object, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) return kNull;
    auto it = node->find(key);
    if (it == node->end()) return kNull;
    node = &*it;
  }
  return *node;
}

std::string String(const json& object, std::initializer_list<const char*> path) {
  const json& v = Field(object, path);
  return v.is_string() ? v.get<std::string>() : "";
}

int64_t Int(const json& object, std::initializer_list<const char*> path, int64_t fallback = 0) {
  const json& v = Field(object, path);
  return v.is_number() ? v.get<int64_t>() : fallback;
}

bool Bool(const json& object, std::initializer_list<const char*> path) {
  const json& v = Field(object, path);
  return v.is_boolean() && v.get<bool>();
}

const json* Condition(const json& object, std::string_view type) {
  const json& conditions = Field(object, {"status", "conditions"});
  if (!conditions.is_array()) return nullptr;
  for (const json& c : conditions) {
    if (c.is_object() && String(c, {"type"}) == type) return &c;
  }
  return nullptr;
}

bool ConditionIs(const json& object, std::string_view type, std::string_view status) {
  const json* c = Condition(object, type);
  return c != nullptr && String(*c, {"status"}) == status;
}

// "reason: message", or whichever of them is set.
std::string Describe(const json& condition) {
  std::string reason = String(condition, {"reason"});
  std::string message = String(condition, {"message"});
  if (reason.empty() || message.empty()) return reason + message;
  return reason + ": " + message;
}

std::string N(int64_t n) { return std::to_string(n); }

// Builds the result with "<Kind> <name>: " in front of the message.
class Assessor {
 public:
  explicit Assessor(const json& live)
      : live_(live),
        prefix_(String(live, {"kind"}) + " " + String(live, {"metadata", "name"}) + ": ") {}

  Health Make(HealthState state, const std::string& message) const {
    return {state, prefix_ + message};
  }
  Health Healthy(const std::string& m) const { return Make(HealthState::kHealthy, m); }
  Health Progressing(const std::string& m) const { return Make(HealthState::kProgressing, m); }
  Health Degraded(const std::string& m) const { return Make(HealthState::kDegraded, m); }

  int64_t generation() const { return Int(live_, {"metadata", "generation"}); }
  // Workload controllers always set status.observedGeneration: absent means "not yet".
  bool GenerationObserved() const {
    return Int(live_, {"status", "observedGeneration"}) >= generation();
  }

  Health Deployment() const {
    if (Bool(live_, {"spec", "paused"})) return Progressing("paused");
    if (!GenerationObserved()) return Progressing("waiting for rollout to be observed");
    const json* progressing = Condition(live_, "Progressing");
    if (progressing != nullptr && String(*progressing, {"reason"}) == "ProgressDeadlineExceeded") {
      return Degraded(String(*progressing, {"message"}).empty()
                          ? "progress deadline exceeded"
                          : String(*progressing, {"message"}));
    }
    int64_t replicas = Int(live_, {"spec", "replicas"}, 1);
    int64_t updated = Int(live_, {"status", "updatedReplicas"});
    int64_t current = Int(live_, {"status", "replicas"});
    int64_t available = Int(live_, {"status", "availableReplicas"});
    if (updated < replicas)
      return Progressing(N(updated) + " of " + N(replicas) + " updated replicas");
    if (current > updated) {
      return Progressing(N(current - updated) + " old replicas pending termination");
    }
    if (available < updated) {
      return Progressing(N(available) + " of " + N(updated) + " updated replicas available");
    }
    return Healthy(N(available) + " of " + N(replicas) + " replicas available");
  }

  Health StatefulSet() const {
    if (!GenerationObserved()) return Progressing("waiting for rollout to be observed");
    int64_t replicas = Int(live_, {"spec", "replicas"}, 1);
    int64_t ready = Int(live_, {"status", "readyReplicas"});
    int64_t updated = Int(live_, {"status", "updatedReplicas"});
    if (ready < replicas) return Progressing(N(ready) + " of " + N(replicas) + " replicas ready");
    if (String(live_, {"spec", "updateStrategy", "type"}) == "OnDelete") {
      return Healthy(N(ready) + " replicas ready (OnDelete: pods are updated when deleted)");
    }
    const json& partition = Field(live_, {"spec", "updateStrategy", "rollingUpdate", "partition"});
    if (partition.is_number()) {
      int64_t target = replicas - partition.get<int64_t>();
      if (updated < target) {
        return Progressing(N(updated) + " of " + N(target) + " updated replicas (partition " +
                           N(partition.get<int64_t>()) + ")");
      }
      return Healthy("partitioned rollout complete: " + N(updated) + " updated replicas");
    }
    std::string update_revision = String(live_, {"status", "updateRevision"});
    if (update_revision != String(live_, {"status", "currentRevision"})) {
      return Progressing(N(updated) + " of " + N(replicas) + " updated replicas");
    }
    return Healthy(N(ready) + " of " + N(replicas) + " replicas ready");
  }

  Health DaemonSet() const {
    if (!GenerationObserved()) return Progressing("waiting for rollout to be observed");
    int64_t desired = Int(live_, {"status", "desiredNumberScheduled"});
    int64_t updated = Int(live_, {"status", "updatedNumberScheduled"});
    int64_t available = Int(live_, {"status", "numberAvailable"});
    if (String(live_, {"spec", "updateStrategy", "type"}) == "OnDelete") {
      return Healthy(N(updated) + " of " + N(desired) +
                     " pods updated (OnDelete: pods are updated when deleted)");
    }
    if (updated < desired) return Progressing(N(updated) + " of " + N(desired) + " updated pods");
    if (available < desired) {
      return Progressing(N(available) + " of " + N(desired) + " updated pods available");
    }
    return Healthy(N(available) + " of " + N(desired) + " pods available");
  }

  Health ReplicaSet() const {
    if (!GenerationObserved()) return Progressing("waiting for rollout to be observed");
    const json* failure = Condition(live_, "ReplicaFailure");
    if (failure != nullptr && String(*failure, {"status"}) == "True") {
      return Degraded(Describe(*failure));
    }
    int64_t replicas = Int(live_, {"spec", "replicas"}, 1);
    int64_t available = Int(live_, {"status", "availableReplicas"});
    if (available < replicas) {
      return Progressing(N(available) + " of " + N(replicas) + " replicas available");
    }
    return Healthy(N(available) + " of " + N(replicas) + " replicas available");
  }

  Health Job() const {
    for (const char* failed : {"Failed", "FailureTarget"}) {
      const json* c = Condition(live_, failed);
      if (c != nullptr && String(*c, {"status"}) == "True") return Degraded(Describe(*c));
    }
    if (ConditionIs(live_, "Complete", "True")) {
      return Healthy("complete (" + N(Int(live_, {"status", "succeeded"})) + " succeeded)");
    }
    if (ConditionIs(live_, "Suspended", "True") || Bool(live_, {"spec", "suspend"})) {
      return Progressing("suspended");
    }
    return Progressing("running (" + N(Int(live_, {"status", "active"})) + " active, " +
                       N(Int(live_, {"status", "succeeded"})) + " succeeded, " +
                       N(Int(live_, {"status", "failed"})) + " failed)");
  }

  Health Pod() const {
    // Containers that cannot start (Argo CD's rule: waiting reasons Err*, *Error, *BackOff),
    // for every restart policy: Flywheel runs no hook pods that could still recover.
    for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
      const json& statuses = Field(live_, {"status", list});
      if (!statuses.is_array()) continue;
      for (const json& s : statuses) {
        std::string reason = String(s, {"state", "waiting", "reason"});
        if (reason.starts_with("Err") || reason.ends_with("Error") || reason.ends_with("BackOff")) {
          std::string message = String(s, {"state", "waiting", "message"});
          return Degraded("container " + String(s, {"name"}) + " is waiting: " + reason +
                          (message.empty() ? "" : " (" + message + ")"));
        }
      }
    }
    std::string phase = String(live_, {"status", "phase"});
    std::string message = String(live_, {"status", "message"});
    if (phase == "Succeeded") return Healthy("succeeded");
    if (phase == "Failed") return Degraded("failed" + (message.empty() ? "" : ": " + message));
    if (phase == "Running") {
      std::string policy = String(live_, {"spec", "restartPolicy"});
      if (policy == "OnFailure" || policy == "Never") return Progressing("running");
      if (ConditionIs(live_, "Ready", "True")) return Healthy("running and ready");
      const json& statuses = Field(live_, {"status", "containerStatuses"});
      for (const json& s : statuses.is_array() ? statuses : json::array()) {
        if (!Field(s, {"lastState", "terminated"}).is_null()) {
          return Degraded("container " + String(s, {"name"}) + " restarted and is not ready");
        }
      }
      return Progressing("running, not ready");
    }
    if (phase == "Pending" || phase.empty()) {
      return Progressing("pending" + (message.empty() ? "" : ": " + message));
    }
    return Make(HealthState::kUnknown, "phase " + phase);
  }

  Health PersistentVolumeClaim() const {
    std::string phase = String(live_, {"status", "phase"});
    if (phase == "Bound") return Healthy("bound");
    if (phase == "Lost") return Degraded("lost its volume");
    return Progressing(phase.empty() ? "pending" : phase);
  }

  Health Service() const {
    if (String(live_, {"spec", "type"}) != "LoadBalancer") return Healthy("exists");
    const json& ingress = Field(live_, {"status", "loadBalancer", "ingress"});
    if (ingress.is_array() && !ingress.empty()) return Healthy("load balancer ready");
    return Progressing("waiting for a load balancer address");
  }

  // kstatus's generic rules: observedGeneration, Stalled/Reconciling, then Ready.
  Health Generic() const {
    const json& observed = Field(live_, {"status", "observedGeneration"});
    if (observed.is_number() && observed.get<int64_t>() < generation()) {
      return Progressing("waiting for generation " + N(generation()) + " to be observed (at " +
                         N(observed.get<int64_t>()) + ")");
    }
    if (const json* c = Condition(live_, "Stalled"); c && String(*c, {"status"}) == "True") {
      return Degraded("stalled: " + Describe(*c));
    }
    if (const json* c = Condition(live_, "Reconciling"); c && String(*c, {"status"}) == "True") {
      return Progressing("reconciling: " + Describe(*c));
    }
    const json* ready = Condition(live_, "Ready");
    if (ready == nullptr) return Healthy("exists");
    const json& cond_generation = Field(*ready, {"observedGeneration"});
    if (cond_generation.is_number() && cond_generation.get<int64_t>() < generation()) {
      return Progressing("waiting for generation " + N(generation()) + " to be observed");
    }
    std::string status = String(*ready, {"status"});
    std::string reason = String(*ready, {"reason"});
    if (status == "True") return Healthy(Describe(*ready).empty() ? "ready" : Describe(*ready));
    if (status == "False" && !IsProgressingReason(reason)) {
      return Degraded("not ready: " + Describe(*ready));
    }
    return Progressing("not ready yet" + (Describe(*ready).empty() ? "" : ": " + Describe(*ready)));
  }

 private:
  // Ready=False reasons that say "not yet" rather than "failed" (Flux, Cluster API, ...).
  static bool IsProgressingReason(std::string_view reason) {
    return reason == "Progressing" || reason == "Reconciling" || reason == "Pending" ||
           reason == "DependencyNotReady" || reason == "ProgressingWithRetry";
  }

  const json& live_;
  std::string prefix_;
};

}  // namespace

const char* HealthName(HealthState state) {
  switch (state) {
    case HealthState::kHealthy:
      return "Healthy";
    case HealthState::kProgressing:
      return "Progressing";
    case HealthState::kDegraded:
      return "Degraded";
    case HealthState::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

Health AssessHealth(const nlohmann::json& live) {
  if (!live.is_object()) return {HealthState::kUnknown, "not an object"};
  Assessor a(live);
  if (!Field(live, {"metadata", "deletionTimestamp"}).is_null())
    return a.Progressing("being deleted");
  std::string api_version = String(live, {"apiVersion"});
  std::string group = api_version.find('/') == std::string::npos
                          ? ""
                          : api_version.substr(0, api_version.find('/'));
  std::string kind = String(live, {"kind"});
  bool apps = group == "apps" || group == "extensions";
  if (apps && kind == "Deployment") return a.Deployment();
  if (apps && kind == "StatefulSet") return a.StatefulSet();
  if (apps && kind == "DaemonSet") return a.DaemonSet();
  if (apps && kind == "ReplicaSet") return a.ReplicaSet();
  if (group == "batch" && kind == "Job") return a.Job();
  if (group.empty() && kind == "Pod") return a.Pod();
  if (group.empty() && kind == "PersistentVolumeClaim") return a.PersistentVolumeClaim();
  if (group.empty() && kind == "Service") return a.Service();
  return a.Generic();
}

std::string PodProblem(const json& pod) {
  static const char* kStuck[] = {"ErrImagePull",         "ImagePullBackOff",
                                 "InvalidImageName",     "CrashLoopBackOff",
                                 "CreateContainerError", "CreateContainerConfigError",
                                 "RunContainerError",    "ErrImageNeverPull"};
  const json status = pod.value("status", json::object());
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    for (const json& c : status.value(list, json::array())) {
      const json waiting = c.value("state", json::object()).value("waiting", json::object());
      const std::string reason = waiting.value("reason", "");
      for (const char* stuck : kStuck) {
        if (reason != stuck) continue;
        std::string message = waiting.value("message", "");
        if (message.size() > 300) message = message.substr(0, 300) + "...";
        return c.value("name", "") + ": " + reason + (message.empty() ? "" : ": " + message);
      }
    }
  }
  for (const json& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False" &&
        c.value("reason", "") == "Unschedulable") {
      return "Unschedulable: " + c.value("message", "");
    }
  }
  return "";
}

}  // namespace flywheel::manifest
