#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flywheel::pipeline {

// What a build pod's status says about one step (one container of the pod).
struct StepObservation {
  std::string name;
  // Pending (not started), Running, Succeeded, Failed, Skipped (a step before it failed, or
  // the pod ended before it ran).
  std::string phase = "Pending";
  std::optional<int> exit_code;
  // Why the step is where it is: the container's terminated reason (Completed, Error,
  // OOMKilled, StartError, ...) or, while it waits, its waiting reason (PodInitializing,
  // ErrImagePull, ImagePullBackOff, CreateContainerConfigError, ...). A step the pod stopped
  // has the pod's reason instead: DeadlineExceeded, Evicted (or the DisruptionTarget
  // condition's reason, e.g. EvictionByEvictionAPI), PodDeleted, or the kubelet's reason for
  // failing the pod.
  std::string reason;
  // The waiting or terminated message of the container, if any; for a step the pod stopped,
  // the pod's message.
  std::string message;
  std::string started_at, finished_at;  // RFC 3339, as the pod status has them ("" if unknown)
  std::string termination_message;      // the container's terminated message (may be a log tail)
};

// What a build pod's status says about the run (before the promotion, which is not in the pod).
struct PodObservation {
  // Pending (not scheduled or no step started yet), Running, Succeeded (every step and the
  // image build succeeded), Failed (a step failed, or the pod was evicted, deleted or failed by
  // the kubelet), TimedOut (the pod's activeDeadlineSeconds ran out: pod reason
  // DeadlineExceeded). A deleted pod is Failed: the caller that deleted it (cancel, Replace)
  // says Cancelled itself.
  std::string phase = "Pending";
  // For the Succeeded condition (docs/pipeline.md, "Run status from the pod"): Pending,
  // Running, Succeeded, StepFailed, CloneFailed, BuildFailed, TimedOut, PodEvicted, PodDeleted,
  // PodFailed, or the stuck step's waiting reason (e.g. ImagePullBackOff).
  std::string reason;
  std::string message;  // e.g. `step "test" failed with exit code 1 (Error)`
  // The step that failed or that the pod stopped ("" when none, or when the pod stopped before
  // the kubelet reached any step).
  std::string failed_step;
  std::string start_time;              // pod status.startTime
  std::vector<StepObservation> steps;  // in `step_names` order
  // A step that cannot start because its image cannot be pulled or its container cannot be
  // created (ErrImagePull, ImagePullBackOff, InvalidImageName, ErrImageNeverPull,
  // CreateContainerConfigError, CreateContainerError): its name, and since when it has been waiting
  // to run (the previous step's finishedAt, else the pod's startTime, else its creationTimestamp),
  // so the caller can fail the run after a bounded wait. Only while the pod runs; the phase stays
  // Pending or Running and the reason is the waiting reason.
  std::string stuck_step, stuck_reason, stuck_message, stuck_since;
};

// Reads a build pod (init containers then containers, matched by name to `step_names`, which is
// PipelineSpec::PodStepNames()).
PodObservation ObservePod(const nlohmann::json& pod, const std::vector<std::string>& step_names);

// The last `max_bytes` bytes of a log (cut at a line start when one starts in the first half of
// what is kept, else at a character; invalid UTF-8 replaced by U+FFFD), with every occurrence of
// each secret value, and of each line of a multi-line value, replaced by "***" (values are
// matched before cutting, so a secret across the cut is masked too; overlapping occurrences are
// masked as one; line breaks are kept; values shorter than 4 bytes or blank are not masked, as
// they would mask ordinary text or indentation).
std::string LogTail(std::string_view log, size_t max_bytes,
                    const std::vector<std::string>& secrets);

// The image digest ("sha256:<64 lower-case hex>") the build-image step wrote to its termination
// message, alone or within text, or nothing (also when the text holds two different digests).
std::optional<std::string> DigestFromTerminationMessage(std::string_view message);

// The Secret names a pod references (env valueFrom.secretKeyRef, envFrom.secretRef, secret
// volumes, projected secret sources, imagePullSecrets), so their values can be masked in logs.
std::vector<std::string> ReferencedSecrets(const nlohmann::json& pod);

// Drops from a build pod, in place, what the run controller never reads, before the pod is
// cached (an informer transform): metadata.managedFields and annotations (the steps' scripts);
// of the spec all but activeDeadlineSeconds, the Secret references ReferencedSecrets reads and
// the containers' names; of the status the addresses, the QoS class and the containers' images,
// IDs, mounts and resources. ObservePod, ReferencedSecrets and the timeout message read the
// same from the trimmed pod as from the whole one.
void TrimCachedPod(nlohmann::json& pod);

}  // namespace flywheel::pipeline
