// `flywheel __complete` (Cobra's protocol, as kubectl asks plugins) completes commands, kinds,
// flags and their values, and `flywheel completion bash` loads in a real bash and completes
// through the built binary (object names come from the cluster:
// tests/integration/kubectl_plugin_test.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "flywheel/cli/app.h"
#include "support/bash_completion.h"
#include "support/process.h"

namespace flywheel::cli {
namespace {

using testing::RunProcess;

// `flywheel __complete words...`: its output, candidates then the directive line.
std::string CompleteOutput(const std::vector<std::string>& words) {
  std::vector<std::string> args = {kCompleteCommand};
  args.insert(args.end(), words.begin(), words.end());
  std::ostringstream out, err;
  EXPECT_EQ(App(DefaultCommands()).Run(args, out, err), kExitOk);
  EXPECT_EQ(err.str(), "");
  return out.str();
}

TEST(CompleteTest, SubcommandsByPrefixWithTheirSummaries) {
  EXPECT_EQ(CompleteOutput({"ro"}),
            "rollback\tRoll a Release back to its last healthy revision\n:4\n");
  EXPECT_EQ(CompleteOutput({"help", "sy"}).substr(0, 5), "sync\t");
  EXPECT_EQ(CompleteOutput({"nope"}), ":4\n");
  const std::string all = CompleteOutput({""});
  for (const char* c : {"\nget\t", "\nrollback\t", "\nversion\t", "completion\t"}) {
    EXPECT_NE(all.find(c), std::string::npos) << c << " in " << all;
  }
  EXPECT_EQ(all.find(kCompleteCommand), std::string::npos) << all;
  EXPECT_EQ(all.substr(all.size() - 3), ":4\n");
}

TEST(CompleteTest, FlagsAfterACommandAndBeforeIt) {
  EXPECT_EQ(CompleteOutput({"get", "--out"}), "--output\n:4\n");
  EXPECT_EQ(CompleteOutput({"-n", "team-a", "--kubeconfig", "/k", "get", "--sel"}),
            "--selector\n:4\n");
  const std::string rollback = "\n" + CompleteOutput({"rollback", "web", "--"});
  EXPECT_NE(rollback.find("\n--no-git-revert\n"), std::string::npos) << rollback;
  EXPECT_NE(rollback.find("\n--kubeconfig\n"), std::string::npos) << rollback;
  EXPECT_EQ(CompleteOutput({"--kube"}), "--kubeconfig\n:4\n");
}

TEST(CompleteTest, ValuesOfOutputAndFilesForPaths) {
  EXPECT_EQ(CompleteOutput({"get", "-o", ""}), "wide\njson\nyaml\nname\n:4\n");
  EXPECT_EQ(CompleteOutput({"get", "releases", "-n", "team-a", "--output", "y"}), "yaml\n:4\n");
  // --flag=value: the candidates are values, as Cobra gives them.
  EXPECT_EQ(CompleteOutput({"get", "--output=j"}), "json\n:4\n");
  EXPECT_EQ(CompleteOutput({"version", "-o", ""}), "text\njson\n:4\n");
  // A flag's value is never taken for the command's argument.
  EXPECT_EQ(CompleteOutput({"get", "-l", "app=web", "rel"}), "releases\n:4\n");
  // A path may be any file: the shell's file names, directive 0.
  EXPECT_EQ(CompleteOutput({"get", "--kubeconfig", ""}), ":0\n");
  EXPECT_EQ(CompleteOutput({"--kubeconfig", ""}), ":0\n");
}

TEST(CompleteTest, KindsOfGetAndShells) {
  EXPECT_EQ(CompleteOutput({"get", ""}),
            "all\npipelines\npipelineruns\nreleases\nrollbackpolicies\n:4\n");
  EXPECT_EQ(CompleteOutput({"get", "pipeline"}), "pipelines\npipelineruns\n:4\n");
  EXPECT_EQ(CompleteOutput({"completion", ""}), "bash\nzsh\n:4\n");
  EXPECT_EQ(CompleteOutput({"completion", "bash", ""}), ":4\n");
  EXPECT_EQ(CompleteOutput({}), CompleteOutput({""}));
}

TEST(CompleteTest, NoNamesAndNoErrorFromAnUnreachableCluster) {
  const auto kubeconfig = std::filesystem::temp_directory_path() /
                          ("flywheel-complete-" + std::to_string(::getpid()) + ".kubeconfig");
  // Port 1 on the loopback: nothing listens, the connection is refused at once.
  std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                               "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
                               "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
                               "users: [{name: u, user: {token: t}}]\n";
  EXPECT_EQ(CompleteOutput({"--kubeconfig", kubeconfig.string(), "rollback", ""}), ":4\n");
  EXPECT_EQ(CompleteOutput({"get", "rel", "--kubeconfig=" + kubeconfig.string(), "w"}), ":4\n");
  std::filesystem::remove(kubeconfig);
}

TEST(CompleteTest, KubectlCompleteFlywheelIsTheCompleteCommand) {
  using V = std::vector<std::string>;
  EXPECT_EQ(ArgumentsFor("/home/me/bin/kubectl_complete-flywheel", {"get", ""}),
            (V{kCompleteCommand, "get", ""}));
  EXPECT_EQ(ArgumentsFor("kubectl_complete-flywheel", {}), V{kCompleteCommand});
  EXPECT_EQ(ArgumentsFor("kubectl-flywheel", {"get"}), V{"get"});
  EXPECT_EQ(ArgumentsFor("build/flywheel", {"get"}), V{"get"});
  EXPECT_EQ(ProgramName("kubectl_complete-flywheel"), "kubectl flywheel");
}

std::string Script(const std::string& shell, int* code) {
  std::ostringstream out, err;
  *code = App(DefaultCommands()).Run({"completion", shell}, out, err);
  return out.str();
}

class BashCompletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("flywheel-completion-" + std::to_string(::getpid()) + ".bash");
    int code = -1;
    std::ofstream(path_) << Script("bash", &code);
    ASSERT_EQ(code, kExitOk);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  // Completes `line` in bash, where the program "flywheel" is the built binary.
  std::vector<std::string> Complete(const std::string& line) {
    return testing::BashComplete(path_.string(), FLYWHEEL_BINARY + line.substr(8));
  }

