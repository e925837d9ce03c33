// The CLI as kubectl users expect it, against the real API server: `flywheel get` prints what
// `kubectl get` prints for the same objects, the binary runs as the plugin `kubectl flywheel`
// (through a symlink named kubectl-flywheel, and through the testenv's real kubectl), and the
// bash completion and kubectl's (through kubectl_complete-flywheel) list the cluster's objects.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "flywheel/manifest/loader.h"
#include "support/bash_completion.h"
#include "support/crds.h"
#include "support/eventually.h"
#include "support/process.h"
#include "support/testenv.h"
#include "support/text.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A namespace with the examples/ objects, labelled, with a status on one of each kind so that
// every printer column has a value somewhere.
class KubectlPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    env_ = TestEnv::Get(&why);
    if (env_ == nullptr) GTEST_SKIP() << why;
    ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env_));
    ns_ = std::make_unique<ScopedNamespace>(*env_, "cli-kubectl");
    auto r = env_->Kubectl({"apply", "-n", ns(), "-f", SourcePath("examples")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = env_->Kubectl({"label", "-n", ns(), "flywheel", "--all", "cli-test=" + ns()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string ago = "2026-01-01T00:00:00Z";
    const std::vector<std::pair<std::string, std::string>> statuses = {
        {"release/web",
         R"({"status":{"health":"Healthy","lastAppliedShortRevision":"8f3c2a1",
             "stableShortRevision":"0123abc","conditions":[{"type":"Ready","status":"True",
             "reason":"Synced","message":"applied 8f3c2a1\nsecond line",
             "lastTransitionTime":")" +
             ago + R"("}]}})"},
        {"pipelinerun/web-8f3c2a1",
         R"({"status":{"phase":"Failed","shortRevision":"8f3c2a1","podName":"web-8f3c2a1",
             "startTime":")" +
             ago + R"(","completionTime":")" + ago +
             R"(","conditions":[{"type":"Succeeded","status":"False","reason":"StepFailed",
             "message":"test exited 1","lastTransitionTime":")" +
             ago + R"("}]}})"},
        {"pipeline/web",
         R"({"status":{"lastRun":{"name":"web-8f3c2a1","phase":"Failed","shortRevision":"8f3c2a1"},
             "conditions":[{"type":"Ready","status":"True","reason":"Watching","message":"ok",
             "lastTransitionTime":")" +
             ago + R"("}]}})"},
        {"rollbackpolicy/web-errors",
         R"({"status":{"phase":"Breaching","watchedRevision":"8f3c2a1","metrics":[{"name":"errors",
             "value":"0.12","state":"Breaching"}],"lastRollback":{"at":")" +
             ago + R"("},"conditions":[{"type":"Ready","status":"True","reason":"Evaluating",
             "message":"ok","lastTransitionTime":")" +
             ago + R"("}]}})"}};
    for (const auto& [object, patch] : statuses) {
      r = env_->Kubectl(
          {"patch", "-n", ns(), object, "--subresource=status", "--type=merge", "-p", patch});
      ASSERT_EQ(r.exit_code, 0) << object << ": " << r.err;
    }
  }

  const std::string& ns() const { return ns_->name(); }

  // `flywheel args... --kubeconfig <testenv> -n <ns>`.
  ProcessResult Flywheel(std::vector<std::string> args,
                         const std::string& binary = FLYWHEEL_BINARY) {
    args.insert(args.begin(), binary);
    args.insert(args.end(), {"--kubeconfig", env_->kubeconfig(), "-n", ns()});
    return RunProcess(args);
  }

  // Whether `flywheel get args...` prints exactly what `kubectl get args...` prints (retried:
  // the AGE column may tick between the two).
  ::testing::AssertionResult SameAsKubectl(const std::vector<std::string>& args) {
    ProcessResult ours, theirs;
    auto same = [&] {
      std::vector<std::string> get = {"get"};
      get.insert(get.end(), args.begin(), args.end());
      ours = Flywheel(get);
      get.insert(get.end(), {"-n", ns()});
      theirs = env_->Kubectl(get);
      return ours.exit_code == 0 && theirs.exit_code == 0 && ours.out == theirs.out &&
             ours.err == theirs.err;
    };
    if (Eventually(same, 10s)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "flywheel (" << ours.exit_code << "):\n"
           << ours.out << ours.err << "kubectl (" << theirs.exit_code << "):\n"
           << theirs.out << theirs.err;
  }

  const TestEnv* env_ = nullptr;
  std::unique_ptr<ScopedNamespace> ns_;
};

// A YAML text as JSON, read by the manifest loader (a YAML 1.2 reader).
json FromYaml(const std::string& yaml) {
  auto loaded = manifest::Load({{"o.yaml", yaml}}, ".");
  EXPECT_TRUE(loaded.ok()) << loaded.status().message() << "\n" << yaml;
  if (!loaded.ok() || loaded->size() != 1) return json();
  return loaded->front().object;
}

