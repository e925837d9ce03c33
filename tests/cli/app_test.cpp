#include "flywheel/cli/app.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "flywheel/build_info.h"
#include "flywheel/cli/flags.h"

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

TEST(KubectlPluginTest, ProgramNameFollowsTheBinarysName) {
  EXPECT_EQ(ProgramName("kubectl-flywheel"), "kubectl flywheel");
  EXPECT_EQ(ProgramName("/home/me/bin/kubectl-flywheel"), "kubectl flywheel");
  EXPECT_EQ(ProgramName("/usr/local/bin/flywheel"), "flywheel");
  EXPECT_EQ(ProgramName("build/flywheel"), "flywheel");
  EXPECT_EQ(ProgramName("kubectl-flywheel-old"), "flywheel");
}

TEST(KubectlPluginTest, UsageSaysKubectlFlywheel) {
  App app(DefaultCommands(), "kubectl flywheel");
  auto r = RunApp(app, {"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("  kubectl flywheel <command> [flags]\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Use \"kubectl flywheel <command> --help\""), std::string::npos) << r.out;
  for (const char* command : {"get", "rollback", "logs", "completion"}) {
    r = RunApp(app, {command, "--help"});
    EXPECT_EQ(r.code, kExitOk) << command;
    EXPECT_NE(r.out.find("  kubectl flywheel " + std::string(command)), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("\n  flywheel "), std::string::npos) << r.out;
  }
  r = RunApp(app, {"help", "get"});
  EXPECT_NE(r.out.find("  kubectl flywheel get "), std::string::npos) << r.out;
  r = RunApp(app, {"nope"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("Run 'kubectl flywheel --help'"), std::string::npos) << r.err;
}

TEST(KubectlPluginTest, ConnectionFlagsBeforeTheCommandGoAfterIt) {
  auto r = RunApp(TestApp(), {"-n", "team-a", "--kubeconfig=/k", "echo", "x"});
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.out, "-n;team-a;--kubeconfig=/k;x;");
  r = RunApp(TestApp(), {"--context", "c", "-nteam-b", "--namespace=n", "echo"});
  EXPECT_EQ(r.out, "--context;c;-nteam-b;--namespace=n;");
  // Anything else before the command is still the (unknown) command.
  r = RunApp(TestApp(), {"--verbose", "echo"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("unknown command \"--verbose\""), std::string::npos) << r.err;
}

TEST(FlagsTest, ShortFlagsTakeTheirValueAttachedAsKubectlsDo) {
  std::string output, ns, selector;
  bool all = false;
  FlagSet flags("t");
  flags.String("output", &output, "", "o");
  flags.String("namespace", &ns, "", "n");
  flags.String("selector", &selector, "", "l");
  flags.Bool("all-namespaces", &all, "", "A");
  bool help = false;
  ASSERT_TRUE(flags.Parse({"-oyaml", "-n=team-a", "-lapp=web,tier!=db", "-A"}, &help).ok());
  EXPECT_EQ(output, "yaml");
  EXPECT_EQ(ns, "team-a");
  EXPECT_EQ(selector, "app=web,tier!=db");
  EXPECT_TRUE(all);
  auto bad = flags.Parse({"-Ax"}, &help);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("unknown flag \"-Ax\""), std::string::npos) << bad.message();
}

TEST(FlagsTest, HelpShowsValueTypesAsPflagDoes) {
  std::string s;
  int i = 0;
  bool b = false;
  std::vector<std::string> many;
  FlagSet flags("t");
  flags.String("namespace", &s, "Namespace", "n");
  flags.Int("count", &i, "Count");
  flags.Bool("all-namespaces", &b, "All", "A");
  flags.Strings("set", &many, "Repeated");
  flags.String("a-rather-long-flag-name-indeed", &s, "Long");
  std::ostringstream out;
  flags.PrintDefaults(out);
  EXPECT_NE(out.str().find("  -n, --namespace string "), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("      --count int "), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("  -A, --all-namespaces  "), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("      --set stringArray "), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("--a-rather-long-flag-name-indeed string  Long"), std::string::npos)
      << "help never touches a long name: " << out.str();
}

TEST(GetCommandTest, UsageErrorsAreCaughtBeforeAnyConnection) {
  App app(DefaultCommands());
  auto r = RunApp(app, {"get", "widgets"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("unknown resource \"widgets\""), std::string::npos) << r.err;
  r = RunApp(app, {"get", "releases,gadgets"});
  EXPECT_NE(r.err.find("unknown resource \"gadgets\""), std::string::npos) << r.err;
  r = RunApp(app, {"get", "-o", "table"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--output must be wide, json, yaml or name, not \"table\""),
            std::string::npos)
      << r.err;
  r = RunApp(app, {"get", "all", "web"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("names need exactly one kind"), std::string::npos) << r.err;
  r = RunApp(app, {"get", "release/web", "pipelines"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("\"pipelines\" is not KIND/NAME"), std::string::npos) << r.err;
  r = RunApp(app, {"get", "widget/web"});
  EXPECT_NE(r.err.find("unknown resource \"widget\""), std::string::npos) << r.err;
  r = RunApp(app, {"get", "rel", "web", "-l", "app=web"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--selector cannot be combined with names"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace flywheel::cli
