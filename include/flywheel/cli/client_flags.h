#pragma once

#include <optional>
#include <string>

#include "flywheel/cli/command.h"
#include "flywheel/cli/flags.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/config.h"

namespace flywheel::cli {

// The kubectl-style flags every client subcommand takes: --kubeconfig, --context and
// -n/--namespace.
struct ClientFlags {
  kube::LoadOptions load;
  std::string ns;

  void Register(FlagSet& flags);

  // Loads the configuration and connects; on failure prints "<command>: <why>" to inv.err and
  // returns nullopt. `namespace_name` receives the namespace to use (the flag, else the
  // context's).
  std::optional<kube::Client> Connect(const Invocation& inv, const std::string& command,
                                      std::string* namespace_name);
};

}  // namespace flywheel::cli
