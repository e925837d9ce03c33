// The Release decision table: which revision runs (rejected heads, rejected pins), where a
// rollback goes, when Progressing turns Degraded.
#include "flywheel/release/decisions.h"

#include <gtest/gtest.h>

namespace flywheel::release {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = RevisionDecision::Kind;

const std::string kA(40, 'a'), kB(40, 'b'), kC(40, 'c');

ReleaseSpec Spec(const std::string& pin = "") {
  ReleaseSpec s;
  s.url = "file:///r";
  s.revision = pin;
  return s;
}

ReleaseStatus Rejected(std::initializer_list<std::string> revisions, const std::string& applied) {
  json status = {{"lastAppliedRevision", applied}, {"rejectedRevisions", json::array()}};
  for (const auto& r : revisions) status["rejectedRevisions"].push_back({{"revision", r}});
  if (applied.empty()) status.erase("lastAppliedRevision");
  return ReleaseStatus::FromJson(status);
}

TEST(ChooseRevisionTest, AHeadThatWasNotRejectedRuns) {
  auto d = ChooseRevision(Rejected({kA}, kA), Spec(), kB);
  EXPECT_EQ(d.kind, Kind::kRun);
  EXPECT_EQ(d.revision, kB);
}

TEST(ChooseRevisionTest, ARejectedHeadKeepsTheAppliedRevision) {
  auto d = ChooseRevision(Rejected({kB}, kA), Spec(), kB);
  EXPECT_EQ(d.kind, Kind::kRun);
  EXPECT_EQ(d.revision, kA) << "auto-sync skips the rolled-back head until the branch moves";
}

TEST(ChooseRevisionTest, ARejectedHeadWithNothingAppliedWaits) {
  auto d = ChooseRevision(Rejected({kB}, ""), Spec(), kB);
  EXPECT_EQ(d.kind, Kind::kWaitForNewCommit);
  EXPECT_NE(d.message.find("bbbbbbb"), std::string::npos) << d.message;
}

TEST(ChooseRevisionTest, APinToARejectedRevisionIsNotAppliedAgain) {
  // pin + rollback: the RollbackPolicy rolled v2 back to A; the pin still says v2.
  auto d = ChooseRevision(Rejected({kB}, kA), Spec("v2"), kB);
  EXPECT_EQ(d.kind, Kind::kPinRejected);
  EXPECT_TRUE(d.revision.empty());
  EXPECT_NE(d.message.find("spec.revision v2 (bbbbbbb) was rolled back; running aaaaaaa"),
            std::string::npos)
      << d.message;
}

TEST(ChooseRevisionTest, AnotherPinRuns) {
  auto d = ChooseRevision(Rejected({kB}, kA), Spec("v3"), kC);
  EXPECT_EQ(d.kind, Kind::kRun);
  EXPECT_EQ(d.revision, kC);
}

json Entry(const std::string& rev, const std::string& result, bool healthy) {
  json e = {{"revision", rev}, {"result", result}};
  if (healthy) e["healthyAt"] = "2026-12-01T08:00:00Z";
  return e;
}

TEST(DefaultRollbackTargetTest, TheNewestEarlierHealthyRevision) {
  json status = {{"lastAppliedRevision", kC},
                 {"history", json::array({Entry(kC, "Healthy", true), Entry(kB, "Healthy", true),
                                          Entry(kA, "Healthy", true)})}};
  EXPECT_EQ(DefaultRollbackTarget(ReleaseStatus::FromJson(status)), kB)
      << "the current revision is stable itself when a metric fires; it is skipped";
}

TEST(DefaultRollbackTargetTest, SkipsRolledBackRejectedAndNeverHealthyRevisions) {
  json status = {
      {"lastAppliedRevision", kC},
      {"history", json::array({Entry(kC, "Healthy", true), Entry(kB, "Failed", false),
                               Entry(kB + "x", "RolledBack", true),
                               Entry(kA + "x", "Healthy", true), Entry(kA, "Healthy", true)})},
      {"rejectedRevisions", json::array({{{"revision", kA + "x"}}})}};
  EXPECT_EQ(DefaultRollbackTarget(ReleaseStatus::FromJson(status)), kA);
}

TEST(DefaultRollbackTargetTest, NoneWhenNothingEarlierWasHealthy) {
  json status = {{"lastAppliedRevision", kA},
                 {"history", json::array({Entry(kA, "Healthy", true)})}};
  EXPECT_EQ(DefaultRollbackTarget(ReleaseStatus::FromJson(status)), "");
}

TEST(CheckHealthTimeoutTest, ProgressingTurnsDegradedAtTheTimeout) {
  const Time applied = Time{} + std::chrono::hours(1000);
  const milliseconds timeout = std::chrono::minutes(5);
  auto early = CheckHealthTimeout(applied, applied + seconds(30), timeout, false);
  EXPECT_FALSE(early.degraded);
  EXPECT_EQ(early.recheck_in, seconds(10)) << "looks again within 10 s";
  auto close = CheckHealthTimeout(applied, applied + seconds(297), timeout, false);
  EXPECT_FALSE(close.degraded);
  EXPECT_EQ(close.recheck_in, seconds(3)) << "looks again right at the timeout";
  EXPECT_TRUE(CheckHealthTimeout(applied, applied + timeout, timeout, false).degraded);
  EXPECT_TRUE(
      CheckHealthTimeout(applied, applied + std::chrono::hours(2), timeout, false).degraded);
}

TEST(CheckHealthTimeoutTest, ARevisionThatWasHealthyNeverTimesOut) {
  const Time applied = Time{} + std::chrono::hours(1000);
  EXPECT_FALSE(
      CheckHealthTimeout(applied, applied + std::chrono::hours(2), std::chrono::minutes(5), true)
          .degraded);
}

}  // namespace
}  // namespace flywheel::release
