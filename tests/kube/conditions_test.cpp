#include "flywheel/kube/conditions.h"

#include <gtest/gtest.h>

#include <string>

namespace flywheel::kube {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const Time kT0 = Time(std::chrono::sys_days(std::chrono::year(2024) / 5 / 1));
const Time kT1 = kT0 + seconds(60);
const Time kT2 = kT0 + seconds(120);

Condition Ready(ConditionStatus status, std::string reason, std::string message = "") {
  return {"Ready", status, std::move(reason), std::move(message)};
}

TEST(ConditionsTest, AddsNewConditionWithAllFields) {
  json conditions;  // status.conditions absent
  Result<bool> changed =
      SetCondition(conditions, Ready(ConditionStatus::kTrue, "Succeeded", "all good"), 3, kT0);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(conditions, json::parse(R"([{
    "type": "Ready", "status": "True", "reason": "Succeeded", "message": "all good",
    "observedGeneration": 3, "lastTransitionTime": "2024-05-01T00:00:00Z"}])"));
}

TEST(ConditionsTest, KeepsTransitionTimeWhenStatusUnchanged) {
  json conditions = json::array();
  ASSERT_TRUE(SetCondition(conditions, Ready(ConditionStatus::kFalse, "Progressing"), 1, kT0).ok());
  Result<bool> changed = SetCondition(
      conditions, Ready(ConditionStatus::kFalse, "WaitingForRollout", "2/3 ready"), 2, kT1);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  const json* ready = FindCondition(conditions, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ((*ready)["lastTransitionTime"], "2024-05-01T00:00:00Z");
  EXPECT_EQ((*ready)["reason"], "WaitingForRollout");
  EXPECT_EQ((*ready)["message"], "2/3 ready");
  EXPECT_EQ((*ready)["observedGeneration"], 2);
  EXPECT_EQ(conditions.size(), 1u);
}

TEST(ConditionsTest, ChangesTransitionTimeWhenStatusChanges) {
  json conditions = json::array();
  ASSERT_TRUE(SetCondition(conditions, Ready(ConditionStatus::kFalse, "Progressing"), 1, kT0).ok());
  ASSERT_TRUE(SetCondition(conditions, Ready(ConditionStatus::kTrue, "Succeeded"), 1, kT1).ok());
  EXPECT_EQ((*FindCondition(conditions, "Ready"))["lastTransitionTime"], "2024-05-01T00:01:00Z");
  ASSERT_TRUE(SetCondition(conditions, Ready(ConditionStatus::kUnknown, "Lost"), 1, kT2).ok());
  EXPECT_EQ((*FindCondition(conditions, "Ready"))["lastTransitionTime"], "2024-05-01T00:02:00Z");
  EXPECT_EQ((*FindCondition(conditions, "Ready"))["status"], "Unknown");
}

TEST(ConditionsTest, ObservedGenerationAlwaysUpdated) {
  json conditions = json::array();
  ASSERT_TRUE(SetCondition(conditions, Ready(ConditionStatus::kTrue, "Succeeded"), 4, kT0).ok());
  Result<bool> changed =
      SetCondition(conditions, Ready(ConditionStatus::kTrue, "Succeeded"), 5, kT1);
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ((*FindCondition(conditions, "Ready"))["observedGeneration"], 5);
  EXPECT_EQ((*FindCondition(conditions, "Ready"))["lastTransitionTime"], "2024-05-01T00:00:00Z");
}

TEST(ConditionsTest, IdenticalSetReportsNoChange) {
  json conditions = json::array();
  ASSERT_TRUE(
      SetCondition(conditions, Ready(ConditionStatus::kTrue, "Succeeded", "m"), 4, kT0).ok());
  json before = conditions;
  Result<bool> changed =
      SetCondition(conditions, Ready(ConditionStatus::kTrue, "Succeeded", "m"), 4, kT2);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_EQ(conditions, before);
}

TEST(ConditionsTest, RepairsUnusableTransitionTimeAndKeepsOtherConditions) {
  for (const char* old_time : {"", "yesterday", "2024-05-01 00:00:00"}) {
    json conditions = json::parse(R"([
      {"type": "Stalled", "status": "False", "reason": "Fine", "message": "",
       "lastTransitionTime": "2020-01-01T00:00:00Z"},
      {"type": "Ready", "status": "True", "reason": "Old"}])");
    if (*old_time != '\0') conditions[1]["lastTransitionTime"] = old_time;
    ASSERT_TRUE(SetCondition(conditions, Ready(ConditionStatus::kTrue, "Succeeded"), 7, kT1).ok());
    EXPECT_EQ(conditions[1]["lastTransitionTime"], "2024-05-01T00:01:00Z") << old_time;
    EXPECT_EQ(conditions[0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
    EXPECT_EQ(conditions[0]["type"], "Stalled");
  }
}

TEST(ConditionsTest, MessageBecomesValidUtf8) {
  json conditions;
  ASSERT_TRUE(
      SetCondition(conditions,
                   Ready(ConditionStatus::kFalse, "Failed", "git said: \xff\xfe caf\xC3\xA9"), 1,
                   kT0)
          .ok());
  EXPECT_EQ(conditions[0]["message"], "git said: \xEF\xBF\xBD\xEF\xBF\xBD caf\xC3\xA9");
  EXPECT_NO_THROW(conditions.dump());
}

TEST(ConditionsTest, RejectsInvalidReasonsAndTypes) {
  const char* bad_reasons[] = {"",          "1Started",       "Has Space", "Trailing,",
                               "Trailing:", "dash-is-not-ok", "Dot.Nope",  "Ünicode"};
  for (const char* reason : bad_reasons) {
    json conditions = json::array();
    Result<bool> r = SetCondition(conditions, Ready(ConditionStatus::kTrue, reason), 1, kT0);
    ASSERT_FALSE(r.ok()) << reason;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("invalid reason"), std::string::npos);
    EXPECT_TRUE(conditions.empty()) << "unchanged on error";
  }
  const char* good_reasons[] = {"A", "Succeeded", "With_Underscore_", "a,b:c", "X9"};
  for (const char* reason : good_reasons) {
    json conditions;
    EXPECT_TRUE(SetCondition(conditions, Ready(ConditionStatus::kTrue, reason), 1, kT0).ok())
        << reason;
  }
  json conditions;
  EXPECT_FALSE(
      SetCondition(conditions, Ready(ConditionStatus::kTrue, std::string(1025, 'A')), 1, kT0).ok());
  EXPECT_TRUE(
      SetCondition(conditions, Ready(ConditionStatus::kTrue, std::string(1024, 'A')), 1, kT0).ok());

  const char* bad_types[] = {
      "",       "-Ready", "Ready-", "Has Space", "UPPER.example.com/Ready", "example.com/",
      "/Ready", "a/b/c"};
  for (const char* type : bad_types) {
    json c = json::array();
    Result<bool> r = SetCondition(c, {type, ConditionStatus::kTrue, "Ok", ""}, 1, kT0);
    ASSERT_FALSE(r.ok()) << type;
    EXPECT_NE(r.status().message().find("invalid condition type"), std::string::npos);
  }
  const char* good_types[] = {"Ready", "flywheel.dev/RolloutHealthy", "a.b-c_d", "x"};
  for (const char* type : good_types) {
    json c = json::array();
    EXPECT_TRUE(SetCondition(c, {type, ConditionStatus::kTrue, "Ok", ""}, 1, kT0).ok()) << type;
  }

  json c = json::array();
  EXPECT_FALSE(SetCondition(c, Ready(ConditionStatus::kTrue, "Ok"), -1, kT0).ok());
  json not_array = json::object();
  EXPECT_EQ(SetCondition(not_array, Ready(ConditionStatus::kTrue, "Ok"), 1, kT0).status().code(),
            Code::kInvalidArgument);
}

TEST(ConditionsTest, BoundsMessageAtUtf8Boundary) {
  // 'é' is two bytes; after the two-byte prefix the natural cut point (32765) falls on the
  // second byte of one, so the cut must back off by one byte.
  std::string message = "xy";
  while (message.size() < 40000) message += "\xC3\xA9";
  json conditions;
  ASSERT_TRUE(
      SetCondition(conditions, Ready(ConditionStatus::kFalse, "Failed", message), 1, kT0).ok());
  std::string stored = conditions[0]["message"];
  EXPECT_EQ(stored.size(), kMaxConditionMessageBytes - 1);
  EXPECT_EQ(stored.substr(stored.size() - 3), "...");
  EXPECT_EQ(stored.substr(0, stored.size() - 3), message.substr(0, stored.size() - 3));
  // The text before "..." ends on a whole character: its last byte completes an 'é'.
  EXPECT_EQ(static_cast<unsigned char>(stored[stored.size() - 4]), 0xA9);
  // dump() throws on invalid UTF-8, so this also proves the value is valid.
  EXPECT_NO_THROW(conditions.dump());

  std::string exact(kMaxConditionMessageBytes, 'm');
  json c2;
  ASSERT_TRUE(SetCondition(c2, Ready(ConditionStatus::kFalse, "Failed", exact), 1, kT0).ok());
  EXPECT_EQ(c2[0]["message"], exact);
}

TEST(ConditionsTest, FindIsTrueRemove) {
  json conditions = json::array();
  EXPECT_EQ(FindCondition(conditions, "Ready"), nullptr);
  EXPECT_FALSE(IsTrue(conditions, "Ready"));
  EXPECT_FALSE(IsTrue(json(), "Ready"));
  EXPECT_EQ(FindCondition(json("garbage"), "Ready"), nullptr);

  ASSERT_TRUE(SetCondition(conditions, Ready(ConditionStatus::kTrue, "Succeeded"), 1, kT0).ok());
  ASSERT_TRUE(
      SetCondition(conditions, {"Stalled", ConditionStatus::kFalse, "Fine", ""}, 1, kT0).ok());
  EXPECT_TRUE(IsTrue(conditions, "Ready"));
  EXPECT_FALSE(IsTrue(conditions, "Stalled"));
  EXPECT_FALSE(IsTrue(conditions, "Missing"));

  EXPECT_TRUE(RemoveCondition(conditions, "Ready"));
  EXPECT_FALSE(RemoveCondition(conditions, "Ready"));
  EXPECT_EQ(FindCondition(conditions, "Ready"), nullptr);
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0]["type"], "Stalled");
  json null_conditions;
  EXPECT_FALSE(RemoveCondition(null_conditions, "Ready"));
}

TEST(ConditionsTest, StatusNames) {
  EXPECT_STREQ(ConditionStatusName(ConditionStatus::kTrue), "True");
  EXPECT_STREQ(ConditionStatusName(ConditionStatus::kFalse), "False");
  EXPECT_STREQ(ConditionStatusName(ConditionStatus::kUnknown), "Unknown");
}

}  // namespace
}  // namespace flywheel::kube
