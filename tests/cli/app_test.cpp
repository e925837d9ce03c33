#include "flywheel/cli/app.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "flywheel/build_info.h"

namespace flywheel::cli {
namespace {

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunApp(const App& app, std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = app.Run(args, out, err);
  return {code, out.str(), err.str()};
}

App TestApp() {
  std::vector<Command> cmds = DefaultCommands();
  cmds.push_back({"echo", "Echo the arguments", [](const Invocation& inv) {
                    for (const auto& a : inv.args) inv.out << a << ";";
                    return 7;
                  }});
  return App(std::move(cmds));
}

TEST(AppTest, HelpListsEveryCommandSorted) {
  auto r = RunApp(TestApp(), {"--help"});
  EXPECT_EQ(r.code, kExitOk);
  auto echo = r.out.find("echo");
  auto version = r.out.find("version");
  ASSERT_NE(echo, std::string::npos);
  ASSERT_NE(version, std::string::npos);
  EXPECT_LT(echo, version);
  EXPECT_NE(r.out.find("Print the Flywheel version"), std::string::npos);
}

TEST(AppTest, NoArgumentsIsUsageErrorOnStderr) {
  auto r = RunApp(TestApp(), {});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("Usage:"), std::string::npos);
}

TEST(AppTest, UnknownCommandIsUsageError) {
  auto r = RunApp(TestApp(), {"deploy-everything"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("unknown command \"deploy-everything\""), std::string::npos);
}

TEST(AppTest, DispatchPassesRemainingArgumentsAndExitCode) {
  auto r = RunApp(TestApp(), {"echo", "a", "--b=c"});
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.out, "a;--b=c;");
}

TEST(AppTest, HelpForCommandRunsItWithHelpFlag) {
  auto r = RunApp(TestApp(), {"help", "echo"});
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.out, "--help;");
  EXPECT_EQ(RunApp(TestApp(), {"help", "nope"}).code, kExitUsage);
}

TEST(VersionTest, TextNamesVersionAndCommit) {
  auto r = RunApp(TestApp(), {"version"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out.rfind(std::string("flywheel ") + build_info::kVersion, 0), 0u) << r.out;
  EXPECT_NE(r.out.find(build_info::kGitCommit), std::string::npos);
}

TEST(VersionTest, JsonIsParseable) {
  auto r = RunApp(TestApp(), {"version", "-o", "json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  auto v = nlohmann::json::parse(r.out);
  EXPECT_EQ(v.at("version"), build_info::kVersion);
  EXPECT_EQ(v.at("gitCommit"), build_info::kGitCommit);
}

TEST(VersionTest, BadOutputFormatIsUsageError) {
  auto r = RunApp(TestApp(), {"version", "--output=yaml"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--output must be text or json"), std::string::npos);
  EXPECT_EQ(RunApp(TestApp(), {"version", "--bogus"}).code, kExitUsage);
}

TEST(ReleaseCommandsTest, UsageErrorsAreCaughtBeforeAnyConnection) {
  App app(DefaultCommands());
  for (const char* command : {"rollback", "sync", "history"}) {
    auto none = RunApp(app, {command});
    EXPECT_EQ(none.code, kExitUsage) << command;
    EXPECT_NE(none.err.find("expected exactly one Release name"), std::string::npos)
        << command << ": " << none.err;
    auto two = RunApp(app, {command, "a", "b"});
    EXPECT_EQ(two.code, kExitUsage) << command;
  }
  auto wait = RunApp(app, {"sync", "web", "--wait", "soon"});
  EXPECT_EQ(wait.code, kExitUsage);
  EXPECT_NE(wait.err.find("--wait"), std::string::npos) << wait.err;
  auto help = RunApp(app, {"rollback", "--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_NE(help.out.find("--no-git-revert"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace flywheel::cli
