#include "flywheel/kube/config.h"

#include <cstdlib>
#include <sstream>

#include "config_util.h"
#include "flywheel/build_info.h"

namespace flywheel::kube {
namespace {

constexpr const char* kArch =
#if defined(__x86_64__)
    "amd64";
#elif defined(__aarch64__)
    "arm64";
#else
    "unknown";
#endif

std::string AuthKinds(const RestConfig& c) {
  std::vector<std::string> kinds;
  if (!c.client_cert_pem.empty()) kinds.push_back("client certificate");
  if (!c.token_file.empty()) {
    kinds.push_back("bearer token from " + c.token_file);
  } else if (!c.bearer_token.empty()) {
    kinds.push_back("bearer token");
  }
  if (!c.username.empty() || !c.password.empty()) kinds.push_back("basic auth as " + c.username);
  if (c.exec) kinds.push_back("exec plugin " + c.exec->command);
  if (kinds.empty()) return "none";
  std::string out;
  for (const auto& k : kinds) out += (out.empty() ? "" : " + ") + k;
  return out;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string DefaultUserAgent() {
  return std::string("flywheel/") + build_info::kVersion + " (linux/" + kArch + ") flywheel/" +
         build_info::kGitCommit;
}

std::string RestConfig::Describe() const {
  std::ostringstream out;
  out << (server.empty() ? "<no server>" : server) << " (auth: " << AuthKinds(*this) << "; tls: ";
  if (server.starts_with("http://")) {
    out << "none";
  } else if (insecure_skip_tls_verify) {
    out << "INSECURE, server certificate not verified";
  } else {
    out << (ca_pem.empty() ? "system CAs" : "CA bundle");
  }
  if (!tls_server_name.empty()) out << ", server name " << tls_server_name;
  if (!impersonate_user.empty()) {
    out << "; impersonating " << impersonate_user;
    if (!impersonate_groups.empty()) {
      out << " in groups ";
      for (size_t i = 0; i < impersonate_groups.size(); ++i) {
        out << (i ? "," : "") << impersonate_groups[i];
      }
    }
  }
  out << "; namespace " << namespace_name;
  if (qps > 0) out << "; qps " << qps << " burst " << burst;
  if (!source.empty()) out << "; from " << source;
  out << ")";
  return out.str();
}

Result<RestConfig> LoadDefault(const LoadOptions& options, const InClusterOptions& in_cluster) {
  EnvLookup env = internal::EnvOrProcess(options.env);
  std::optional<std::string> kubeconfig_env = env("KUBECONFIG");
  if (!options.kubeconfig.empty() || (kubeconfig_env && !kubeconfig_env->empty())) {
    return LoadKubeconfig(options);
  }
  InClusterOptions in_cluster_options = in_cluster;
  if (!in_cluster_options.env) in_cluster_options.env = env;
  Result<RestConfig> pod = LoadInCluster(in_cluster_options);
  if (pod.ok()) {
    if (!options.namespace_override.empty()) pod->namespace_name = options.namespace_override;
    return pod;
  }
  Result<RestConfig> home = LoadKubeconfig(options);
  if (home.ok() || home.status().code() != Code::kNotFound) return home;
  return Status(Code::kNotFound,
                "no Kubernetes configuration: " + home.status().message() +
                    ", and in-cluster configuration failed: " + pod.status().message());
}

}  // namespace flywheel::kube
