#include "flywheel/pipeline/build_pod.h"

#include <algorithm>

#include "flywheel/api/names.h"

namespace flywheel::pipeline {

using nlohmann::json;

namespace {

// A pod's annotations (keys and values together) may hold at most this many bytes.
constexpr size_t kMaxAnnotationBytes = 256 * 1024;
// The uid and gid steps run as by default (no login shell, no home in any image's passwd).
constexpr int kBuildUser = 65532;

constexpr const char* kWorkspaceVolume = "workspace";
constexpr const char* kHomeVolume = "home";
constexpr const char* kScriptsVolume = "scripts";
constexpr const char* kGitCredentialsVolume = "git-credentials";
constexpr const char* kPushCredentialsVolume = "push-credentials";
constexpr const char* kBuilderStorageVolume = "builder-storage";

// Builds the Dockerfile and pushes the tag. $1 tag, $2 context, $3 Dockerfile, then the flags
// of both buildah commands (authfile, tls-verify). Values come as positional parameters, never
// pasted into the script, so no quoting of user input is needed.
constexpr const char* kBuildahScript = R"(set -e
tag="$1"; context="$2"; dockerfile="$3"; shift 3
buildah --storage-driver vfs bud --isolation chroot "$@" -f "$dockerfile" -t "$tag" "$context"
buildah --storage-driver vfs push "$@" --digestfile /dev/termination-log "$tag" "docker://$tag"
)";

// Rootless buildkitd started for one build; the pushed digest is copied from the metadata file
// into the termination log. $1 context, $2 Dockerfile folder, $3 Dockerfile name, $4 output, then
// the registries to reach over plain HTTP (base images are pulled from them too, which the
// output's registry.insecure does not cover): buildkitd gets them in a config file.
constexpr const char* kBuildkitScript = R"(set -e
context="$1"; dockerfile_dir="$2"; dockerfile="$3"; output="$4"; shift 4
if [ $# -gt 0 ]; then
  for host in "$@"; do printf '[registry."%s"]\n  http = true\n  insecure = true\n' "$host"; done \
    >/tmp/buildkitd.toml
  BUILDKITD_FLAGS="$BUILDKITD_FLAGS --config=/tmp/buildkitd.toml"
  export BUILDKITD_FLAGS
fi
buildctl-daemonless.sh build --frontend dockerfile.v0 --local "context=$context" \
  --local "dockerfile=$dockerfile_dir" --opt "filename=$dockerfile" --output "$output" \
  --metadata-file /tmp/metadata.json
grep -o '"containerimage.digest": *"sha256:[0-9a-f]*"' /tmp/metadata.json |
  grep -o 'sha256:[0-9a-f]*' > /dev/termination-log
)";

json Mount(const char* volume, const std::string& path, bool read_only = false) {
  json m = {{"name", volume}, {"mountPath", path}};
  if (read_only) m["readOnly"] = true;
  return m;
}

// What every container of the pod but the builder gets: no way to gain privileges.
json RestrictedSecurityContext() {
  return {{"allowPrivilegeEscalation", false}, {"capabilities", {{"drop", {"ALL"}}}}};
}

// A path below /workspace for a path relative to the repository root ("." is the root).
std::string WorkspacePath(std::string relative) {
  while (relative.rfind("./", 0) == 0) relative.erase(0, 2);
  while (!relative.empty() && relative.back() == '/') relative.pop_back();
  if (relative.empty() || relative == ".") return kWorkspaceDir;
  return std::string(kWorkspaceDir) + "/" + relative;
}

// The registry host of an image reference ("docker.io" when the first part is not a host).
std::string RegistryHost(const std::string& image) {
  auto slash = image.find('/');
  if (slash == std::string::npos) return "docker.io";
  std::string first = image.substr(0, slash);
  if (first.find_first_of(".:") == std::string::npos && first != "localhost") return "docker.io";
  return first;
}

// env with HOME=/flywheel/home first unless the container sets HOME itself.
json WithHome(json env) {
  if (!env.is_array()) env = json::array();
  bool has_home = std::any_of(env.begin(), env.end(), [](const json& e) {
    return e.is_object() && e.value("name", "") == "HOME";
  });
  if (!has_home) env.insert(env.begin(), json{{"name", "HOME"}, {"value", kHomeDir}});
  return env;
}

// The command running a script file: `/bin/sh -e <file>`, or the interpreter of its `#!` line
// with its one optional argument (as the kernel reads it).
Result<std::vector<std::string>> ScriptCommand(const std::string& script, const std::string& file,
                                               const std::string& at) {
  if (script.rfind("#!", 0) != 0) return std::vector<std::string>{"/bin/sh", "-e", file};
  std::string line = script.substr(2, script.find('\n') - 2);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const char* blanks = " \t";
  auto start = line.find_first_not_of(blanks);
  if (start == std::string::npos) {
    return Status(Code::kInvalidArgument,
                  at + ".script: the #! line names no interpreter (write e.g. #!/bin/bash)");
  }
  auto end = line.find_first_of(blanks, start);
  std::vector<std::string> command{line.substr(start, end - start)};
  if (end != std::string::npos) {
    auto arg_start = line.find_first_not_of(blanks, end);
    if (arg_start != std::string::npos) {
      auto arg_end = line.find_last_not_of(blanks);
      command.push_back(line.substr(arg_start, arg_end - arg_start + 1));
    }
  }
  command.push_back(file);
  return command;
}

// The container of spec.steps[index]; its script, if any, is added to `annotations`.
Result<json> StepContainer(const json& step, size_t index, json& annotations) {
  const std::string name = step.value("name", "");
  const std::string at = "spec.steps[" + std::to_string(index) + "]";
  json c = {{"name", name},
            {"image", step.value("image", "")},
            {"env", WithHome(step.value("env", json::array()))},
            {"terminationMessagePolicy", "FallbackToLogsOnError"},
            {"securityContext", RestrictedSecurityContext()}};
  json mounts = {Mount(kWorkspaceVolume, kWorkspaceDir), Mount(kHomeVolume, kHomeDir)};
  if (auto script = step.find("script"); script != step.end()) {
    const std::string text = script->is_string() ? script->get<std::string>() : "";
    auto command = ScriptCommand(text, std::string(kScriptsDir) + "/" + name, at);
    if (!command.ok()) return command.status();
    c["command"] = *command;
    annotations[kScriptAnnotationPrefix + name] = text;
    mounts.push_back(Mount(kScriptsVolume, kScriptsDir, true));
  } else {
    c["command"] = step.at("command");
    if (step.contains("args")) c["args"] = step["args"];
  }
  c["volumeMounts"] = mounts;
  for (const char* field : {"envFrom", "resources"}) {
    if (step.contains(field)) c[field] = step[field];
  }
  std::string dir = step.value("workingDir", "");
  c["workingDir"] = dir.rfind('/', 0) == 0 ? dir : WorkspacePath(dir);
  return c;
}

json CloneContainer(const PipelineSpec& spec, const std::string& revision,
                    const BuildPodOptions& options) {
  std::vector<std::string> command = {"flywheel",  "git-clone",  "--url",  spec.url, "--branch",
                                      spec.branch, "--revision", revision, "--dest", kWorkspaceDir};
  json mounts = {Mount(kWorkspaceVolume, kWorkspaceDir), Mount(kHomeVolume, kHomeDir)};
  if (!spec.secret.empty()) {
    command.insert(command.end(), {"--credentials", kGitCredentialsDir});
    mounts.push_back(Mount(kGitCredentialsVolume, kGitCredentialsDir, true));
  }
  return {{"name", kCloneStep},
          {"image", options.clone_image},
          {"command", command},
          {"env", WithHome(json::array())},
          {"workingDir", kWorkspaceDir},
          {"volumeMounts", mounts},
          {"terminationMessagePolicy", "FallbackToLogsOnError"},
          {"securityContext", RestrictedSecurityContext()}};
}

// The capabilities a root builder keeps: those of a container runtime's default set that
// unpacking layers and running RUN instructions use (owners, modes, file capabilities, setuid
// to the Dockerfile's USER), without raw network, binding low ports or audit writes.
json RootBuilderCapabilities(bool chroot) {
  json add = {"CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",
              "SETFCAP", "SETGID",       "SETPCAP", "SETUID"};
  if (chroot) add.push_back("SYS_CHROOT");
  return {{"drop", {"ALL"}}, {"add", add}};
}

// The "build-image" container and the volumes only it uses.
Result<json> BuilderContainer(const ArtifactSpec& artifact, const std::string& revision,
                              const BuildPodOptions& options, json& volumes) {
  auto image = options.builder_images.find(artifact.builder);
  if (image == options.builder_images.end() || image->second.empty()) {
    return Status(
        Code::kInvalidArgument,
        "spec.artifact.builder: the operator has no image for builder \"" + artifact.builder +
            "\"; start the controller with --builder-image=" + artifact.builder + "=<image>");
  }
  const std::string tag = artifact.image + ":" + ShortRevision(revision);
  const std::string context = WorkspacePath(artifact.context);
  const std::string dockerfile = WorkspacePath(artifact.dockerfile);
  const std::string host = RegistryHost(artifact.image);
  const bool insecure =
      std::find(options.insecure_registries.begin(), options.insecure_registries.end(), host) !=
      options.insecure_registries.end();
  const bool auth = !artifact.push_secret.empty();

  json c = {{"name", kBuildImageStep},
            {"image", image->second},
            {"workingDir", kWorkspaceDir},
            {"env", json::array()},
            {"terminationMessagePolicy", "FallbackToLogsOnError"}};
  json mounts = {Mount(kWorkspaceVolume, kWorkspaceDir)};
  if (auth) mounts.push_back(Mount(kPushCredentialsVolume, kPushCredentialsDir, true));

  if (artifact.builder == "buildah") {
    std::vector<std::string> command = {"/bin/sh", "-c",    kBuildahScript, kBuildImageStep,
                                        tag,       context, dockerfile};
    if (auth) command.push_back(std::string("--authfile=") + kPushCredentialsDir + "/config.json");
    if (insecure) command.push_back("--tls-verify=false");
    c["command"] = command;
    mounts.push_back(Mount(kBuilderStorageVolume, "/var/lib/containers"));
    volumes.push_back({{"name", kBuilderStorageVolume}, {"emptyDir", json::object()}});
    // buildah as root without CAP_SYS_ADMIN re-executes itself in a user namespace (identity
    // mapping) to get the mounts of chroot isolation there; creating it is refused by the
    // RuntimeDefault seccomp profile and the container AppArmor profile, hence Unconfined.
    c["securityContext"] = {{"runAsUser", 0},
                            {"runAsGroup", 0},
                            {"runAsNonRoot", false},
                            {"allowPrivilegeEscalation", false},
                            {"capabilities", RootBuilderCapabilities(true)},
                            {"seccompProfile", {{"type", "Unconfined"}}},
                            {"appArmorProfile", {{"type", "Unconfined"}}}};
  } else if (artifact.builder == "kaniko") {
    std::vector<std::string> command = {"/kaniko/executor", "--context=dir://" + context,
                                        "--dockerfile=" + dockerfile, "--destination=" + tag,
                                        "--digest-file=/dev/termination-log"};
    if (insecure) command.insert(command.end(), {"--insecure", "--insecure-registry=" + host});
    c["command"] = command;
    c["securityContext"] = {{"runAsUser", 0},
                            {"runAsGroup", 0},
                            {"runAsNonRoot", false},
                            {"allowPrivilegeEscalation", false},
                            {"capabilities", RootBuilderCapabilities(false)}};
  } else {  // buildkit, rootless
    // RootlessKit maps the ids with newuidmap/newgidmap: SETUID and SETGID in the bounding set
    // let them write the maps. They must run as uid 1000, the namespace's owner (file
    // capabilities, or setuid helpers that switch back to the caller), see docs/pipeline.md.
    auto slash = dockerfile.rfind('/');
    std::string output = "type=image,name=" + tag + ",push=true";
    if (insecure) output += ",registry.insecure=true";
    c["command"] = {"/bin/sh",
                    "-c",
                    kBuildkitScript,
                    kBuildImageStep,
                    context,
                    dockerfile.substr(0, slash),
                    dockerfile.substr(slash + 1),
                    output};
    if (insecure) c["command"].push_back(host);
    c["env"].push_back({{"name", "BUILDKITD_FLAGS"}, {"value", "--oci-worker-no-process-sandbox"}});
    const char* state = "/home/user/.local/share/buildkit";
    mounts.push_back(Mount(kBuilderStorageVolume, state));
    volumes.push_back({{"name", kBuilderStorageVolume}, {"emptyDir", json::object()}});
    c["securityContext"] = {{"runAsUser", 1000},
                            {"runAsGroup", 1000},
                            {"runAsNonRoot", true},
                            {"allowPrivilegeEscalation", true},
                            {"capabilities", {{"drop", {"ALL"}}, {"add", {"SETUID", "SETGID"}}}},
                            {"seccompProfile", {{"type", "Unconfined"}}},
                            {"appArmorProfile", {{"type", "Unconfined"}}}};
  }
  if (auth && artifact.builder != "buildah")
    c["env"].push_back({{"name", "DOCKER_CONFIG"}, {"value", kPushCredentialsDir}});
  if (c["env"].empty()) c.erase("env");
  c["volumeMounts"] = mounts;
  return c;
}

json SecretVolume(const char* name, const std::string& secret, int mode, json items = nullptr) {
  json source = {{"secretName", secret}, {"defaultMode", mode}};
  if (!items.is_null()) source["items"] = std::move(items);
  return {{"name", name}, {"secret", source}};
}

size_t AnnotationBytes(const json& annotations) {
  size_t n = 0;
  for (const auto& [key, value] : annotations.items())
    n += key.size() + (value.is_string() ? value.get_ref<const std::string&>().size() : 0);
  return n;
}

}  // namespace

