#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace flywheel::manifest {

// Health of one live object (kstatus / Argo CD rules).
enum class HealthState { kHealthy, kProgressing, kDegraded, kUnknown };

// "Healthy", "Progressing", "Degraded", "Unknown" (the values of Release status.health).
const char* HealthName(HealthState state);

// One object's health and why, e.g. {kProgressing, "Deployment web: 1 of 3 updated replicas
// available"}.
struct Health {
  HealthState state = HealthState::kHealthy;
  std::string message;
};

// Assesses a live object (as read from the API server, with status):
// - Deployment/StatefulSet/DaemonSet/ReplicaSet: Progressing until status.observedGeneration
//   >= metadata.generation and updated/ready/available replicas match the spec; a Deployment
//   with condition Progressing=False reason ProgressDeadlineExceeded is Degraded.
// - Job: Healthy when Complete, Degraded when Failed, else Progressing. Pod: Succeeded/Running
//   with all containers ready = Healthy, Failed = Degraded, else Progressing. PVC: Bound =
//   Healthy, Lost = Degraded. Service type LoadBalancer: Progressing until it has an ingress.
// - Anything with a `Ready` condition in status.conditions: True = Healthy, False = Degraded
//   (or Progressing when reason says so / observedGeneration is behind), Unknown = Progressing.
// - Everything else (ConfigMaps, Secrets, ...) is Healthy once it exists.
// Details: an object being deleted is Progressing. A paused Deployment and a suspended Job are
// Progressing ("paused"/"suspended"; Argo CD calls them Suspended, which HealthState lacks).
// A StatefulSet with updateStrategy OnDelete is Healthy once observed and ready; a partition
// counts only the replicas above it. A Pod with a container waiting for Err*/*Error/*BackOff
// (CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError) is Degraded
// whatever its restartPolicy; a Running Pod with restartPolicy Never/OnFailure is Progressing.
// Generic objects follow kstatus: status.observedGeneration (and the Ready condition's own
// observedGeneration) behind metadata.generation = Progressing; Stalled=True = Degraded;
// Reconciling=True = Progressing; Ready=False with reason Progressing, Reconciling, Pending,
// DependencyNotReady or ProgressingWithRetry = Progressing. Messages start with "<Kind> <name>: ".
Health AssessHealth(const nlohmann::json& live);

// Why a pod cannot get ready, as the kubelet or the scheduler says it, e.g.
// "web: ErrImagePull: failed to pull image ..." or "Unschedulable: 0/3 nodes are available ...";
// "" when nothing is wrong (or it is only starting). Used to explain a workload that is not
// healthy with its pods' reasons.
std::string PodProblem(const nlohmann::json& pod);

}  // namespace flywheel::manifest
