// The build pods of the examples against the real API server: each Pipeline is created (CRD
// schema and CEL), a PipelineRun is created for it, and the pod BuildPod makes from the stored
// objects is created with dryRun=All, so the Pod API (and PodSecurity admission) validates it;
// the pod the server answers with is then checked field by field.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "flywheel/manifest/loader.h"
#include "flywheel/pipeline/build_pod.h"
#include "support/crds.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using pipeline::BuildPod;
using pipeline::BuildPodOptions;
using pipeline::PipelineSpec;

const std::string kRevision = "89abcdef0123456789abcdef0123456789abcdef";

json Example(const std::string& file) {
  std::ifstream in(SourcePath("examples/" + file));
  std::stringstream text;
  text << in.rdbuf();
  auto loaded = manifest::Load({{file, text.str()}}, ".");
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  return loaded.ok() && !loaded->empty() ? loaded->front().object : json::object();
}

class PipelinePodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FLYWHEEL_REQUIRE_TESTENV(e);
    env_ = e;
    ASSERT_NO_FATAL_FAILURE(InstallCrds(*env_));
  }

  // Creates the example Pipeline and a PipelineRun for it in `ns`, and returns BuildPod's pod
  // for them.
  json BuildPodFor(const std::string& ns, const std::string& file) {
    kube::Client client = env_->Client();
    json pipeline = Example(file);
    pipeline["metadata"]["namespace"] = ns;
    auto stored = client.Create(pipeline);
    EXPECT_TRUE(stored.ok()) << file << ": " << stored.status().ToString();
    if (!stored.ok()) return json::object();
    auto spec = PipelineSpec::Parse(*stored);
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    if (!spec.ok()) return json::object();

    const std::string name = pipeline["metadata"]["name"].get<std::string>() + "-89abcde";
    json run = {
        {"apiVersion", "flywheel.dev/v1alpha1"},
        {"kind", "PipelineRun"},
        {"metadata", {{"name", name}, {"namespace", ns}}},
        {"spec",
         {{"pipelineRef", {{"name", pipeline["metadata"]["name"]}}}, {"revision", kRevision}}}};
    auto stored_run = client.Create(run);
    EXPECT_TRUE(stored_run.ok()) << stored_run.status().ToString();
    if (!stored_run.ok()) return json::object();
    run_uid_ = stored_run->at("metadata").at("uid");

    BuildPodOptions options;
    options.clone_image = "127.0.0.1:5000/flywheel:test";
    options.builder_images = {{"buildah", "127.0.0.1:5000/buildah:test"}};
    auto pod = BuildPod(*stored_run, *spec, options);
    EXPECT_TRUE(pod.ok()) << pod.status().ToString();
    return pod.ok() ? *pod : json::object();
  }

  // The pod the API server makes of the example's build pod in a dry run (nothing is stored).
  json DryRunPod(const std::string& ns, const std::string& file) {
    json pod = BuildPodFor(ns, file);
    if (!pod.contains("metadata")) return json::object();
    kube::Client client = env_->Client();
    auto created = client.Create(pod, {.dry_run = true});
    EXPECT_TRUE(created.ok()) << file << ": " << created.status().ToString() << "\n" << pod.dump(2);
    if (!created.ok()) return json::object();
    EXPECT_EQ(
        client.Get("v1", "Pod", ns, pod["metadata"]["name"].get<std::string>()).status().code(),
        Code::kNotFound)
        << "a dry run stores nothing";
    return *created;
  }

  void EnforcePodSecurity(const std::string& ns, const std::string& level) {
    auto r =
        env_->Kubectl({"label", "namespace", ns, "pod-security.kubernetes.io/enforce=" + level});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // The namespace's default ServiceAccount (made by the controller-manager) must exist before
  // a pod is admitted.
  void WaitForServiceAccount(const std::string& ns, const std::string& name) {
    kube::Client client = env_->Client();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!client.Get("v1", "ServiceAccount", ns, name).ok()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no ServiceAccount " << name;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  const TestEnv* env_ = nullptr;
  std::string run_uid_;
};

std::vector<std::string> Names(const json& containers) {
  std::vector<std::string> names;
  for (const auto& c : containers) names.push_back(c["name"]);
  return names;
}

std::vector<json> AllContainers(const json& pod) {
  std::vector<json> all(pod["spec"]["initContainers"].begin(), pod["spec"]["initContainers"].end());
  all.insert(all.end(), pod["spec"]["containers"].begin(), pod["spec"]["containers"].end());
  return all;
}

bool MountsWorkspace(const json& container) {
  for (const auto& m : container.value("volumeMounts", json::array())) {
    if (m["name"] == "workspace" && m["mountPath"] == "/workspace") return true;
  }
  return false;
}

json Restricted() {
  return {{"allowPrivilegeEscalation", false}, {"capabilities", {{"drop", {"ALL"}}}}};
}

TEST_F(PipelinePodTest, SeedExampleRunsCloneBuildTestThenTheImageBuild) {
  ScopedNamespace ns(*env_, "pipeline-seed");
  ASSERT_NO_FATAL_FAILURE(WaitForServiceAccount(ns.name(), "default"));
  json pod = DryRunPod(ns.name(), "pipeline-seed.yaml");
  ASSERT_TRUE(pod.contains("spec")) << pod.dump();

  const json& meta = pod["metadata"];
  EXPECT_EQ(meta["name"], "my-app-89abcde");
  EXPECT_EQ(meta["labels"]["flywheel.dev/pipeline"], "my-app");
  EXPECT_EQ(meta["labels"]["flywheel.dev/pipeline-run"], "my-app-89abcde");
  ASSERT_EQ(meta["ownerReferences"].size(), 1u);
  EXPECT_EQ(meta["ownerReferences"][0]["uid"], run_uid_);
  EXPECT_EQ(meta["ownerReferences"][0]["kind"], "PipelineRun");
  EXPECT_EQ(meta["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(meta["annotations"]["script.flywheel.dev/build"], "mvn -B clean install");
  EXPECT_EQ(meta["annotations"]["script.flywheel.dev/test"], "mvn -B test");

  const json& spec = pod["spec"];
  EXPECT_EQ(spec["restartPolicy"], "Never");
  EXPECT_EQ(spec["activeDeadlineSeconds"], 1800);
  EXPECT_EQ(spec["enableServiceLinks"], false);
  EXPECT_EQ(spec["automountServiceAccountToken"], false);
  EXPECT_EQ(spec["serviceAccountName"], "default") << "defaulted by the server";
  EXPECT_EQ(spec["securityContext"], json::parse(R"({"runAsNonRoot": true, "runAsUser": 65532,
      "runAsGroup": 65532, "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}})"));
  ASSERT_EQ(Names(spec["initContainers"]), (std::vector<std::string>{"clone", "build", "test"}));
  ASSERT_EQ(Names(spec["containers"]), std::vector<std::string>{"build-image"});

  const json clone = spec["initContainers"][0];
  EXPECT_EQ(clone["image"], "127.0.0.1:5000/flywheel:test");
  EXPECT_EQ(clone["command"],
            json({"flywheel", "git-clone", "--url", "https://git.example.com/acme/my-app.git",
                  "--branch", "main", "--revision", kRevision, "--dest", "/workspace"}))
      << "the seed example has no source Secret: no --credentials";
  for (int i : {1, 2}) {
    const json step = spec["initContainers"][i];
    const std::string name = step["name"];
    EXPECT_EQ(step["image"], "maven:3.9-eclipse-temurin-17");
    EXPECT_EQ(step["command"], json({"/bin/sh", "-e", "/flywheel/scripts/" + name}));
    EXPECT_EQ(step["workingDir"], "/workspace");
    EXPECT_EQ(step["env"], json::parse(R"([{"name": "HOME", "value": "/flywheel/home"},
        {"name": "MAVEN_OPTS", "value": "-Duser.home=/flywheel/home"}])"));
  }
  const json image = spec["containers"][0];
  EXPECT_EQ(image["image"], "127.0.0.1:5000/buildah:test");
  EXPECT_EQ(image["command"][4], "registry.example.com/acme/my-app:89abcde");
  EXPECT_EQ(image["command"][7], "--authfile=/flywheel/push-credentials/config.json");
  EXPECT_EQ(image["securityContext"]["runAsUser"], 0);
  EXPECT_EQ(image["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(image["securityContext"]["capabilities"]["drop"], json({"ALL"}));

  for (const auto& c : AllContainers(pod)) {
    EXPECT_TRUE(MountsWorkspace(c)) << c["name"];
    EXPECT_EQ(c["terminationMessagePolicy"], "FallbackToLogsOnError") << c["name"];
    EXPECT_EQ(c["terminationMessagePath"], "/dev/termination-log") << c["name"];
    if (c["name"] != "build-image") {
      EXPECT_EQ(c["securityContext"], Restricted()) << c["name"];
    }
  }
  bool push_secret = false;
  for (const auto& v : spec["volumes"]) {
    if (v["name"] == "push-credentials") {
      push_secret = true;
      EXPECT_EQ(v["secret"]["secretName"], "registry-creds");
      EXPECT_EQ(v["secret"]["items"], json::parse(R"([{"key": ".dockerconfigjson",
          "path": "config.json"}])"));
    }
  }
  EXPECT_TRUE(push_secret) << spec["volumes"].dump();
}

TEST_F(PipelinePodTest, MinimalExampleMeetsTheRestrictedPodSecurityStandard) {
  ScopedNamespace ns(*env_, "pipeline-minimal");
  auto r = env_->Kubectl(
      {"label", "namespace", ns.name(), "pod-security.kubernetes.io/enforce=restricted"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NO_FATAL_FAILURE(WaitForServiceAccount(ns.name(), "default"));
  json pod = DryRunPod(ns.name(), "pipeline-minimal.yaml");
  ASSERT_TRUE(pod.contains("spec")) << pod.dump();

  const json& spec = pod["spec"];
  EXPECT_EQ(spec["activeDeadlineSeconds"], 3600) << "the default timeout is 1h";
  ASSERT_EQ(Names(spec["initContainers"]), std::vector<std::string>{"clone"});
  ASSERT_EQ(Names(spec["containers"]), std::vector<std::string>{"test"});
  const json test = spec["containers"][0];
  EXPECT_EQ(test["image"], "golang:1.22");
  EXPECT_EQ(test["command"], json({"/bin/sh", "-e", "/flywheel/scripts/test"}));
  EXPECT_EQ(pod["metadata"]["annotations"]["script.flywheel.dev/test"], "go test ./...");
  for (const auto& c : AllContainers(pod)) {
    EXPECT_TRUE(MountsWorkspace(c)) << c["name"];
    EXPECT_EQ(c["terminationMessagePolicy"], "FallbackToLogsOnError") << c["name"];
    EXPECT_EQ(c["securityContext"], Restricted()) << c["name"];
  }
}

// The buildah builder runs as root with capabilities of the baseline list, but with seccomp and
// AppArmor Unconfined (it creates a user namespace): its pod is rejected under the baseline
// standard, naming the builder container, and admitted under privileged.
TEST_F(PipelinePodTest, TheBuildahBuilderNeedsThePrivilegedPodSecurityStandard) {
  ScopedNamespace baseline(*env_, "pipeline-baseline");
  ASSERT_NO_FATAL_FAILURE(EnforcePodSecurity(baseline.name(), "baseline"));
  ASSERT_NO_FATAL_FAILURE(WaitForServiceAccount(baseline.name(), "default"));
  json pod = BuildPodFor(baseline.name(), "pipeline-seed.yaml");
  ASSERT_TRUE(pod.contains("spec"));
  auto rejected = env_->Client().Create(pod, {.dry_run = true});
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), Code::kPermissionDenied) << rejected.status().ToString();
  const std::string message = rejected.status().message();
  EXPECT_NE(message.find("baseline"), std::string::npos) << message;
  EXPECT_NE(message.find("\"build-image\""), std::string::npos) << message;
  EXPECT_NE(message.find("Unconfined"), std::string::npos) << message;

  ScopedNamespace privileged(*env_, "pipeline-privileged");
  ASSERT_NO_FATAL_FAILURE(EnforcePodSecurity(privileged.name(), "privileged"));
  ASSERT_NO_FATAL_FAILURE(WaitForServiceAccount(privileged.name(), "default"));
  json admitted = DryRunPod(privileged.name(), "pipeline-seed.yaml");
  EXPECT_EQ(admitted["spec"]["containers"][0]["name"], "build-image") << admitted.dump();
}

TEST_F(PipelinePodTest, FullExampleAppliesThePodTemplate) {
  ScopedNamespace ns(*env_, "pipeline-full");
  auto sa = env_->Client().Create({{"apiVersion", "v1"},
                                   {"kind", "ServiceAccount"},
                                   {"metadata", {{"name", "builder"}, {"namespace", ns.name()}}}});
  ASSERT_TRUE(sa.ok()) << sa.status().ToString();
  json pod = DryRunPod(ns.name(), "pipeline.yaml");
  ASSERT_TRUE(pod.contains("spec")) << pod.dump();

  const json& spec = pod["spec"];
  EXPECT_EQ(spec["serviceAccountName"], "builder");
  EXPECT_EQ(spec["automountServiceAccountToken"], true);
  EXPECT_EQ(spec["nodeSelector"], json({{"kubernetes.io/os", "linux"}}));
  EXPECT_EQ(spec["tolerations"][0]["key"], "dedicated");
  EXPECT_EQ(spec["securityContext"],
            json({{"runAsNonRoot", true}, {"runAsUser", 1000}, {"fsGroup", 1000}}));
  EXPECT_EQ(pod["metadata"]["labels"]["team"], "team-a");
  EXPECT_EQ(pod["metadata"]["annotations"]["example.com/team"], "team-a");
  ASSERT_EQ(Names(spec["initContainers"]), (std::vector<std::string>{"clone", "build", "test"}));
  const json clone = spec["initContainers"][0];
  EXPECT_EQ(clone["command"][10], "--credentials");
  EXPECT_EQ(clone["command"][11], "/flywheel/git-credentials");
  const json build = spec["initContainers"][1];
  EXPECT_EQ(build["resources"]["limits"]["memory"], "2Gi");
  EXPECT_EQ(build["envFrom"][0]["configMapRef"]["name"], "build-settings");
  const json test = spec["initContainers"][2];
  EXPECT_EQ(test["command"], json({"mvn"}));
  EXPECT_EQ(test["args"], json({"-B", "test"}));
}

}  // namespace
}  // namespace flywheel::testing
