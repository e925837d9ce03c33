// BuildPod field by field: the minimal Pipeline, the full example, scripts, secrets, the
// podTemplate, each builder and each error.
#include "flywheel/pipeline/build_pod.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "flywheel/manifest/loader.h"
#include "support/testenv.h"

namespace flywheel::pipeline {
namespace {

using nlohmann::json;

const std::string kRevision = "0123456789abcdef0123456789abcdef01234567";

json RunObject(const std::string& pipeline = "web") {
  return {{"apiVersion", "flywheel.dev/v1alpha1"},
          {"kind", "PipelineRun"},
          {"metadata", {{"name", pipeline + "-0123456"}, {"namespace", "team-a"}, {"uid", "u-1"}}},
          {"spec", {{"pipelineRef", {{"name", pipeline}}}, {"revision", kRevision}}}};
}

json Pipeline(json spec) {
  return {{"apiVersion", "flywheel.dev/v1alpha1"},
          {"kind", "Pipeline"},
          {"metadata", {{"name", "web"}}},
          {"spec", std::move(spec)}};
}

json MinimalSpec() {
  return {{"source", {{"url", "https://git.example.com/acme/web.git"}}},
          {"steps", {{{"name", "test"}, {"image", "golang:1.22"}, {"script", "go test ./..."}}}}};
}

// The Pipeline object of an examples/ file.
json Example(const std::string& file) {
  std::ifstream in(testing::SourcePath("examples/" + file));
  std::stringstream text;
  text << in.rdbuf();
  auto loaded = manifest::Load({{file, text.str()}}, ".");
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  return loaded.ok() && !loaded->empty() ? loaded->front().object : json::object();
}

BuildPodOptions Options() {
  BuildPodOptions o;
  o.clone_image = "registry.local:5000/flywheel:1";
  o.builder_images = {{"buildah", "registry.local:5000/buildah:1"},
                      {"kaniko", "registry.local:5000/kaniko:1"},
                      {"buildkit", "registry.local:5000/buildkit:1"}};
  return o;
}

json Pod(const json& pipeline, const BuildPodOptions& options = Options(),
         const json& run = RunObject()) {
  auto spec = PipelineSpec::Parse(pipeline);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  if (!spec.ok()) return json::object();
  auto pod = BuildPod(run, *spec, options);
  EXPECT_TRUE(pod.ok()) << pod.status().ToString();
  return pod.ok() ? *pod : json::object();
}

Status PodError(const json& pipeline, const BuildPodOptions& options = Options(),
                const json& run = RunObject()) {
  auto spec = PipelineSpec::Parse(pipeline);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  if (!spec.ok()) return spec.status();
  auto pod = BuildPod(run, *spec, options);
  EXPECT_FALSE(pod.ok()) << pod->dump(2);
  return pod.status();
}

// Every container, init containers first, in the order they run.
std::vector<json> Containers(const json& pod) {
  std::vector<json> all;
  for (const auto& c : pod["spec"].value("initContainers", json::array())) all.push_back(c);
  for (const auto& c : pod["spec"]["containers"]) all.push_back(c);
  return all;
}

std::vector<std::string> Names(const json& containers) {
  std::vector<std::string> names;
  for (const auto& c : containers) names.push_back(c["name"]);
  return names;
}

json Named(const json& list, const std::string& name) {
  for (const auto& item : list) {
    if (item.value("name", "") == name) return item;
  }
  ADD_FAILURE() << "no " << name << " in " << list.dump();
  return json::object();
}

json Restricted() {
  return {{"allowPrivilegeEscalation", false}, {"capabilities", {{"drop", {"ALL"}}}}};
}

std::vector<std::string> Strings(const json& array) {
  return array.get<std::vector<std::string>>();
}

TEST(BuildPodTest, MinimalPipelineMakesAPodOwnedAndLabelledByItsRun) {
  json pod = Pod(Pipeline(MinimalSpec()));
  EXPECT_EQ(pod["apiVersion"], "v1");
  EXPECT_EQ(pod["kind"], "Pod");
  const json& meta = pod["metadata"];
  EXPECT_EQ(meta["name"], "web-0123456");
  EXPECT_EQ(meta["namespace"], "team-a");
  EXPECT_EQ(meta["labels"],
            json({{"flywheel.dev/pipeline", "web"}, {"flywheel.dev/pipeline-run", "web-0123456"}}));
  EXPECT_EQ(meta["ownerReferences"], json::parse(R"([{"apiVersion": "flywheel.dev/v1alpha1",
      "kind": "PipelineRun", "name": "web-0123456", "uid": "u-1", "controller": true,
      "blockOwnerDeletion": true}])"));
  EXPECT_EQ(meta["annotations"], json({{"script.flywheel.dev/test", "go test ./..."}}));

