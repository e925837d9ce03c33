#include "flywheel/manifest/health.h"

#include <gtest/gtest.h>

#include <string>

namespace flywheel::manifest {
namespace {

using nlohmann::json;

struct HealthCase {
  std::string name;
  std::string live;  // the object as read from the API server
  HealthState want;
  std::string message;
};

void PrintTo(const HealthCase& c, std::ostream* os) { *os << c.name; }

class HealthTest : public testing::TestWithParam<HealthCase> {};

TEST_P(HealthTest, Assesses) {
  const HealthCase& c = GetParam();
  Health got = AssessHealth(json::parse(c.live));
  EXPECT_EQ(HealthName(got.state), std::string(HealthName(c.want)));
  EXPECT_EQ(got.message, c.message);
}

constexpr HealthState kHealthy = HealthState::kHealthy;
constexpr HealthState kProgressing = HealthState::kProgressing;
constexpr HealthState kDegraded = HealthState::kDegraded;

// A Deployment with 3 wanted replicas and the given status fields.
std::string Deployment(const std::string& status, const std::string& spec_extra = "",
                       int generation = 2) {
  return R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "t", "generation": )" +
         std::to_string(generation) + R"(},
    "spec": {"replicas": 3)" +
         spec_extra + R"(},
    "status": )" +
         status + "}";
}

