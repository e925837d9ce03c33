#include "flywheel/kube/config.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "config_test_util.h"
#include "flywheel/kube/token_source.h"

namespace flywheel::kube {
namespace {

using testing::B64;
using testing::FakeEnv;
using testing::kCaPem;
using testing::kCertPem;
using testing::kKeyPem;
using testing::TempDir;

// `text` with every line indented by `spaces`.
std::string Indent(const std::string& text, int spaces) {
  std::string out, pad(static_cast<size_t>(spaces), ' ');
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += pad + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

// A kubeconfig with one cluster "c", one user "u" and one context "ctx" (the current one);
// each argument is the YAML body of that entry.
std::string OneContext(const std::string& cluster, const std::string& user,
                       const std::string& context = "cluster: c\nuser: u") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: ctx\nclusters:\n- name: c\n  cluster:\n" +
         Indent(cluster, 4) + "users:\n- name: u\n  user:\n" + Indent(user, 4) +
         "contexts:\n- name: ctx\n  context:\n" + Indent(context, 4);
}

const std::string kServer = "server: https://api.example.com:6443\n";

// A temp dir with a kubeconfig at conf/config and the files it may name next to it (so relative
// paths resolve against conf/, not the working directory).
class KubeconfigTest : public ::testing::Test {
 protected:
  KubeconfigTest() {
    dir_.Write("conf/ca.crt", kCaPem);
    dir_.Write("conf/client.crt", kCertPem);
    dir_.Write("conf/client.key", kKeyPem);
    dir_.Write("conf/token", "file-token-abc\n");
    dir_.Write("conf/empty-token", "  \n");
  }

  // Writes `yaml` as conf/config and loads it with --kubeconfig.
  Result<RestConfig> Load(const std::string& yaml, LoadOptions options = {}) {
    path_ = dir_.Write("conf/config", yaml);
    options.kubeconfig = path_;
    if (!options.env) options.env = FakeEnv({});
    return LoadKubeconfig(options);
  }

