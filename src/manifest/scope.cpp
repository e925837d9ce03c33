#include "scope.h"

#include <algorithm>
#include <array>
#include <utility>

namespace flywheel::manifest {
namespace {

using GroupKind = std::pair<std::string_view, std::string_view>;

// Built-in cluster-scoped kinds (Kubernetes 1.33), by group.
constexpr std::array kClusterScoped = {
    GroupKind{"", "Namespace"},
    GroupKind{"", "Node"},
    GroupKind{"", "PersistentVolume"},
    GroupKind{"", "ComponentStatus"},
    GroupKind{"apiextensions.k8s.io", "CustomResourceDefinition"},
    GroupKind{"apiregistration.k8s.io", "APIService"},
    GroupKind{"rbac.authorization.k8s.io", "ClusterRole"},
    GroupKind{"rbac.authorization.k8s.io", "ClusterRoleBinding"},
    GroupKind{"storage.k8s.io", "StorageClass"},
    GroupKind{"storage.k8s.io", "CSIDriver"},
    GroupKind{"storage.k8s.io", "CSINode"},
    GroupKind{"storage.k8s.io", "VolumeAttachment"},
    GroupKind{"storage.k8s.io", "VolumeAttributesClass"},
    GroupKind{"scheduling.k8s.io", "PriorityClass"},
    GroupKind{"admissionregistration.k8s.io", "ValidatingWebhookConfiguration"},
    GroupKind{"admissionregistration.k8s.io", "MutatingWebhookConfiguration"},
    GroupKind{"admissionregistration.k8s.io", "ValidatingAdmissionPolicy"},
    GroupKind{"admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"},
    GroupKind{"admissionregistration.k8s.io", "MutatingAdmissionPolicy"},
    GroupKind{"admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"},
    GroupKind{"networking.k8s.io", "IngressClass"},
    GroupKind{"networking.k8s.io", "IPAddress"},
    GroupKind{"networking.k8s.io", "ServiceCIDR"},
    GroupKind{"node.k8s.io", "RuntimeClass"},
    GroupKind{"certificates.k8s.io", "CertificateSigningRequest"},
    GroupKind{"certificates.k8s.io", "ClusterTrustBundle"},
    GroupKind{"flowcontrol.apiserver.k8s.io", "FlowSchema"},
    GroupKind{"flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"},
    GroupKind{"resource.k8s.io", "DeviceClass"},
    GroupKind{"resource.k8s.io", "ResourceSlice"},
    GroupKind{"storagemigration.k8s.io", "StorageVersionMigration"},
    GroupKind{"internal.apiserver.k8s.io", "StorageVersion"},
    GroupKind{"authentication.k8s.io", "TokenReview"},
    GroupKind{"authentication.k8s.io", "SelfSubjectReview"},
    GroupKind{"authorization.k8s.io", "SubjectAccessReview"},
    GroupKind{"authorization.k8s.io", "SelfSubjectAccessReview"},
    GroupKind{"authorization.k8s.io", "SelfSubjectRulesReview"},
};

}  // namespace

std::string_view GroupOf(std::string_view api_version) {
  size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

bool IsKnownClusterScoped(std::string_view group, std::string_view kind) {
  return std::find(kClusterScoped.begin(), kClusterScoped.end(), GroupKind{group, kind}) !=
         kClusterScoped.end();
}

}  // namespace flywheel::manifest
