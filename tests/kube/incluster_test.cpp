#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "config_test_util.h"
#include "flywheel/common/clock.h"
#include "flywheel/kube/config.h"
#include "flywheel/kube/token_source.h"

namespace flywheel::kube {
namespace {

using std::chrono::seconds;
using testing::FakeEnv;
using testing::kCaPem;
using testing::TempDir;

// A fake service account directory and environment.
class InClusterTest : public ::testing::Test {
 protected:
  InClusterTest() {
    dir_.Write("sa/token", "token-1\n");
    dir_.Write("sa/ca.crt", kCaPem);
    dir_.Write("sa/namespace", "flywheel-system\n");
  }

  Result<RestConfig> Load(std::map<std::string, std::string> env) {
    return LoadInCluster({.service_account_dir = dir_.Path("sa"), .env = FakeEnv(std::move(env))});
  }

  TempDir dir_;
};

TEST_F(InClusterTest, IPv4) {
  Result<RestConfig> c =
      Load({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->bearer_token, "token-1");
  EXPECT_EQ(c->token_file, dir_.Path("sa/token"));
  EXPECT_EQ(c->ca_pem, kCaPem);
  EXPECT_EQ(c->namespace_name, "flywheel-system");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->source, "in-cluster service account " + dir_.Path("sa"));
}

TEST_F(InClusterTest, IPv6HostGoesInBrackets) {
  Result<RestConfig> c =
      Load({{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://[fd00:10:96::1]:6443");
}

TEST_F(InClusterTest, MissingEnvironmentIsNotInCluster) {
  for (const auto& env : std::vector<std::map<std::string, std::string>>{
           {}, {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}}, {{"KUBERNETES_SERVICE_PORT", "443"}}}) {
    Result<RestConfig> c = Load(env);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), Code::kFailedPrecondition);
    EXPECT_EQ(c.status().message(),
              "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must "
              "be set");
  }
}

TEST_F(InClusterTest, BadPort) {
  Result<RestConfig> c =
      Load({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "https"}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "KUBERNETES_SERVICE_PORT \"https\" is not a port number");
}

TEST_F(InClusterTest, MissingTokenOrCaNamesTheFile) {
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  std::filesystem::remove(dir_.Path("sa/ca.crt"));
  Result<RestConfig> no_ca = Load(env);
  ASSERT_FALSE(no_ca.ok());
  EXPECT_EQ(no_ca.status().message(),
            "in-cluster CA: cannot read " + dir_.Path("sa/ca.crt") + ": No such file or directory");
  std::filesystem::remove(dir_.Path("sa/token"));
  Result<RestConfig> no_token = Load(env);
  ASSERT_FALSE(no_token.ok());
  EXPECT_EQ(no_token.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(no_token.status().message(), "in-cluster token: cannot read " + dir_.Path("sa/token") +
                                             ": No such file or directory");
}

TEST_F(InClusterTest, NamespaceFromPodNamespaceThenFileThenDefault) {
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"},
                                            {"POD_NAMESPACE", "from-env"}};
  EXPECT_EQ(Load(env)->namespace_name, "from-env");
  env.erase("POD_NAMESPACE");
  EXPECT_EQ(Load(env)->namespace_name, "flywheel-system");
  std::filesystem::remove(dir_.Path("sa/namespace"));
  EXPECT_EQ(Load(env)->namespace_name, "default");
}

// The token source re-reads the token file only once a minute has passed on its clock.
TEST_F(InClusterTest, TokenRotatesAfterAMinute) {
  Result<RestConfig> c =
      Load({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  FakeClock clock;
  std::shared_ptr<TokenSource> tokens = NewTokenSource(*c, clock);
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(*tokens->Token(), "token-1");
  dir_.Write("sa/token", "token-2\n");
  EXPECT_EQ(*tokens->Token(), "token-1");
  clock.Advance(seconds(59));
  EXPECT_EQ(*tokens->Token(), "token-1");
  clock.Advance(seconds(1));
  EXPECT_EQ(*tokens->Token(), "token-2");
  dir_.Write("sa/token", "token-3");
  clock.Advance(seconds(30));
  EXPECT_EQ(*tokens->Token(), "token-2");
  clock.Advance(seconds(30));
  EXPECT_EQ(*tokens->Token(), "token-3");
}

// A failed re-read keeps the last good token; the file is read again on the next call.
TEST_F(InClusterTest, TokenRotationKeepsLastTokenWhenTheFileIsGone) {
  FakeClock clock;
  FileTokenSource tokens(dir_.Path("sa/token"), "", clock);
  EXPECT_EQ(*tokens.Token(), "token-1");
  std::filesystem::remove(dir_.Path("sa/token"));
  clock.Advance(seconds(61));
  EXPECT_EQ(*tokens.Token(), "token-1");
  dir_.Write("sa/token", "  \n");  // empty: also not a token
  EXPECT_EQ(*tokens.Token(), "token-1");
  dir_.Write("sa/token", "token-2");
  EXPECT_EQ(*tokens.Token(), "token-2");  // not a minute later: the failed reads did not count
}

TEST_F(InClusterTest, TokenFileMissingFromTheStartIsAnError) {
  FakeClock clock;
  FileTokenSource tokens(dir_.Path("sa/nope"), "", clock);
  Result<std::string> token = tokens.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(token.status().message(),
            "cannot read " + dir_.Path("sa/nope") + ": No such file or directory");
}

TEST_F(InClusterTest, InvalidateRereadsTheTokenAtOnce) {
  FakeClock clock;
  FileTokenSource tokens(dir_.Path("sa/token"), "token-1", clock);
  dir_.Write("sa/token", "token-2");
  EXPECT_EQ(*tokens.Token(), "token-1");
  tokens.Invalidate();  // e.g. the server answered 401
  EXPECT_EQ(*tokens.Token(), "token-2");
}

}  // namespace
}  // namespace flywheel::kube