  TempDir dir_;
  std::string path_;
};

// Valid files: each case loads one kubeconfig and checks the fields it sets.
struct ValidCase {
  std::string name;
  std::string yaml;
  std::function<void(const RestConfig&, const TempDir&)> check;
  LoadOptions options = {};
};

TEST_F(KubeconfigTest, ValidFiles) {
  const std::vector<ValidCase> cases = {
      {"token and CA data",
       OneContext(kServer + "certificate-authority-data: " + B64(kCaPem), "token: sekret-token",
                  "cluster: c\nuser: u\nnamespace: team-a"),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_EQ(c.server, "https://api.example.com:6443");
         EXPECT_EQ(c.ca_pem, kCaPem);
         EXPECT_EQ(c.bearer_token, "sekret-token");
         EXPECT_TRUE(c.token_file.empty());
         EXPECT_EQ(c.namespace_name, "team-a");
         EXPECT_FALSE(c.exec);
         EXPECT_FALSE(c.insecure_skip_tls_verify);
         EXPECT_EQ(c.qps, 0);
         EXPECT_EQ(c.burst, 0);
         EXPECT_TRUE(c.user_agent.starts_with("flywheel/")) << c.user_agent;
       }},
      {"relative files resolve against the kubeconfig's directory",
       OneContext(kServer + "certificate-authority: ca.crt",
                  "client-certificate: client.crt\nclient-key: ./client.key"),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_EQ(c.ca_pem, kCaPem);
         EXPECT_EQ(c.client_cert_pem, kCertPem);
         EXPECT_EQ(c.client_key_pem, kKeyPem);
         EXPECT_TRUE(c.bearer_token.empty());
       }},
      {"absolute file paths",
       OneContext(kServer + "certificate-authority: " + dir_.Path("conf/ca.crt"),
                  "client-certificate: " + dir_.Path("conf/client.crt") + "\nclient-key: " +
                      dir_.Path("conf/client.key") + "\ntokenFile: " + dir_.Path("conf/token")),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_EQ(c.ca_pem, kCaPem);
         EXPECT_EQ(c.client_cert_pem, kCertPem);
         EXPECT_EQ(c.bearer_token, "file-token-abc");
       }},
      {"client certificate data",
       OneContext(kServer, "client-certificate-data: " + B64(kCertPem) +
                               "\nclient-key-data: " + B64(kKeyPem)),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_EQ(c.client_cert_pem, kCertPem);
         EXPECT_EQ(c.client_key_pem, kKeyPem);
       }},
      {"base64 with line breaks",
       OneContext(kServer + "certificate-authority-data: |\n  " +
                      B64(kCaPem).insert(20, "\n  ").insert(10, "\n  "),
                  ""),
       [](const RestConfig& c, const TempDir&) { EXPECT_EQ(c.ca_pem, kCaPem); }},
      {"tokenFile is read, trimmed and kept for rotation", OneContext(kServer, "tokenFile: token"),
       [](const RestConfig& c, const TempDir& d) {
         EXPECT_EQ(c.bearer_token, "file-token-abc");
         EXPECT_EQ(c.token_file, d.Path("conf/token"));
       }},
      {"token wins over tokenFile at load; the file is kept for rotation",
       OneContext(kServer, "token: inline\ntokenFile: token"),
       [](const RestConfig& c, const TempDir& d) {
         EXPECT_EQ(c.bearer_token, "inline");
         EXPECT_EQ(c.token_file, d.Path("conf/token"));
       }},
      {"basic auth", OneContext(kServer, "username: admin\npassword: hunter2"),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_EQ(c.username, "admin");
         EXPECT_EQ(c.password, "hunter2");
       }},
      {"insecure and tls-server-name",
       OneContext(kServer + "insecure-skip-tls-verify: true\ntls-server-name: kubernetes.default",
                  ""),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_TRUE(c.insecure_skip_tls_verify);
         EXPECT_EQ(c.tls_server_name, "kubernetes.default");
         EXPECT_TRUE(c.ca_pem.empty());
       }},
      {"YAML 1.1 booleans", OneContext(kServer + "insecure-skip-tls-verify: yes", ""),
       [](const RestConfig& c, const TempDir&) { EXPECT_TRUE(c.insecure_skip_tls_verify); }},
      {"anonymous: a context without a user", OneContext(kServer, "", "cluster: c"),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_TRUE(c.bearer_token.empty());
         EXPECT_TRUE(c.client_cert_pem.empty());
         EXPECT_EQ(c.namespace_name, "default");
       }},
      {"exec v1 with every field",
       OneContext(kServer + "certificate-authority-data: " + B64(kCaPem) +
                      "\nextensions:\n- name: client.authentication.k8s.io/exec\n  extension:\n"
                      "    audience: flywheel\n    retries: 3\n    verbose: false\n"
                      "    quoted: \"007\"",
                  "exec:\n"
                  "  apiVersion: client.authentication.k8s.io/v1\n"
                  "  command: ./bin/get-token\n"
                  "  args: [--region, eu-west-1]\n"
                  "  env:\n  - name: AWS_PROFILE\n    value: prod\n"
                  "  installHint: install get-token from example.com\n"
                  "  provideClusterInfo: true\n"
                  "  interactiveMode: Never"),
       [](const RestConfig& c, const TempDir& d) {
         ASSERT_TRUE(c.exec);
         EXPECT_EQ(c.exec->api_version, "client.authentication.k8s.io/v1");
         EXPECT_EQ(c.exec->command, d.Path("conf/bin/get-token"));
         EXPECT_EQ(c.exec->args, (std::vector<std::string>{"--region", "eu-west-1"}));
         ASSERT_EQ(c.exec->env.size(), 1u);
         EXPECT_EQ(c.exec->env[0], (std::pair<std::string, std::string>{"AWS_PROFILE", "prod"}));
         EXPECT_EQ(c.exec->install_hint, "install get-token from example.com");
         EXPECT_TRUE(c.exec->provide_cluster_info);
         EXPECT_EQ(c.exec->interactive_mode, "Never");
         EXPECT_EQ(c.exec->cluster_config_json,
                   R"({"audience":"flywheel","quoted":"007","retries":3,"verbose":false})");
       }},
      {"exec v1beta1 defaults interactiveMode; a bare command stays a PATH lookup",
       OneContext(kServer,
                  "exec:\n  apiVersion: client.authentication.k8s.io/v1beta1\n"
                  "  command: aws-iam-authenticator"),
       [](const RestConfig& c, const TempDir&) {
         ASSERT_TRUE(c.exec);
         EXPECT_EQ(c.exec->command, "aws-iam-authenticator");
         EXPECT_EQ(c.exec->interactive_mode, "IfAvailable");
         EXPECT_FALSE(c.exec->provide_cluster_info);
         EXPECT_EQ(c.exec->cluster_config_json, "");
       }},
      {"a token takes precedence over exec, as in client-go",
       OneContext(kServer,
                  "token: static\nexec:\n  apiVersion: client.authentication.k8s.io/v1\n"
                  "  command: plugin\n  interactiveMode: Never"),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_EQ(c.bearer_token, "static");
         EXPECT_FALSE(c.exec);
       }},
      {"impersonation",
       OneContext(kServer,
                  "token: t\nas: alice\nas-uid: \"1234\"\nas-groups: [dev, ops]\n"
                  "as-user-extra:\n  scopes: [view, edit]"),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_EQ(c.impersonate_user, "alice");
         EXPECT_EQ(c.impersonate_uid, "1234");
         EXPECT_EQ(c.impersonate_groups, (std::vector<std::string>{"dev", "ops"}));
         EXPECT_EQ(c.impersonate_extra.at("scopes"), (std::vector<std::string>{"view", "edit"}));
       }},
      {"IPv6 server in brackets, trailing slash and query dropped",
       OneContext("server: https://[fd00::1]:6443/prefix/?x=1", ""),
       [](const RestConfig& c, const TempDir&) {
         EXPECT_EQ(c.server, "https://[fd00::1]:6443/prefix");
       }},
      {"a server without a scheme is https when TLS settings are present",
       OneContext("server: 10.0.0.1:6443\ncertificate-authority: ca.crt", ""),
       [](const RestConfig& c, const TempDir&) { EXPECT_EQ(c.server, "https://10.0.0.1:6443"); }},
      {"a server without a scheme and without TLS settings is http (client-go)",
       OneContext("server: localhost:8080", ""),
       [](const RestConfig& c, const TempDir&) { EXPECT_EQ(c.server, "http://localhost:8080"); }},
      {"unknown fields are ignored",
       "preferences: {}\n" +
           OneContext(kServer + "disable-compression: true\nsomething-new: 1", "token: t"),
       [](const RestConfig& c, const TempDir&) { EXPECT_EQ(c.bearer_token, "t"); }},
      {"namespace override wins over the context's",
       OneContext(kServer, "token: t", "cluster: c\nuser: u\nnamespace: team-a"),
       [](const RestConfig& c, const TempDir&) { EXPECT_EQ(c.namespace_name, "team-b"); },
       LoadOptions{.namespace_override = "team-b"}},
  };
  for (const ValidCase& c : cases) {
    SCOPED_TRACE(c.name);
    Result<RestConfig> config = Load(c.yaml, c.options);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    c.check(*config, dir_);
    EXPECT_EQ(config->source, "context \"ctx\" in " + path_);
  }
}

