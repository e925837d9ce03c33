#include "flywheel/rollback/policies.h"

#include <gtest/gtest.h>

namespace flywheel::rollback {
namespace {

using nlohmann::json;

json Policy(int generation, const std::string& phase, const std::string& alert = "") {
  json p = {{"metadata", {{"name", "p"}, {"namespace", "n"}, {"generation", generation}}},
            {"status", {{"phase", phase}}}};
  if (!alert.empty()) p["metadata"]["annotations"] = {{"flywheel.dev/alert", alert}};
  return p;
}

TEST(PolicyChangeMattersTest, OwnStatusWritesDoNotButSpecAndAlertsDo) {
  EXPECT_FALSE(PolicyChangeMatters(Policy(1, "Watching"), Policy(1, "Breaching")));
  EXPECT_TRUE(PolicyChangeMatters(Policy(1, "Watching"), Policy(2, "Watching")));
  EXPECT_TRUE(PolicyChangeMatters(Policy(1, "Watching"), Policy(1, "Watching", "{\"id\":\"a\"}")));
  json deleting = Policy(1, "Watching");
  deleting["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z";
  EXPECT_TRUE(PolicyChangeMatters(Policy(1, "Watching"), deleting));
}

}  // namespace
}  // namespace flywheel::rollback
