#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

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
  EXPECT_EQ(s.Upsert(*Obj("a", "x", {{"app", "web"}, {"tier", "fe"}}, "uid-1")), nullptr);
  s.Upsert(*Obj("a", "y", {{"app", "web"}}));
  s.Upsert(*Obj("b", "z", {{"app", "db"}}, "uid-1"));
  EXPECT_EQ(s.Size(), 3u);
  EXPECT_EQ(s.ByNamespace("a").size(), 2u);
  EXPECT_EQ(s.ByLabel("app", "web").size(), 2u);
  EXPECT_EQ(s.ByLabel("tier", "fe").size(), 1u);
  EXPECT_EQ(s.ByOwner("uid-1").size(), 2u);

  // Relabel x: the old label entry goes away.
  ObjectPtr old = s.Upsert(*Obj("a", "x", {{"app", "api"}}));
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

// Objects are stored packed: what comes back must equal what went in, whatever the JSON holds.
TEST(StoreTest, ObjectsComeBackExactlyAsStored) {
  nlohmann::json o = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata", {{"name", "x"}, {"namespace", "a"}, {"resourceVersion", "42"}}},
      {"data", {{"utf8", "gr\u00fc\u00dfe \u2713 \U0001F680"}, {"empty", ""}}},
      {"numbers", {0, -1, 1, 255, 65536, -2147483649LL, 18446744073709551615ULL, 0.5, -1e300}},
      {"nested", {{"null", nullptr}, {"t", true}, {"f", false}, {"list", {{{"a", {1, 2}}}, {}}}}},
  };
  Store s;
  s.Upsert(o);
  ObjectPtr back = s.Get("a/x");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(*back, o);
  EXPECT_EQ(s.ResourceVersion("a/x"), "42");
  EXPECT_EQ(s.ResourceVersion("a/missing"), "");
  // Every read is a fresh tree: a reader cannot see another reader's object change.
  EXPECT_NE(s.Get("a/x").get(), back.get());
}

// Random upserts and removes, checked after each step against a plain model of the indexes
// (the index sets point at the Store's own keys, so a stale pointer would show here).
TEST(StoreTest, IndexesMatchAModelUnderChurn) {
  struct Model {
    std::string ns, label, owner;
  };
  std::map<std::string, Model> model;  // key -> what was stored
  Store s;
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  for (int step = 0; step < 3000; ++step) {
    std::string ns = "ns" + std::to_string(pick(3));
    std::string name = "object-with-a-long-name-" + std::to_string(pick(40));
    std::string key = ns + "/" + name;
    if (pick(4) == 0) {
      EXPECT_EQ(s.Remove(key) != nullptr, model.erase(key) == 1);
    } else {
      Model m{ns, "v" + std::to_string(pick(5)), "uid-" + std::to_string(pick(4))};
      ObjectPtr old = s.Upsert(*Obj(ns, name, {{"app", m.label}}, m.owner));
      ASSERT_EQ(old != nullptr, model.count(key) == 1);
      if (old) {
        EXPECT_EQ((*old)["metadata"]["labels"]["app"], model[key].label);
      }
      model[key] = m;
    }
    if (step % 50 != 0) continue;
    ASSERT_EQ(s.Size(), model.size());
    std::map<std::string, std::set<std::string>> by_ns, by_label, by_owner;
    for (const auto& [k, m] : model) {
      by_ns[m.ns].insert(k);
      by_label[m.label].insert(k);
      by_owner[m.owner].insert(k);
    }
    auto keys = [](const std::vector<ObjectPtr>& objects) {
      std::set<std::string> out;
      for (const auto& o : objects) out.insert(ObjectKey(*o));
      return out;
    };
    for (int i = 0; i < 5; ++i) {
      std::string v = "v" + std::to_string(i);
      EXPECT_EQ(keys(s.ByLabel("app", v)), by_label[v]) << "step " << step;
    }
    for (int i = 0; i < 4; ++i) {
      std::string uid = "uid-" + std::to_string(i);
      EXPECT_EQ(keys(s.ByOwner(uid)), by_owner[uid]) << "step " << step;
    }
    for (int i = 0; i < 3; ++i) {
      std::string n = "ns" + std::to_string(i);
      EXPECT_EQ(keys(s.ByNamespace(n)), by_ns[n]) << "step " << step;
    }
  }
}

}  // namespace
}  // namespace flywheel::kube
