#pragma once

// What the real-node Pipeline tests share (tests/realnode/pipeline_real_test.cpp for buildah,
// tests/builders/ for kaniko and buildkit): an application whose build, test and image build
// really run in a build pod, a Pipeline building it, and a fixture starting the git daemon and
// a real `flywheel controller` for the testenv's node.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "kube/config_test_util.h"
#include "support/git_server.h"
#include "support/operator.h"
#include "support/real_node.h"

namespace flywheel::testing {

// A first run pulls the flywheel, toolbox and builder images into the node and compiles: bounded
// generously for a shared 2-core machine.
inline constexpr std::chrono::seconds kRealRunWait{360};

// A C program with a self-test (`add(2, 2)` computed as `sum`, "a + b" to pass), a Makefile whose
// `make test` runs it, and a Dockerfile that copies the statically linked binary onto `base` (a
// busybox image) and runs it once in a RUN instruction. The image prints "hello from flywheel".
std::map<std::string, std::string> BuildableApp(const std::string& base, const std::string& sum);

// A Pipeline (YAML) building `url` on the real node: steps `build` (make) and `test` (make test)
// in the toolbox image, the artifact `image` built by `builder`, and a promotion of apps/app into
// `promote_url` when given.
std::string RealPipelineYaml(const RealNode& node, const std::string& name, const std::string& url,
                             const std::string& image, const std::string& promote_url,
                             const std::string& builder = "buildah");

// The digest the registry serves for <repository>:<tag> (Docker-Content-Digest of a HEAD of the
// manifest, OCI or Docker schema 2), "" when it has none; `status` gets the HTTP status line.
std::string RegistryDigest(const std::string& registry, const std::string& repository,
                           const std::string& tag, std::string* status);

// A PipelineRun's status (empty when it has none), one of its steps by name, and the time of an
// RFC 3339 field of a step (the epoch when missing or malformed).
nlohmann::json RunStatus(const nlohmann::json& run);
nlohmann::json RunStep(const nlohmann::json& run, const std::string& name);
std::chrono::system_clock::time_point StepTime(const nlohmann::json& step,
                                               const std::string& field);

// Runs the pushed `image` as a pod on the real node and expects it to print "hello from flywheel".
void ExpectImageRuns(const TestEnv& env, const RealNode& node, const std::string& ns,
                     const std::string& image);

// A temporary folder of bare repositories with the application's ("app"), a git daemon serving
// them on the node's bridge, and the controller.
class RealPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Applies the CRDs; starts the git daemon on the bridge's address and the controller with the
  // testenv's clone image, and `builder`'s image from the testenv for that builder. Fails when
  // the testenv predates the pod-side registry or has no image for `builder`.
  void Start(const TestEnv& env, const RealNode& node, const std::string& ns,
             const std::string& builder = "buildah");

  // The busybox image under the registry's name for pods (the Dockerfile's base).
  static std::string PodBusybox(const RealNode& node);

  // Waits until the run has finished (Succeeded, Failed, TimedOut or Cancelled) and returns it;
  // adds a failure with the pods and the node's state when it has not.
  nlohmann::json WaitFinished(const TestEnv& env, const RealNode& node, const std::string& ns,
                              const std::string& name);

  kube::testing::TempDir tmp_;
  std::string repos_;
  std::unique_ptr<GitRepo> app_;
  std::unique_ptr<GitDaemon> daemon_;
  std::unique_ptr<ControllerProcess> controller_;
};

}  // namespace flywheel::testing
