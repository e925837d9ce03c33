// An Informer keeps exactly the server's state across an etcd compaction and a kube-apiserver
// restart: its watch breaks, resuming from its old resourceVersion is refused (410 Expired, the
// version was compacted), it relists, and objects deleted meanwhile are delivered as deletes.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "flywheel/http/client.h"
#include "flywheel/kube/connect.h"
#include "flywheel/kube/informer.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::kube {
namespace {

using ::flywheel::testing::RunProcess;
using ::flywheel::testing::ScopedNamespace;
using ::flywheel::testing::SourcePath;
using ::flywheel::testing::TestEnv;
using namespace std::chrono_literals;

std::string EtcdUrl(const TestEnv& env) {
  std::ifstream in(env.dir() + "/env");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("FLYWHEEL_TESTENV_ETCD=", 0) == 0) return line.substr(22);
  }
  return "";
}

// Compacts etcd's history up to its current revision (through etcd's JSON gateway).
void CompactEtcd(const std::string& url) {
  auto etcd = http::NewClient({.base_url = url});
  ASSERT_TRUE(etcd.ok());
  auto range =
      (*etcd)->Send({.method = "POST", .target = "/v3/kv/range", .body = R"({"key":"AA=="})"});
  ASSERT_TRUE(range.ok() && range->status == 200) << range.status().ToString();
  std::string revision = json::parse(range->body)["header"]["revision"];
  auto compact = (*etcd)->Send({.method = "POST",
                                .target = "/v3/kv/compaction",
                                .body = R"({"revision":")" + revision + R"(","physical":true})"});
  ASSERT_TRUE(compact.ok() && compact->status == 200)
      << compact.status().ToString() << (compact.ok() ? compact->body : "");
}

json ConfigMap(const std::string& ns, const std::string& name) {
  return ::flywheel::testing::ConfigMapObject(ns, name, "v", name);
}

TEST(InformerRestartTest, RelistsAfterCompactionAndApiServerRestartWithoutGhosts) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  std::string etcd = EtcdUrl(*env);
  ASSERT_FALSE(etcd.empty()) << "no FLYWHEEL_TESTENV_ETCD in " << env->dir() << "/env";
  ScopedNamespace ns(*env, "restart");
  ScopedNamespace other(*env, "restart-other");
  Client client = env->Client();
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(client.Create(ConfigMap(ns.name(), "cm-" + std::to_string(i))).ok());
  }
  Informer informer(client,
                    {.api_version = "v1", .kind = "ConfigMap", .namespace_name = ns.name()});
  std::atomic<int> deletes{0};
  informer.AddHandler({nullptr, nullptr, [&](const ObjectPtr&) { ++deletes; }});
  std::jthread run([&](std::stop_token stop) { informer.Run(stop); });
  ASSERT_TRUE(informer.WaitForSync(run.get_stop_token()));
  ASSERT_EQ(informer.relists(), 1);

  // Move the cluster's revision past the informer's, forget history, restart the API server.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.Create(ConfigMap(other.name(), "x-" + std::to_string(i))).ok());
  }
  CompactEtcd(etcd);
  auto restart = RunProcess({SourcePath("hack/testenv/restart.sh"), "kube-apiserver"});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;

  // Changes right after the restart, likely before the informer is back: deletes it must not
  // miss, updates and creates.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client.Delete("v1", "ConfigMap", ns.name(), "cm-" + std::to_string(i)).ok());
  }
  for (int i = 10; i < 15; ++i) {
    ASSERT_TRUE(client
                    .Patch("v1", "ConfigMap", ns.name(), "cm-" + std::to_string(i),
                           PatchType::kMerge, R"({"data":{"v":"changed"}})")
                    .ok());
  }
  ASSERT_TRUE(client.Create(ConfigMap(ns.name(), "zz-marker")).ok());

  bool converged = false;
  for (int i = 0; i < 600 && !converged; ++i) {
    converged = informer.store().Get(ns.name() + "/zz-marker") != nullptr &&
                informer.store().Get(ns.name() + "/cm-0") == nullptr;
    if (!converged) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(converged) << "informer did not catch up within 60 s";
  auto server = client.List("v1", "ConfigMap", ns.name());
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(::flywheel::testing::Versions(informer.store().List()),
            ::flywheel::testing::Versions(*server));
  EXPECT_GE(informer.relists(), 2) << "the compacted resourceVersion must force a relist";
  EXPECT_EQ(deletes.load(), 10);
  EXPECT_EQ((*informer.store().Get(ns.name() + "/cm-12"))["data"]["v"], "changed");
}

}  // namespace
}  // namespace flywheel::kube