// Invalid files: the error code, what the message must say (the file path is always required)
// and what it must never say (secret values).
struct InvalidCase {
  std::string name;
  std::string yaml;
  std::vector<std::string> want;
  std::vector<std::string> never = {};
  LoadOptions options = {};
  Code code = Code::kInvalidArgument;
};

TEST_F(KubeconfigTest, InvalidFiles) {
  const std::string two_contexts =
      "current-context: nope\nclusters:\n- name: c\n  cluster:\n    " + kServer +
      "contexts:\n- name: b\n  context: {cluster: c}\n- name: a\n  context: {cluster: c}\n";
  const std::string exec_v1 = "exec:\n  apiVersion: client.authentication.k8s.io/v1\n";
  const std::vector<InvalidCase> cases = {
      {"current context not found",
       two_contexts,
       {"context \"nope\" not found in ", "(contexts: a, b)"}},
      {"--context not found",
       two_contexts,
       {"context \"x\" not found in ", "(contexts: a, b)"},
       {},
       LoadOptions{.context = "x"}},
      {"no current-context and no --context",
       "clusters: []\ncontexts:\n- name: a\n  context: {cluster: c}\n",
       {"no context: ", "sets no current-context and no --context was given (contexts: a)"}},
      {"empty file", "", {"no context: ", "(contexts: none)"}},
      {"cluster not found",
       OneContext(kServer, "", "cluster: other\nuser: u"),
       {"context \"ctx\" in ", ": cluster \"other\" not found in ", "(clusters: c)"}},
      {"context without cluster",
       OneContext(kServer, "", "user: u"),
       {"context \"ctx\" in ", " names no cluster"}},
      {"user not found",
       OneContext(kServer, "token: sekret", "cluster: c\nuser: ghost"),
       {"context \"ctx\" in ", ": user \"ghost\" not found in ", "(users: u)"},
       {"sekret"}},
      {"cluster has no server",
       OneContext("insecure-skip-tls-verify: true", ""),
       {"cluster \"c\" in ", " has no server"}},
      {"bad base64 in client-key-data",
       OneContext(kServer, "client-certificate-data: " + B64(kCertPem) +
                               "\nclient-key-data: c2VjcmV0!!!a2V5"),
       {"user \"u\" in ", ": client-key-data is not valid base64"},
       {"c2VjcmV0"}},
      {"bad base64 padding in certificate-authority-data",
       OneContext(kServer + "certificate-authority-data: Y2E=Y2E=", ""),
       {"cluster \"c\" in ", ": certificate-authority-data is not valid base64"}},
      {"CA data that is not PEM",
       OneContext(kServer + "certificate-authority-data: " + B64("not a certificate"), ""),
       {"cluster \"c\" in ", ": certificate-authority-data does not hold PEM data"}},
      {"CA file and data both set",
       OneContext(
           kServer + "certificate-authority: ca.crt\ncertificate-authority-data: " + B64(kCaPem),
           ""),
       {"cluster \"c\" in ", "both certificate-authority and certificate-authority-data are set"}},
      {"CA file missing",
       OneContext(kServer + "certificate-authority: missing-ca.crt", ""),
       {"cluster \"c\" in ", ": certificate-authority: cannot read ",
        "/conf/missing-ca.crt: No such file"}},
      {"client certificate file missing",
       OneContext(kServer, "client-certificate: nope.crt\nclient-key: client.key"),
       {"user \"u\" in ", ": client-certificate: cannot read ", "/conf/nope.crt"}},
      {"certificate without key",
       OneContext(kServer, "client-certificate-data: " + B64(kCertPem)),
       {"user \"u\" in ", ": client-certificate is set without client-key or client-key-data"}},
      {"key without certificate",
       OneContext(kServer, "client-key-data: " + B64(kKeyPem)),
       {"user \"u\" in ", ": client-key is set without client-certificate"},
       {"c2VjcmV0"}},
      {"certificate file and data both set",
       OneContext(kServer, "client-certificate: client.crt\nclient-certificate-data: " +
                               B64(kCertPem) + "\nclient-key: client.key"),
       {"both client-certificate and client-certificate-data are set"}},
      {"token and basic auth",
       OneContext(kServer, "token: sekret-token\nusername: admin\npassword: hunter2"),
       {"user \"u\" in ", "more than one authentication method"},
       {"sekret-token", "hunter2"}},
      {"tokenFile missing",
       OneContext(kServer, "tokenFile: nope"),
       {"user \"u\" in ", ": tokenFile: cannot read ", "/conf/nope"}},
      {"tokenFile empty",
       OneContext(kServer, "tokenFile: empty-token"),
       {"user \"u\" in ", ": tokenFile ", "/conf/empty-token is empty"}},
      {"proxy-url",
       OneContext(kServer + "proxy-url: http://user:hunter2@proxy:3128", ""),
       {"cluster \"c\" in ", ": proxy-url is not supported"},
       {"hunter2"}},
      {"auth-provider",
       OneContext(kServer, "auth-provider:\n  name: gcp\n  config:\n    access-token: sekret"),
       {"user \"u\" in ", ": auth-provider \"gcp\" is not supported", "exec credential plugin"},
       {"sekret"}},
      {"exec without command",
       OneContext(kServer, exec_v1 + "  interactiveMode: Never"),
       {"user \"u\" in ", ": exec: command is missing"}},
      {"exec without apiVersion",
       OneContext(kServer, "exec:\n  command: x"),
       {": exec: apiVersion is missing"}},
      {"exec v1alpha1",
       OneContext(kServer,
                  "exec:\n  apiVersion: client.authentication.k8s.io/v1alpha1\n  "
                  "command: x"),
       {": exec: apiVersion \"client.authentication.k8s.io/v1alpha1\" is not supported"}},
      {"exec v1 without interactiveMode",
       OneContext(kServer, exec_v1 + "  command: x"),
       {": exec: interactiveMode is required with client.authentication.k8s.io/v1"}},
      {"exec interactiveMode Always",
       OneContext(kServer, exec_v1 + "  command: x\n  interactiveMode: Always"),
       {": exec: interactiveMode Always needs a terminal"}},
      {"exec interactiveMode unknown",
       OneContext(kServer, exec_v1 + "  command: x\n  interactiveMode: Sometimes"),
       {": exec: interactiveMode \"Sometimes\" is not one of Never, IfAvailable, Always"}},
      {"exec env without name",
       OneContext(kServer,
                  exec_v1 + "  command: x\n  interactiveMode: Never\n  env:\n  - value: v"),
       {"user \"u\" in ", ": exec: env[0]: has no name"}},
      {"exec args not a list",
       OneContext(kServer, exec_v1 + "  command: x\n  interactiveMode: Never\n  args: {a: b}"),
       {": exec: args must be a list of strings (line "}},
      {"insecure together with a CA",
       OneContext(kServer + "insecure-skip-tls-verify: true\ncertificate-authority: ca.crt", ""),
       {"cluster \"c\" in ",
        "insecure-skip-tls-verify is set together with a certificate authority"}},
      {"insecure not a boolean",
       OneContext(kServer + "insecure-skip-tls-verify: maybe", ""),
       {"cluster \"c\" in ", ": insecure-skip-tls-verify must be true or false (line 8)"}},
      {"token not a string",
       OneContext(kServer, "token: {a: b}"),
       {"user \"u\" in ", ": token must be a string (line "}},
      {"as-groups without as",
       OneContext(kServer, "token: t\nas-groups: [dev]"),
       {"user \"u\" in ", "as-groups, as-uid or as-user-extra is set without as"}},
      {"IPv6 server without brackets",
       OneContext("server: https://fd00::1:6443", ""),
       {"cluster \"c\" in ",
        "server \"https://fd00::1:6443\" is not valid: an IPv6 address must be in brackets"}},
      {"server with another scheme",
       OneContext("server: ftp://example.com", ""),
       {"server \"ftp://example.com\" is not valid: the scheme must be https or http"}},
      {"server with a bad port",
       OneContext("server: https://example.com:99999", ""),
       {"is not valid: the port must be a number from 1 to 65535"}},
      {"server with credentials",
       OneContext("server: https://admin:hunter2@example.com", ""),
       {"cluster \"c\" in ", "server must not contain credentials"},
       {"hunter2"}},
      {"not YAML",
       "clusters:\n- name: c\n  cluster: {server: [unclosed\n",
       {"kubeconfig ", " is not valid YAML: ", "at line "}},
      {"not a map", "- just\n- a list\n", {"kubeconfig ", ": must be a map (line 1)"}},
      {"clusters not a list",
       "clusters: {c: {}}\n",
       {"kubeconfig ", ": clusters must be a list (line 1)"}},
      {"entry without a name",
       "users:\n- user: {token: sekret}\n",
       {"kubeconfig ", ": users[0]: has no name (line 2)"},
       {"sekret"}},
      {"entry body not a map",
       "clusters:\n- name: c\n  cluster: [1]\n",
       {": cluster \"c\" must be a map (line 3)"}},
      {"wrong kind", "kind: Pod\n", {"kubeconfig ", ": kind is \"Pod\", want Config"}},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.name);
    Result<RestConfig> config = Load(c.yaml, c.options);
    ASSERT_FALSE(config.ok()) << "loaded: " << config->Describe();
    const std::string& message = config.status().message();
    EXPECT_EQ(config.status().code(), c.code) << message;
    EXPECT_NE(message.find(path_), std::string::npos) << "does not name the file: " << message;
    for (const std::string& want : c.want) {
      EXPECT_NE(message.find(want), std::string::npos) << "want \"" << want << "\" in: " << message;
    }
    for (const std::string& never : c.never) {
      EXPECT_EQ(message.find(never), std::string::npos) << "leaks \"" << never << "\": " << message;
    }
  }
}

