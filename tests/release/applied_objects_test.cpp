#include "flywheel/release/applied_objects.h"

#include <gtest/gtest.h>

namespace flywheel::release {
namespace {

using nlohmann::json;

json Deployment() {
  return json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "a", "generation": 2, "resourceVersion": "10",
                 "labels": {"flywheel.dev/release": "a.web"},
                 "managedFields": [{"manager": "flywheel"}]},
    "spec": {"replicas": 3},
    "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
               "readyReplicas": 3, "availableReplicas": 3,
               "conditions": [{"type": "Available", "status": "True",
                               "lastUpdateTime": "2026-12-01T08:00:00Z"}]}})");
}

TEST(ChangeMattersTest, StatusChurnThatKeepsTheVerdictDoesNotWake) {
  json before = Deployment(), after = Deployment();
  after["metadata"]["resourceVersion"] = "11";
  after["metadata"]["managedFields"] = json::array({{{"manager", "kube-controller-manager"}}});
  after["status"]["conditions"][0]["lastUpdateTime"] = "2026-12-01T08:05:00Z";
  EXPECT_FALSE(ChangeMatters(before, after));
  EXPECT_FALSE(ChangeMatters(before, before)) << "a resync";
}

TEST(ChangeMattersTest, ASpecOrMetadataEditIsDrift) {
  json before = Deployment();
  json replicas = before;
  replicas["spec"]["replicas"] = 1;
  EXPECT_TRUE(ChangeMatters(before, replicas));
  json label = before;
  label["metadata"]["labels"]["extra"] = "x";
  EXPECT_TRUE(ChangeMatters(before, label));
  json annotation = before;
  annotation["metadata"]["annotations"] = {{"note", "x"}};
  EXPECT_TRUE(ChangeMatters(before, annotation));
  json deleting = before;
  deleting["metadata"]["deletionTimestamp"] = "2026-12-01T08:00:00Z";
  EXPECT_TRUE(ChangeMatters(before, deleting));
}

TEST(ChangeMattersTest, AHealthChangeWakes) {
  json before = Deployment(), after = Deployment();
  after["status"]["updatedReplicas"] = 1;  // a rollout in progress
  EXPECT_TRUE(ChangeMatters(before, after));
  EXPECT_TRUE(ChangeMatters(after, before));
}

TEST(ChangeMattersTest, DataOfObjectsWithoutStatusIsDrift) {
  json before = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", "c"}, {"resourceVersion", "1"}}},
                 {"data", {{"k", "1"}}}};
  json after = before;
  after["data"]["k"] = "2";
  EXPECT_TRUE(ChangeMatters(before, after));
  json removed = before;
  removed.erase("data");
  EXPECT_TRUE(ChangeMatters(before, removed));
  EXPECT_TRUE(ChangeMatters(removed, before));
}

TEST(CacheCaughtUpTest, AWatchBehindOurWriteCannotAnswer) {
  // Synced to 90, our write left the object at 100: the cache holds it as before, or not yet.
  EXPECT_FALSE(CacheCaughtUp("90", "80", "100"));
  EXPECT_FALSE(CacheCaughtUp("90", "", "100")) << "created by our write, not seen yet";
  EXPECT_FALSE(CacheCaughtUp("", "", "100")) << "nothing listed yet";
}

TEST(CacheCaughtUpTest, AWatchAtOrPastOurWriteAnswersWhateverItHolds) {
  EXPECT_TRUE(CacheCaughtUp("100", "100", "100"));
  EXPECT_TRUE(CacheCaughtUp("120", "110", "100")) << "changed again since our write";
  EXPECT_TRUE(CacheCaughtUp("120", "", "100")) << "deleted since our write";
  EXPECT_TRUE(CacheCaughtUp("1000", "100", "999")) << "ordered as integers, not as text";
}

TEST(CacheCaughtUpTest, VersionsOutsideTheIntegerSchemeCountOnlyWhenTheObjectShowsOurs) {
  // An aggregated API server's own versions cannot be ordered: only the object's own version
  // equal to what our write returned proves the cache has it.
  EXPECT_TRUE(CacheCaughtUp("x9", "ab", "ab"));
  EXPECT_FALSE(CacheCaughtUp("x9", "aa", "ab"));
  EXPECT_FALSE(CacheCaughtUp("x9", "", "ab"));
}

}  // namespace
}  // namespace flywheel::release
