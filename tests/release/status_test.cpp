// ReleaseStatus: the status JSON the API server stores, read into fields and written back
// unchanged; the lists' bounds.
#include "flywheel/release/status.h"

#include <gtest/gtest.h>

namespace flywheel::release {
namespace {

using nlohmann::json;

const std::string kShaA(40, 'a'), kShaB(40, 'b'), kShaC(40, 'c');

// Every field the CRD's status schema has, as the controller writes them.
json FullStatus() {
  return json::parse(R"({
    "observedGeneration": 3,
    "conditions": [{"type": "Ready", "status": "True", "observedGeneration": 3,
                    "lastTransitionTime": "2026-12-01T08:00:05Z", "reason": "RolledBack",
                    "message": "rolled back"}],
    "lastHandledReconcileAt": "2026-12-01T07:59:00Z",
    "lastHandledRollback": "r-1",
    "lastAttemptedRevision": ")" +
                     kShaA + R"(",
    "lastAppliedRevision": ")" +
                     kShaA + R"(",
    "lastAppliedShortRevision": "aaaaaaa",
    "stableRevision": ")" +
                     kShaA + R"(",
    "stableShortRevision": "aaaaaaa",
    "health": "Healthy",
    "inventory": [{"version": "v1", "kind": "ConfigMap", "namespace": "apps", "name": "cfg"},
                  {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "apps",
                   "name": "web"}],
    "history": [
      {"revision": ")" +
                     kShaB + R"(", "message": "bad", "author": "Dev <dev@example.com>",
       "committedAt": "2026-12-01T07:00:00Z", "appliedAt": "2026-12-01T07:01:00Z",
       "result": "RolledBack", "reason": "rolled back to aaaaaaa: error ratio"},
      {"revision": ")" +
                     kShaA + R"(", "message": "good", "author": "Dev <dev@example.com>",
       "committedAt": "2026-12-01T06:00:00Z", "appliedAt": "2026-12-01T06:01:00Z",
       "healthyAt": "2026-12-01T06:01:30Z", "result": "Healthy"}],
    "rejectedRevisions": [{"revision": ")" +
                     kShaB + R"(", "rejectedAt": "2026-12-01T08:00:00Z",
                           "reason": "error ratio"}],
    "lastRollback": {"id": "r-1", "at": "2026-12-01T08:00:00Z", "fromRevision": ")" +
                     kShaB + R"(",
                     "toRevision": ")" +
                     kShaA + R"(", "reason": "error ratio", "by": "policy/p",
                     "trigger": "policy", "revertPending": true,
                     "revertMessage": "the revert commit is not pushed yet: refused",
                     "restoredAt": "2026-12-01T08:00:20Z"}
  })");
}

TEST(ReleaseStatusTest, AStatusTheControllerWroteReadsBackToTheSameJson) {
  const json stored = FullStatus();
  ReleaseStatus s = ReleaseStatus::FromJson(stored);
  EXPECT_EQ(s.ToJson(), stored);

  EXPECT_EQ(s.observed_generation, 3);
  EXPECT_EQ(s.last_applied_revision, kShaA);
  ASSERT_EQ(s.inventory.size(), 2u);
  EXPECT_EQ(s.inventory[1].group, "apps");
  EXPECT_EQ(s.inventory[1].Display(), "Deployment apps/web");
  ASSERT_EQ(s.history.size(), 2u);
  EXPECT_FALSE(s.history[0].healthy_at.has_value());
  EXPECT_EQ(FormatRfc3339(s.history[1].healthy_at.value()), "2026-12-01T06:01:30Z");
  ASSERT_TRUE(s.last_rollback.has_value());
  EXPECT_TRUE(s.last_rollback->revert_pending);
  EXPECT_EQ(s.last_rollback->trigger, "policy");
  EXPECT_TRUE(s.IsRejected(kShaB));
  EXPECT_FALSE(s.IsRejected(kShaA));
  EXPECT_EQ(ReleaseStatus::FromJson(s.ToJson()), s);
}

TEST(ReleaseStatusTest, AReleaseObjectsStatusReadsWithOrWithoutItsInventory) {
  const json release = {{"metadata", {{"name", "web"}}}, {"status", FullStatus()}};
  EXPECT_EQ(ReleaseStatus::OfRelease(release), ReleaseStatus::FromJson(FullStatus()));
  ReleaseStatus light = ReleaseStatus::OfRelease(release, ReleaseStatus::Parts::kWithoutInventory);
  EXPECT_TRUE(light.inventory.empty());
  EXPECT_EQ(light.history.size(), 2u);
  EXPECT_TRUE(light.IsRejected(kShaB));
  light.inventory = ReleaseStatus::FromJson(FullStatus()).inventory;
  EXPECT_EQ(light, ReleaseStatus::FromJson(FullStatus()));  // only the inventory was left out
  EXPECT_EQ(ReleaseStatus::OfRelease(json{{"metadata", json::object()}}), ReleaseStatus());
}

TEST(ReleaseStatusTest, ShortRevisionsFollowTheFullOnesAndEmptyFieldsAreLeftOut) {
  ReleaseStatus s;
  s.observed_generation = 1;
  s.last_applied_revision = kShaC;
  EXPECT_EQ(s.ToJson(), json({{"observedGeneration", 1},
                              {"lastAppliedRevision", kShaC},
                              {"lastAppliedShortRevision", "ccccccc"}}));
  // A revert commit pushed: no longer pending, no message.
  s.last_rollback.emplace().id = "r";
  s.last_rollback->revert_commit = kShaB;
  EXPECT_EQ(s.ToJson()["lastRollback"], json({{"id", "r"}, {"revertCommit", kShaB}}));
  EXPECT_EQ(ReleaseStatus().ToJson(), json({{"observedGeneration", 0}}));
}

TEST(ReleaseStatusTest, WrongTypesAndBadTimesAreIgnored) {
  ReleaseStatus s = ReleaseStatus::FromJson(json::parse(R"({
    "observedGeneration": "3", "conditions": {}, "health": 5, "inventory": "x",
    "history": [7, {"revision": "r", "appliedAt": "yesterday", "committedAt": 12}],
    "lastRollback": []
  })"));
  EXPECT_EQ(s.observed_generation, 0);
  EXPECT_EQ(s.conditions, json::array());
  EXPECT_EQ(s.health, "");
  EXPECT_TRUE(s.inventory.empty());
  ASSERT_EQ(s.history.size(), 1u);
  EXPECT_EQ(s.history[0].revision, "r");
  EXPECT_FALSE(s.history[0].applied_at.has_value());
  EXPECT_FALSE(s.history[0].committed_at.has_value());
  EXPECT_FALSE(s.last_rollback.has_value());
  EXPECT_EQ(ReleaseStatus::FromJson(json()), ReleaseStatus());
}

TEST(ReleaseStatusTest, HistoryIsNewestFirstWithOneEntryPerRevisionAndBounded) {
  ReleaseStatus s;
  s.RecordHistory({.revision = kShaA, .result = "Healthy"}, 2);
  s.RecordHistory({.revision = kShaB, .result = "Failed"}, 2);
  // The failed revision applied after all: its entry is replaced, not repeated.
  s.RecordHistory({.revision = kShaB, .result = "Progressing"}, 2);
  ASSERT_EQ(s.history.size(), 2u);
  EXPECT_EQ(s.history[0].revision, kShaB);
  EXPECT_EQ(s.history[0].result, "Progressing");
  EXPECT_EQ(s.history[1].revision, kShaA);
  s.RecordHistory({.revision = kShaC}, 2);
  ASSERT_EQ(s.history.size(), 2u);
  EXPECT_EQ(s.history[0].revision, kShaC);
  EXPECT_EQ(s.history[1].revision, kShaB);  // the oldest, kShaA, dropped
  ASSERT_NE(s.FindHistory(kShaB), nullptr);
  s.FindHistory(kShaB)->result = "RolledBack";
  EXPECT_EQ(s.history[1].result, "RolledBack");
  EXPECT_EQ(s.FindHistory(kShaA), nullptr);

  s.Reject({.revision = kShaB, .reason = "first"}, 1);
  s.Reject({.revision = kShaC, .reason = "second"}, 1);
  ASSERT_EQ(s.rejected_revisions.size(), 1u);
  EXPECT_EQ(s.rejected_revisions[0].revision, kShaC);
  EXPECT_FALSE(s.IsRejected(kShaB));
}

TEST(ReleaseStatusTest, AHistoryEntryOfACommitHasWholeSeconds) {
  git::CommitInfo commit{kShaA, "subject", "Dev <dev@example.com>",
                         *ParseRfc3339("2026-12-01T06:00:00.750Z")};
  HistoryEntry e = HistoryEntry::Of(commit);
  EXPECT_EQ(e.revision, kShaA);
  EXPECT_EQ(e.author, "Dev <dev@example.com>");
  EXPECT_EQ(e.committed_at, *ParseRfc3339("2026-12-01T06:00:00Z"));
  EXPECT_EQ(e.result, "");
}

}  // namespace
}  // namespace flywheel::release
