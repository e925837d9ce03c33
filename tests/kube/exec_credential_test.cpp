#include "flywheel/kube/exec_credential.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "config_test_util.h"
#include "flywheel/common/clock.h"
#include "flywheel/common/time.h"

namespace flywheel::kube {
namespace {

using nlohmann::json;
using std::chrono::minutes;
using testing::B64;
using testing::kCaPem;
using testing::kCertPem;
using testing::kKeyPem;
using testing::TempDir;

constexpr const char* kV1 = "client.authentication.k8s.io/v1";

// Shell-quotes `s` for the scripts the tests write.
std::string Sh(const std::string& s) { return "'" + s + "'"; }

// Writes plugins into a temp dir: each counts its runs in `runs` and prints `out.json`.
class ExecCredentialTest : public ::testing::Test {
 protected:
  // A plugin that records its run, arguments and environment, then prints out.json.
  std::string WritePlugin(const std::string& extra = "") {
    return dir_.Write("plugin.sh",
                      "#!/bin/sh\n"
                      "echo run >> " +
                          Sh(dir_.Path("runs")) + "\n" +
                          "printf '%s' \"$KUBERNETES_EXEC_INFO\" > " + Sh(dir_.Path("info.json")) +
                          "\n" + "printf '%s\\n' \"$@\" > " + Sh(dir_.Path("args")) + "\n" +
                          "printf '%s' \"$PLUGIN_MODE\" > " + Sh(dir_.Path("mode")) + "\n" + extra +
                          "cat " + Sh(dir_.Path("out.json")) + "\n",
                      0755);
  }

  void SetOutput(const json& out) { dir_.Write("out.json", out.dump()); }

  // An ExecCredential v1 with `status`.
  static json Credential(json status) {
    return {{"apiVersion", kV1}, {"kind", "ExecCredential"}, {"status", std::move(status)}};
  }

  int Runs() const {
    std::string runs = dir_.Read("runs");
    return static_cast<int>(std::count(runs.begin(), runs.end(), '\n'));
  }

  RestConfig Config(const std::string& command) const {
    RestConfig c;
    c.server = "https://api.example.com:6443";
    c.ca_pem = kCaPem;
    c.tls_server_name = "kubernetes";
    c.exec = ExecConfig{.api_version = kV1, .command = command, .interactive_mode = "Never"};
    return c;
  }

