#include "flywheel/manifest/order.h"

#include <algorithm>
#include <array>
#include <string>

#include "json_fields.h"
#include "scope.h"

namespace flywheel::manifest {
namespace {

constexpr std::array<std::string_view, 23> kBuiltinGroups = {
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "certificates.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "apiregistration.k8s.io",
    "resource.k8s.io",
    "storagemigration.k8s.io",
    "internal.apiserver.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
};

bool OneOf(std::string_view kind, std::initializer_list<std::string_view> kinds) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

}  // namespace

bool IsBuiltinGroup(std::string_view group) {
  return std::find(kBuiltinGroups.begin(), kBuiltinGroups.end(), group) != kBuiltinGroups.end();
}

ApplyPhase PhaseOf(const nlohmann::json& object) {
  if (!object.is_object()) return ApplyPhase::kCustom;
  std::string api_version = StringAt(object, "apiVersion");
  std::string kind = StringAt(object, "kind");
  std::string_view group = GroupOf(api_version);
  if (!IsBuiltinGroup(group)) return ApplyPhase::kCustom;
  if (OneOf(kind, {"CustomResourceDefinition", "Namespace"})) return ApplyPhase::kDefinitions;
  // Admission webhooks and aggregated APIs call services that the workloads below provide:
  // applied last (as Helm does), so they cannot block the objects their backends need.
  if (OneOf(kind,
            {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService"})) {
    return ApplyPhase::kCustom;
  }
  if (IsKnownClusterScoped(group, kind)) return ApplyPhase::kClusterRbac;
  if (OneOf(kind, {"ServiceAccount", "Role", "RoleBinding"})) return ApplyPhase::kAccounts;
  if (OneOf(kind, {"Service", "Endpoints", "EndpointSlice", "Ingress", "NetworkPolicy"})) {
    return ApplyPhase::kServices;
  }
  if (OneOf(kind, {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod",
                   "ReplicationController", "HorizontalPodAutoscaler"})) {
    return ApplyPhase::kWorkloads;
  }
  return ApplyPhase::kConfig;  // ConfigMaps, Secrets, PVCs, LimitRanges, PDBs, ...
}

}  // namespace flywheel::manifest
