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
  // The image of each artifact builder: "buildah", "kaniko", "buildkit" -> image reference
  // (the controller flag --builder-image=<builder>=<image>).
  std::map<std::string, std::string> builder_images;
  // Registries ("host" or "host:port", as written at the start of artifact.image) the builder
  // pushes to over plain HTTP without TLS verification, e.g. a registry on loopback.
  std::vector<std::string> insecure_registries;
};

// Where the build pod puts things (docs/pipeline.md "The build pod"): steps may rely on them.
inline constexpr const char* kWorkspaceDir = "/workspace";       // the clone, shared by all
inline constexpr const char* kHomeDir = "/flywheel/home";        // HOME of the steps, shared
inline constexpr const char* kScriptsDir = "/flywheel/scripts";  // one file per script step
inline constexpr const char* kGitCredentialsDir = "/flywheel/git-credentials";    // clone only
inline constexpr const char* kPushCredentialsDir = "/flywheel/push-credentials";  // builder only
// The pod annotation holding a step's script (prefix + step name), read back as a file.
inline constexpr const char* kScriptAnnotationPrefix = "script.flywheel.dev/";

// The build pod of the PipelineRun `run` (its metadata: name, namespace, uid; its
// spec.pipelineRef.name and spec.revision) for the Pipeline `spec` (docs/pipeline.md "The build
// pod"):
// - named after the run, in its namespace, labelled flywheel.dev/pipeline=<pipeline name> and
//   flywheel.dev/pipeline-run=<run name> (both valid label values as they are: names are at
//   most 55 and 63 characters), owned by the run (ownerReference controller=true,
//   blockOwnerDeletion);
// - restartPolicy Never; activeDeadlineSeconds = spec.timeout (rounded up to a second); an
//   emptyDir at /workspace and one at HOME;
// - init containers in order: "clone" (options.clone_image, `flywheel git-clone` of the exact
//   revision into /workspace, credentials from the source Secret mounted as files, never in env
//   or args), then every step but the last as its own container; the last step (or
//   "build-image" when there is an artifact) is the pod's one container, so the first failure
//   stops the pod and the pod's phase is the run's;
// - scripts delivered as files (pod annotations projected by a downwardAPI volume);
// - terminationMessagePolicy FallbackToLogsOnError on every container;
// - podTemplate fields applied; non-root with a restricted container security context by
//   default, the builder getting only what its tool needs.
// kInvalidArgument when the run or the Pipeline cannot make a valid pod (a run without name or
// uid, an unknown builder image, scripts beyond the pod's annotation size limit).
Result<nlohmann::json> BuildPod(const nlohmann::json& run, const PipelineSpec& spec,
                                const BuildPodOptions& options);

}  // namespace flywheel::pipeline