  const json& spec = pod["spec"];
  EXPECT_EQ(spec["restartPolicy"], "Never");
  EXPECT_EQ(spec["activeDeadlineSeconds"], 3600);
  EXPECT_EQ(spec["enableServiceLinks"], false);
  EXPECT_EQ(spec["automountServiceAccountToken"], false);
  EXPECT_FALSE(spec.contains("serviceAccountName"));
  EXPECT_FALSE(spec.contains("nodeSelector"));
  EXPECT_FALSE(spec.contains("tolerations"));
  EXPECT_EQ(spec["securityContext"], json::parse(R"({"runAsNonRoot": true, "runAsUser": 65532,
      "runAsGroup": 65532, "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}})"));
  EXPECT_EQ(spec["volumes"], json::parse(R"([
      {"name": "workspace", "emptyDir": {}}, {"name": "home", "emptyDir": {}},
      {"name": "scripts", "downwardAPI": {"defaultMode": 292, "items": [{"path": "test",
       "fieldRef": {"fieldPath": "metadata.annotations['script.flywheel.dev/test']"}}]}}])"));

  ASSERT_EQ(Names(spec["initContainers"]), std::vector<std::string>{"clone"});
  ASSERT_EQ(Names(spec["containers"]), std::vector<std::string>{"test"});
  const json& clone = spec["initContainers"][0];
  EXPECT_EQ(clone["image"], "registry.local:5000/flywheel:1");
  EXPECT_EQ(Strings(clone["command"]),
            (std::vector<std::string>{"flywheel", "git-clone", "--url",
                                      "https://git.example.com/acme/web.git", "--branch", "main",
                                      "--revision", kRevision, "--dest", "/workspace"}));
  EXPECT_FALSE(clone.contains("args"));
  EXPECT_EQ(clone["workingDir"], "/workspace");
  EXPECT_EQ(clone["env"], json::parse(R"([{"name": "HOME", "value": "/flywheel/home"}])"));
  EXPECT_EQ(clone["volumeMounts"], json::parse(R"([{"name": "workspace", "mountPath":
      "/workspace"}, {"name": "home", "mountPath": "/flywheel/home"}])"));

  const json& test = spec["containers"][0];
  EXPECT_EQ(test["image"], "golang:1.22");
  EXPECT_EQ(Strings(test["command"]),
            (std::vector<std::string>{"/bin/sh", "-e", "/flywheel/scripts/test"}));
  EXPECT_FALSE(test.contains("args")) << "the script is a file, not an argument";
  EXPECT_EQ(test["workingDir"], "/workspace");
  EXPECT_EQ(test["env"], json::parse(R"([{"name": "HOME", "value": "/flywheel/home"}])"));
  EXPECT_EQ(test["volumeMounts"], json::parse(R"([{"name": "workspace", "mountPath":
      "/workspace"}, {"name": "home", "mountPath": "/flywheel/home"}, {"name": "scripts",
      "mountPath": "/flywheel/scripts", "readOnly": true}])"));
  EXPECT_FALSE(test.contains("resources"));
  EXPECT_FALSE(test.contains("envFrom"));
  for (const auto& c : Containers(pod)) {
    EXPECT_EQ(c["terminationMessagePolicy"], "FallbackToLogsOnError") << c["name"];
    EXPECT_EQ(c["securityContext"], Restricted()) << c["name"];
  }
}

