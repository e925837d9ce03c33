#include "flywheel/release/drift.h"

#include <gtest/gtest.h>

#include "flywheel/release/applied_objects.h"
#include "flywheel/release/applier.h"
#include "flywheel/release/object_ref.h"

namespace flywheel::release {
namespace {

using nlohmann::json;

const json kManifest = json::parse(R"({
  "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
  "spec": {"replicas": 2, "template": {"spec": {"containers": [
    {"name": "app", "image": "web:1", "resources": {"limits": {"cpu": "0.5"}}}]}}},
  "status": {"replicas": 2}
})");

json Live() {
  return json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod", "resourceVersion": "10", "generation": 3},
    "spec": {"replicas": 2, "strategy": {"type": "RollingUpdate"}, "template": {"spec": {
      "containers": [{"name": "app", "image": "web:1", "imagePullPolicy": "IfNotPresent",
                      "resources": {"limits": {"cpu": "500m"}}}]}}},
    "status": {"replicas": 2, "readyReplicas": 1}
  })");
}

TEST(DriftTest, ProjectionKeepsOnlyWhatTheManifestSaysWithTheServersValues) {
  json p = Project(kManifest, Live());
  EXPECT_FALSE(p.contains("status"));
  EXPECT_FALSE(p["spec"].contains("strategy"));
  EXPECT_FALSE(p["spec"]["template"]["spec"]["containers"][0].contains("imagePullPolicy"));
  EXPECT_EQ(p["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"], "500m");
  EXPECT_FALSE(p["metadata"].contains("resourceVersion"));
}

TEST(DriftTest, StatusAndDefaultingAreNotDriftButAManifestFieldIs) {
  json synced = Project(kManifest, Live());
  json later = Live();
  later["metadata"]["resourceVersion"] = "11";
  later["status"]["readyReplicas"] = 2;
  EXPECT_EQ(Project(kManifest, later), synced);
  later["spec"]["replicas"] = 5;
  EXPECT_NE(Project(kManifest, later), synced);
  json image = Live();
  image["spec"]["template"]["spec"]["containers"][0]["image"] = "web:hacked";
  EXPECT_NE(Project(kManifest, image), synced);
  json extra = Live();
  extra["spec"]["template"]["spec"]["containers"].push_back({{"name", "sidecar"}});
  EXPECT_NE(Project(kManifest, extra), synced) << "a container list of another length";
  json gone = Live();
  gone["spec"]["template"]["spec"]["containers"][0]["resources"].erase("limits");
  EXPECT_NE(Project(kManifest, gone), synced) << "a field removed by hand";
}

TEST(SameObjectTest, IgnoresManagedFieldsAndResourceVersionOnly) {
  json a = Live();
  json b = Live();
  b["metadata"]["resourceVersion"] = "99";
  b["metadata"]["managedFields"] = json::array({{{"manager", "flywheel"}}});
  EXPECT_TRUE(SameObject(a, b));
  b["metadata"]["labels"] = {{"x", "y"}};
  EXPECT_FALSE(SameObject(a, b));
}

TEST(ObjectRefTest, RoundTripsThroughTheInventory) {
  ObjectRef ref = ObjectRef::Of(Live());
  EXPECT_EQ(ref.group, "apps");
  EXPECT_EQ(ref.version, "v1");
  EXPECT_EQ(ref.ns, "prod");
  EXPECT_EQ(ref.Display(), "Deployment prod/web");
  EXPECT_EQ(ref.Id(), "apps/Deployment/prod/web");
  ObjectRef back = ObjectRef::FromInventory(ref.ToInventory());
  EXPECT_EQ(back.Id(), ref.Id());
  EXPECT_EQ(back.ApiVersion(), "apps/v1");
  ObjectRef core = ObjectRef::Of(
      json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}})"));
  EXPECT_EQ(core.ApiVersion(), "v1");
  EXPECT_FALSE(core.ToInventory().contains("group"));
  EXPECT_FALSE(core.ToInventory().contains("namespace"));
}

TEST(ReleaseLabelTest, NamesTheReleaseKey) {
  EXPECT_EQ(ReleaseKeyOfLabel("team-a.web"), "team-a/web");
  EXPECT_EQ(ReleaseKeyOfLabel("team-a.web.v2"), "team-a/web.v2");
  EXPECT_EQ(ReleaseKeyOfLabel("noseparator"), "");
  EXPECT_EQ(ReleaseKeyOfLabel(".web"), "");
  EXPECT_EQ(ReleaseKeyOfLabel("team-a."), "");
}

}  // namespace
}  // namespace flywheel::release