TEST_F(KubeconfigTest, ContextOverrideSelectsAnotherContext) {
  std::string yaml =
      "current-context: one\n"
      "clusters:\n"
      "- {name: c1, cluster: {server: 'https://one:6443'}}\n"
      "- {name: c2, cluster: {server: 'https://two:6443'}}\n"
      "users:\n- {name: u1, user: {token: t1}}\n- {name: u2, user: {token: t2}}\n"
      "contexts:\n"
      "- {name: one, context: {cluster: c1, user: u1}}\n"
      "- {name: two, context: {cluster: c2, user: u2, namespace: ns2}}\n";
  Result<RestConfig> current = Load(yaml);
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  EXPECT_EQ(current->server, "https://one:6443");
  EXPECT_EQ(current->bearer_token, "t1");
  Result<RestConfig> other = Load(yaml, LoadOptions{.context = "two"});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other->server, "https://two:6443");
  EXPECT_EQ(other->bearer_token, "t2");
  EXPECT_EQ(other->namespace_name, "ns2");
}

// Errors are only about what the chosen context uses: a broken, unused user is ignored.
TEST_F(KubeconfigTest, UnusedEntriesAreNotValidated) {
  Result<RestConfig> config = Load(
      "current-context: good\n"
      "clusters:\n- {name: c, cluster: {server: 'https://c:1'}}\n"
      "- {name: no-server, cluster: {}}\n"
      "users:\n- {name: u, user: {token: t}}\n"
      "- {name: bad, user: {client-key-data: '!!!', auth-provider: {name: gcp}}}\n"
      "contexts:\n- {name: good, context: {cluster: c, user: u}}\n"
      "- {name: broken, context: {cluster: no-server, user: bad}}\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bearer_token, "t");
}

TEST(KubeconfigFilesTest, ExplicitPathMissingIsAnError) {
  TempDir dir;
  Result<RestConfig> config =
      LoadKubeconfig({.kubeconfig = dir.Path("nope.yaml"), .env = FakeEnv({})});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kNotFound);
  EXPECT_EQ(config.status().message(),
            "--kubeconfig: cannot read " + dir.Path("nope.yaml") + ": No such file or directory");
}