  TempDir dir_;
  FakeClock clock_;
};

TEST_F(ExecCredentialTest, ReturnsTokenAndPassesArgsEnvAndExecInfo) {
  RestConfig config = Config(WritePlugin());
  config.exec->args = {"--flag", "two words"};
  config.exec->env = {{"PLUGIN_MODE", "test"}};
  config.exec->provide_cluster_info = true;
  config.exec->cluster_config_json = R"({"audience":"flywheel"})";
  SetOutput(Credential({{"token", "sekret-token"}}));
  ExecCredentialProvider provider(config, clock_);
  Result<std::string> token = provider.Token();
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(*token, "sekret-token");
  EXPECT_EQ(dir_.Read("args"), "--flag\ntwo words\n");
  EXPECT_EQ(dir_.Read("mode"), "test");
  EXPECT_EQ(json::parse(dir_.Read("info.json")),
            json::parse(R"({"apiVersion": "client.authentication.k8s.io/v1",
                            "kind": "ExecCredential",
                            "spec": {"interactive": false,
                                     "cluster": {"server": "https://api.example.com:6443",
                                                 "tls-server-name": "kubernetes",
                                                 "certificate-authority-data": ")" +
                        B64(kCaPem) + R"(",
                                                 "config": {"audience": "flywheel"}}}})"));
}

TEST_F(ExecCredentialTest, ClusterInfoOnlyWhenAsked) {
  RestConfig config = Config(WritePlugin());
  config.exec->api_version = "client.authentication.k8s.io/v1beta1";
  SetOutput({{"apiVersion", "client.authentication.k8s.io/v1beta1"},
             {"kind", "ExecCredential"},
             {"status", {{"token", "t"}}}});
  ExecCredentialProvider provider(config, clock_);
  ASSERT_TRUE(provider.Token().ok());
  EXPECT_EQ(json::parse(dir_.Read("info.json")),
            json::parse(R"({"apiVersion": "client.authentication.k8s.io/v1beta1",
                            "kind": "ExecCredential", "spec": {"interactive": false}})"));
}

TEST_F(ExecCredentialTest, ReturnsClientCertificate) {
  SetOutput(Credential({{"clientCertificateData", kCertPem}, {"clientKeyData", kKeyPem}}));
  ExecCredentialProvider provider(Config(WritePlugin()), clock_);
  Result<ExecCredential> cred = provider.Get();
  ASSERT_TRUE(cred.ok()) << cred.status().ToString();
  EXPECT_EQ(cred->client_cert_pem, kCertPem);
  EXPECT_EQ(cred->client_key_pem, kKeyPem);
  EXPECT_EQ(cred->token, "");
  EXPECT_FALSE(cred->expiration);
  EXPECT_EQ(*provider.Token(), "");
}

TEST_F(ExecCredentialTest, CachesUntilExpiry) {
  Time expiry = std::chrono::system_clock::now() + std::chrono::hours(1);
  SetOutput(Credential({{"token", "first"}, {"expirationTimestamp", FormatRfc3339(expiry)}}));
  ExecCredentialProvider provider(Config(WritePlugin()), clock_);
  Result<ExecCredential> cred = provider.Get();
  ASSERT_TRUE(cred.ok()) << cred.status().ToString();
  EXPECT_EQ(cred->expiration, std::chrono::floor<std::chrono::seconds>(expiry));
  EXPECT_EQ(*provider.Token(), "first");
  EXPECT_EQ(Runs(), 1);
  SetOutput(Credential({{"token", "second"}}));
  clock_.Advance(minutes(58));
  EXPECT_EQ(*provider.Token(), "first");
  EXPECT_EQ(Runs(), 1);
  clock_.Advance(minutes(2));
  EXPECT_EQ(*provider.Token(), "second");
  EXPECT_EQ(Runs(), 2);
  // No expiry: cached until the server rejects it.
  clock_.Advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(*provider.Token(), "second");
  EXPECT_EQ(Runs(), 2);
  SetOutput(Credential({{"token", "third"}}));
  provider.Invalidate();
  EXPECT_EQ(*provider.Token(), "third");
  EXPECT_EQ(Runs(), 3);
}

TEST_F(ExecCredentialTest, FailingCommandReportsExitCodeAndStderrButNotStdout) {
  std::string plugin = dir_.Write("fail.sh",
                                  "#!/bin/sh\necho sekret-stdout-token\n"
                                  "echo 'line 1' >&2\necho 'error: credentials expired' >&2\n"
                                  "exit 3\n",
                                  0755);
  ExecCredentialProvider provider(Config(plugin), clock_);
  Result<std::string> token = provider.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(token.status().message(), "exec plugin \"" + plugin +
                                          "\" failed with exit code 3: line 1\n"
                                          "error: credentials expired");
}

TEST_F(ExecCredentialTest, KilledBySignal) {
  std::string plugin = dir_.Write("kill.sh", "#!/bin/sh\nkill -9 $$\n", 0755);
  ExecCredentialProvider provider(Config(plugin), clock_);
  Result<std::string> token = provider.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().message(), "exec plugin \"" + plugin + "\" was killed by signal 9");
}

TEST_F(ExecCredentialTest, CommandNotFoundShowsInstallHint) {
  for (const std::string& command :
       {std::string("flywheel-test-no-such-plugin"), dir_.Path("no/such/plugin")}) {
    RestConfig config = Config(command);
    config.exec->install_hint = "Install it with: apt install flywheel-test-plugin\n";
    ExecCredentialProvider provider(config, clock_);
    Result<std::string> token = provider.Token();
    ASSERT_FALSE(token.ok());
    EXPECT_EQ(token.status().code(), Code::kFailedPrecondition);
    EXPECT_EQ(token.status().message(),
              "exec plugin \"" + command +
                  "\" not found: the client-go credential plugin is not installed. Install it "
                  "with: apt install flywheel-test-plugin");
  }
}

TEST_F(ExecCredentialTest, NotExecutable) {
  std::string plugin = dir_.Write("plain.sh", "#!/bin/sh\n", 0644);
  ExecCredentialProvider provider(Config(plugin), clock_);
  Result<std::string> token = provider.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(token.status().message(),
            "exec plugin \"" + plugin + "\" cannot be run: permission denied");
}

TEST_F(ExecCredentialTest, BadOutput) {
  struct Case {
    std::string output;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"token=sekret-value", "printed something that is not an ExecCredential JSON object"},
      {R"({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential"})",
       "is configured to use API version client.authentication.k8s.io/v1, plugin returned version "
       "\"client.authentication.k8s.io/v1beta1\""},
      {R"({"apiVersion": "client.authentication.k8s.io/v1", "kind": "Secret"})",
       "returned kind \"Secret\", want ExecCredential"},
      {Credential(nullptr).dump(), "didn't return a status field"},
      {Credential(json::object()).dump(), "didn't return a token or cert/key pair"},
      {Credential({{"clientCertificateData", kCertPem}}).dump(),
       "returned only certificate or key, not both"},
      {Credential({{"clientCertificateData", "sekret-value"}, {"clientKeyData", "x"}}).dump(),
       "returned clientCertificateData or clientKeyData that is not PEM"},
      {Credential({{"token", 42}}).dump(), "is not a string"},
      {Credential({{"token", "sekret-value"}, {"expirationTimestamp", "tomorrow"}}).dump(),
       "returned a bad status.expirationTimestamp: "},
  };
  std::string plugin = WritePlugin();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.output);
    dir_.Write("out.json", c.output);
    ExecCredentialProvider provider(Config(plugin), clock_);
    Result<ExecCredential> cred = provider.Get();
    ASSERT_FALSE(cred.ok());
    EXPECT_EQ(cred.status().code(), Code::kUnauthenticated);
    const std::string& message = cred.status().message();
    EXPECT_TRUE(message.starts_with("exec plugin \"" + plugin + "\" ")) << message;
    EXPECT_NE(message.find(c.want), std::string::npos) << message;
    EXPECT_EQ(message.find("sekret"), std::string::npos) << message;
  }
}

