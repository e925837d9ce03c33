#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/common/status.h"
#include "flywheel/pipeline/spec.h"

namespace flywheel::pipeline {

// The images a build pod uses besides the steps' own, set by the operator's flags.
struct BuildPodOptions {
  // Runs the clone (`flywheel git-clone`): the operator's own image.
  std::string clone_image = "flywheel:latest";
  // The image of each artifact builder: "buildah", "kaniko", "buildkit" -> image reference.
  std::map<std::string, std::string> builder_images;
  // Registries ("host:port") the builder pushes to over plain HTTP (the testenv's and the
  // demo's loopback registry).
  std::vector<std::string> insecure_registries;
};

// The build pod of the PipelineRun `run` (its metadata: name, namespace, uid; its
// spec.revision) for the Pipeline `spec` (docs/pipeline.md "The build pod"):
// - named after the run, labelled flywheel.dev/pipeline and flywheel.dev/pipeline-run
//   (api::OwnerLabelValue), owned by the run (ownerReference controller=true,
//   blockOwnerDeletion);
// - restartPolicy Never; activeDeadlineSeconds = spec.timeout; an emptyDir at /workspace;
// - init containers in order: "clone" (options.clone_image, `flywheel git-clone` of the exact
//   revision into /workspace, credentials from the source Secret mounted as files, never in env
//   or args), then every step but the last as its own container; the last step (or
//   "build-image" when there is an artifact) is the pod's one container, so the first failure
//   stops the pod and the pod's phase is the run's;
// - terminationMessagePolicy FallbackToLogsOnError on every container;
// - podTemplate fields applied; non-root with a restricted container security context by
//   default, the builder getting only what its tool needs.
// kInvalidArgument when the Pipeline cannot make a valid pod (e.g. an unknown builder image).
Result<nlohmann::json> BuildPod(const nlohmann::json& run, const PipelineSpec& spec,
                                const BuildPodOptions& options);

}  // namespace flywheel::pipeline