TEST(KubeconfigFilesTest, ExplicitPathIsTheOnlyFileLoaded) {
  TempDir dir;
  std::string flag = dir.Write("flag", OneContext("server: https://flag:1", "token: flag"));
  std::string env = dir.Write("env", OneContext("server: https://env:1", "token: env"));
  Result<RestConfig> config =
      LoadKubeconfig({.kubeconfig = flag, .env = FakeEnv({{"KUBECONFIG", env}})});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://flag:1");
}

// KUBECONFIG=a:b: names are merged first-wins per map, current-context from the first file that
// sets it, and each file's relative paths resolve against its own directory.
TEST(KubeconfigFilesTest, MergesTwoFilesFirstWins) {
  TempDir dir;
  dir.Write("b/ca.crt", kCaPem);
  std::string a = dir.Write("a/config",
                            "clusters:\n- {name: shared, cluster: {server: 'https://from-a:1'}}\n"
                            "users:\n- {name: shared, user: {token: token-a}}\n");
  std::string b = dir.Write(
      "b/config",
      "current-context: mixed\n"
      "clusters:\n"
      "- {name: shared, cluster: {server: 'https://from-b:1'}}\n"
      "- {name: only-b, cluster: {server: 'https://only-b:1', certificate-authority: ca.crt}}\n"
      "users:\n- {name: shared, user: {token: token-b}}\n"
      "contexts:\n"
      "- {name: mixed, context: {cluster: shared, user: shared}}\n"
      "- {name: b-cluster, context: {cluster: only-b, user: shared}}\n");
  EnvLookup env = FakeEnv({{"KUBECONFIG", a + ":" + b}});
  Result<RestConfig> mixed = LoadKubeconfig({.env = env});
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  EXPECT_EQ(mixed->server, "https://from-a:1");
  EXPECT_EQ(mixed->bearer_token, "token-a");
  EXPECT_EQ(mixed->source, "context \"mixed\" in " + b);

  Result<RestConfig> only_b = LoadKubeconfig({.context = "b-cluster", .env = env});
  ASSERT_TRUE(only_b.ok()) << only_b.status().ToString();
  EXPECT_EQ(only_b->server, "https://only-b:1");
  EXPECT_EQ(only_b->ca_pem, kCaPem);  // b/ca.crt, not a/ca.crt or ./ca.crt

  // Reversed, b wins everything it defines.
  Result<RestConfig> reversed = LoadKubeconfig({.env = FakeEnv({{"KUBECONFIG", b + ":" + a}})});
  ASSERT_TRUE(reversed.ok()) << reversed.status().ToString();
  EXPECT_EQ(reversed->server, "https://from-b:1");
  EXPECT_EQ(reversed->bearer_token, "token-b");
}

