// `flywheel controller` flags that tell the truth: defaults and help as documented, lease
// timings parsed as Go durations and checked as client-go checks them, before anything connects.
#include <gtest/gtest.h>

#include <sstream>

#include "flywheel/cli/app.h"

namespace flywheel::cli {
namespace {

struct Ran {
  int code;
  std::string out, err;
};

Ran Controller(std::vector<std::string> args) {
  args.insert(args.begin(), "controller");
  std::ostringstream out, err;
  int code = App(DefaultCommands()).Run(args, out, err);
  return {code, out.str(), err.str()};
}

// The help line of `--name`.
std::string HelpLine(const std::string& help, const std::string& name) {
  auto at = help.find("--" + name + " ");
  if (at == std::string::npos) return "";
  return help.substr(at, help.find('\n', at) - at);
}

TEST(ControllerFlagsTest, HelpStatesTheDefaultsAndOnlyReceiversThatExist) {
  auto r = Controller({"--help"});
  ASSERT_EQ(r.code, kExitOk);
  EXPECT_NE(HelpLine(r.out, "concurrent").find("(default \"4\")"), std::string::npos) << r.out;
  EXPECT_NE(HelpLine(r.out, "leader-elect-lease-duration").find("(default \"15s\")"),
            std::string::npos)
      << r.out;
  EXPECT_NE(HelpLine(r.out, "leader-elect-renew-deadline").find("(default \"10s\")"),
            std::string::npos)
      << r.out;
  EXPECT_NE(HelpLine(r.out, "leader-elect-retry-period").find("(default \"2s\")"),
            std::string::npos)
      << r.out;
  const std::string webhook = HelpLine(r.out, "webhook-bind-address");
  EXPECT_NE(webhook.find("/hooks/git"), std::string::npos) << r.out;
  EXPECT_NE(webhook.find("/hooks/alertmanager/"), std::string::npos) << webhook;
}

TEST(ControllerFlagsTest, LeaseTimingsAreCheckedBeforeAnythingStarts) {
  auto r = Controller({"--leader-elect-renew-deadline=20s"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.err,
            "flywheel controller: the leader election lease duration (15s) must be longer than "
            "the renew deadline (20s) (--leader-elect-lease-duration, "
            "--leader-elect-renew-deadline, --leader-elect-retry-period)\n");
  r = Controller({"--leader-elect-retry-period", "soon"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--leader-elect-retry-period: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("soon"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace flywheel::cli
