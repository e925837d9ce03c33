// A Release's health follows real pods: a Deployment synced from Git onto the real node becomes
// Healthy through real readiness probes, and a commit whose image cannot be pulled makes the
// Release Degraded with the kubelet's own reason.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/crds.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/operator.h"
#include "support/real_node.h"

namespace flywheel::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(ReleaseOnRealPodsTest, HealthFollowsRealPodsAndSaysWhyAnImageCannotBePulled) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
  ScopedNamespace ns(*env, "real-release");
  auto client = env->Client();
  const std::string repos = TempDir("flywheel-real-release");
  {
    GitRepo repo(repos, "deploy");
    const std::string good =
        repo.Commit({{"web.yaml", WebDeployment(*node, "web", 1, "/")}}, "good");
    ControllerProcess controller(*env, ns.name());
    ASSERT_TRUE(
        client.Create(ReleaseObject(ns.name(), "web", repo.FileUrl(), {{"healthTimeout", "20s"}}))
            .ok());
    json rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
      return StatusField(r, "lastAppliedRevision") == good && StatusField(r, "health") == "Healthy";
    });
    ASSERT_EQ(StatusField(rel, "health"), "Healthy") << rel.dump(2) << node->Diagnostics();

    const std::string missing = node->registry() + "/testenv/missing:1";
    const std::string bad =
        repo.Commit({{"web.yaml", WebDeployment(*node, "web", 1, "/", missing)}}, "bad image");
    rel = WaitRelease(client, ns.name(), "web", [&](const json& r) {
      return StatusField(r, "lastAppliedRevision") == bad && StatusField(r, "health") == "Degraded";
    });
    ASSERT_EQ(StatusField(rel, "health"), "Degraded") << rel.dump(2) << node->Diagnostics();
    const std::string message = Condition(rel, "Healthy").value("message", "");
    EXPECT_TRUE(message.find("ErrImagePull") != std::string::npos ||
                message.find("ImagePullBackOff") != std::string::npos)
        << message;
    EXPECT_NE(message.find("testenv/missing:1"), std::string::npos) << message;
    EXPECT_EQ(rel["status"]["history"][0].value("result", ""), "Degraded") << rel.dump(2);
  }
  std::filesystem::remove_all(repos);
}

}  // namespace
}  // namespace flywheel::testing