TEST(BuildPodTest, FullExampleRunsCloneThenStepsThenTheImageBuild) {
  json pod = Pod(Example("pipeline.yaml"));
  const json& meta = pod["metadata"];
  EXPECT_EQ(meta["labels"], json({{"flywheel.dev/pipeline", "web"},
                                  {"flywheel.dev/pipeline-run", "web-0123456"},
                                  {"team", "team-a"}}));
  EXPECT_EQ(meta["annotations"],
            json({{"example.com/team", "team-a"},
                  {"script.flywheel.dev/build", "mvn -B -DskipTests clean install\n"}}));
  const json& spec = pod["spec"];
  EXPECT_EQ(spec["activeDeadlineSeconds"], 1800);
  EXPECT_EQ(spec["serviceAccountName"], "builder");
  EXPECT_EQ(spec["automountServiceAccountToken"], true);
  EXPECT_EQ(spec["nodeSelector"], json({{"kubernetes.io/os", "linux"}}));
  EXPECT_EQ(spec["tolerations"], json::parse(R"([{"key": "dedicated", "operator": "Equal",
      "value": "builds", "effect": "NoSchedule"}])"));
  EXPECT_EQ(spec["securityContext"],
            json({{"runAsNonRoot", true}, {"runAsUser", 1000}, {"fsGroup", 1000}}))
      << "podTemplate.securityContext is used as it is";

  ASSERT_EQ(Names(spec["initContainers"]), (std::vector<std::string>{"clone", "build", "test"}));
  ASSERT_EQ(Names(spec["containers"]), std::vector<std::string>{"build-image"});

  const json clone = spec["initContainers"][0];
  auto clone_command = Strings(clone["command"]);
  EXPECT_EQ(std::vector<std::string>(clone_command.end() - 2, clone_command.end()),
            (std::vector<std::string>{"--credentials", "/flywheel/git-credentials"}));
  EXPECT_EQ(clone["volumeMounts"][2], json::parse(R"({"name": "git-credentials", "mountPath":
      "/flywheel/git-credentials", "readOnly": true})"));
  EXPECT_EQ(Named(spec["volumes"], "git-credentials"),
            json::parse(R"({"name": "git-credentials", "secret": {"secretName": "web-git",
                "defaultMode": 288}})"))
      << "0440: readable by the fsGroup";

  const json build = spec["initContainers"][1];
  EXPECT_EQ(build["image"], "maven:3.9-eclipse-temurin-17");
  EXPECT_EQ(Strings(build["command"]),
            (std::vector<std::string>{"/bin/sh", "-e", "/flywheel/scripts/build"}));
  EXPECT_EQ(build["env"], json::parse(R"([{"name": "HOME", "value": "/flywheel/home"},
      {"name": "MAVEN_OPTS", "value": "-Xmx1g"}, {"name": "NEXUS_TOKEN", "valueFrom":
      {"secretKeyRef": {"name": "nexus", "key": "token"}}}])"));
  EXPECT_EQ(build["envFrom"], json::parse(R"([{"configMapRef": {"name": "build-settings"}}])"));
  EXPECT_EQ(build["resources"], json::parse(R"({"requests": {"cpu": "500m", "memory": "1Gi"},
      "limits": {"cpu": "2", "memory": "2Gi"}})"));
  EXPECT_EQ(build["workingDir"], "/workspace");

  const json test = spec["initContainers"][2];
  EXPECT_EQ(Strings(test["command"]), std::vector<std::string>{"mvn"});
  EXPECT_EQ(Strings(test["args"]), (std::vector<std::string>{"-B", "test"}));
  EXPECT_EQ(test["volumeMounts"].size(), 2u) << "no scripts volume for a command step";

  const json image = spec["containers"][0];
  EXPECT_EQ(image["image"], "registry.local:5000/buildah:1");
  auto command = Strings(image["command"]);
  ASSERT_EQ(command.size(), 8u) << image["command"].dump();
  EXPECT_EQ(command[0], "/bin/sh");
  EXPECT_EQ(command[1], "-c");
  EXPECT_NE(command[2].find("buildah --storage-driver vfs bud --isolation chroot"),
            std::string::npos);
  EXPECT_NE(command[2].find("--digestfile /dev/termination-log"), std::string::npos);
  EXPECT_EQ(std::vector<std::string>(command.begin() + 3, command.end()),
            (std::vector<std::string>{"build-image", "registry.example.com/acme/web:0123456",
                                      "/workspace", "/workspace/Dockerfile",
                                      "--authfile=/flywheel/push-credentials/config.json"}));
  EXPECT_EQ(Named(spec["volumes"], "push-credentials"),
            json::parse(R"({"name": "push-credentials", "secret": {"secretName":
                "registry-creds", "defaultMode": 288, "items": [{"key": ".dockerconfigjson",
                "path": "config.json"}]}})"));
  EXPECT_EQ(Named(spec["volumes"], "builder-storage"),
            json::parse(R"({"name": "builder-storage", "emptyDir": {}})"));
  EXPECT_EQ(image["volumeMounts"], json::parse(R"([{"name": "workspace", "mountPath":
      "/workspace"}, {"name": "push-credentials", "mountPath": "/flywheel/push-credentials",
      "readOnly": true}, {"name": "builder-storage", "mountPath": "/var/lib/containers"}])"));
  EXPECT_EQ(image["securityContext"], json::parse(R"({"runAsUser": 0, "runAsGroup": 0,
      "runAsNonRoot": false, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"],
      "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETFCAP", "SETGID",
      "SETPCAP", "SETUID", "SYS_CHROOT"]}, "seccompProfile": {"type": "Unconfined"},
      "appArmorProfile": {"type": "Unconfined"}})"));
  EXPECT_FALSE(image.contains("env"));
  EXPECT_EQ(image["terminationMessagePolicy"], "FallbackToLogsOnError");
}