TEST(KubeconfigFilesTest, MergesThreeFilesSkippingMissingOnes) {
  TempDir dir;
  std::string first =
      dir.Write("1", "current-context: c3\nusers:\n- {name: u, user: {token: t1}}\n");
  std::string second = dir.Write("2",
                                 "current-context: ignored\n"
                                 "users:\n- {name: u, user: {token: t2}}\n"
                                 "clusters:\n- {name: k, cluster: {server: 'https://two:1'}}\n");
  std::string third = dir.Write("3",
                                "clusters:\n- {name: k, cluster: {server: 'https://three:1'}}\n"
                                "contexts:\n- {name: c3, context: {cluster: k, user: u}}\n"
                                "- {name: ignored, context: {cluster: k}}\n");
  std::string list = first + ":" + dir.Path("missing") + "::" + second + ":" + first + ":" + third;
  Result<RestConfig> config = LoadKubeconfig({.env = FakeEnv({{"KUBECONFIG", list}})});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bearer_token, "t1");
  EXPECT_EQ(config->server, "https://two:1");
  EXPECT_EQ(config->source, "context \"c3\" in " + third);

  // An error names every file that was loaded.
  Result<RestConfig> missing =
      LoadKubeconfig({.context = "nope", .env = FakeEnv({{"KUBECONFIG", list}})});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "context \"nope\" not found in " + first + ", " + second +
                                            ", " + third + " (contexts: c3, ignored)");
}

