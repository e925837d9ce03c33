#include "flywheel/pipeline/observe.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "flywheel/common/time.h"
#include "flywheel/common/utf8.h"
#include "flywheel/pipeline/spec.h"

namespace flywheel::pipeline {

using nlohmann::json;

namespace {

// The string at `key` of `object`, or "" when `object` is not an object or the value is not a
// string (a pod status is outside input: a wrong type reads as absent rather than throwing).
std::string Str(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The object at `key` of `object`, or nullptr.
const json* Obj(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? &*it : nullptr;
}

// The array at `key` of `object`, or an empty array.
const json& Arr(const json& object, const char* key) {
  static const json kEmpty = json::array();
  if (!object.is_object()) return kEmpty;
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

// Waiting reasons that mean the kubelet cannot start the container without someone changing
// the image, the pod or a referenced object: the run would wait for ever (until its timeout).
bool IsStuckReason(const std::string& reason) {
  static const std::set<std::string> kStuck = {
      "ErrImagePull",      "ImagePullBackOff",           "InvalidImageName",
      "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError",
  };
  return kStuck.count(reason) > 0;
}

// Terminated reasons for a container whose command never ran (the runtime could not start it).
bool IsStartFailure(const std::string& reason) {
  return reason == "StartError" || reason == "ContainerCannotRun";
}

// The terminated state of a ContainerStatus: in `state`, or else in `lastState`, where the
// kubelet keeps it when it lost the container (ContainerStatusUnknown after an eviction or a
// deletion, with `state` back to waiting). restartPolicy is Never, so a container that
// terminated once never runs again.
const json* Terminated(const json& status) {
  for (const char* key : {"state", "lastState"}) {
    const json* state = Obj(status, key);
    if (const json* t = state != nullptr ? Obj(*state, "terminated") : nullptr) return t;
  }
  return nullptr;
}

// A step from its ContainerStatus.
StepObservation ReadStep(const std::string& name, const json& status) {
  StepObservation step;
  step.name = name;
  const json* state = Obj(status, "state");
  const json* running = state != nullptr ? Obj(*state, "running") : nullptr;
  const json* terminated = running == nullptr ? Terminated(status) : nullptr;
  if (terminated != nullptr) {
    auto code = terminated->find("exitCode");
    if (code != terminated->end() && code->is_number_integer()) step.exit_code = code->get<int>();
    step.phase = step.exit_code.value_or(1) == 0 ? "Succeeded" : "Failed";
    step.reason = Str(*terminated, "reason");
    step.message = Str(*terminated, "message");
    step.termination_message = step.message;
    step.started_at = Str(*terminated, "startedAt");
    step.finished_at = Str(*terminated, "finishedAt");
  } else if (running != nullptr) {
    step.phase = "Running";
    step.started_at = Str(*running, "startedAt");
  } else if (const json* waiting = state != nullptr ? Obj(*state, "waiting") : nullptr) {
    step.reason = Str(*waiting, "reason");
    step.message = Str(*waiting, "message");
  }
  return step;
}

// The first line of `text`, at most 300 bytes (runtime errors can be long; the rest stays in
// the step's message).
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() <= 300) return line;
  return std::string(TruncateUtf8(line, 300)) + "...";
}

// The Succeeded condition's reason for a failed step: the built-in steps have their own.
std::string FailedReason(const std::string& step) {
  if (step == kCloneStep) return "CloneFailed";
  if (step == kBuildImageStep) return "BuildFailed";
  return "StepFailed";
}

// `step "test" failed with exit code 1 (Error)` and its variants.
std::string FailedMessage(const StepObservation& step) {
  std::string quoted = "step \"" + step.name + "\"";
  if (IsStartFailure(step.reason)) {
    std::string why = FirstLine(step.message);
    return quoted + " could not start (" + step.reason + ")" + (why.empty() ? "" : ": " + why);
  }
  std::string message = quoted + " failed";
  if (step.exit_code) message += " with exit code " + std::to_string(*step.exit_code);
  if (step.reason == "OOMKilled") return message + " (OOMKilled: it ran out of memory)";
  if (!step.reason.empty()) message += " (" + step.reason + ")";
  return message;
}

// Whether the pod was evicted or disrupted (node pressure, the Eviction API, preemption, a
// taint), and the reason and message saying so.
bool Disrupted(const json& status, std::string& reason, std::string& message) {
  if (Str(status, "reason") == "Evicted") {
    reason = "Evicted";
    message = Str(status, "message");
    return true;
  }
  for (const auto& c : Arr(status, "conditions")) {
    if (Str(c, "type") == "DisruptionTarget" && Str(c, "status") == "True") {
      reason = Str(c, "reason");
      if (reason.empty()) reason = "Evicted";
      message = Str(c, "message");
      return true;
    }
  }
  return false;
}

// Whether the pod is being deleted and `failed` (the step that failed, if any) ended only after
// the deletion was asked for (metadata.deletionTimestamp less the grace period), so its
// failure is the kill, not the step's own.
bool DeletedUnder(const json& metadata, const StepObservation* failed) {
  std::string deletion = Str(metadata, "deletionTimestamp");
  if (deletion.empty()) return false;
  if (failed == nullptr) return true;
  auto deadline = ParseRfc3339(deletion);
  auto finished = ParseRfc3339(failed->finished_at);
  if (!deadline.ok() || !finished.ok()) return true;
  auto grace = metadata.find("deletionGracePeriodSeconds");
  int64_t seconds =
      grace != metadata.end() && grace->is_number_integer() ? grace->get<int64_t>() : 0;
  return *finished >= *deadline - std::chrono::seconds(seconds);
}

// The pod's timeout for a message ("1h0m0s"), or "" when the spec has none.
std::string Timeout(const json& pod) {
  const json* spec = Obj(pod, "spec");
  if (spec == nullptr) return "";
  auto it = spec->find("activeDeadlineSeconds");
  if (it == spec->end() || !it->is_number_integer()) return "";
  return FormatDuration(std::chrono::seconds(it->get<int64_t>()));
}

// Where the run was when the pod stopped, for a message: ` while step "x" was running`.
// `current` is the first step that did not succeed; `reached` whether the kubelet wrote the
// status of any step.
std::string WhileDoing(const StepObservation* current, bool reached) {
  if (!reached) return " before its first step started";
  if (current == nullptr) return " after its last step";
  std::string doing = "running";
  if (current->phase == "Pending") {
    doing = "waiting to start";
    if (IsStuckReason(current->reason)) {
      doing +=
          " (" + current->reason + (current->message.empty() ? "" : ": " + current->message) + ")";
    }
  }
  return " while step \"" + current->name + "\" was " + doing;
}

// The message of a pod that is not running yet: why it is not scheduled, when the scheduler
// said so.
std::string PendingMessage(const json& status) {
  for (const auto& c : Arr(status, "conditions")) {
    if (Str(c, "type") == "PodScheduled" && Str(c, "status") == "False") {
      std::string why = Str(c, "message");
      return "the build pod cannot be scheduled yet" + (why.empty() ? "" : ": " + why);
    }
  }
  if (Str(status, "startTime").empty()) return "the build pod is waiting to be scheduled";
  return "the build pod is starting";
}

}  // namespace

PodObservation ObservePod(const json& pod, const std::vector<std::string>& step_names) {
  PodObservation o;
  static const json kEmpty = json::object();
  const json* status_ptr = Obj(pod, "status");
  const json& status = status_ptr != nullptr ? *status_ptr : kEmpty;
  const json* metadata_ptr = Obj(pod, "metadata");
  const json& metadata = metadata_ptr != nullptr ? *metadata_ptr : kEmpty;
  o.start_time = Str(status, "startTime");

  std::map<std::string, const json*> statuses;  // container name -> ContainerStatus
  for (const char* key : {"initContainerStatuses", "containerStatuses"}) {
    for (const auto& s : Arr(status, key)) statuses.emplace(Str(s, "name"), &s);
  }
  bool any_status = false;
  for (const auto& name : step_names) {
    auto it = statuses.find(name);
    if (it == statuses.end()) {
      StepObservation step;
      step.name = name;
      o.steps.push_back(step);
    } else {
      o.steps.push_back(ReadStep(name, *it->second));
      any_status = true;
    }
  }

  // The step the pod is at: the first that did not succeed (steps run one after another).
  auto current_it = std::find_if(o.steps.begin(), o.steps.end(),
                                 [](const StepObservation& s) { return s.phase != "Succeeded"; });
  StepObservation* current = current_it == o.steps.end() ? nullptr : &*current_it;
  StepObservation* failed = current != nullptr && current->phase == "Failed" ? current : nullptr;
  // Ends the run at the current step: when the kubelet had reached it, it is Failed with
  // `step_reason` (and `step_message`, unless that is empty); the steps after it are Skipped.
  auto stop = [&](const std::string& step_reason, const std::string& step_message) {
    for (auto& s : o.steps) {
      if (&s == current && any_status) {
        s.phase = "Failed";
        s.reason = step_reason;
        if (!step_message.empty()) s.message = step_message;
        o.failed_step = s.name;
      } else if (s.phase == "Pending" || s.phase == "Running") {
        s.phase = "Skipped";
      }
    }
  };

  std::string pod_phase = Str(status, "phase");
  std::string disruption, disruption_message;
  if (pod_phase == "Succeeded") {
    o.phase = "Succeeded";
    o.reason = "Succeeded";
    o.message = "all " + std::to_string(o.steps.size()) + " steps succeeded";
  } else if (Str(status, "reason") == "DeadlineExceeded") {
    o.phase = "TimedOut";
    o.reason = "TimedOut";
    std::string timeout = Timeout(pod);
    o.message = "the run exceeded its timeout" + (timeout.empty() ? "" : " of " + timeout) +
                WhileDoing(current, any_status);
    std::string pod_message = Str(status, "message");
    stop("DeadlineExceeded", pod_message.empty() ? o.message : pod_message);
  } else if (Disrupted(status, disruption, disruption_message)) {
    o.phase = "Failed";
    o.reason = "PodEvicted";
    o.message = "the build pod was evicted" + WhileDoing(current, any_status) +
                (disruption_message.empty() ? "" : ": " + disruption_message);
    stop(disruption, disruption_message);
  } else if (DeletedUnder(metadata, failed)) {
    o.phase = "Failed";
    o.reason = "PodDeleted";
    o.message = "the build pod was deleted" + WhileDoing(current, any_status);
    stop("PodDeleted", o.message);
  } else if (failed != nullptr) {
    o.phase = "Failed";
    o.reason = FailedReason(failed->name);
    o.message = FailedMessage(*failed);
    stop(failed->reason, failed->message);
  } else if (current == nullptr && any_status && pod_phase != "Failed") {
    // Every step exited 0 (the last container too, with restartPolicy Never nothing runs again):
    // the run succeeded, without waiting for the kubelet's next status update to write the pod's
    // phase (about a second on the real node, before the promotion could start).
    o.phase = "Succeeded";
    o.reason = "Succeeded";
    o.message = "all " + std::to_string(o.steps.size()) + " steps succeeded";
  } else if (pod_phase == "Failed") {
    // The kubelet failed the pod itself (admission, node shutdown, ...).
    std::string reason = Str(status, "reason"), why = Str(status, "message");
    o.phase = "Failed";
    o.reason = "PodFailed";
    o.message = "the build pod failed" + WhileDoing(current, any_status) +
                (reason.empty() ? "" : ": " + reason) + (why.empty() ? "" : ": " + why);
    stop(reason.empty() ? "PodFailed" : reason, why);
  } else {
    bool started = std::any_of(o.steps.begin(), o.steps.end(), [](const StepObservation& s) {
      return s.phase == "Running" || s.phase == "Succeeded";
    });
    o.phase = started ? "Running" : "Pending";
    o.reason = o.phase;
    if (current != nullptr && IsStuckReason(current->reason)) {
      o.stuck_step = current->name;
      o.stuck_reason = current->reason;
      o.stuck_message = current->message;
      if (current != &o.steps.front()) o.stuck_since = (current - 1)->finished_at;
      if (o.stuck_since.empty()) o.stuck_since = o.start_time;
      if (o.stuck_since.empty()) o.stuck_since = Str(metadata, "creationTimestamp");
      o.reason = current->reason;
      o.message = "step \"" + current->name + "\" cannot start: " + current->reason +
                  (current->message.empty() ? "" : ": " + current->message);
    } else if (current != nullptr && started) {
      o.message = "step \"" + current->name + "\" is " +
                  (current->phase == "Running" ? "running" : "starting");
    } else if (started) {
      o.message = "every step finished; waiting for the pod to complete";
    } else {
      o.message = PendingMessage(status);
    }
  }
  return o;
}

std::string LogTail(std::string_view log, size_t max_bytes,
                    const std::vector<std::string>& secrets) {
  // Every value to mask: each secret, and each line of a multi-line one (a key file printed
  // in part, a token written with its trailing newline).
  std::set<std::string> values;
  for (const auto& secret : secrets) {
    values.insert(secret);
    for (size_t start = 0; start < secret.size();) {
      size_t end = std::min(secret.find('\n', start), secret.size());
      std::string line = secret.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      values.insert(line);
      start = end + 1;
    }
  }
  // Marks every byte inside an occurrence of a value, so overlapping and nested occurrences
  // are masked together (the longest reach wins). Line breaks stay, so the log keeps its lines.
  std::vector<bool> masked(log.size(), false);
  for (const auto& value : values) {
    // Short values would mask ordinary words, blank ones indentation (a blank line of a key).
    bool blank = std::all_of(value.begin(), value.end(),
                             [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
    if (value.size() < 4 || blank) continue;
    for (size_t at = log.find(value); at != std::string_view::npos; at = log.find(value, at + 1)) {
      for (size_t i = at; i < at + value.size(); ++i) masked[i] = log[i] != '\n';
    }
  }
  std::string out;
  out.reserve(log.size());
  for (size_t i = 0; i < log.size(); ++i) {
    if (!masked[i]) {
      out += log[i];
    } else if (i == 0 || !masked[i - 1]) {
      out += "***";
    }
  }
  out = ToValidUtf8(out);
  if (out.size() <= max_bytes) return out;

  size_t start = out.size() - max_bytes;
  // Never start inside a character: skip its continuation bytes.
  while (start < out.size() && (static_cast<unsigned char>(out[start]) & 0xC0) == 0x80) ++start;
  // Start at a line when one starts in the first half of what is kept; a longer last line is
  // cut instead, so the tail is never (nearly) empty.
  if (start > 0 && out[start - 1] != '\n') {
    size_t newline = out.find('\n', start);
    if (newline != std::string::npos && newline + 1 - start <= max_bytes / 2) start = newline + 1;
  }
  return out.substr(start);
}

std::optional<std::string> DigestFromTerminationMessage(std::string_view message) {
  auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  auto is_word = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  constexpr std::string_view kPrefix = "sha256:";
  constexpr size_t kHex = 64;
  std::optional<std::string> found;
  for (size_t at = message.find(kPrefix); at != std::string_view::npos;
       at = message.find(kPrefix, at + 1)) {
    size_t end = at + kPrefix.size() + kHex;
    if (end > message.size()) break;
    std::string_view hex = message.substr(at + kPrefix.size(), kHex);
    if (!std::all_of(hex.begin(), hex.end(), is_hex)) continue;
    if (at > 0 && is_word(message[at - 1])) continue;             // e.g. "xsha256:"
    if (end < message.size() && is_word(message[end])) continue;  // longer than 64
    std::string digest(message.substr(at, end - at));
    // Two different digests (a log mentioning a base image, say): which one was pushed is not
    // known, and a wrong digest is worse than none.
    if (found && *found != digest) return std::nullopt;
    found = digest;
  }
  return found;
}

std::vector<std::string> ReferencedSecrets(const json& pod) {
  std::set<std::string> names;
  auto add = [&](const std::string& name) {
    if (!name.empty()) names.insert(name);
  };
  static const json kEmpty = json::object();
  const json* spec_ptr = Obj(pod, "spec");
  const json& spec = spec_ptr != nullptr ? *spec_ptr : kEmpty;
  for (const char* key : {"initContainers", "containers"}) {
    for (const auto& container : Arr(spec, key)) {
      for (const auto& env : Arr(container, "env")) {
        const json* from = Obj(env, "valueFrom");
        if (const json* ref = from != nullptr ? Obj(*from, "secretKeyRef") : nullptr)
          add(Str(*ref, "name"));
      }
      for (const auto& from : Arr(container, "envFrom")) {
        if (const json* ref = Obj(from, "secretRef")) add(Str(*ref, "name"));
      }
    }
  }
  for (const auto& volume : Arr(spec, "volumes")) {
    if (const json* secret = Obj(volume, "secret")) add(Str(*secret, "secretName"));
    if (const json* projected = Obj(volume, "projected")) {
      for (const auto& source : Arr(*projected, "sources")) {
        if (const json* secret = Obj(source, "secret")) add(Str(*secret, "name"));
      }
    }
  }
  for (const auto& ref : Arr(spec, "imagePullSecrets")) add(Str(ref, "name"));
  return {names.begin(), names.end()};
}

void TrimCachedPod(json& pod) {
  if (!pod.is_object()) return;
  if (auto m = pod.find("metadata"); m != pod.end() && m->is_object()) {
    m->erase("managedFields");
    m->erase("annotations");
  }
  if (auto spec = pod.find("spec"); spec != pod.end() && spec->is_object()) {
    json kept = json::object();
    for (const char* key : {"activeDeadlineSeconds", "imagePullSecrets"}) {
      if (auto it = spec->find(key); it != spec->end()) kept[key] = std::move(*it);
    }
    for (const char* key : {"initContainers", "containers"}) {
      json containers = json::array();
      for (const auto& container : Arr(*spec, key)) {
        if (!container.is_object()) continue;
        json c = json::object(), env = json::array(), env_from = json::array();
        if (auto name = container.find("name"); name != container.end()) c["name"] = *name;
        for (const auto& e : Arr(container, "env")) {
          const json* from = Obj(e, "valueFrom");
          if (from != nullptr && Obj(*from, "secretKeyRef") != nullptr) env.push_back(e);
        }
        for (const auto& e : Arr(container, "envFrom")) {
          if (Obj(e, "secretRef") != nullptr) env_from.push_back(e);
        }
        if (!env.empty()) c["env"] = std::move(env);
        if (!env_from.empty()) c["envFrom"] = std::move(env_from);
        containers.push_back(std::move(c));
      }
      if (!containers.empty()) kept[key] = std::move(containers);
    }
    json volumes = json::array();
    for (const auto& volume : Arr(*spec, "volumes")) {
      if (Obj(volume, "secret") != nullptr || Obj(volume, "projected") != nullptr)
        volumes.push_back(volume);
    }
    if (!volumes.empty()) kept["volumes"] = std::move(volumes);
    *spec = std::move(kept);
  }
  if (auto status = pod.find("status"); status != pod.end() && status->is_object()) {
    for (const char* key : {"hostIP", "hostIPs", "podIP", "podIPs", "qosClass"}) status->erase(key);
    for (const char* key : {"initContainerStatuses", "containerStatuses"}) {
      auto list = status->find(key);
      if (list == status->end() || !list->is_array()) continue;
      for (auto& s : *list) {
        if (!s.is_object()) continue;
        for (const char* field : {"image", "imageID", "containerID", "volumeMounts", "resources",
                                  "allocatedResources", "user"})
          s.erase(field);
      }
    }
  }
}

}  // namespace flywheel::pipeline
