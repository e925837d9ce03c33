// LoadInCluster: the configuration of the pod's service account (client-go's InClusterConfig).

#include <charconv>
#include <filesystem>

#include "config_util.h"
#include "flywheel/kube/config.h"

namespace flywheel::kube {

Result<RestConfig> LoadInCluster(const InClusterOptions& options) {
  EnvLookup env = internal::EnvOrProcess(options.env);
  std::string host = env("KUBERNETES_SERVICE_HOST").value_or("");
  std::string port = env("KUBERNETES_SERVICE_PORT").value_or("");
  if (host.empty() || port.empty()) {
    return Status(Code::kFailedPrecondition,
                  "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                  "must be set");
  }
  int port_number = 0;
  auto parsed = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (parsed.ec != std::errc() || parsed.ptr != port.data() + port.size() || port_number < 1 ||
      port_number > 65535) {
    return Status(Code::kFailedPrecondition,
                  "KUBERNETES_SERVICE_PORT \"" + port + "\" is not a port number");
  }
  // net.JoinHostPort: an IPv6 address goes in brackets.
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";

  const std::filesystem::path dir(options.service_account_dir);
  RestConfig config;
  config.server = "https://" + host + ":" + port;
  config.token_file = (dir / "token").string();
  config.source = "in-cluster service account " + options.service_account_dir;
  Result<std::string> token = internal::ReadFileText(config.token_file);
  if (!token.ok()) {
    return Status(Code::kFailedPrecondition, "in-cluster token: " + token.status().message());
  }
  config.bearer_token = internal::TrimSpace(*token);
  if (config.bearer_token.empty()) {
    return Status(Code::kFailedPrecondition,
                  "in-cluster token file " + config.token_file + " is empty");
  }
  const std::string ca_file = (dir / "ca.crt").string();
  Result<std::string> ca = internal::ReadFileText(ca_file);
  if (!ca.ok()) {
    return Status(Code::kFailedPrecondition, "in-cluster CA: " + ca.status().message());
  }
  if (!internal::LooksLikePem(*ca)) {
    return Status(Code::kFailedPrecondition, "in-cluster CA " + ca_file + " holds no PEM data");
  }
  config.ca_pem = std::move(*ca);
  // clientcmd's in-cluster namespace: POD_NAMESPACE, then the service account's namespace file.
  if (std::optional<std::string> ns = env("POD_NAMESPACE"); ns && !ns->empty()) {
    config.namespace_name = *ns;
  } else if (Result<std::string> file = internal::ReadFileText((dir / "namespace").string());
             file.ok() && !internal::TrimSpace(*file).empty()) {
    config.namespace_name = internal::TrimSpace(*file);
  }
  return config;
}

}  // namespace flywheel::kube