  std::filesystem::path path_;
};

using Words = std::vector<std::string>;

TEST_F(BashCompletionTest, LoadsAndRegistersForFlywheel) {
  auto r = RunProcess({"bash", "-c", "source \"$1\" && complete -p flywheel", "bash", path_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "complete -o default -F _flywheel flywheel\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(BashCompletionTest, CompletesCommands) {
  Words all = Complete("flywheel ");
  for (const char* c : {"get", "rollback", "completion", "version", "logs"}) {
    EXPECT_NE(std::find(all.begin(), all.end(), c), all.end()) << c;
  }
  EXPECT_EQ(Complete("flywheel ro"), Words{"rollback"});
  EXPECT_EQ(Complete("flywheel help sy"), Words{"sync"});
  EXPECT_EQ(Complete("flywheel completion "), (Words{"bash", "zsh"}));
}

TEST_F(BashCompletionTest, CompletesKindsFlagsAndTheirValues) {
  EXPECT_EQ(Complete("flywheel get "),
            (Words{"all", "pipelines", "pipelineruns", "releases", "rollbackpolicies"}));
  EXPECT_EQ(Complete("flywheel get rel"), Words{"releases"});
  EXPECT_EQ(Complete("flywheel get --out"), Words{"--output"});
  EXPECT_EQ(Complete("flywheel get -o "), (Words{"wide", "json", "yaml", "name"}));
  EXPECT_EQ(Complete("flywheel get releases -n team-a --output y"), Words{"yaml"});
  // bash completes the part after '=' of --flag=value.
  EXPECT_EQ(Complete("flywheel get --output=j"), Words{"json"});
  EXPECT_EQ(Complete("flywheel version -o "), (Words{"text", "json"}));
  // Connection flags before the command, as kubectl users write them.
  EXPECT_EQ(Complete("flywheel -n team-a --kubeconfig /k get --sel"), Words{"--selector"});
  Words rollback = Complete("flywheel rollback web --");
  EXPECT_NE(std::find(rollback.begin(), rollback.end(), "--no-git-revert"), rollback.end());
  EXPECT_NE(std::find(rollback.begin(), rollback.end(), "--kubeconfig"), rollback.end());
  // The value of a flag is never taken for the command's argument.
  EXPECT_EQ(Complete("flywheel get -l app=web rel"), Words{"releases"});
}

TEST(CompletionCommandTest, ZshScriptDefinesAndRegistersItsFunction) {
  int code = -1;
  const std::string zsh = Script("zsh", &code);
  ASSERT_EQ(code, kExitOk);
  EXPECT_EQ(zsh.rfind("#compdef flywheel\n", 0), 0u) << zsh;
  EXPECT_NE(zsh.find("compdef _flywheel flywheel"), std::string::npos);
  // It asks the binary, as the bash script does.
  EXPECT_NE(zsh.find("\"${words[1]}\" __complete \"${(@)words[2,CURRENT]}\""), std::string::npos);
  std::ostringstream out, err;
  EXPECT_EQ(App(DefaultCommands()).Run({"completion", "fish"}, out, err), kExitUsage);
  EXPECT_EQ(err.str(), "flywheel completion: expected one shell, bash or zsh\n");
}

}  // namespace
}  // namespace flywheel::cli