INSTANTIATE_TEST_SUITE_P(
    Health, HealthTest,
    testing::Values(
        HealthCase{"DeploymentAvailable",
                   Deployment(R"({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                     "readyReplicas": 3, "availableReplicas": 3, "conditions": [
                     {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                     {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]})"),
                   kHealthy, "Deployment web: 3 of 3 replicas available"},
        HealthCase{"DeploymentNotObserved",
                   Deployment(R"({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                     "availableReplicas": 3})"),
                   kProgressing, "Deployment web: waiting for rollout to be observed"},
        HealthCase{"DeploymentPaused",
                   Deployment(R"({"observedGeneration": 2})", R"(, "paused": true)"), kProgressing,
                   "Deployment web: paused"},
        HealthCase{"DeploymentDeadlineExceeded",
                   Deployment(R"({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1,
                     "availableReplicas": 3, "unavailableReplicas": 1, "conditions": [
                     {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                      "message": "ReplicaSet \"web-7d9c\" has timed out progressing."}]})"),
                   kDegraded, "Deployment web: ReplicaSet \"web-7d9c\" has timed out progressing."},
        HealthCase{"DeploymentUpdating",
                   Deployment(R"({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1,
                     "availableReplicas": 3})"),
                   kProgressing, "Deployment web: 1 of 3 updated replicas"},
        HealthCase{"DeploymentOldReplicasTerminating",
                   Deployment(R"({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3,
                     "availableReplicas": 3})"),
                   kProgressing, "Deployment web: 1 old replicas pending termination"},
        HealthCase{"DeploymentUpdatedNotAvailable",
                   Deployment(R"({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                     "availableReplicas": 1})"),
                   kProgressing, "Deployment web: 1 of 3 updated replicas available"},
        HealthCase{"DeploymentDefaultsToOneReplica",
                   R"({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w",
                     "generation": 1}, "spec": {}, "status": {"observedGeneration": 1}})",
                   kProgressing, "Deployment w: 0 of 1 updated replicas"},
        HealthCase{"StatefulSetReady",
                   R"({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db",
                     "generation": 3}, "spec": {"replicas": 2, "updateStrategy": {"type": "RollingUpdate"}},
                     "status": {"observedGeneration": 3, "replicas": 2, "readyReplicas": 2,
                     "currentReplicas": 2, "updatedReplicas": 2, "currentRevision": "db-5f",
                     "updateRevision": "db-5f", "availableReplicas": 2}})",
                   kHealthy, "StatefulSet db: 2 of 2 replicas ready"},
        HealthCase{"StatefulSetRollingUpdate",
                   R"({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db",
                     "generation": 3}, "spec": {"replicas": 2},
                     "status": {"observedGeneration": 3, "replicas": 2, "readyReplicas": 2,
                     "updatedReplicas": 1, "currentRevision": "db-5f", "updateRevision": "db-6a"}})",
                   kProgressing, "StatefulSet db: 1 of 2 updated replicas"},
        HealthCase{"StatefulSetNotReady",
                   R"({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db",
                     "generation": 1}, "spec": {"replicas": 3},
                     "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 1}})",
                   kProgressing, "StatefulSet db: 1 of 3 replicas ready"},
        HealthCase{"StatefulSetPartition",
                   R"({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db",
                     "generation": 2}, "spec": {"replicas": 4, "updateStrategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"partition": 2}}}, "status": {"observedGeneration": 2,
                     "replicas": 4, "readyReplicas": 4, "updatedReplicas": 2,
                     "currentRevision": "db-1", "updateRevision": "db-2"}})",
                   kHealthy, "StatefulSet db: partitioned rollout complete: 2 updated replicas"},
        HealthCase{"StatefulSetOnDelete",
                   R"({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db",
                     "generation": 2}, "spec": {"replicas": 1, "updateStrategy": {"type": "OnDelete"}},
                     "status": {"observedGeneration": 2, "replicas": 1, "readyReplicas": 1,
                     "currentRevision": "db-1", "updateRevision": "db-2"}})",
                   kHealthy,
                   "StatefulSet db: 1 replicas ready (OnDelete: pods are updated when deleted)"},
        HealthCase{"DaemonSetRolling",
                   R"({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent",
                     "generation": 4}, "spec": {}, "status": {"observedGeneration": 4,
                     "desiredNumberScheduled": 5, "currentNumberScheduled": 5,
                     "updatedNumberScheduled": 2, "numberAvailable": 5, "numberReady": 5}})",
                   kProgressing, "DaemonSet agent: 2 of 5 updated pods"},
        HealthCase{"DaemonSetUnavailable",
                   R"({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent",
                     "generation": 4}, "status": {"observedGeneration": 4, "desiredNumberScheduled": 5,
                     "updatedNumberScheduled": 5, "numberAvailable": 4, "numberUnavailable": 1}})",
                   kProgressing, "DaemonSet agent: 4 of 5 updated pods available"},
        HealthCase{"DaemonSetDone",
                   R"({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent",
                     "generation": 4}, "status": {"observedGeneration": 4, "desiredNumberScheduled": 5,
                     "updatedNumberScheduled": 5, "numberAvailable": 5}})",
                   kHealthy, "DaemonSet agent: 5 of 5 pods available"},
        HealthCase{"ReplicaSetQuotaFailure",
                   R"({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs",
                     "generation": 1}, "spec": {"replicas": 2}, "status": {"observedGeneration": 1,
                     "replicas": 0, "conditions": [{"type": "ReplicaFailure", "status": "True",
                     "reason": "FailedCreate", "message": "pods \"rs-x\" is forbidden: exceeded quota"}]}})",
                   kDegraded,
                   "ReplicaSet rs: FailedCreate: pods \"rs-x\" is forbidden: exceeded quota"},
        HealthCase{"JobComplete",
                   R"({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
                     "status": {"succeeded": 1, "conditions": [
                     {"type": "SuccessCriteriaMet", "status": "True"},
                     {"type": "Complete", "status": "True"}]}})",
                   kHealthy, "Job migrate: complete (1 succeeded)"},
        HealthCase{
            "JobFailed",
            R"({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
                     "status": {"failed": 7, "conditions": [{"type": "Failed", "status": "True",
                     "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}})",
            kDegraded,
            "Job migrate: BackoffLimitExceeded: Job has reached the specified backoff limit"},
        HealthCase{"JobRunning",
                   R"({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
                     "status": {"active": 1, "failed": 1}})",
                   kProgressing, "Job migrate: running (1 active, 0 succeeded, 1 failed)"},
        HealthCase{"PodRunningReady",
                   R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "spec": {"restartPolicy": "Always"}, "status": {"phase": "Running",
                     "conditions": [{"type": "Ready", "status": "True"}],
                     "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                     "state": {"running": {"startedAt": "2024-05-01T00:00:00Z"}}}]}})",
                   kHealthy, "Pod p: running and ready"},
        HealthCase{"PodCrashLoop",
                   R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "spec": {}, "status": {"phase": "Running", "containerStatuses": [
                     {"name": "app", "ready": false, "restartCount": 4,
                      "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                      "state": {"waiting": {"reason": "CrashLoopBackOff",
                      "message": "back-off 1m20s restarting failed container=app"}}}]}})",
                   kDegraded,
                   "Pod p: container app is waiting: CrashLoopBackOff (back-off 1m20s restarting "
                   "failed container=app)"},
        HealthCase{"PodImagePull",
                   R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "status": {"phase": "Pending", "initContainerStatuses": [
                     {"name": "init", "ready": false, "state": {"waiting": {"reason": "ErrImagePull"}}}]}})",
                   kDegraded, "Pod p: container init is waiting: ErrImagePull"},
        HealthCase{"PodPending",
                   R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled",
                     "status": "False", "reason": "Unschedulable"}]}})",
                   kProgressing, "Pod p: pending"},
        HealthCase{"PodFailed",
                   R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "status": {"phase": "Failed", "message": "Pod was evicted", "reason": "Evicted"}})",
                   kDegraded, "Pod p: failed: Pod was evicted"},
        HealthCase{"PodSucceeded",
                   R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "spec": {"restartPolicy": "Never"}, "status": {"phase": "Succeeded"}})",
                   kHealthy, "Pod p: succeeded"},
        HealthCase{"PodRunningNeverRestart",
                   R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "spec": {"restartPolicy": "Never"}, "status": {"phase": "Running"}})",
                   kProgressing, "Pod p: running"},
        HealthCase{
            "PvcBound",
            R"({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                     "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}})",
            kHealthy, "PersistentVolumeClaim data: bound"},
        HealthCase{
            "PvcPending",
            R"({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                     "status": {"phase": "Pending"}})",
            kProgressing, "PersistentVolumeClaim data: Pending"},
        HealthCase{
            "PvcLost",
            R"({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                     "status": {"phase": "Lost"}})",
            kDegraded, "PersistentVolumeClaim data: lost its volume"},
        HealthCase{"LoadBalancerWaiting",
                   R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
                     "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}})",
                   kProgressing, "Service lb: waiting for a load balancer address"},
        HealthCase{"LoadBalancerReady",
                   R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
                     "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.7"}]}}})",
                   kHealthy, "Service lb: load balancer ready"},
        HealthCase{
            "ConfigMapExists",
            R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}})",
            kHealthy, "ConfigMap c: exists"},
        HealthCase{
            "CustomReady",
            R"({"apiVersion": "flywheel.dev/v1alpha1", "kind": "Release", "metadata": {"name": "r",
                     "generation": 5}, "status": {"observedGeneration": 5, "conditions": [
                     {"type": "Ready", "status": "True", "reason": "Applied", "message": "applied abc123",
                      "observedGeneration": 5}]}})",
            kHealthy, "Release r: Applied: applied abc123"},
        HealthCase{
            "CustomReadyFalse",
            R"({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "tls",
                     "generation": 1}, "status": {"conditions": [{"type": "Ready", "status": "False",
                     "reason": "Failed", "message": "issuer not found", "observedGeneration": 1}]}})",
            kDegraded, "Certificate tls: not ready: Failed: issuer not found"},
        HealthCase{"CustomReadyFalseProgressingReason",
                   R"({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                     "metadata": {"name": "k", "generation": 1}, "status": {"conditions": [
                     {"type": "Ready", "status": "False", "reason": "Progressing"}]}})",
                   kProgressing, "Kustomization k: not ready yet: Progressing"},
        HealthCase{"CustomReadyUnknown",
                   R"({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                     "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})",
                   kProgressing, "Widget w: not ready yet"},
        HealthCase{"CustomReadyStaleGeneration",
                   R"({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w",
                     "generation": 3}, "status": {"observedGeneration": 2, "conditions": [
                     {"type": "Ready", "status": "True"}]}})",
                   kProgressing, "Widget w: waiting for generation 3 to be observed (at 2)"},
        HealthCase{"CustomReadyConditionStale",
                   R"({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w",
                     "generation": 3}, "status": {"conditions": [
                     {"type": "Ready", "status": "True", "observedGeneration": 2}]}})",
                   kProgressing, "Widget w: waiting for generation 3 to be observed"},
        HealthCase{"KstatusStalled",
                   R"({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                     "status": {"conditions": [{"type": "Stalled", "status": "True",
                     "reason": "InvalidSpec", "message": "size must be positive"},
                     {"type": "Ready", "status": "False"}]}})",
                   kDegraded, "Widget w: stalled: InvalidSpec: size must be positive"},
        HealthCase{"KstatusReconciling",
                   R"({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                     "status": {"conditions": [{"type": "Reconciling", "status": "True",
                     "reason": "Provisioning"}]}})",
                   kProgressing, "Widget w: reconciling: Provisioning"},
        HealthCase{"BeingDeleted",
                   R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
                     "deletionTimestamp": "2024-05-01T00:00:00Z", "finalizers": ["x"]}})",
                   kProgressing, "ConfigMap c: being deleted"}),
    [](const testing::TestParamInfo<HealthCase>& p) { return p.param.name; });