TEST(KubeconfigFilesTest, AllKubeconfigFilesMissing) {
  TempDir dir;
  Result<RestConfig> config =
      LoadKubeconfig({.env = FakeEnv({{"KUBECONFIG", dir.Path("a") + ":" + dir.Path("b")}})});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kNotFound);
  EXPECT_EQ(config.status().message(), "no kubeconfig: none of the files in KUBECONFIG exist (" +
                                           dir.Path("a") + ", " + dir.Path("b") + ")");
}

TEST(KubeconfigFilesTest, BrokenFileInKubeconfigListIsAnError) {
  TempDir dir;
  std::string good = dir.Write("good", OneContext(kServer, "token: t"));
  std::string bad = dir.Write("bad", "clusters: {");
  Result<RestConfig> config = LoadKubeconfig({.env = FakeEnv({{"KUBECONFIG", good + ":" + bad}})});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("kubeconfig " + bad + " is not valid YAML"),
            std::string::npos)
      << config.status().message();
}

TEST(KubeconfigFilesTest, FallsBackToHomeKubeConfig) {
  TempDir dir;
  dir.Write(".kube/config", OneContext(kServer, "token: home"));
  Result<RestConfig> config = LoadKubeconfig({.env = FakeEnv({{"HOME", dir.path()}})});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bearer_token, "home");

  TempDir empty;
  Result<RestConfig> none = LoadKubeconfig({.env = FakeEnv({{"HOME", empty.path()}})});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_EQ(none.status().message(), "no kubeconfig: --kubeconfig and KUBECONFIG are not set and " +
                                         empty.Path(".kube/config") + " does not exist");
}

