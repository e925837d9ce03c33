// kube::Client and kube::Informer against the real kube-apiserver of the testenv.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "flywheel/kube/connect.h"
#include "flywheel/kube/informer.h"
#include "support/testenv.h"

namespace flywheel::kube {
namespace {

using ::flywheel::testing::ScopedNamespace;
using ::flywheel::testing::TestEnv;

Client Connected(const TestEnv& env) { return env.Client(); }

json ConfigMap(const std::string& ns, const std::string& name, const std::string& value) {
  return ::flywheel::testing::ConfigMapObject(ns, name, "key", value);
}

TEST(KubeClientTest, VersionOverMutualTls) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  auto version = Connected(*env).GetPath("/version");
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(version->value("major", ""), "1");
  EXPECT_EQ(version->value("minor", ""), "36") << version->dump();
}

TEST(KubeClientTest, DiscoveryMapsKindsToResources) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  auto client = Connected(*env);
  auto deploy = client.Resource("apps/v1", "Deployment");
  ASSERT_TRUE(deploy.ok()) << deploy.status().ToString();
  EXPECT_EQ(deploy->resource, "deployments");
  EXPECT_TRUE(deploy->namespaced);
  auto ns = client.Resource("v1", "Namespace");
  ASSERT_TRUE(ns.ok());
  EXPECT_FALSE(ns->namespaced);
  EXPECT_EQ(ns->Path("ignored", "x"), "/api/v1/namespaces/x");
  auto missing = client.Resource("example.invalid/v1", "Widget");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("is the CRD"), std::string::npos);
}

TEST(KubeClientTest, CrudConflictAndErrors) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "client-crud");
  auto client = Connected(*env);
  auto created = client.Create(ConfigMap(ns.name(), "a", "1"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(client.Create(ConfigMap(ns.name(), "a", "1")).status().code(), Code::kAlreadyExists);

  auto got = client.Get("v1", "ConfigMap", ns.name(), "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["data"]["key"], "1");

  json update = *got;
  update["data"]["key"] = "2";
  auto updated = client.Update(update);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  // The same stale resourceVersion again: a conflict, mapped to Aborted.
  update["data"]["key"] = "3";
  auto stale = client.Update(update);
  EXPECT_EQ(stale.status().code(), Code::kAborted) << stale.status().ToString();

  auto patched = client.Patch("v1", "ConfigMap", ns.name(), "a", PatchType::kMerge,
                              R"({"data":{"extra":"x"}})");
  ASSERT_TRUE(patched.ok());
  EXPECT_EQ((*patched)["data"]["extra"], "x");

  ASSERT_TRUE(client.Delete("v1", "ConfigMap", ns.name(), "a").ok());
  EXPECT_EQ(client.Get("v1", "ConfigMap", ns.name(), "a").status().code(), Code::kNotFound);
  EXPECT_EQ(client.Delete("v1", "ConfigMap", ns.name(), "a").code(), Code::kNotFound);

  json bad = ConfigMap(ns.name(), "Not_A_Name", "1");
  auto invalid = client.Create(bad);
  EXPECT_EQ(invalid.status().code(), Code::kInvalidArgument);
  EXPECT_NE(invalid.status().message().find("metadata.name"), std::string::npos)
      << invalid.status().message();
}

TEST(KubeClientTest, ServerSideApplyAndDryRun) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "client-ssa");
  auto client = Connected(*env);
  WriteOptions dry{.dry_run = true, .field_manager = "flywheel", .force = true};
  auto preview = client.Apply(ConfigMap(ns.name(), "cfg", "v1"), dry);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(client.Get("v1", "ConfigMap", ns.name(), "cfg").status().code(), Code::kNotFound)
      << "a dry run must not store anything";

  WriteOptions apply{.field_manager = "flywheel", .force = true};
  auto applied = client.Apply(ConfigMap(ns.name(), "cfg", "v1"), apply);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ((*applied)["metadata"]["managedFields"][0]["manager"], "flywheel");
  // Another manager changes the field; a forced apply takes it back.
  WriteOptions other{.field_manager = "someone-else"};
  auto conflict = client.Apply(ConfigMap(ns.name(), "cfg", "theirs"), other);
  EXPECT_EQ(conflict.status().code(), Code::kAborted) << conflict.status().ToString();
  other.force = true;
  ASSERT_TRUE(client.Apply(ConfigMap(ns.name(), "cfg", "theirs"), other).ok());
  auto back = client.Apply(ConfigMap(ns.name(), "cfg", "v1"), apply);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)["data"]["key"], "v1");
}