TEST(HealthNameTest, NamesEveryState) {
  EXPECT_STREQ(HealthName(HealthState::kHealthy), "Healthy");
  EXPECT_STREQ(HealthName(HealthState::kProgressing), "Progressing");
  EXPECT_STREQ(HealthName(HealthState::kDegraded), "Degraded");
  EXPECT_STREQ(HealthName(HealthState::kUnknown), "Unknown");
}

}  // namespace
TEST(PodProblemTest, SaysWhyAPodCannotGetReady) {
  json pulling = json::parse(R"({"status": {"containerStatuses": [
      {"name": "sidecar", "state": {"running": {}}},
      {"name": "web", "state": {"waiting": {"reason": "ErrImagePull",
                                           "message": "failed to pull image r/x:1: not found"}}}]}})");
  EXPECT_EQ(PodProblem(pulling), "web: ErrImagePull: failed to pull image r/x:1: not found");
  json crashing = json::parse(R"({"status": {"initContainerStatuses": [
      {"name": "init", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})");
  EXPECT_EQ(PodProblem(crashing), "init: CrashLoopBackOff");
  json unschedulable = json::parse(R"({"status": {"conditions": [
      {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
       "message": "0/3 nodes are available"}]}})");
  EXPECT_EQ(PodProblem(unschedulable), "Unschedulable: 0/3 nodes are available");
  // Starting is not a problem.
  json creating = json::parse(R"({"status": {"containerStatuses": [
      {"name": "web", "state": {"waiting": {"reason": "ContainerCreating"}}}]}})");
  EXPECT_EQ(PodProblem(creating), "");
  EXPECT_EQ(PodProblem(json::object()), "");
}

}  // namespace flywheel::manifest
