#include "flywheel/cli/client_flags.h"

#include "flywheel/kube/connect.h"

namespace flywheel::cli {

void ClientFlags::Register(FlagSet& flags) {
  flags.String("kubeconfig", &load.kubeconfig, "Path to a kubeconfig");
  flags.String("context", &load.context, "The kubeconfig context to use");
  flags.String("namespace", &ns, "Namespace (default: the context's)", "n");
}

std::optional<kube::Client> ClientFlags::Connect(const Invocation& inv, const std::string& command,
                                                 std::string* namespace_name) {
  load.namespace_override = ns;
  auto config = kube::LoadDefault(load);
  if (!config.ok()) {
    inv.err << command << ": " << config.status().message() << "\n";
    return std::nullopt;
  }
  config->user_agent = "flywheel-cli";
  auto client = kube::Connect(*config);
  if (!client.ok()) {
    inv.err << command << ": " << client.status().message() << "\n";
    return std::nullopt;
  }
  if (namespace_name != nullptr) *namespace_name = config->namespace_name;
  return std::move(*client);
}

}  // namespace flywheel::cli
