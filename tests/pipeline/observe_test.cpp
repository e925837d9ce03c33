// Reading a build pod: the run's phase, reason and message and each step's state from pod
// statuses shaped like a kubelet's (containerd runtime), log tails with secrets masked, the
// pushed digest, the Secrets a pod references.
#include "flywheel/pipeline/observe.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <regex>

#include "flywheel/common/utf8.h"
#include "flywheel/kube/conditions.h"

namespace flywheel::pipeline {
namespace {

using nlohmann::json;

// clone, two of the Pipeline's steps, then the image build (PipelineSpec::PodStepNames()).
const std::vector<std::string> kSteps = {"clone", "build", "test", "build-image"};
const std::string kDigest =
    "sha256:3f1a9c0e4b7d2f6a8e5c1b9d0a7f3e2c6b4d8a1f5e9c7b3a2d6f0e8c4b1a9d7e";

// Images by step, as the build pod sets them.
std::string ImageOf(const std::string& name) {
  static const std::map<std::string, std::string> kImages = {
      {"clone", "registry.local:5000/flywheel:0.4.0"},
      {"build", "registry.local:5000/maven:3-eclipse-temurin-17"},
      {"test", "registry.local:5000/maven:3-eclipse-temurin-17"},
      {"build-image", "registry.local:5000/buildah:1.28"},
  };
  auto it = kImages.find(name);
  return it == kImages.end() ? "registry.local:5000/other:1" : it->second;
}

// Container states, as the kubelet writes them.
json Waiting(const std::string& reason, const std::string& message = "") {
  json w = {{"reason", reason}};
  if (!message.empty()) w["message"] = message;
  return {{"waiting", w}};
}
json Running(const std::string& started) { return {{"running", {{"startedAt", started}}}}; }
json Terminated(int code, const std::string& reason, const std::string& started,
                const std::string& finished, const std::string& message = "") {
  json t = {{"containerID",
             "containerd://5e0c2a17d9b4f3e6a1c8b7d2e9f0a3c4b5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0"},
            {"exitCode", code},
            {"reason", reason},
            {"startedAt", started},
            {"finishedAt", finished}};
  if (!message.empty()) t["message"] = message;
  return {{"terminated", t}};
}

// A ContainerStatus the way the kubelet writes it: a container not created yet has no
// containerID and an empty imageID.
json Container(const std::string& name, const json& state, json last_state = json::object()) {
  bool created = !state.contains("waiting");
  json s = {{"name", name},
            {"image", ImageOf(name)},
            {"imageID", created ? ImageOf(name) + "@sha256:9b2d" + std::string(60, '1') : ""},
            {"lastState", std::move(last_state)},
            {"ready", state.contains("running")},
            {"restartCount", 0},
            {"started", state.contains("running")},
            {"state", state}};
  if (created) s["containerID"] = "containerd://" + std::string(64, 'c');
  return s;
}

// A pod condition.
json Condition(const std::string& type, const std::string& status, const std::string& reason = "",
               const std::string& message = "") {
  json c = {{"type", type},
            {"status", status},
            {"lastProbeTime", nullptr},
            {"lastTransitionTime", "2026-12-01T10:00:01Z"}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

// The build pod of run web-4f2a9c1 without a status (just created), with init containers for
// every step but the last.
json NewPod(const std::vector<std::string>& steps = kSteps) {
  json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", "web-4f2a9c1"},
        {"namespace", "team-a"},
        {"uid", "0d6c3a52-8e1b-4f7a-9c2d-1b3e5f7a9c0d"},
        {"creationTimestamp", "2026-12-01T10:00:00Z"},
        {"labels",
         {{"flywheel.dev/pipeline", "web"}, {"flywheel.dev/pipeline-run", "web-4f2a9c1"}}}}},
      {"spec",
       {{"restartPolicy", "Never"},
        {"activeDeadlineSeconds", 3600},
        {"initContainers", json::array()},
        {"containers", json::array()}}}};
  for (size_t i = 0; i < steps.size(); ++i) {
    json c = {{"name", steps[i]},
              {"image", ImageOf(steps[i])},
              {"terminationMessagePolicy", "FallbackToLogsOnError"}};
    pod["spec"][i + 1 < steps.size() ? "initContainers" : "containers"].push_back(c);
  }
  return pod;
}

// The pod with a status: `phase`, the states of the steps by name (the others waiting
// PodInitializing, as the kubelet writes them before it reaches them) and the kubelet's usual
// fields.
json PodWith(const std::string& phase, const std::map<std::string, json>& states,
             const std::vector<std::string>& steps = kSteps) {
  json pod = NewPod(steps);
  json status = {{"phase", phase},
                 {"hostIP", "10.0.0.12"},
                 {"podIP", "10.244.1.17"},
                 {"qosClass", "BestEffort"},
                 {"startTime", "2026-12-01T10:00:02Z"},
                 {"conditions",
                  {Condition("PodReadyToStartContainers", "True"),
                   Condition("Initialized", "False", "ContainersNotInitialized"),
                   Condition("Ready", "False", "ContainersNotReady"),
                   Condition("ContainersReady", "False", "ContainersNotReady"),
                   Condition("PodScheduled", "True")}},
                 {"initContainerStatuses", json::array()},
                 {"containerStatuses", json::array()}};
  for (size_t i = 0; i < steps.size(); ++i) {
    auto it = states.find(steps[i]);
    json state = it != states.end() ? it->second : Waiting("PodInitializing");
    status[i + 1 < steps.size() ? "initContainerStatuses" : "containerStatuses"].push_back(
        Container(steps[i], state));
  }
  pod["status"] = status;
  return pod;
}

const json kCloneDone = Terminated(0, "Completed", "2026-12-01T10:00:05Z", "2026-12-01T10:00:09Z");
const json kBuildDone = Terminated(0, "Completed", "2026-12-01T10:00:10Z", "2026-12-01T10:03:41Z");
const json kTestDone = Terminated(0, "Completed", "2026-12-01T10:03:42Z", "2026-12-01T10:06:00Z");
const std::string kTestLog =
    "[INFO] Tests run: 12, Failures: 1, Errors: 0, Skipped: 0\n"
    "[ERROR] Failed tests:   GreetingTest.greets:21 expected:<[Hello]> but was:<[Hi]>\n"
    "[ERROR] BUILD FAILURE\n";

// Every fixture, named, for the tests that hold for all of them.
std::map<std::string, json> Fixtures() {
  std::map<std::string, json> f;
  f["just created"] = NewPod();
  json unschedulable = NewPod();
  unschedulable["status"] = {
      {"phase", "Pending"},
      {"qosClass", "BestEffort"},
      {"conditions",
       {Condition("PodScheduled", "False", "Unschedulable",
                  "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are "
                  "available: 3 No preemption victims found for incoming pod.")}}};
  f["unschedulable"] = unschedulable;
  f["initializing"] = PodWith("Pending", {});
  f["clone running"] = PodWith("Pending", {{"clone", Running("2026-12-01T10:00:05Z")}});
  f["build running"] =
      PodWith("Pending", {{"clone", kCloneDone}, {"build", Running("2026-12-01T10:00:10Z")}});
  f["test failed"] = PodWith(
      "Failed",
      {{"clone", kCloneDone},
       {"build", kBuildDone},
       {"test", Terminated(1, "Error", "2026-12-01T10:03:42Z", "2026-12-01T10:04:10Z", kTestLog)}});
  f["clone failed"] = PodWith(
      "Failed", {{"clone", Terminated(128, "Error", "2026-12-01T10:00:05Z", "2026-12-01T10:00:06Z",
                                      "fatal: remote error: upload-pack: not our ref 4f2a9c1\n")}});
  f["build-image failed"] = PodWith(
      "Failed",
      {{"clone", kCloneDone},
       {"build", kBuildDone},
       {"test", kTestDone},
       {"build-image", Terminated(125, "Error", "2026-12-01T10:06:01Z", "2026-12-01T10:06:30Z",
                                  "Error: building at STEP \"RUN make\": exit "
                                  "status 2\n")}});
  f["last step failed"] = PodWith(
      "Failed",
      {{"clone", kCloneDone},
       {"build", kBuildDone},
       {"test", Terminated(2, "Error", "2026-12-01T10:03:42Z", "2026-12-01T10:04:10Z", kTestLog)}},
      {"clone", "build", "test"});
  json succeeded =
      PodWith("Succeeded", {{"clone", kCloneDone},
                            {"build", kBuildDone},
                            {"test", kTestDone},
                            {"build-image", Terminated(0, "Completed", "2026-12-01T10:06:01Z",
                                                       "2026-12-01T10:07:12Z", kDigest)}});
  succeeded["status"]["conditions"] = {
      Condition("PodReadyToStartContainers", "False"), Condition("Initialized", "True"),
      Condition("Ready", "False", "PodCompleted"),
      Condition("ContainersReady", "False", "PodCompleted"), Condition("PodScheduled", "True")};
  f["succeeded"] = succeeded;
  f["oom killed"] = PodWith(
      "Failed",
      {{"clone", kCloneDone},
       {"build", Terminated(137, "OOMKilled", "2026-12-01T10:00:10Z", "2026-12-01T10:01:02Z")}});
  f["start error"] = PodWith(
      "Failed",
      {{"clone", kCloneDone},
       {"build", kBuildDone},
       {"test",
        Terminated(128, "StartError", "1970-01-01T00:00:00Z", "2026-12-01T10:03:42Z",
                   "failed to create containerd task: failed to create shim task: OCI "
                   "runtime create failed: runc create failed: unable to start container "
                   "process: exec: \"mvn\": executable file not found in $PATH: unknown")}});
  auto timed_out = [](json test_state) {
    json pod = PodWith(
        "Failed", {{"clone", kCloneDone}, {"build", kBuildDone}, {"test", std::move(test_state)}});
    pod["status"]["reason"] = "DeadlineExceeded";
    pod["status"]["message"] = "Pod was active on the node longer than the specified deadline";
    return pod;
  };
  // The kubelet may leave the killed container running in the status (kubernetes#98718).
  f["timed out, still running"] = timed_out(Running("2026-12-01T10:03:42Z"));
  f["timed out, killed"] =
      timed_out(Terminated(137, "Error", "2026-12-01T10:03:42Z", "2026-12-01T11:00:32Z"));
  f["timed out, image pull"] = timed_out(
      Waiting("ImagePullBackOff",
              "Back-off pulling image \"registry.local:5000/maven:3-eclipse-temurin-17\""));
  f["test image pull backoff"] =
      PodWith("Pending", {{"clone", kCloneDone},
                          {"build", kBuildDone},
                          {"test", Waiting("ImagePullBackOff",
                                           "Back-off pulling image \"registry.local:5000/mvn:3\": "
                                           "ErrImagePull: failed to pull and unpack image "
                                           "\"registry.local:5000/mvn:3\": not found")}});
  f["clone err image pull"] = PodWith(
      "Pending",
      {{"clone", Waiting("ErrImagePull",
                         "rpc error: code = NotFound desc = failed to pull and unpack image "
                         "\"registry.local:5000/flywheel:0.4.0\": failed to resolve reference: "
                         "not found")}});
  f["missing secret key"] =
      PodWith("Pending", {{"clone", kCloneDone},
                          {"build", Waiting("CreateContainerConfigError",
                                            "couldn't find key password in Secret team-a/db")}});
  json evicted = PodWith(
      "Failed",
      {{"clone", kCloneDone},
       {"build", Terminated(137, "ContainerStatusUnknown", "", "",
                            "The container could not be located when the pod was terminated")}});
  const std::string pressure =
      "The node was low on resource: memory. Threshold quantity: 100Mi, available: 62Mi. "
      "Container build was using 3120Mi, request is 0, has larger consumption of memory. ";
  evicted["status"]["reason"] = "Evicted";
  evicted["status"]["message"] = pressure;
  evicted["status"]["conditions"].push_back(
      Condition("DisruptionTarget", "True", "TerminationByKubelet", pressure));
  f["evicted"] = evicted;
  // Eviction API (kubectl drain): the condition comes first, while the container still runs.
  json drained = PodWith("Running", {{"clone", kCloneDone},
                                     {"build", kBuildDone},
                                     {"test", kTestDone},
                                     {"build-image", Running("2026-12-01T10:06:01Z")}});
  drained["metadata"]["deletionTimestamp"] = "2026-12-01T10:06:50Z";
  drained["metadata"]["deletionGracePeriodSeconds"] = 30;
  drained["status"]["conditions"].push_back(
      Condition("DisruptionTarget", "True", "EvictionByEvictionAPI", "Eviction API: evicting"));
  f["drained"] = drained;
  // kubectl delete pod: the kubelet kills the container and fails the pod; the lost container
  // is waiting again with its termination in lastState (kubernetes#105467).
  json deleted =
      PodWith("Failed", {{"clone", kCloneDone}, {"build", Waiting("ContainerCreating")}});
  deleted["status"]["initContainerStatuses"][1]["lastState"] = {
      {"terminated",
       {{"exitCode", 137},
        {"reason", "ContainerStatusUnknown"},
        {"message",
         "The container could not be located when the pod was deleted.  The container used "
         "to be Running"},
        {"startedAt", nullptr},
        {"finishedAt", nullptr}}}};
  deleted["metadata"]["deletionTimestamp"] = "2026-12-01T10:02:30Z";
  deleted["metadata"]["deletionGracePeriodSeconds"] = 30;
  f["deleted"] = deleted;
  json deleted_after_failure = f["test failed"];
  deleted_after_failure["metadata"]["deletionTimestamp"] = "2026-12-01T10:20:30Z";
  deleted_after_failure["metadata"]["deletionGracePeriodSeconds"] = 30;
  f["deleted after failure"] = deleted_after_failure;
  json rejected = NewPod();
  rejected["status"] = {{"phase", "Failed"},
                        {"reason", "UnexpectedAdmissionError"},
                        {"message",
                         "Pod was rejected: Allocate failed due to requested number of devices "
                         "unavailable for example.com/gpu. Requested: 1, Available: 0"},
                        {"startTime", "2026-12-01T10:00:02Z"}};
  f["rejected"] = rejected;
  json sidecar = f["build running"];
  sidecar["status"]["initContainerStatuses"].push_back(Container(
      "istio-init", Terminated(0, "Completed", "2026-12-01T10:00:03Z", "2026-12-01T10:00:04Z")));
  sidecar["status"]["containerStatuses"].push_back(Container(
      "istio-proxy", Terminated(1, "Error", "2026-12-01T10:00:03Z", "2026-12-01T10:00:04Z")));
  f["unknown containers"] = sidecar;
  return f;
}

PodObservation Observe(const std::string& fixture) {
  const json pod = Fixtures().at(fixture);
  bool no_artifact = pod["spec"]["containers"][0]["name"] != "build-image";
  return ObservePod(pod, no_artifact ? std::vector<std::string>{"clone", "build", "test"} : kSteps);
}

// What an observation says about the run, to compare in one assertion; `steps` are the steps'
// phases in order, e.g. "Succeeded Running Pending Pending".
struct RunSummary {
  std::string phase, reason, message, failed_step, steps;
  bool operator==(const RunSummary&) const = default;
};

void PrintTo(const RunSummary& r, std::ostream* os) {
  *os << "{" << r.phase << ", " << r.reason << ", \"" << r.message << "\", failed_step=\""
      << r.failed_step << "\", steps=" << r.steps << "}";
}

RunSummary RunOf(const PodObservation& o) {
  RunSummary r{o.phase, o.reason, o.message, o.failed_step, ""};
  for (const auto& s : o.steps) r.steps += (r.steps.empty() ? "" : " ") + s.phase;
  return r;
}

// A step's state, to compare in one assertion.
struct Step {
  std::string phase, reason;
  std::optional<int> exit_code;
  std::string started_at, finished_at;
  bool operator==(const Step&) const = default;
};

void PrintTo(const Step& s, std::ostream* os) {
  *os << "{" << s.phase << ", " << s.reason
      << ", exit=" << (s.exit_code ? std::to_string(*s.exit_code) : "none") << ", " << s.started_at
      << ", " << s.finished_at << "}";
}

Step StepOf(const StepObservation& s) {
  return {s.phase, s.reason, s.exit_code, s.started_at, s.finished_at};
}

TEST(ObservePodTest, EveryReasonIsAConditionReason) {
  const std::regex pattern{std::string(kube::kConditionReasonPattern)};
  for (const auto& [name, pod] : Fixtures()) {
    PodObservation o = Observe(name);
    EXPECT_TRUE(std::regex_match(o.reason, pattern)) << name << ": " << o.reason;
    EXPECT_FALSE(o.message.empty()) << name;
  }
}

TEST(ObservePodTest, WhatEachPodSaysAboutTheRun) {
  const std::string pending4 = "Pending Pending Pending Pending";
  const std::pair<std::string, RunSummary> cases[] = {
      {"just created",
       {"Pending", "Pending", "the build pod is waiting to be scheduled", "", pending4}},
      {"unschedulable",
       {"Pending", "Pending",
        "the build pod cannot be scheduled yet: 0/3 nodes are available: 3 Insufficient memory. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
        "", pending4}},
      {"initializing", {"Pending", "Pending", "the build pod is starting", "", pending4}},
      // Init containers run while the pod's phase is Pending.
      {"clone running",
       {"Running", "Running", "step \"clone\" is running", "", "Running Pending Pending Pending"}},
      {"build running",
       {"Running", "Running", "step \"build\" is running", "",
        "Succeeded Running Pending Pending"}},
      {"test failed",
       {"Failed", "StepFailed", "step \"test\" failed with exit code 1 (Error)", "test",
        "Succeeded Succeeded Failed Skipped"}},
      {"clone failed",
       {"Failed", "CloneFailed", "step \"clone\" failed with exit code 128 (Error)", "clone",
        "Failed Skipped Skipped Skipped"}},
      {"build-image failed",
       {"Failed", "BuildFailed", "step \"build-image\" failed with exit code 125 (Error)",
        "build-image", "Succeeded Succeeded Succeeded Failed"}},
      // Without an artifact the last step is the pod's own container.
      {"last step failed",
       {"Failed", "StepFailed", "step \"test\" failed with exit code 2 (Error)", "test",
        "Succeeded Succeeded Failed"}},
      {"succeeded",
       {"Succeeded", "Succeeded", "all 4 steps succeeded", "",
        "Succeeded Succeeded Succeeded Succeeded"}},
      {"oom killed",
       {"Failed", "StepFailed",
        "step \"build\" failed with exit code 137 (OOMKilled: it ran out of memory)", "build",
        "Succeeded Failed Skipped Skipped"}},
      {"start error",
       {"Failed", "StepFailed",
        "step \"test\" could not start (StartError): failed to create containerd task: failed to "
        "create shim task: OCI runtime create failed: runc create failed: unable to start "
        "container process: exec: \"mvn\": executable file not found in $PATH: unknown",
        "test", "Succeeded Succeeded Failed Skipped"}},
      // The kubelet may leave the killed container running in the status (kubernetes#98718).
      {"timed out, still running",
       {"TimedOut", "TimedOut",
        "the run exceeded its timeout of 1h0m0s while step \"test\" was running", "test",
        "Succeeded Succeeded Failed Skipped"}},
      {"timed out, killed",
       {"TimedOut", "TimedOut",
        "the run exceeded its timeout of 1h0m0s while step \"test\" was running", "test",
        "Succeeded Succeeded Failed Skipped"}},
      {"timed out, image pull",
       {"TimedOut", "TimedOut",
        "the run exceeded its timeout of 1h0m0s while step \"test\" was waiting to start "
        "(ImagePullBackOff: Back-off pulling image "
        "\"registry.local:5000/maven:3-eclipse-temurin-17\")",
        "test", "Succeeded Succeeded Failed Skipped"}},
      {"test image pull backoff",
       {"Running", "ImagePullBackOff",
        "step \"test\" cannot start: ImagePullBackOff: Back-off pulling image "
        "\"registry.local:5000/mvn:3\": ErrImagePull: failed to pull and unpack image "
        "\"registry.local:5000/mvn:3\": not found",
        "", "Succeeded Succeeded Pending Pending"}},
      {"clone err image pull",
       {"Pending", "ErrImagePull",
        "step \"clone\" cannot start: ErrImagePull: rpc error: code = NotFound desc = failed to "
        "pull and unpack image \"registry.local:5000/flywheel:0.4.0\": failed to resolve "
        "reference: not found",
        "", pending4}},
      {"missing secret key",
       {"Running", "CreateContainerConfigError",
        "step \"build\" cannot start: CreateContainerConfigError: couldn't find key password in "
        "Secret team-a/db",
        "", "Succeeded Pending Pending Pending"}},
      {"evicted",
       {"Failed", "PodEvicted",
        "the build pod was evicted while step \"build\" was running: The node was low on "
        "resource: memory. Threshold quantity: 100Mi, available: 62Mi. Container build was using "
        "3120Mi, request is 0, has larger consumption of memory. ",
        "build", "Succeeded Failed Skipped Skipped"}},
      // A drain: the Eviction API's condition comes while the container still runs.
      {"drained",
       {"Failed", "PodEvicted",
        "the build pod was evicted while step \"build-image\" was running: Eviction API: "
        "evicting",
        "build-image", "Succeeded Succeeded Succeeded Failed"}},
      {"deleted",
       {"Failed", "PodDeleted", "the build pod was deleted while step \"build\" was running",
        "build", "Succeeded Failed Skipped Skipped"}},
      {"deleted after failure",
       {"Failed", "StepFailed", "step \"test\" failed with exit code 1 (Error)", "test",
        "Succeeded Succeeded Failed Skipped"}},
      {"rejected",
       {"Failed", "PodFailed",
        "the build pod failed before its first step started: UnexpectedAdmissionError: Pod was "
        "rejected: Allocate failed due to requested number of devices unavailable for "
        "example.com/gpu. Requested: 1, Available: 0",
        "", "Skipped Skipped Skipped Skipped"}},
      // A failed sidecar is not a step.
      {"unknown containers",
       {"Running", "Running", "step \"build\" is running", "",
        "Succeeded Running Pending Pending"}},
  };
  EXPECT_EQ(std::size(cases), Fixtures().size()) << "every fixture has its expectation";
  for (const auto& [fixture, want] : cases) EXPECT_EQ(RunOf(Observe(fixture)), want) << fixture;
}

TEST(ObservePodTest, StepsReadTheirContainersStates) {
  PodObservation created = Observe("just created");
  ASSERT_EQ(created.steps.size(), 4u);
  EXPECT_EQ(created.steps[3].name, "build-image");
  EXPECT_EQ(StepOf(created.steps[0]), (Step{"Pending", "", {}, "", ""}));
  EXPECT_EQ(created.start_time, "");

  PodObservation initializing = Observe("initializing");
  EXPECT_EQ(initializing.start_time, "2026-12-01T10:00:02Z");
  EXPECT_EQ(StepOf(initializing.steps[0]), (Step{"Pending", "PodInitializing", {}, "", ""}));
  EXPECT_EQ(initializing.stuck_step, "") << "PodInitializing is not stuck";

  PodObservation running = Observe("build running");
  EXPECT_EQ(StepOf(running.steps[0]),
            (Step{"Succeeded", "Completed", 0, "2026-12-01T10:00:05Z", "2026-12-01T10:00:09Z"}));
  EXPECT_EQ(StepOf(running.steps[1]), (Step{"Running", "", {}, "2026-12-01T10:00:10Z", ""}));
}

TEST(ObservePodTest, AFailedStepKeepsItsExitCodeAndLog) {
  PodObservation o = Observe("test failed");
  EXPECT_EQ(StepOf(o.steps[2]),
            (Step{"Failed", "Error", 1, "2026-12-01T10:03:42Z", "2026-12-01T10:04:10Z"}));
  EXPECT_EQ(o.steps[2].termination_message, kTestLog)
      << "FallbackToLogsOnError puts the log tail there";
  EXPECT_EQ(StepOf(o.steps[3]), (Step{"Skipped", "PodInitializing", {}, "", ""}));

  EXPECT_EQ(StepOf(Observe("oom killed").steps[1]),
            (Step{"Failed", "OOMKilled", 137, "2026-12-01T10:00:10Z", "2026-12-01T10:01:02Z"}));
  EXPECT_EQ(Observe("start error").steps[2].exit_code, 128);
  EXPECT_EQ(DigestFromTerminationMessage(Observe("succeeded").steps[3].termination_message),
            kDigest);
}

TEST(ObservePodTest, AFailedStepFailsTheRunBeforeThePodPhaseFollows) {
  json pod = Fixtures()["test failed"];
  pod["status"]["phase"] = "Pending";  // the kubelet writes the phase in a later update
  EXPECT_EQ(RunOf(ObservePod(pod, kSteps)), RunOf(Observe("test failed")));
}

TEST(ObservePodTest, TheTimedOutStepFailsWithDeadlineExceeded) {
  PodObservation running = Observe("timed out, still running");
  EXPECT_EQ(StepOf(running.steps[2]),
            (Step{"Failed", "DeadlineExceeded", {}, "2026-12-01T10:03:42Z", ""}));
  EXPECT_EQ(running.steps[2].message,
            "Pod was active on the node longer than the specified deadline");

  EXPECT_EQ(
      StepOf(Observe("timed out, killed").steps[2]),
      (Step{"Failed", "DeadlineExceeded", 137, "2026-12-01T10:03:42Z", "2026-12-01T11:00:32Z"}))
      << "the exit code and time of the kill are kept, its reason (Error) is not";

  PodObservation waiting = Observe("timed out, image pull");
  EXPECT_EQ(waiting.steps[2].reason, "DeadlineExceeded");
  EXPECT_EQ(waiting.stuck_step, "") << "a finished run is not stuck";
}

TEST(ObservePodTest, TheLastStepsExitDecidesBeforeThePodPhaseFollows) {
  json pod = Fixtures()["succeeded"];
  pod["status"]["phase"] = "Running";  // the kubelet writes the phase in a later update
  EXPECT_EQ(RunOf(ObservePod(pod, kSteps)), RunOf(Observe("succeeded")))
      << "every step exited 0: the run succeeded (and can promote) without waiting";

  // A pod the kubelet failed or timed out says so, even after its last step.
  pod["status"]["phase"] = "Failed";
  pod["status"]["reason"] = "DeadlineExceeded";
  EXPECT_EQ(RunOf(ObservePod(pod, kSteps)),
            (RunSummary{"TimedOut", "TimedOut",
                        "the run exceeded its timeout of 1h0m0s after its last step", "",
                        "Succeeded Succeeded Succeeded Succeeded"}));
}

TEST(ObservePodTest, AStuckStepIsStuckSinceThePreviousStepFinished) {
  PodObservation o = Observe("test image pull backoff");
  EXPECT_EQ(o.stuck_step, "test");
  EXPECT_EQ(o.stuck_reason, "ImagePullBackOff");
  EXPECT_EQ(o.stuck_message,
            "Back-off pulling image \"registry.local:5000/mvn:3\": ErrImagePull: failed to pull "
            "and unpack image \"registry.local:5000/mvn:3\": not found");
  EXPECT_EQ(o.stuck_since, "2026-12-01T10:03:41Z") << "the build step's finishedAt";
  EXPECT_EQ(o.steps[2].reason, "ImagePullBackOff");

  PodObservation secret = Observe("missing secret key");
  EXPECT_EQ(secret.stuck_step, "build");
  EXPECT_EQ(secret.stuck_reason, "CreateContainerConfigError");
  EXPECT_EQ(secret.stuck_since, "2026-12-01T10:00:09Z");
}

TEST(ObservePodTest, TheFirstStepIsStuckSinceThePodStarted) {
  PodObservation o = Observe("clone err image pull");
  EXPECT_EQ(o.stuck_step, "clone");
  EXPECT_EQ(o.stuck_since, "2026-12-01T10:00:02Z") << "status.startTime";

  json pod = Fixtures()["clone err image pull"];
  pod["status"].erase("startTime");
  EXPECT_EQ(ObservePod(pod, kSteps).stuck_since, "2026-12-01T10:00:00Z")
      << "metadata.creationTimestamp";
}

TEST(ObservePodTest, AStepThePodStoppedHasThePodsReason) {
  EXPECT_EQ(StepOf(Observe("evicted").steps[1]), (Step{"Failed", "Evicted", 137, "", ""}))
      << "not ContainerStatusUnknown";
  EXPECT_EQ(Observe("drained").steps[3].reason, "EvictionByEvictionAPI");
  EXPECT_EQ(StepOf(Observe("deleted").steps[1]), (Step{"Failed", "PodDeleted", 137, "", ""}))
      << "read from lastState";
}

TEST(ObservePodTest, AStepFailureAfterTheDeletionWasAskedForIsTheDeletions) {
  // 10:20:00 is the deletion timestamp less the grace period.
  json pod = Fixtures()["deleted after failure"];
  pod["status"]["initContainerStatuses"][2]["state"]["terminated"]["finishedAt"] =
      "2026-12-01T10:20:00Z";
  EXPECT_EQ(ObservePod(pod, kSteps).reason, "PodDeleted");
}

TEST(ObservePodTest, StepsFollowTheGivenNamesNotThePodsOrder) {
  json pod = Fixtures()["build running"];
  PodObservation o = ObservePod(pod, {"build", "clone"});
  ASSERT_EQ(o.steps.size(), 2u);
  EXPECT_EQ(o.steps[0].name, "build");
  EXPECT_EQ(o.steps[0].phase, "Running");
  EXPECT_EQ(o.steps[1].phase, "Succeeded");
}

TEST(ObservePodTest, MalformedStatusFieldsReadAsAbsent) {
  json pod = NewPod();
  pod["status"] = {{"phase", 3},
                   {"initContainerStatuses", "nope"},
                   {"containerStatuses", {{{"name", "build-image"}, {"state", {{"running", 1}}}}}}};
  EXPECT_EQ(RunOf(ObservePod(pod, kSteps)),
            (RunSummary{"Pending", "Pending", "the build pod is waiting to be scheduled", "",
                        "Pending Pending Pending Pending"}));
}

// LogTail

TEST(LogTailTest, AShortLogIsKeptWhole) {
  EXPECT_EQ(LogTail("one\ntwo\n", 100, {}), "one\ntwo\n");
  EXPECT_EQ(LogTail("", 100, {"secret-value"}), "");
  EXPECT_EQ(LogTail("anything", 0, {}), "");
}

TEST(LogTailTest, MasksEveryOccurrenceOfEverySecret) {
  EXPECT_EQ(LogTail("token=s3cr3t-t0ken user=admin\nagain s3cr3t-t0ken, pw hunter22\n", 1000,
                    {"s3cr3t-t0ken", "hunter22"}),
            "token=*** user=admin\nagain ***, pw ***\n");
}

TEST(LogTailTest, ValuesShorterThanFourBytesAreNotMasked) {
  EXPECT_EQ(LogTail("set x=abc and y=abcd\n", 100, {"abc", "", "abcd"}), "set x=abc and y=***\n");
}

TEST(LogTailTest, BlankValuesAreNotMasked) {
  EXPECT_EQ(LogTail("    indented\n", 100, {"    ", "key:\n    \n  value-1\n"}), "    indented\n");
}

TEST(LogTailTest, OverlappingAndNestedSecretsAreMaskedWhole) {
  // "password1" contains "pass"; "abcdef" and "defghi" overlap in "abcdefghi".
  EXPECT_EQ(
      LogTail("p=password1 q=abcdefghi r=pass\n", 100, {"pass", "password1", "abcdef", "defghi"}),
      "p=*** q=*** r=***\n");
}

TEST(LogTailTest, ASecretAcrossTheCutLeavesNoPiece) {
  std::string log = "first line\nsecond line with the token ABCDEFGHIJKLMNOP in it\n";
  std::string tail = LogTail(log, 20, {"ABCDEFGHIJKLMNOP"});
  EXPECT_LE(tail.size(), 20u);
  EXPECT_EQ(tail.find("MNOP"), std::string::npos) << tail;
  EXPECT_EQ(tail, "the token *** in it\n") << "no line start in reach: cut at a character";
}

TEST(LogTailTest, EachLineOfAMultiLineSecretIsMasked) {
  // A token file written with `echo` ends with a newline; the log prints the token without it.
  EXPECT_EQ(LogTail("Authorization: Bearer tok-123456\n", 100, {"tok-123456\n"}),
            "Authorization: Bearer ***\n");
  EXPECT_EQ(LogTail("-----BEGIN KEY-----\nabc\n-----END KEY-----\n", 100,
                    {"-----BEGIN KEY-----\nabc\n-----END KEY-----\n"}),
            "***\n***\n***\n")
      << "the whole value is masked, its line breaks kept";
  EXPECT_EQ(LogTail("key line2-of-the-key\n", 100,
                    {"-----BEGIN KEY-----\r\nline1-of-the-key\r\nline2-of-the-key\r\n"}),
            "key ***\n");
}

TEST(LogTailTest, CutsAtALineStartInReach) {
  std::string log = "aaaa\nbbbb\ncccc\n";
  EXPECT_EQ(LogTail(log, 12, {}), "bbbb\ncccc\n");
  EXPECT_EQ(LogTail(log, 10, {}), "bbbb\ncccc\n") << "already at a line start";
  // The last line alone is longer than half the budget: it is cut, not dropped.
  EXPECT_EQ(LogTail("x\n0123456789", 8, {}), "23456789");
}

TEST(LogTailTest, NeverSplitsACharacter) {
  std::string log;
  for (int i = 0; i < 50; ++i) log += "\xC3\xA9\xE6\x97\xA5";  // é, 日: 5 bytes
  for (size_t max = 1; max < 30; ++max) {
    std::string tail = LogTail(log, max, {});
    EXPECT_LE(tail.size(), max);
    EXPECT_EQ(ToValidUtf8(tail), tail) << max;
    EXPECT_EQ(log.substr(log.size() - tail.size()), tail) << max;
  }
}

TEST(LogTailTest, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(LogTail("bad \xFF byte\n", 100, {}), "bad \xEF\xBF\xBD byte\n");
}

TEST(LogTailTest, KeepsAtMostMaxBytesOfABigLog) {
  std::string log;
  for (int i = 0; i < 1000; ++i) log += "[INFO] line " + std::to_string(i) + " password=hunter22\n";
  std::string tail = LogTail(log, 4096, {"hunter22"});
  EXPECT_LE(tail.size(), 4096u);
  EXPECT_GT(tail.size(), 2048u);
  EXPECT_EQ(tail.find("hunter22"), std::string::npos);
  EXPECT_EQ(tail.rfind("[INFO] line ", 0), 0u) << "starts at a line";
  EXPECT_TRUE(tail.ends_with("\n[INFO] line 999 password=***\n")) << tail;
}

// DigestFromTerminationMessage

TEST(DigestTest, ReadsTheDigestABuilderWrote) {
  EXPECT_EQ(DigestFromTerminationMessage(kDigest), kDigest);
  EXPECT_EQ(DigestFromTerminationMessage("  " + kDigest + "\n"), kDigest);
  EXPECT_EQ(DigestFromTerminationMessage("pushed registry.local:5000/acme/web:4f2a9c1@" + kDigest +
                                         "\nwrote digest " + kDigest + "\n"),
            kDigest);
}

TEST(DigestTest, AnythingElseIsNoDigest) {
  const std::string hex = kDigest.substr(7);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string cases[] = {
      "",
      "Error: building at STEP \"RUN make\": exit status 2",
      "sha256:" + hex.substr(1),  // 63 hex digits
      "sha256:" + hex + "0",      // 65
      "sha256:" + upper,          // upper case
      "sha512:" + hex + hex,      // another algorithm
      "xsha256:" + hex,           // part of a longer word
      "sha256:" + hex.substr(0, 63) + "g",
      // Two different digests: which one was pushed is not known.
      "FROM base@sha256:" + std::string(64, 'a') + "\n" + kDigest,
  };
  for (const auto& c : cases) EXPECT_FALSE(DigestFromTerminationMessage(c).has_value()) << c;
}

// TrimCachedPod

// Everything an observation holds, to compare in one assertion.
std::string Everything(const PodObservation& o) {
  json j = {{"run", {o.phase, o.reason, o.message, o.failed_step, o.start_time}},
            {"stuck", {o.stuck_step, o.stuck_reason, o.stuck_message, o.stuck_since}},
            {"steps", json::array()}};
  for (const auto& s : o.steps) {
    j["steps"].push_back({s.name, s.phase, s.exit_code ? *s.exit_code : -1, s.reason, s.message,
                          s.started_at, s.finished_at, s.termination_message});
  }
  return j.dump();
}

TEST(TrimCachedPodTest, EveryFixtureReadsTheSameTrimmed) {
  for (const auto& [name, pod] : Fixtures()) {
    json trimmed = pod;
    TrimCachedPod(trimmed);
    EXPECT_LT(trimmed.dump().size(), pod.dump().size()) << name;
    for (const auto& steps : {kSteps, std::vector<std::string>{"clone", "build", "test"}}) {
      EXPECT_EQ(Everything(ObservePod(trimmed, steps)), Everything(ObservePod(pod, steps))) << name;
    }
  }
}

TEST(TrimCachedPodTest, KeepsTheSecretReferencesAndTheTimeoutDropsTheRest) {
  json pod = PodWith("Running", {{"clone", Running("2026-12-01T10:00:03Z")}});
  pod["metadata"]["annotations"] = {{"script.flywheel.dev/build", "mvn -B package"}};
  pod["metadata"]["managedFields"] = json::array({{{"manager", "flywheel"}}});
  json& clone = pod["spec"]["initContainers"][0];
  clone["env"] = {{{"name", "HOME"}, {"value", "/flywheel/home"}},
                  {{"name", "TOKEN"},
                   {"valueFrom", {{"secretKeyRef", {{"name", "git-token"}, {"key", "token"}}}}}}};
  clone["envFrom"] = {{{"configMapRef", {{"name", "settings"}}}},
                      {{"secretRef", {{"name", "api-tokens"}}}}};
  clone["command"] = {"flywheel", "git-clone", "--url", "https://git.example/app.git"};
  pod["spec"]["volumes"] = {
      {{"name", "workspace"}, {"emptyDir", json::object()}},
      {{"name", "git"}, {"secret", {{"secretName", "git-credentials"}}}},
      {{"name", "push"},
       {"projected", {{"sources", {{{"secret", {{"name", "registry-push"}}}}}}}}}};
  pod["spec"]["imagePullSecrets"] = {{{"name", "pull"}}};
  pod["spec"]["tolerations"] = {{{"key", "node.kubernetes.io/not-ready"}}};
  const std::vector<std::string> secrets = ReferencedSecrets(pod);
  ASSERT_EQ(secrets.size(), 5u);

  TrimCachedPod(pod);
  EXPECT_EQ(ReferencedSecrets(pod), secrets);
  EXPECT_EQ(pod["spec"], json::parse(R"({
              "activeDeadlineSeconds": 3600,
              "imagePullSecrets": [{"name": "pull"}],
              "initContainers": [
                {"name": "clone",
                 "env": [{"name": "TOKEN",
                          "valueFrom": {"secretKeyRef": {"name": "git-token", "key": "token"}}}],
                 "envFrom": [{"secretRef": {"name": "api-tokens"}}]},
                {"name": "build"}, {"name": "test"}],
              "containers": [{"name": "build-image"}],
              "volumes": [{"name": "git", "secret": {"secretName": "git-credentials"}},
                          {"name": "push",
                           "projected": {"sources": [{"secret": {"name": "registry-push"}}]}}]
            })"));
  EXPECT_FALSE(pod["metadata"].contains("annotations"));
  EXPECT_FALSE(pod["metadata"].contains("managedFields"));
  EXPECT_EQ(pod["metadata"]["uid"], "0d6c3a52-8e1b-4f7a-9c2d-1b3e5f7a9c0d");
  EXPECT_FALSE(pod["status"].contains("podIP"));
  EXPECT_FALSE(pod["status"]["initContainerStatuses"][0].contains("image"));
  EXPECT_EQ(pod["status"]["initContainerStatuses"][0]["state"], Running("2026-12-01T10:00:03Z"));
}

TEST(TrimCachedPodTest, AnythingButAnObjectIsLeftAsItIs) {
  for (json odd : {json(nullptr), json::array({1}), json{{"spec", "x"}, {"status", 3}}}) {
    const json before = odd;
    TrimCachedPod(odd);
    EXPECT_EQ(odd, before);
  }
}

// ReferencedSecrets

TEST(ReferencedSecretsTest, FindsEverySecretReferenceOnce) {
  json pod = {
      {"spec",
       {{"initContainers",
         {{{"name", "clone"},
           {"env",
            {{{"name", "A"}, {"value", "plain"}},
             {{"name", "B"}, {"valueFrom", {{"secretKeyRef", {{"name", "db"}, {"key", "pw"}}}}}},
             {{"name", "C"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cm"}, {"key", "k"}}}}}},
             {{"name", "D"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}}}}},
        {"containers",
         {{{"name", "build-image"},
           {"envFrom",
            {{{"secretRef", {{"name", "api-tokens"}}}},
             {{"configMapRef", {{"name", "settings"}}}},
             {{"prefix", "X_"}, {"secretRef", {{"name", "db"}}}}}}}}},
        {"volumes",
         {{{"name", "workspace"}, {"emptyDir", json::object()}},
          {{"name", "git"}, {"secret", {{"secretName", "git-credentials"}, {"defaultMode", 256}}}},
          {{"name", "push"},
           {"projected",
            {{"sources",
              {{{"secret",
                 {{"name", "registry-push"},
                  {"items", {{{"key", ".dockerconfigjson"}, {"path", "config.json"}}}}}}},
               {{"configMap", {{"name", "ca"}}}},
               {{"serviceAccountToken", {{"path", "token"}}}}}}}}},
          {{"name", "cfg"}, {"configMap", {{"name", "settings"}}}}}},
        {"imagePullSecrets", {{{"name", "pull"}}, {{"name", "db"}}}}}}};
  EXPECT_EQ(ReferencedSecrets(pod), (std::vector<std::string>{"api-tokens", "db", "git-credentials",
                                                              "pull", "registry-push"}));
}

TEST(ReferencedSecretsTest, APodWithoutReferencesHasNone) {
  EXPECT_TRUE(ReferencedSecrets(NewPod()).empty());
  EXPECT_TRUE(ReferencedSecrets(json::object()).empty());
}

}  // namespace
}  // namespace flywheel::pipeline
