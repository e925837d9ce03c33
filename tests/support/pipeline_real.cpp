#include "support/pipeline_real.h"

#include <cctype>

#include "flywheel/api/names.h"
#include "flywheel/common/time.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/process.h"

namespace flywheel::testing {

using nlohmann::json;

std::map<std::string, std::string> BuildableApp(const std::string& base, const std::string& sum) {
  return {
      {"main.c",
       "#include <stdio.h>\n#include <string.h>\n\n"
       "static int add(int a, int b) { return " +
           sum +
           "; }\n\n"
           "int main(int argc, char **argv) {\n"
           "  if (argc > 1 && strcmp(argv[1], \"--self-test\") == 0) {\n"
           "    int got = add(2, 2);\n"
           "    if (got != 4) {\n"
           "      printf(\"FAIL: add(2, 2) = %d, want 4\\n\", got);\n"
           "      return 1;\n"
           "    }\n"
           "    printf(\"PASS: add(2, 2) = 4\\n\");\n"
           "    return 0;\n"
           "  }\n"
           "  printf(\"hello from flywheel\\n\");\n"
           "  return 0;\n"
           "}\n"},
      {"Makefile",
       "app: main.c\n\tcc -static -O2 -o app main.c\n\n"
       "test: app\n\t./app --self-test\n\n.PHONY: test\n"},
      {"Dockerfile", "FROM " + base +
                         "\nCOPY app /usr/local/bin/app\nRUN [\"/usr/local/bin/app\"]\n"
                         "CMD [\"/usr/local/bin/app\"]\n"},
  };
}

std::string RealPipelineYaml(const RealNode& node, const std::string& name, const std::string& url,
                             const std::string& image, const std::string& promote_url,
                             const std::string& builder) {
  std::string yaml = "apiVersion: flywheel.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: " + name +
                     "}\nspec:\n"
                     "  source: {url: '" +
                     url +
                     "', branch: main, pollInterval: 1s}\n"
                     "  timeout: 10m\n"
                     "  steps:\n"
                     "  - {name: build, image: " +
                     node.Image("toolbox") +
                     ", script: make}\n"
                     "  - {name: test, image: " +
                     node.Image("toolbox") +
                     ", script: make test}\n"
                     "  artifact: {image: " +
                     image + ", builder: " + builder +
                     "}\n"
                     "  podTemplate:\n" +
                     node.Placement(4);
  if (!promote_url.empty()) {
    yaml += "  promote: {url: '" + promote_url +
            "', paths: [apps/app], author: {name: bot, email: bot@example.invalid}}\n";
  }
  return yaml;
}

std::string RegistryDigest(const std::string& registry, const std::string& repository,
                           const std::string& tag, std::string* status) {
  auto r = RunProcess({"curl", "-sS", "-I", "-H",
                       "Accept: application/vnd.oci.image.manifest.v1+json, "
                       "application/vnd.docker.distribution.manifest.v2+json",
                       "http://" + registry + "/v2/" + repository + "/manifests/" + tag});
  *status = r.out.substr(0, r.out.find('\r')) + r.err;
  const std::string header = "docker-content-digest: ";
  std::string lower = r.out;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = lower.find(header);
  if (at == std::string::npos) return "";
  at += header.size();
  return r.out.substr(at, r.out.find('\r', at) - at);
}

json RunStatus(const json& run) { return run.value("status", json::object()); }

json RunStep(const json& run, const std::string& name) {
  for (const auto& s : RunStatus(run).value("steps", json::array())) {
    if (s.value("name", "") == name) return s;
  }
  return json::object();
}

std::chrono::system_clock::time_point StepTime(const json& step, const std::string& field) {
  auto t = ParseRfc3339(step.value(field, ""));
  return t.ok() ? *t : std::chrono::system_clock::time_point{};
}

void ExpectImageRuns(const TestEnv& env, const RealNode& node, const std::string& ns,
                     const std::string& image) {
  auto r =
      env.Kubectl({"apply", "-n", ns, "-f", "-"},
                  "apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n"
                  "  restartPolicy: Never\n" +
                      node.Placement(2) + "  containers: [{name: app, image: '" + image + "'}]\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env.Kubectl(
      {"wait", "-n", ns, "pod/app", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << env.Kubectl({"describe", "-n", ns, "pod"}).out;
  EXPECT_EQ(env.Kubectl({"logs", "-n", ns, "pod/app"}).out, "hello from flywheel\n");
}

void RealPipelineTest::SetUp() {
  std::string why;
  ASSERT_TRUE(GitServersAvailable(&why)) << why;
  repos_ = tmp_.Path("repos");
  app_ = std::make_unique<GitRepo>(repos_, "app");
}

void RealPipelineTest::Start(const TestEnv& env, const RealNode& node, const std::string& ns,
                             const std::string& builder) {
  ASSERT_FALSE(node.pod_registry().empty())
      << "the testenv's env file has no FLYWHEEL_TESTENV_POD_REGISTRY (started by an older "
         "up.sh); restart it with `make testenv-down testenv-up`";
  const std::string builder_image = node.Image(builder);
  ASSERT_FALSE(builder_image.empty())
      << "no image for builder " << builder
      << "; kaniko's and buildkit's are built when the testenv starts with "
         "FLYWHEEL_BUILDER_IMAGES=1, as `make test-builders` does";
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(env));
  daemon_ = std::make_unique<GitDaemon>(repos_, node.gateway());
  controller_ = std::make_unique<ControllerProcess>(
      env, ns, "",
      std::vector<std::string>{"--clone-image", node.Image("flywheel"), "--builder-image",
                               builder + "=" + builder_image, "--insecure-registry",
                               node.pod_registry()});
}

std::string RealPipelineTest::PodBusybox(const RealNode& node) {
  return node.pod_registry() + node.Image("busybox").substr(node.registry().size());
}

json RealPipelineTest::WaitFinished(const TestEnv& env, const RealNode& node, const std::string& ns,
                                    const std::string& name) {
  auto client = env.Client();
  json run;
  auto finished = [&] {
    const std::string phase = RunStatus(run).value("phase", "");
    return phase != "" && phase != "Pending" && phase != "Running";
  };
  Eventually(
      [&] {
        auto o = client.Get(api::kGroupVersion, "PipelineRun", ns, name);
        run = o.ok() ? *o : json::object();
        return finished();
      },
      kRealRunWait);
  if (!finished()) {
    ADD_FAILURE() << "run " << name << " did not finish in " << kRealRunWait.count() << "s\n"
                  << run.dump(2) << env.Kubectl({"describe", "-n", ns, "pod"}).out
                  << node.Diagnostics();
  }
  return run;
}

}  // namespace flywheel::testing
