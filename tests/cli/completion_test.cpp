// `flywheel completion bash` loads in a real bash and completes commands, kinds, flags and their
// values (object names come from the cluster: tests/integration/kubectl_plugin_test.cpp).
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

  std::vector<std::string> Complete(const std::string& line) {
    return testing::BashComplete(path_.string(), line);
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
  // The shared functions are the ones the bash test runs.
  EXPECT_NE(zsh.find("__flywheel_complete() {"), std::string::npos);
  std::ostringstream out, err;
  EXPECT_EQ(App(DefaultCommands()).Run({"completion", "fish"}, out, err), kExitUsage);
  EXPECT_EQ(err.str(), "flywheel completion: expected one shell, bash or zsh\n");
}

}  // namespace
}  // namespace flywheel::cli
