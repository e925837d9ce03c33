#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "flywheel/common/status.h"

namespace flywheel::kube {

// Reads one environment variable: nullopt when it is not set. The loaders take one so tests can
// pass a fixed environment instead of the process's.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
EnvLookup ProcessEnv();

// "flywheel/<version> (<os>/<arch>) flywheel/<commit>", the shape of client-go's default.
std::string DefaultUserAgent();

// How to run an exec credential plugin (kubeconfig `users[].user.exec`, the
// client.authentication.k8s.io protocol).
struct ExecConfig {
  // client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1.
  std::string api_version{};
  // An absolute path, or a name looked up in PATH. A relative path with a '/' in the kubeconfig
  // is resolved against that kubeconfig's directory when it is loaded.
  std::string command{};
  std::vector<std::string> args{};
  std::vector<std::pair<std::string, std::string>> env{};  // set on top of the process environment
  std::string install_hint{};                              // shown when the command is not found
  bool provide_cluster_info = false;  // send spec.cluster in KUBERNETES_EXEC_INFO
  // Never or IfAvailable. Flywheel never gives a plugin a terminal, so Always is rejected when
  // the kubeconfig is loaded and the plugin always sees spec.interactive = false.
  std::string interactive_mode = "IfAvailable";
  // The cluster's "client.authentication.k8s.io/exec" extension as JSON ("" = none), sent as
  // spec.cluster.config.
  std::string cluster_config_json{};
};

// Everything the HTTP layer needs to talk to one API server, from a kubeconfig or from the pod's
// service account. Secrets are held in memory; Describe() is the only safe way to log it.
struct RestConfig {
  std::string server{};  // scheme://host:port[/path], no trailing '/'; IPv6 hosts in brackets
  std::string ca_pem{};  // trusted CA bundle (PEM); empty = the system store
  std::string client_cert_pem{};  // client certificate chain (PEM), with client_key_pem
  std::string client_key_pem{};
  std::string bearer_token{};  // the token as first read (from `token`, `tokenFile` or in-cluster)
  // When set, the token is re-read from this file (rotation): use NewTokenSource().
  std::string token_file{};
  std::string username{};  // basic auth, with password
  std::string password{};
  // An exec credential plugin (see exec_credential.h). Only set when the user has no token,
  // basic-auth or client-certificate credentials, which take precedence as in client-go.
  std::optional<ExecConfig> exec{};
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name{};  // SNI and the name the server certificate must match
  // The namespace requests use when they name none: --namespace, the context's namespace, the
  // pod's namespace in-cluster, else "default".
  std::string namespace_name = "default";
  std::string impersonate_user{};  // Impersonate-User and friends
  std::vector<std::string> impersonate_groups{};
  std::string impersonate_uid{};
  std::map<std::string, std::vector<std::string>> impersonate_extra{};
  double qps = 0;  // client-side rate limit; 0 = off (controller-runtime's default)
  int burst = 0;
  std::string user_agent = DefaultUserAgent();
  // Where this came from, e.g. `context "kind" in /home/me/.kube/config` or "in-cluster".
  std::string source{};

  // One line naming the server, the kind of authentication, the trust settings and the source,
  // without any secret (no token, password, key or certificate contents).
  std::string Describe() const;
};

// Where to find a kubeconfig and what to override in it (kubectl's --kubeconfig, --context and
// --namespace).
struct LoadOptions {
  // --kubeconfig: when set, this is the only file loaded and it must exist.
  std::string kubeconfig{};
  std::string context{};             // --context; empty = the current-context
  std::string namespace_override{};  // -n/--namespace; empty = the context's namespace
  EnvLookup env{};                   // KUBECONFIG, HOME (and in-cluster variables); unset = process
};

// Loads a kubeconfig as kubectl does: --kubeconfig alone; else every existing file of the
// KUBECONFIG list (':'-separated; missing files are skipped; clusters, users and contexts merge
// by name and current-context is taken from the first file that sets it, first wins); else
// $HOME/.kube/config. Relative paths in a file resolve against that file's directory. Errors are
// kNotFound when there is no file to read, kInvalidArgument when the content is wrong (naming the
// file, the entry and the field, never a secret value).
Result<RestConfig> LoadKubeconfig(const LoadOptions& options);

// The service account directory every pod gets.
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// Where the in-cluster configuration comes from; both injectable for tests.
struct InClusterOptions {
  std::string service_account_dir = kServiceAccountDir;  // token, ca.crt, namespace
  EnvLookup env{};  // KUBERNETES_SERVICE_HOST/PORT, POD_NAMESPACE; unset = the process environment
};

// The configuration of a pod's service account: https://$KUBERNETES_SERVICE_HOST:PORT (an IPv6
// host in brackets), the token (token_file is set: it rotates), ca.crt and the namespace
// (POD_NAMESPACE, else the namespace file, else "default"). kFailedPrecondition when not in a
// cluster or a file cannot be read.
Result<RestConfig> LoadInCluster(const InClusterOptions& options = {});

// Picks the configuration as controller-runtime's GetConfig does: --kubeconfig; else KUBECONFIG
// when set; else in-cluster; else $HOME/.kube/config. The namespace override applies to all.
Result<RestConfig> LoadDefault(const LoadOptions& options, const InClusterOptions& in_cluster = {});

}  // namespace flywheel::kube