TEST(KubeClientTest, StatusSubresource) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "client-status");
  auto client = Connected(*env);
  json rel = {{"apiVersion", "flywheel.dev/v1alpha1"},
              {"kind", "Release"},
              {"metadata", {{"name", "web"}, {"namespace", ns.name()}}},
              {"spec", {{"source", {{"url", "https://git.example.invalid/acme/deploy.git"}}}}}};
  auto created = client.Create(rel);
  ASSERT_TRUE(created.ok()) << created.status().ToString() << " (CRDs installed?)";
  json with_status = *created;
  with_status["status"] = {{"health", "Healthy"}, {"observedGeneration", 1}};
  auto updated = client.UpdateStatus(with_status);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ((*updated)["status"]["health"], "Healthy");
  // Status writes through the main resource are ignored.
  json spec_write = *updated;
  spec_write["status"]["health"] = "Degraded";
  auto ignored = client.Update(spec_write);
  ASSERT_TRUE(ignored.ok()) << ignored.status().ToString();
  EXPECT_EQ((*ignored)["status"]["health"], "Healthy");
}

TEST(KubeClientTest, ListPagesThroughEverything) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "client-list");
  auto client = Connected(*env);
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(client.Create(ConfigMap(ns.name(), "cm-" + std::to_string(i), "x")).ok());
  }
  auto list = client.List("v1", "ConfigMap", ns.name(), {.label_selector = "", .limit = 7});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  int ours = 0;
  for (const auto& item : (*list)["items"]) {
    if (item["metadata"]["name"].get<std::string>().rfind("cm-", 0) == 0) ++ours;
  }
  EXPECT_EQ(ours, 25);
  EXPECT_FALSE((*list)["metadata"].value("resourceVersion", "").empty());
}

TEST(KubeClientTest, ListCanSkipManagedFieldsWhileParsing) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "client-mf");
  auto client = Connected(*env);
  json cm = ConfigMap(ns.name(), "tricky", "x");
  cm["data"]["managedFields"] = "user data, not metadata";
  ASSERT_TRUE(client.Apply(cm, {.field_manager = "flywheel", .force = true}).ok());
  auto full = client.List("v1", "ConfigMap", ns.name(), {.label_selector = ""});
  auto lean = client.List("v1", "ConfigMap", ns.name(), {.drop_managed_fields = true});
  ASSERT_TRUE(full.ok() && lean.ok());
  for (const auto& item : (*full)["items"]) {
    if (item["metadata"]["name"] == "tricky") {
      EXPECT_TRUE(item["metadata"].contains("managedFields"));
    }
  }
  bool seen = false;
  for (const auto& item : (*lean)["items"]) {
    EXPECT_FALSE(item["metadata"].contains("managedFields"));
    if (item["metadata"]["name"] == "tricky") {
      seen = true;
      EXPECT_EQ(item["data"]["managedFields"], "user data, not metadata");
    }
  }
  EXPECT_TRUE(seen);
}

TEST(KubeClientTest, ImpersonationIsEnforcedByRbac) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "client-imp");
  auto client = Connected(*env);
  auto nobody = client.Impersonating({"system:serviceaccount:" + ns.name() + ":nobody", {}});
  auto denied = nobody.Create(ConfigMap(ns.name(), "x", "1"));
  EXPECT_EQ(denied.status().code(), Code::kPermissionDenied) << denied.status().ToString();
  EXPECT_NE(denied.status().message().find("nobody"), std::string::npos);
}

