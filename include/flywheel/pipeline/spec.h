#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flywheel/common/status.h"
#include "flywheel/common/time.h"

namespace flywheel::pipeline {

// The names of the built-in steps of a run (they cannot be used as step names): the clone
// before the Pipeline's steps, the image build after them, and the promotion the controller
// does once the pod succeeded.
inline constexpr const char* kCloneStep = "clone";
inline constexpr const char* kBuildImageStep = "build-image";
inline constexpr const char* kPromoteStep = "promote";

// spec.artifact: the image built from the workspace after the steps and pushed as <image>:<sha7>.
struct ArtifactSpec {
  std::string image;  // repository without tag, e.g. registry.local:5000/acme/web
  std::string context = ".";
  std::string dockerfile = "Dockerfile";
  std::string builder = "buildah";  // buildah | kaniko | buildkit
  std::string push_secret;          // a kubernetes.io/dockerconfigjson Secret; "" = anonymous
};

// spec.promote: the GitOps repository the new tag is written into.
struct PromoteSpec {
  std::string url;
  std::string branch = "main";
  std::string secret;  // "" = no credentials
  std::vector<std::string> paths;
  std::string author_name = "flywheel";
  std::string author_email = "flywheel@example.invalid";
};

// spec.concurrency: what a new run does to the Pipeline's older runs that have not finished.
enum class Concurrency { kReplace, kQueue, kAllow };

// A Pipeline's spec with the defaults of SPEC.md filled in and what the schema cannot check
// checked (durations, step names that collide with the built-in steps).
struct PipelineSpec {
  std::string url;
  std::string branch = "main";
  std::string secret;  // spec.source.secretRef.name; "" = no credentials
  Duration poll_interval = std::chrono::minutes(1);  // 0 = webhook only
  // spec.steps as written (name, image, script | command + args, env, envFrom, resources,
  // workingDir); the build pod turns them into containers.
  std::vector<nlohmann::json> steps;
  std::optional<ArtifactSpec> artifact;
  std::optional<PromoteSpec> promote;
  Concurrency concurrency = Concurrency::kReplace;
  Duration timeout = std::chrono::hours(1);
  int keep_succeeded = 10;  // historyLimit.succeeded
  int keep_failed = 10;     // historyLimit.failed (failed, cancelled and timed-out runs)
  nlohmann::json pod_template = nlohmann::json::object();
  nlohmann::json notify = nlohmann::json::array();
  bool suspend = false;

  // Reads a Pipeline object. What the schema lets through but cannot work is kInvalidArgument
  // naming the field.
  static Result<PipelineSpec> Parse(const nlohmann::json& pipeline);

  // The steps' names in the order they run: clone, spec.steps[*].name, then build-image when
  // there is an artifact (promote is not a container and is not listed).
  std::vector<std::string> PodStepNames() const;
};

// A PipelineRun's spec: the Pipeline it runs (same namespace), the commit, and whether the user
// asked to stop it.
struct RunSpec {
  std::string pipeline;
  std::string revision;  // full SHA
  bool cancelled = false;

  static Result<RunSpec> Parse(const nlohmann::json& run);
};

// A new PipelineRun of `pipeline` (a Pipeline object) for `revision`: owned by the Pipeline,
// labelled flywheel.dev/pipeline, in its namespace; the caller sets metadata.name (the
// controller) or metadata.generateName (a re-run by hand).
nlohmann::json NewRunObject(const nlohmann::json& pipeline, const std::string& revision);

// The first seven characters of a revision (the artifact tag and the run name's suffix).
std::string ShortRevision(const std::string& revision);

}  // namespace flywheel::pipeline