TEST(BuildPodTest, ShebangChoosesTheInterpreter) {
  json spec = MinimalSpec();
  spec["steps"] = json::parse(R"([
      {"name": "py", "image": "python:3", "script": "#!/usr/bin/env python3\nprint(1)\n"},
      {"name": "bash", "image": "bash:5", "script": "#! /bin/bash  -eu \r\necho hi"},
      {"name": "plain", "image": "busybox", "script": "echo '#!/bin/false'"}])");
  json pod = Pod(Pipeline(spec));
  auto all = Containers(pod);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(Strings(all[1]["command"]),
            (std::vector<std::string>{"/usr/bin/env", "python3", "/flywheel/scripts/py"}));
  EXPECT_EQ(Strings(all[2]["command"]),
            (std::vector<std::string>{"/bin/bash", "-eu", "/flywheel/scripts/bash"}));
  EXPECT_EQ(Strings(all[3]["command"]),
            (std::vector<std::string>{"/bin/sh", "-e", "/flywheel/scripts/plain"}));
  EXPECT_EQ(pod["metadata"]["annotations"]["script.flywheel.dev/py"],
            "#!/usr/bin/env python3\nprint(1)\n")
      << "the script is delivered whole, #! line included";
}

TEST(BuildPodTest, WorkingDirIsRelativeToTheWorkspaceAndHomeIsKeptWhenSet) {
  json spec = MinimalSpec();
  spec["steps"] = json::parse(R"([
      {"name": "a", "image": "busybox", "command": ["true"], "workingDir": "services/api/"},
      {"name": "b", "image": "busybox", "command": ["true"], "workingDir": "./web"},
      {"name": "c", "image": "busybox", "command": ["true"], "workingDir": "/tmp",
       "env": [{"name": "HOME", "value": "/tmp"}]}])");
  auto all = Containers(Pod(Pipeline(spec)));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1]["workingDir"], "/workspace/services/api");
  EXPECT_EQ(all[2]["workingDir"], "/workspace/web");
  EXPECT_EQ(all[3]["workingDir"], "/tmp");
  EXPECT_EQ(all[3]["env"], json::parse(R"([{"name": "HOME", "value": "/tmp"}])"));
}

TEST(BuildPodTest, SecretsAreMountedOnlyWhereNeededAndNeverInEnvOrArguments) {
  json pod = Pod(Example("pipeline.yaml"));
  const std::vector<std::string> secrets = {"web-git", "registry-creds"};
  for (const auto& c : Containers(pod)) {
    const std::string name = c["name"];
    const std::string command =
        c.value("command", json::array()).dump() + c.value("args", json::array()).dump();
    for (const auto& secret : secrets) {
      EXPECT_EQ(command.find(secret), std::string::npos) << name << ": " << command;
      EXPECT_EQ(c.value("env", json::array()).dump().find(secret), std::string::npos) << name;
      EXPECT_EQ(c.value("envFrom", json::array()).dump().find(secret), std::string::npos) << name;
    }
    std::vector<std::string> mounted;
    for (const auto& m : c["volumeMounts"]) mounted.push_back(m["name"]);
    bool git = std::count(mounted.begin(), mounted.end(), "git-credentials") > 0;
    bool push = std::count(mounted.begin(), mounted.end(), "push-credentials") > 0;
    EXPECT_EQ(git, name == "clone") << name;
    EXPECT_EQ(push, name == "build-image") << name;
  }
}

