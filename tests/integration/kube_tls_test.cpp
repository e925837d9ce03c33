// kube::Connect's TLS against the testenv's kube-apiserver: tls-server-name, insecure mode and
// exec plugins that return client certificates.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "flywheel/common/time.h"
#include "flywheel/kube/connect.h"
#include "kube/config_test_util.h"
#include "support/testenv.h"

namespace flywheel::kube {
namespace {

using ::flywheel::kube::testing::TempDir;
using ::flywheel::testing::TestEnv;

RestConfig TestEnvConfig(const TestEnv& env) {
  LoadOptions lo;
  lo.kubeconfig = env.kubeconfig();
  auto config = LoadKubeconfig(lo);
  if (!config.ok()) throw std::runtime_error(config.status().ToString());
  return *config;
}

Status GetVersion(const RestConfig& config) {
  auto client = Connect(config);
  if (!client.ok()) return client.status();
  return client->GetPath("/version").status();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(KubeTlsTest, ServerNameIsWhatTheCertificateIsVerifiedAgainst) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  RestConfig config = TestEnvConfig(*env);
  ASSERT_NE(config.server.find("https://127.0.0.1:"), std::string::npos) << config.server;

  // The serving certificate names 127.0.0.1 and kubernetes.default.svc (hack/testenv/up.sh).
  config.tls_server_name = "kubernetes.default.svc";
  Status ok = GetVersion(config);
  EXPECT_TRUE(ok.ok()) << ok.ToString();

  // Connecting to 127.0.0.1, which the certificate is valid for, still fails for another name.
  config.tls_server_name = "wrong.example";
  Status wrong = GetVersion(config);
  EXPECT_EQ(wrong.code(), Code::kUnavailable) << wrong.ToString();
  EXPECT_NE(wrong.message().find("certificate verify failed"), std::string::npos)
      << wrong.ToString();
  EXPECT_NE(wrong.message().find("wrong.example"), std::string::npos) << wrong.ToString();

  // insecure-skip-tls-verify checks nothing, whatever the name and without the CA.
  config.ca_pem.clear();
  config.insecure_skip_tls_verify = true;
  Status insecure = GetVersion(config);
  EXPECT_TRUE(insecure.ok()) << insecure.ToString();
}

TEST(KubeTlsTest, WithoutServerNameTheUrlHostIsVerified) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  RestConfig config = TestEnvConfig(*env);
  Status ip = GetVersion(config);
  EXPECT_TRUE(ip.ok()) << ip.ToString();

  // localhost is in the certificate; an untrusted CA is not accepted.
  std::string port = config.server.substr(config.server.rfind(':'));
  config.server = "https://localhost" + port;
  Status localhost = GetVersion(config);
  EXPECT_TRUE(localhost.ok()) << localhost.ToString();
  config.ca_pem = ReadFile(env->dir() + "/pki/apiserver.crt");  // not the issuing CA
  Status untrusted = GetVersion(config);
  EXPECT_EQ(untrusted.code(), Code::kUnavailable) << untrusted.ToString();
  EXPECT_NE(untrusted.message().find("certificate verify failed"), std::string::npos)
      << untrusted.ToString();
}

// An exec plugin that prints the testenv's kwok client certificate on its first run (valid for
// an hour) and the admin certificate on every later run.
class ExecCertificatePlugin {
 public:
  explicit ExecCertificatePlugin(const TestEnv& env) {
    auto now = std::chrono::system_clock::now();
    WriteCredential("first.json", env, "kwok", FormatRfc3339(now + std::chrono::hours(1)));
    WriteCredential("later.json", env, "admin", "");
    dir_.Write("plugin.sh",
               "#!/bin/sh\ncd \"$(dirname \"$0\")\"\n"
               "if [ -e ran ]; then cat later.json; else touch ran; cat first.json; fi\n",
               0755);
    env.WriteKubeconfig(dir_.Path("config"),
                        "{exec: {apiVersion: client.authentication.k8s.io/v1, "
                        "command: ./plugin.sh, interactiveMode: Never}}");
  }

  std::string kubeconfig() const { return dir_.Path("config"); }

 private:
  void WriteCredential(const std::string& file, const TestEnv& env, const std::string& user,
                       const std::string& expiration) {
    json status = {{"clientCertificateData", ReadFile(env.dir() + "/pki/" + user + ".crt")},
                   {"clientKeyData", ReadFile(env.dir() + "/pki/" + user + ".key")}};
    if (!expiration.empty()) status["expirationTimestamp"] = expiration;
    json credential = {{"apiVersion", "client.authentication.k8s.io/v1"},
                       {"kind", "ExecCredential"},
                       {"status", status}};
    dir_.Write(file, credential.dump());
  }

  TempDir dir_;
};

// Who the API server says we are (SelfSubjectReview).
std::string Username(const Client& client) {
  auto review = client.Create(json{{"apiVersion", "authentication.k8s.io/v1"},
                                   {"kind", "SelfSubjectReview"},
                                   {"metadata", json::object()}});
  if (!review.ok()) return review.status().ToString();
  return (*review)["status"]["userInfo"].value("username", "");
}

TEST(KubeTlsTest, ExecPluginClientCertificateIsUsedAndRotated) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ExecCertificatePlugin plugin(*env);
  LoadOptions lo;
  lo.kubeconfig = plugin.kubeconfig();
  auto config = LoadKubeconfig(lo);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->exec.has_value());
  FakeClock clock;
  auto client = Connect(*config, &clock);
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  auto namespaces = client->List("v1", "Namespace", "");
  ASSERT_TRUE(namespaces.ok()) << namespaces.status().ToString();
  EXPECT_FALSE((*namespaces)["items"].empty());
  EXPECT_EQ(Username(*client), "kwok");

  // Once the credential expires the plugin runs again and new connections use its certificate.
  clock.Advance(std::chrono::hours(2));
  EXPECT_EQ(Username(*client), "flywheel-testenv-admin");
  EXPECT_EQ(Username(*client), "flywheel-testenv-admin");
}

}  // namespace
}  // namespace flywheel::kube