TEST_F(KubectlPluginTest, GetPrintsTheTablesKubectlPrints) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"releases"},
        {"release", "-o", "wide"},
        {"plr"},
        {"pipelineruns", "-o", "wide"},
        {"pipelines.flywheel.dev"},
        {"pl", "-o", "wide"},
        {"rbp"},
        {"rollbackpolicies", "-owide"},
        {"flywheel"},
        {"flywheel", "-o", "wide"},
        {"rel,pl"},
        {"rel/web", "pipeline/web"},
        {"rel", "web", "web-minimal"},
        {"releases", "-A", "-l", "cli-test=" + ns()},
        {"flywheel", "--all-namespaces", "-lcli-test=" + ns(), "-o", "wide"},
        {"rel", "--no-headers"},
        {"flywheel", "-o", "name"},
        {"rel", "-l", "cli-test=none"},
        {"rel", "-A", "-l", "cli-test=none"}}) {
    EXPECT_TRUE(SameAsKubectl(args)) << ::testing::PrintToString(args);
  }
}

TEST_F(KubectlPluginTest, GetPrintsJsonAndYamlAsKubectlDoes) {
  // One object by name: the object itself, without managedFields; several: a List.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"release", "web"},
                                               {"rel"},
                                               {"flywheel", "-l", "cli-test=" + ns()},
                                               {"rel", "-l", "cli-test=none"}}) {
    std::vector<std::string> get = {"get"};
    get.insert(get.end(), args.begin(), args.end());
    for (const char* format : {"json", "yaml"}) {
      std::vector<std::string> with_format = get;
      with_format.insert(with_format.end(), {"-o", format});
      auto ours = Flywheel(with_format);
      ASSERT_EQ(ours.exit_code, 0) << ours.err;
      with_format.insert(with_format.end(), {"-n", ns()});
      auto theirs = env_->Kubectl(with_format);
      ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
      const bool yaml = std::string(format) == "yaml";
      const json ours_value = yaml ? FromYaml(ours.out) : json::parse(ours.out);
      const json theirs_value = yaml ? FromYaml(theirs.out) : json::parse(theirs.out);
      EXPECT_EQ(ours_value, theirs_value)
          << ::testing::PrintToString(with_format) << "\nflywheel:\n"
          << ours.out << "kubectl:\n"
          << theirs.out;
    }
  }
  auto r = Flywheel({"get", "release", "web", "-o", "yaml"});
  EXPECT_TRUE(Contains(r.out, "kind: Release\n"));
  EXPECT_TRUE(Contains(r.out, "    message: |-\n      applied 8f3c2a1\n      second line\n"));
  EXPECT_EQ(r.out.find("managedFields"), std::string::npos) << r.out;
}

TEST_F(KubectlPluginTest, GetReportsWhatIsMissingAndPrintsTheRest) {
  auto r = Flywheel({"get", "rel", "nope", "web"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "releases.flywheel.dev \"nope\" not found"));
  EXPECT_EQ(r.out.rfind("NAME ", 0), 0u) << r.out;
  EXPECT_TRUE(Contains(r.out, "\nweb "));
  r = Flywheel({"get", "widgets"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown resource \"widgets\""));
}