TEST(BuildPodTest, PodTemplateLabelsAndAnnotationsCannotOverrideOurs) {
  json spec = MinimalSpec();
  spec["podTemplate"] = json::parse(R"({"labels": {"flywheel.dev/pipeline": "other",
      "flywheel.dev/pipeline-run": "other", "team": "a"}, "annotations": {
      "script.flywheel.dev/test": "rm -rf /", "note": "kept"}})");
  json meta = Pod(Pipeline(spec))["metadata"];
  EXPECT_EQ(meta["labels"], json({{"flywheel.dev/pipeline", "web"},
                                  {"flywheel.dev/pipeline-run", "web-0123456"},
                                  {"team", "a"}}));
  EXPECT_EQ(meta["annotations"],
            json({{"note", "kept"}, {"script.flywheel.dev/test", "go test ./..."}}));
}

TEST(BuildPodTest, SecretFilesAreWorldReadableWithoutAnFsGroup) {
  json spec = MinimalSpec();
  spec["source"]["secretRef"] = {{"name", "git"}};
  spec["podTemplate"] = {{"securityContext", {{"runAsUser", 1000}, {"runAsNonRoot", true}}}};
  json pod = Pod(Pipeline(spec));
  EXPECT_EQ(pod["spec"]["securityContext"], json({{"runAsUser", 1000}, {"runAsNonRoot", true}}));
  EXPECT_EQ(Named(pod["spec"]["volumes"], "git-credentials")["secret"]["defaultMode"], 0444);
}

TEST(BuildPodTest, TimeoutIsRoundedUpToWholeSeconds) {
  json spec = MinimalSpec();
  spec["timeout"] = "1m0.5s";
  EXPECT_EQ(Pod(Pipeline(spec))["spec"]["activeDeadlineSeconds"], 61);
}

json SpecWithArtifact(const std::string& builder, bool push_secret) {
  json spec = MinimalSpec();
  spec["artifact"] = {{"image", "127.0.0.1:5000/acme/web"},
                      {"builder", builder},
                      {"context", "app"},
                      {"dockerfile", "build/Containerfile"}};
  if (push_secret) spec["artifact"]["pushSecretRef"] = {{"name", "push"}};
  return spec;
}

BuildPodOptions Insecure() {
  BuildPodOptions o = Options();
  o.insecure_registries = {"127.0.0.1:5000"};
  return o;
}

TEST(BuildPodTest, BuildahPushesAnonymouslyOverPlainHttpToAnInsecureRegistry) {
  json pod = Pod(Pipeline(SpecWithArtifact("buildah", false)), Insecure());
  ASSERT_EQ(Names(pod["spec"]["initContainers"]), (std::vector<std::string>{"clone", "test"}));
  const json image = pod["spec"]["containers"][0];
  auto command = Strings(image["command"]);
  EXPECT_EQ(
      std::vector<std::string>(command.begin() + 3, command.end()),
      (std::vector<std::string>{"build-image", "127.0.0.1:5000/acme/web:0123456", "/workspace/app",
                                "/workspace/build/Containerfile", "--tls-verify=false"}));
  for (const auto& v : pod["spec"]["volumes"]) EXPECT_NE(v["name"], "push-credentials");

  json secure = Pod(Pipeline(SpecWithArtifact("buildah", false)));
  EXPECT_EQ(secure["spec"]["containers"][0]["command"].size(), 7u) << "no --tls-verify=false";
}

TEST(BuildPodTest, KanikoRunsTheExecutorWithTheMountedDockerConfig) {
  json image = Pod(Pipeline(SpecWithArtifact("kaniko", true)), Insecure())["spec"]["containers"][0];
  EXPECT_EQ(image["image"], "registry.local:5000/kaniko:1");
  EXPECT_EQ(Strings(image["command"]),
            (std::vector<std::string>{"/kaniko/executor", "--context=dir:///workspace/app",
                                      "--dockerfile=/workspace/build/Containerfile",
                                      "--destination=127.0.0.1:5000/acme/web:0123456",
                                      "--digest-file=/dev/termination-log", "--insecure",
                                      "--insecure-registry=127.0.0.1:5000"}));
  EXPECT_EQ(image["env"], json::parse(R"([{"name": "DOCKER_CONFIG", "value":
      "/flywheel/push-credentials"}])"));
  EXPECT_EQ(image["securityContext"]["runAsUser"], 0);
  EXPECT_EQ(image["securityContext"]["allowPrivilegeEscalation"], false);
  auto caps = Strings(image["securityContext"]["capabilities"]["add"]);
  EXPECT_EQ(std::count(caps.begin(), caps.end(), "SYS_CHROOT"), 0) << "kaniko does not chroot";
}

