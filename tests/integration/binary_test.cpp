// The built `flywheel` binary as a user runs it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/crds.h"
#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

TEST(BinaryTest, VersionAndHelp) {
  auto r = RunProcess({FLYWHEEL_BINARY, "version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("flywheel ", 0), 0u) << r.out;
  r = RunProcess({FLYWHEEL_BINARY, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("version"), std::string::npos);
  r = RunProcess({FLYWHEEL_BINARY, "no-such-command"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command"), std::string::npos);
}

}  // namespace
}  // namespace flywheel::testing

namespace flywheel::testing {
namespace {

TEST(BinaryTest, GetListsFlywheelObjectsLikeKubectl) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ASSERT_NO_FATAL_FAILURE(testing::InstallCrds(*env));
  ScopedNamespace ns(*env, "cli-get");
  ASSERT_EQ(env->Kubectl({"apply", "-n", ns.name(), "-f", SourcePath("examples")}).exit_code, 0);

  auto r = RunProcess({FLYWHEEL_BINARY, "get", "--kubeconfig", env->kubeconfig(), "-n", ns.name()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One table per kind, as `kubectl get flywheel` prints them (kubectl_plugin_test.cpp compares
  // the two).
  EXPECT_EQ(r.out.rfind("NAME ", 0), 0u) << r.out;
  for (const std::string row : {"\npipeline.flywheel.dev/web ", "\npipelinerun.flywheel.dev/",
                                "\nrelease.flywheel.dev/web ", "\nrollbackpolicy.flywheel.dev/"}) {
    EXPECT_NE(r.out.find(row), std::string::npos) << row << " missing in\n" << r.out;
  }

  r = RunProcess({FLYWHEEL_BINARY, "get", "rel", "-o", "json", "--kubeconfig", env->kubeconfig(),
                  "--namespace", ns.name()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto items = nlohmann::json::parse(r.out)["items"];
  ASSERT_FALSE(items.empty());
  for (const auto& item : items) EXPECT_EQ(item["kind"], "Release");

  r = RunProcess({FLYWHEEL_BINARY, "get", "widgets", "--kubeconfig", env->kubeconfig()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown resource \"widgets\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace flywheel::testing