TEST_F(KubectlPluginTest, RunsAsKubectlFlywheel) {
  const auto dir = std::filesystem::temp_directory_path() / ("kubectl-plugin-" + ns());
  std::filesystem::create_directories(dir);
  const auto plugin = dir / "kubectl-flywheel";
  std::filesystem::create_symlink(FLYWHEEL_BINARY, plugin);

  // Through the symlink, as kubectl runs it: help names `kubectl flywheel`.
  auto r = RunProcess({plugin.string(), "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "  kubectl flywheel <command> [flags]\n"));
  r = RunProcess({plugin.string(), "get", "--help"});
  EXPECT_TRUE(Contains(r.out, "  kubectl flywheel get [KIND"));
  r = Flywheel({"get", "releases"}, plugin.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "\nweb-minimal "));

  // Through the real kubectl with the symlink's directory on PATH; kubectl passes its flags on.
  const std::string kubectl = env_->dir() + "/bin/kubectl";
  const std::string path = "PATH=" + dir.string() + ":" + std::getenv("PATH");
  r = RunProcess({"env", path, kubectl, "plugin", "list"});
  EXPECT_TRUE(Contains(r.out, plugin.string()));
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--kubeconfig", env_->kubeconfig(), "-n", ns()},
        {"--kubeconfig=" + env_->kubeconfig(), "--namespace=" + ns()},
        {"-n", ns(), "--kubeconfig", env_->kubeconfig(), "--context", "flywheel-testenv"}}) {
    std::vector<std::string> argv = {"env", path, kubectl, "flywheel", "get", "rel", "web"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 0) << ::testing::PrintToString(flags) << r.err;
    EXPECT_TRUE(Contains(r.out, "\nweb ")) << ::testing::PrintToString(flags);
  }
  // Connection flags before the subcommand, and KUBECONFIG from the environment.
  r = RunProcess({"env", path, "KUBECONFIG=" + env_->kubeconfig(), kubectl, "flywheel", "-n", ns(),
                  "get", "pl", "web", "-o", "name"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "pipeline.flywheel.dev/web\n");
  r = RunProcess({"env", path, kubectl, "flywheel", "nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "Run 'kubectl flywheel --help'"));
  std::filesystem::remove_all(dir);
}

TEST_F(KubectlPluginTest, BashCompletionListsTheClustersObjects) {
  auto script = RunProcess({FLYWHEEL_BINARY, "completion", "bash"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  const auto file = std::filesystem::temp_directory_path() / ("completion-" + ns() + ".bash");
  std::ofstream(file) << script.out;
  auto complete = [&](const std::string& line) {
    std::string joined;
    for (const auto& w : BashComplete(file.string(), line)) joined += w + ",";
    return joined;
  };
  const std::string prefix =
      std::string(FLYWHEEL_BINARY) + " --kubeconfig " + env_->kubeconfig() + " -n " + ns() + " ";
  EXPECT_EQ(complete(prefix + "rollback "), "web,web-minimal,");
  EXPECT_EQ(complete(prefix + "status web-m"), "web-minimal,");
  EXPECT_EQ(complete(prefix + "logs "), "web-8f3c2a1,");
  EXPECT_EQ(complete(prefix + "run m"), "my-app,");
  EXPECT_EQ(complete(prefix + "get rbp web-errors"), "web-errors,web-errors-minimal,");
  EXPECT_EQ(complete(std::string(FLYWHEEL_BINARY) + " get rel --kubeconfig=" + env_->kubeconfig() +
                     " --namespace=" + ns() + " w"),
            "web,web-minimal,");
  std::filesystem::remove(file);
}

TEST_F(KubectlPluginTest, KubectlCompletesThePluginThroughKubectlCompleteFlywheel) {
  const auto dir = std::filesystem::temp_directory_path() / ("kubectl-complete-" + ns());
  std::filesystem::create_directories(dir);
  const auto helper = dir / "kubectl_complete-flywheel";
  std::filesystem::create_symlink(FLYWHEEL_BINARY, dir / "kubectl-flywheel");
  std::filesystem::create_symlink(FLYWHEEL_BINARY, helper);
  const std::vector<std::string> connection = {"--kubeconfig", env_->kubeconfig(), "-n", ns()};

  // kubectl runs the helper with the words after `kubectl flywheel`, the last one under the
  // cursor.
  auto helper_output = [&](std::vector<std::string> words) {
    words.insert(words.begin(), connection.begin(), connection.end());
    words.insert(words.begin(), helper.string());
    auto r = RunProcess(words);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  };
  EXPECT_EQ(helper_output({"rollback", ""}), "web\nweb-minimal\n:4\n");
  EXPECT_EQ(helper_output({"logs", "web"}), "web-8f3c2a1\n:4\n");
  EXPECT_EQ(helper_output({"get", "rbp", "web-errors-"}), "web-errors-minimal\n:4\n");
  EXPECT_EQ(helper_output({"get", "-o", ""}), "wide\njson\nyaml\nname\n:4\n");
  // Another namespace has none of them.
  EXPECT_EQ(helper_output({"-n", "default", "run", ""}), ":4\n");

  // What users get: kubectl's own completion, asked as its shell scripts ask it, finds the helper
  // on the PATH next to the plugin.
  const std::string kubectl = env_->dir() + "/bin/kubectl";
  const std::string path = "PATH=" + dir.string() + ":" + std::getenv("PATH");
  auto kubectl_output = [&](std::vector<std::string> words) {
    std::vector<std::string> argv = {"env", path, kubectl, "__complete", "flywheel"};
    argv.insert(argv.end(), connection.begin(), connection.end());
    argv.insert(argv.end(), words.begin(), words.end());
    auto r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(kubectl_output({"rollback", ""}), "web\nweb-minimal\n:4\n");
  EXPECT_EQ(kubectl_output({"run", "m"}), "my-app\n:4\n");
  EXPECT_EQ(kubectl_output({"get", "--sel"}), "--selector\n:4\n");
  const std::string commands = kubectl_output({"ro"});
  EXPECT_EQ(commands, "rollback\tRoll a Release back to its last healthy revision\n:4\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flywheel::testing