Result<json> BuildPod(const json& run, const PipelineSpec& spec, const BuildPodOptions& options) {
  auto run_spec = RunSpec::Parse(run);
  if (!run_spec.ok()) return Status(Code::kInvalidArgument, "run " + run_spec.status().message());
  const json meta = run.value("metadata", json::object());
  const std::string name = meta.value("name", ""), ns = meta.value("namespace", "");
  const std::string uid = meta.value("uid", "");
  if (name.empty() || uid.empty()) {
    return Status(Code::kInvalidArgument,
                  "the PipelineRun has no metadata.name or metadata.uid (it must be read from the "
                  "API server before its pod is made)");
  }
  if (spec.steps.empty())
    return Status(Code::kInvalidArgument, "spec.steps: at least one step is required");
  const json& tmpl = spec.pod_template;

  json annotations = tmpl.value("annotations", json::object());
  json containers = json::array();
  json volumes = {{{"name", kWorkspaceVolume}, {"emptyDir", json::object()}},
                  {{"name", kHomeVolume}, {"emptyDir", json::object()}}};
  containers.push_back(CloneContainer(spec, run_spec->revision, options));
  json script_items = json::array();
  for (size_t i = 0; i < spec.steps.size(); ++i) {
    auto c = StepContainer(spec.steps[i], i, annotations);
    if (!c.ok()) return c.status();
    if (spec.steps[i].contains("script")) {
      const std::string step = c->at("name");
      script_items.push_back(
          {{"path", step},
           {"fieldRef",
            {{"fieldPath",
              "metadata.annotations['" + std::string(kScriptAnnotationPrefix) + step + "']"}}}});
    }
    containers.push_back(std::move(*c));
  }
  if (spec.artifact) {
    auto c = BuilderContainer(*spec.artifact, run_spec->revision, options, volumes);
    if (!c.ok()) return c.status();
    containers.push_back(std::move(*c));
  }
  if (size_t bytes = AnnotationBytes(annotations); bytes > kMaxAnnotationBytes) {
    return Status(Code::kInvalidArgument,
                  "spec.steps: the scripts and podTemplate.annotations need " +
                      std::to_string(bytes) + " bytes of pod annotations, more than the " +
                      std::to_string(kMaxAnnotationBytes) +
                      " a pod can hold; keep long scripts in the repository and run them with "
                      "command");
  }

  json security = tmpl.value("securityContext", json());
  if (!security.is_object()) {
    security = {{"runAsNonRoot", true},
                {"runAsUser", kBuildUser},
                {"runAsGroup", kBuildUser},
                {"fsGroup", kBuildUser},
                {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  }
  // Owner and fsGroup may read Secret files; without an fsGroup the container's user is
  // neither, so they must be readable by all (only the one container mounts them).
  const int secret_mode = security.contains("fsGroup") ? 0440 : 0444;
  if (!script_items.empty()) {
    volumes.push_back({{"name", kScriptsVolume},
                       {"downwardAPI", {{"defaultMode", 0444}, {"items", script_items}}}});
  }
  if (!spec.secret.empty())
    volumes.push_back(SecretVolume(kGitCredentialsVolume, spec.secret, secret_mode));
  if (spec.artifact && !spec.artifact->push_secret.empty()) {
    volumes.push_back(SecretVolume(kPushCredentialsVolume, spec.artifact->push_secret, secret_mode,
                                   {{{"key", ".dockerconfigjson"}, {"path", "config.json"}}}));
  }

  json labels = tmpl.value("labels", json::object());
  labels[api::kPipelineLabel] = run_spec->pipeline;
  labels[api::kPipelineRunLabel] = name;
  json metadata = {{"name", name},
                   {"labels", labels},
                   {"ownerReferences",
                    {{{"apiVersion", api::kGroupVersion},
                      {"kind", "PipelineRun"},
                      {"name", name},
                      {"uid", uid},
                      {"controller", true},
                      {"blockOwnerDeletion", true}}}}};
  if (!ns.empty()) metadata["namespace"] = ns;
  if (!annotations.empty()) metadata["annotations"] = annotations;

  const auto seconds = std::chrono::ceil<std::chrono::seconds>(spec.timeout).count();
  json pod_spec = {{"restartPolicy", "Never"},
                   {"activeDeadlineSeconds", std::max<int64_t>(seconds, 1)},
                   {"enableServiceLinks", false},
                   {"securityContext", security},
                   {"volumes", volumes}};
  // The last container is the pod's one regular container; all before it run to completion
  // first, one at a time, in order.
  pod_spec["containers"] = json::array();
  pod_spec["containers"].push_back(std::move(containers.back()));
  containers.erase(containers.end() - 1);
  pod_spec["initContainers"] = std::move(containers);
  const std::string account = tmpl.value("serviceAccountName", "");
  pod_spec["automountServiceAccountToken"] = !account.empty();
  if (!account.empty()) pod_spec["serviceAccountName"] = account;
  for (const char* field : {"nodeSelector", "tolerations"}) {
    if (tmpl.contains(field)) pod_spec[field] = tmpl[field];
  }
  return json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", metadata}, {"spec", pod_spec}};
}

}  // namespace flywheel::pipeline