// Describe() names the server and the kind of authentication, never a secret.
TEST(RestConfigTest, DescribeHasNoSecrets) {
  RestConfig c;
  c.server = "https://api.example.com:6443";
  c.ca_pem = kCaPem;
  c.client_cert_pem = kCertPem;
  c.client_key_pem = kKeyPem;
  c.bearer_token = "sekret-token";
  c.token_file = "/var/run/token";
  c.username = "admin";
  c.password = "hunter2";
  c.impersonate_user = "alice";
  c.impersonate_groups = {"dev", "ops"};
  c.namespace_name = "team-a";
  c.source = "context \"ctx\" in /home/me/.kube/config";
  std::string d = c.Describe();
  for (const char* secret :
       {"sekret-token", "hunter2", "c2VjcmV0", "Y2xpZW50", "Y2EtY2Vy", "BEGIN", "PRIVATE"}) {
    EXPECT_EQ(d.find(secret), std::string::npos) << secret << " in " << d;
  }
  EXPECT_EQ(d,
            "https://api.example.com:6443 (auth: client certificate + bearer token from "
            "/var/run/token + basic auth as admin; tls: CA bundle; impersonating alice in groups "
            "dev,ops; namespace team-a; from context \"ctx\" in /home/me/.kube/config)");

  RestConfig exec;
  exec.server = "https://x:1";
  exec.insecure_skip_tls_verify = true;
  exec.exec = ExecConfig{.api_version = "client.authentication.k8s.io/v1", .command = "get-token"};
  EXPECT_EQ(exec.Describe(),
            "https://x:1 (auth: exec plugin get-token; tls: INSECURE, server certificate not "
            "verified; namespace default)");
}

// A kubeconfig token source: `token` is static, `tokenFile` rotates.
TEST_F(KubeconfigTest, TokenSourcesFollowTheConfig) {
  Result<RestConfig> inline_token = Load(OneContext(kServer, "token: static"));
  ASSERT_TRUE(inline_token.ok());
  auto source = NewTokenSource(*inline_token);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(*source->Token(), "static");

  Result<RestConfig> certs = Load(OneContext(kServer,
                                             "client-certificate: client.crt\n"
                                             "client-key: client.key"));
  ASSERT_TRUE(certs.ok());
  EXPECT_EQ(NewTokenSource(*certs), nullptr);
}

// --kubeconfig, then KUBECONFIG, then in-cluster, then ~/.kube/config (controller-runtime).
TEST(RestConfigTest, LoadDefaultOrder) {
  TempDir dir;
  std::string flag = dir.Write("flag", OneContext("server: https://flag:1", "token: t"));
  std::string env_file = dir.Write("env", OneContext("server: https://env:1", "token: t"));
  dir.Write("home/.kube/config", OneContext("server: https://home:1", "token: t"));
  dir.Write("sa/token", "sa-token");
  dir.Write("sa/ca.crt", kCaPem);
  std::map<std::string, std::string> vars = {{"KUBECONFIG", env_file},
                                             {"HOME", dir.Path("home")},
                                             {"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                             {"KUBERNETES_SERVICE_PORT", "443"}};
  InClusterOptions pod{.service_account_dir = dir.Path("sa")};
  auto server = [&](LoadOptions options) {
    Result<RestConfig> c = LoadDefault(options, pod);
    return c.ok() ? c->server : c.status().ToString();
  };
  EXPECT_EQ(server({.kubeconfig = flag, .env = FakeEnv(vars)}), "https://flag:1");
  EXPECT_EQ(server({.env = FakeEnv(vars)}), "https://env:1");
  vars.erase("KUBECONFIG");
  EXPECT_EQ(server({.env = FakeEnv(vars)}), "https://10.96.0.1:443");
  Result<RestConfig> in_cluster =
      LoadDefault({.namespace_override = "ns", .env = FakeEnv(vars)}, pod);
  ASSERT_TRUE(in_cluster.ok());
  EXPECT_EQ(in_cluster->namespace_name, "ns");
  vars.erase("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(server({.env = FakeEnv(vars)}), "https://home:1");

  vars["HOME"] = dir.Path("nowhere");
  Result<RestConfig> none = LoadDefault({.env = FakeEnv(vars)}, pod);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_NE(none.status().message().find("does not exist, and in-cluster configuration failed: "
                                         "not running in a cluster"),
            std::string::npos)
      << none.status().message();
}

}  // namespace
}  // namespace flywheel::kube