TEST(InformerTest, ConvergesToServerStateWhileObjectsChange) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "informer");
  auto client = Connected(*env);
  // Some objects exist before the informer starts, the rest change while it runs.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client.Create(ConfigMap(ns.name(), "pre-" + std::to_string(i), "0")).ok());
  }
  Informer informer(client,
                    {.api_version = "v1", .kind = "ConfigMap", .namespace_name = ns.name()});
  std::atomic<int> adds{0}, deletes{0};
  informer.AddHandler(
      {[&](const ObjectPtr&) { ++adds; }, nullptr, [&](const ObjectPtr&) { ++deletes; }});
  std::jthread run([&](std::stop_token stop) { informer.Run(stop); });
  ASSERT_TRUE(informer.WaitForSync(run.get_stop_token()));

  // 1,000 creates, updates and deletes while the informer runs.
  for (int i = 0; i < 1000; ++i) {
    std::string name = "live-" + std::to_string(i % 40);
    auto existing = client.Get("v1", "ConfigMap", ns.name(), name);
    if (!existing.ok()) {
      ASSERT_TRUE(client.Create(ConfigMap(ns.name(), name, std::to_string(i))).ok());
    } else if (i % 3 == 0) {
      ASSERT_TRUE(client.Delete("v1", "ConfigMap", ns.name(), name).ok());
    } else {
      (*existing)["data"]["key"] = std::to_string(i);
      ASSERT_TRUE(client.Update(*existing).ok());
    }
  }
  for (int i = 0; i < 20; i += 2) {
    ASSERT_TRUE(client.Delete("v1", "ConfigMap", ns.name(), "pre-" + std::to_string(i)).ok());
  }
  // A marker object written last: once the informer has it, it has seen everything before it.
  ASSERT_TRUE(client.Create(ConfigMap(ns.name(), "zz-marker", "end")).ok());
  for (int i = 0; i < 600 && !informer.store().Get(ns.name() + "/zz-marker"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(informer.store().Get(ns.name() + "/zz-marker"), nullptr) << "marker never arrived";

  auto server = client.List("v1", "ConfigMap", ns.name());
  ASSERT_TRUE(server.ok());
  auto want = ::flywheel::testing::Versions(*server);
  EXPECT_EQ(::flywheel::testing::Versions(informer.store().List()), want);
  for (const auto& obj : informer.store().List()) {
    EXPECT_FALSE((*obj)["metadata"].contains("managedFields")) << "transform not applied";
  }
  EXPECT_GT(deletes.load(), 0);
  EXPECT_EQ(informer.store().ByNamespace(ns.name()).size(), want.size());
}

}  // namespace
}  // namespace flywheel::kube

namespace flywheel::kube {
namespace {

// A token file whose token is revoked and replaced: the first request after that gets 401, the
// client re-reads the file at once (not a minute later) and the request succeeds.
TEST(KubeClientTest, RotatedTokenFileIsReReadOnUnauthorized) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "client-401");
  auto token_for = [&]() {
    EXPECT_EQ(env->Kubectl({"create", "serviceaccount", "robot", "-n", ns.name()}).exit_code, 0);
    EXPECT_EQ(env->Kubectl({"create", "rolebinding", "robot-view", "--clusterrole=view",
                            "--serviceaccount=" + ns.name() + ":robot", "-n", ns.name()})
                  .exit_code,
              0);
    auto t = env->Kubectl({"create", "token", "robot", "-n", ns.name()});
    EXPECT_EQ(t.exit_code, 0) << t.err;
    return t.out.substr(0, t.out.find('\n'));
  };
  std::string dir =
      std::filesystem::temp_directory_path() / ("flywheel-401-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/token") << token_for();
  env->WriteKubeconfig(dir + "/config", "{tokenFile: token}");
  LoadOptions lo;
  lo.kubeconfig = dir + "/config";
  auto config = LoadKubeconfig(lo);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto client = Connect(*config);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client->List("v1", "ConfigMap", ns.name()).ok());

  // Revoke: a bound token dies with its ServiceAccount. Then rotate the file.
  ASSERT_EQ(env->Kubectl({"delete", "serviceaccount", "robot", "-n", ns.name()}).exit_code, 0);
  ASSERT_EQ(env->Kubectl({"delete", "rolebinding", "robot-view", "-n", ns.name()}).exit_code, 0);
  // The API server caches successful token reviews for a few seconds: wait until the old
  // token is really refused.
  Status refused;
  for (int i = 0; i < 300 && refused.code() != Code::kUnauthenticated; ++i) {
    refused = client->List("v1", "ConfigMap", ns.name()).status();
    if (refused.code() != Code::kUnauthenticated) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_EQ(refused.code(), Code::kUnauthenticated) << refused.ToString();
  std::ofstream(dir + "/token", std::ios::trunc) << token_for();
  auto after = client->List("v1", "ConfigMap", ns.name());
  EXPECT_TRUE(after.ok()) << after.status().ToString();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flywheel::kube
