#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace flywheel::manifest {

// The apply phases, in order (SPEC.md "Release"): each phase is applied (with bounded
// concurrency inside it) before the next starts.
enum class ApplyPhase {
  kDefinitions = 0,  // CustomResourceDefinitions, Namespaces (then wait for CRDs Established)
  kClusterRbac = 1,  // ClusterRoles, ClusterRoleBindings and other cluster-scoped built-ins
                     // (PriorityClasses, StorageClasses, IngressClasses, PersistentVolumes, ...)
  kAccounts = 2,     // ServiceAccounts, Roles, RoleBindings
  kConfig = 3,       // ConfigMaps, Secrets, PVCs, and other namespaced built-in config
                     // (LimitRanges, ResourceQuotas, PodDisruptionBudgets; unknown built-in kinds)
  kServices = 4,     // Services (and Endpoints, EndpointSlices, Ingresses, NetworkPolicies)
  kWorkloads = 5,    // Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Pods
                     // (and ReplicationControllers, HorizontalPodAutoscalers)
  kCustom = 6,       // custom resources (any group that is not a Kubernetes built-in), and
                     // admission webhook configurations and APIServices: they call services
                     // that the workloads provide, so they come last (as in Helm)
};
inline constexpr int kApplyPhaseCount = 7;

// The phase an object is applied in, from its apiVersion and kind.
ApplyPhase PhaseOf(const nlohmann::json& object);

// Whether `group` ("" = core) is served by Kubernetes itself rather than by a CRD.
bool IsBuiltinGroup(std::string_view group);

}  // namespace flywheel::manifest
