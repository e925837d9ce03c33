// manifests/rbac.yaml against the real API server: the operator's ServiceAccount may impersonate a
// tenant's ServiceAccount the way the Release apply path does (Impersonate-User only; the API
// server adds the ServiceAccount's groups), and nothing else: no users, no groups.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/testenv.h"

namespace flywheel::testing {
namespace {

TEST(ImpersonationRbacTest, OperatorImpersonatesServiceAccountsOnly) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "impersonate");
  // The operator's ServiceAccount with nothing but the install manifests' RBAC.
  auto r = env->Kubectl({"apply", "--server-side", "-f", "-"},
                        "apiVersion: v1\nkind: Namespace\nmetadata: {name: flywheel-system}\n"
                        "---\napiVersion: v1\nkind: ServiceAccount\n"
                        "metadata: {name: flywheel, namespace: flywheel-system}\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl(
      {"apply", "--server-side", "-n", "flywheel-system", "-f", SourcePath("manifests/rbac.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A tenant ServiceAccount that may create ConfigMaps in its namespace.
  const std::string tenant = "system:serviceaccount:" + ns.name() + ":deployer";
  for (std::vector<std::string> args :
       {std::vector<std::string>{"create", "serviceaccount", "deployer"},
        {"create", "role", "configmaps", "--verb=create,get", "--resource=configmaps"},
        {"create", "rolebinding", "deployer", "--role=configmaps",
         "--serviceaccount=" + ns.name() + ":deployer"}}) {
    args.insert(args.end(), {"-n", ns.name()});
    r = env->Kubectl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto token = env->Kubectl({"create", "token", "flywheel", "-n", "flywheel-system"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::string kubeconfig =
      std::filesystem::temp_directory_path() /
      ("flywheel-impersonate-" + std::to_string(getpid()) + ".kubeconfig");
  env->WriteKubeconfig(kubeconfig, "{token: " + token.out.substr(0, token.out.find('\n')) + "}");
  auto as_operator = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", kubeconfig});
    return env->Kubectl(args);
  };

  // What the apply path sends: the tenant gets its ServiceAccount groups and its own rights.
  r = as_operator({"--as", tenant, "create", "configmap", "by-tenant", "-n", ns.name()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = as_operator({"--as", tenant, "auth", "whoami", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto groups = nlohmann::json::parse(r.out)["status"]["userInfo"]["groups"];
  EXPECT_EQ(groups, nlohmann::json::parse(R"(["system:serviceaccounts", "system:serviceaccounts:)" +
                                          ns.name() + R"(", "system:authenticated"])"))
      << r.out;
  // ... and no more than the tenant's rights.
  r = as_operator({"--as", tenant, "get", "secrets", "-n", ns.name()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("forbidden"), std::string::npos) << r.err;

  // Groups and users cannot be impersonated: not system:masters, not even the tenant's own groups.
  for (std::vector<std::string> who :
       {std::vector<std::string>{"--as", tenant, "--as-group", "system:masters"},
        {"--as", tenant, "--as-group", "system:serviceaccounts"},
        {"--as", "admin"},
        {"--as", "kubernetes-admin", "--as-group", "system:masters"}}) {
    who.insert(who.end(), {"get", "configmaps", "-n", ns.name()});
    r = as_operator(who);
    EXPECT_NE(r.exit_code, 0) << who[1];
    EXPECT_NE(r.err.find("cannot impersonate"), std::string::npos) << r.err;
  }
  std::filesystem::remove(kubeconfig);
}

}  // namespace
}  // namespace flywheel::testing
