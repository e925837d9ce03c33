#include "flywheel/manifest/order.h"

#include <gtest/gtest.h>

#include <string>

namespace flywheel::manifest {
namespace {

struct PhaseCase {
  std::string api_version;
  std::string kind;
  ApplyPhase want;
};

class OrderTest : public testing::TestWithParam<PhaseCase> {};

TEST_P(OrderTest, PhaseOfApiVersionAndKind) {
  const PhaseCase& c = GetParam();
  nlohmann::json object = {{"apiVersion", c.api_version}, {"kind", c.kind}};
  EXPECT_EQ(PhaseOf(object), c.want) << c.api_version << " " << c.kind;
}

INSTANTIATE_TEST_SUITE_P(
    Order, OrderTest,
    testing::Values(
        PhaseCase{"apiextensions.k8s.io/v1", "CustomResourceDefinition", ApplyPhase::kDefinitions},
        PhaseCase{"v1", "Namespace", ApplyPhase::kDefinitions},
        PhaseCase{"rbac.authorization.k8s.io/v1", "ClusterRole", ApplyPhase::kClusterRbac},
        PhaseCase{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", ApplyPhase::kClusterRbac},
        PhaseCase{"scheduling.k8s.io/v1", "PriorityClass", ApplyPhase::kClusterRbac},
        PhaseCase{"storage.k8s.io/v1", "StorageClass", ApplyPhase::kClusterRbac},
        PhaseCase{"v1", "PersistentVolume", ApplyPhase::kClusterRbac},
        PhaseCase{"networking.k8s.io/v1", "IngressClass", ApplyPhase::kClusterRbac},
        PhaseCase{"v1", "ServiceAccount", ApplyPhase::kAccounts},
        PhaseCase{"rbac.authorization.k8s.io/v1", "Role", ApplyPhase::kAccounts},
        PhaseCase{"rbac.authorization.k8s.io/v1", "RoleBinding", ApplyPhase::kAccounts},
        PhaseCase{"v1", "ConfigMap", ApplyPhase::kConfig},
        PhaseCase{"v1", "Secret", ApplyPhase::kConfig},
        PhaseCase{"v1", "PersistentVolumeClaim", ApplyPhase::kConfig},
        PhaseCase{"v1", "LimitRange", ApplyPhase::kConfig},
        PhaseCase{"policy/v1", "PodDisruptionBudget", ApplyPhase::kConfig},
        PhaseCase{"v1", "Service", ApplyPhase::kServices},
        PhaseCase{"networking.k8s.io/v1", "Ingress", ApplyPhase::kServices},
        PhaseCase{"networking.k8s.io/v1", "NetworkPolicy", ApplyPhase::kServices},
        PhaseCase{"discovery.k8s.io/v1", "EndpointSlice", ApplyPhase::kServices},
        PhaseCase{"apps/v1", "Deployment", ApplyPhase::kWorkloads},
        PhaseCase{"apps/v1", "StatefulSet", ApplyPhase::kWorkloads},
        PhaseCase{"apps/v1", "DaemonSet", ApplyPhase::kWorkloads},
        PhaseCase{"batch/v1", "Job", ApplyPhase::kWorkloads},
        PhaseCase{"batch/v1", "CronJob", ApplyPhase::kWorkloads},
        PhaseCase{"v1", "Pod", ApplyPhase::kWorkloads},
        PhaseCase{"autoscaling/v2", "HorizontalPodAutoscaler", ApplyPhase::kWorkloads},
        PhaseCase{"admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
                  ApplyPhase::kCustom},
        PhaseCase{"apiregistration.k8s.io/v1", "APIService", ApplyPhase::kCustom},
        PhaseCase{"flywheel.dev/v1alpha1", "Release", ApplyPhase::kCustom},
        PhaseCase{"cert-manager.io/v1", "Certificate", ApplyPhase::kCustom},
        PhaseCase{"example.com/v1", "Deployment", ApplyPhase::kCustom},
        PhaseCase{"example.com/v1", "Namespace", ApplyPhase::kCustom}));

TEST(OrderBuiltinGroupTest, KnowsKubernetesGroups) {
  EXPECT_TRUE(IsBuiltinGroup(""));
  EXPECT_TRUE(IsBuiltinGroup("apps"));
  EXPECT_TRUE(IsBuiltinGroup("storagemigration.k8s.io"));
  EXPECT_FALSE(IsBuiltinGroup("flywheel.dev"));
  EXPECT_FALSE(IsBuiltinGroup("k8s.io"));
  EXPECT_FALSE(IsBuiltinGroup("metrics.k8s.io"));  // served by an aggregated API server
}

}  // namespace
}  // namespace flywheel::manifest
