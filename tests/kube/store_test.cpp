#include <gtest/gtest.h>

#include "flywheel/kube/informer.h"

namespace flywheel::kube {
namespace {

ObjectPtr Obj(const std::string& ns, const std::string& name, nlohmann::json labels,
              const std::string& owner_uid = "") {
  nlohmann::json o = {{"metadata", {{"name", name}, {"labels", labels}}}};
  if (!ns.empty()) o["metadata"]["namespace"] = ns;
  if (!owner_uid.empty()) {
    o["metadata"]["ownerReferences"] = {{{"uid", owner_uid}, {"kind", "PipelineRun"}}};
  }
  return std::make_shared<const nlohmann::json>(std::move(o));
}

TEST(StoreTest, KeysAreNamespaceSlashNameOrJustName) {
  EXPECT_EQ(ObjectKey(*Obj("a", "x", nlohmann::json::object())), "a/x");
  EXPECT_EQ(ObjectKey(*Obj("", "node-1", nlohmann::json::object())), "node-1");
}

TEST(StoreTest, IndexesFollowUpdatesAndRemoves) {
  Store s;
  EXPECT_EQ(s.Upsert(Obj("a", "x", {{"app", "web"}, {"tier", "fe"}}, "uid-1")), nullptr);
  s.Upsert(Obj("a", "y", {{"app", "web"}}));
  s.Upsert(Obj("b", "z", {{"app", "db"}}, "uid-1"));
  EXPECT_EQ(s.Size(), 3u);
  EXPECT_EQ(s.ByNamespace("a").size(), 2u);
  EXPECT_EQ(s.ByLabel("app", "web").size(), 2u);
  EXPECT_EQ(s.ByLabel("tier", "fe").size(), 1u);
  EXPECT_EQ(s.ByOwner("uid-1").size(), 2u);

  // Relabel x: the old label entry goes away.
  ObjectPtr old = s.Upsert(Obj("a", "x", {{"app", "api"}}));
  ASSERT_NE(old, nullptr);
  EXPECT_EQ((*old)["metadata"]["labels"]["app"], "web");
  EXPECT_EQ(s.ByLabel("app", "web").size(), 1u);
  EXPECT_TRUE(s.ByLabel("tier", "fe").empty());
  EXPECT_EQ(s.ByOwner("uid-1").size(), 1u);

  EXPECT_NE(s.Remove("b/z"), nullptr);
  EXPECT_EQ(s.Remove("b/z"), nullptr);
  EXPECT_TRUE(s.ByOwner("uid-1").empty());
  EXPECT_TRUE(s.ByNamespace("b").empty());
  EXPECT_EQ(s.Get("a/y")->at("metadata").at("name"), "y");
  EXPECT_EQ(s.Keys(), (std::vector<std::string>{"a/x", "a/y"}));
}

}  // namespace
}  // namespace flywheel::kube