TEST(BuildPodTest, BuildkitRunsRootlessAndWritesTheDigestToTheTerminationLog) {
  json pod = Pod(Pipeline(SpecWithArtifact("buildkit", true)), Insecure());
  const json image = pod["spec"]["containers"][0];
  EXPECT_EQ(image["image"], "registry.local:5000/buildkit:1");
  auto command = Strings(image["command"]);
  ASSERT_EQ(command.size(), 9u);
  EXPECT_NE(command[2].find("buildctl-daemonless.sh build"), std::string::npos);
  EXPECT_NE(command[2].find("> /dev/termination-log"), std::string::npos);
  // The insecure registry comes last: the script writes it into buildkitd's config (http =
  // true), since base images are pulled from it too.
  EXPECT_NE(command[2].find("--config=/tmp/buildkitd.toml"), std::string::npos);
  EXPECT_EQ(std::vector<std::string>(command.begin() + 3, command.end()),
            (std::vector<std::string>{
                "build-image", "/workspace/app", "/workspace/build", "Containerfile",
                "type=image,name=127.0.0.1:5000/acme/web:0123456,push=true,registry.insecure=true",
                "127.0.0.1:5000"}));
  json secure = Pod(Pipeline(SpecWithArtifact("buildkit", false)));
  EXPECT_EQ(Strings(secure["spec"]["containers"][0]["command"]).back(),
            "type=image,name=127.0.0.1:5000/acme/web:0123456,push=true")
      << "no registry reached over plain HTTP";
  EXPECT_EQ(image["env"], json::parse(R"([{"name": "BUILDKITD_FLAGS", "value":
      "--oci-worker-no-process-sandbox"}, {"name": "DOCKER_CONFIG", "value":
      "/flywheel/push-credentials"}])"));
  EXPECT_EQ(image["securityContext"], json::parse(R"({"runAsUser": 1000, "runAsGroup": 1000,
      "runAsNonRoot": true, "allowPrivilegeEscalation": true, "capabilities": {"drop": ["ALL"],
      "add": ["SETUID", "SETGID"]}, "seccompProfile": {"type": "Unconfined"},
      "appArmorProfile": {"type": "Unconfined"}})"));
  EXPECT_EQ(image["volumeMounts"][2], json::parse(R"({"name": "builder-storage", "mountPath":
      "/home/user/.local/share/buildkit"})"));
}

TEST(BuildPodTest, AMissingBuilderImageNamesTheControllerFlag) {
  BuildPodOptions options = Options();
  options.builder_images.erase("kaniko");
  Status s = PodError(Pipeline(SpecWithArtifact("kaniko", false)), options);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("--builder-image=kaniko=<image>"), std::string::npos) << s.message();
}

TEST(BuildPodTest, ScriptsBeyondTheAnnotationLimitAreRejected) {
  json spec = MinimalSpec();
  spec["steps"] = json::array();
  for (int i = 0; i < 9; ++i) {
    spec["steps"].push_back({{"name", "s" + std::to_string(i)},
                             {"image", "busybox"},
                             {"script", std::string(30000, '#')}});
  }
  Status s = PodError(Pipeline(spec));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("more than the 262144"), std::string::npos) << s.message();
  spec["steps"].erase(spec["steps"].begin());  // 8 x 30000 bytes fit
  EXPECT_EQ(Containers(Pod(Pipeline(spec))).size(), 9u);
}

TEST(BuildPodTest, AShebangWithoutInterpreterIsRejected) {
  json spec = MinimalSpec();
  spec["steps"][0]["script"] = "#!  \necho hi";
  Status s = PodError(Pipeline(spec));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "spec.steps[0].script: the #! line names no interpreter (write e.g. #!/bin/bash)");
}

TEST(BuildPodTest, ARunWithoutUidOrWithABadRevisionIsRejected) {
  json run = RunObject();
  run["metadata"].erase("uid");
  Status s = PodError(Pipeline(MinimalSpec()), Options(), run);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("metadata.uid"), std::string::npos) << s.message();

  run = RunObject();
  run["spec"]["revision"] = "main";
  s = PodError(Pipeline(MinimalSpec()), Options(), run);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("spec.revision"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace flywheel::pipeline