TEST_F(ExecCredentialTest, SlowPluginIsKilledAfterTheTimeout) {
  std::string plugin = dir_.Write("slow.sh", "#!/bin/sh\nsleep 30 &\nsleep 30\n", 0755);
  ExecCredentialProvider provider(Config(plugin), clock_, std::chrono::milliseconds(200));
  auto start = std::chrono::steady_clock::now();
  Result<std::string> token = provider.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(token.status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(token.status().message(), "exec plugin \"" + plugin + "\" did not finish within 200ms");
}

// End to end: a kubeconfig whose exec command is relative to the kubeconfig's directory.
TEST_F(ExecCredentialTest, FromKubeconfig) {
  dir_.Write("conf/bin/plugin", "#!/bin/sh\ncat " + Sh(dir_.Path("out.json")) + "\n", 0755);
  SetOutput(Credential({{"token", "from-kubeconfig"}}));
  std::string path = dir_.Write("conf/config",
                                "current-context: x\n"
                                "clusters:\n- {name: c, cluster: {server: 'https://c:6443'}}\n"
                                "users:\n- name: u\n  user:\n    exec:\n"
                                "      apiVersion: client.authentication.k8s.io/v1\n"
                                "      command: bin/plugin\n"
                                "      interactiveMode: IfAvailable\n"
                                "contexts:\n- {name: x, context: {cluster: c, user: u}}\n");
  Result<RestConfig> config = LoadKubeconfig({.kubeconfig = path, .env = testing::FakeEnv({})});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  std::shared_ptr<TokenSource> tokens = NewTokenSource(*config, clock_);
  ASSERT_NE(tokens, nullptr);
  Result<std::string> token = tokens->Token();
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(*token, "from-kubeconfig");
  EXPECT_EQ(config->Describe().find("from-kubeconfig"), std::string::npos);
}

}  // namespace
}  // namespace flywheel::kube
