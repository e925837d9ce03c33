#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "flywheel/cli/command.h"

namespace flywheel::cli {

// The `flywheel` command line: a table of subcommands and the dispatch from argv to one of them.
// Later components register their subcommands in `DefaultCommands()`.
class App {
 public:
  explicit App(std::vector<Command> commands);

  // Runs the subcommand named by args[0] (args excludes the program name). Prints usage for
  // `--help`, `-h`, `help [command]` and no arguments; unknown subcommands are a usage error.
  int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) const;

  void PrintUsage(std::ostream& out) const;

 private:
  const Command* Find(const std::string& name) const;

  std::vector<Command> commands_;
};

// Every subcommand the shipped binary knows.
std::vector<Command> DefaultCommands();

// `flywheel version [-o text|json]`.
Command VersionCommand();

// `flywheel controller [flags]`: the operator process.
Command ControllerCommand();

// `flywheel get [kind] [-n ns | -A] [-o table|json]`: Flywheel objects and their state.
Command GetCommand();

// `flywheel rollback|sync|history <release>`: Release requests carried out by the controller.
Command RollbackCommand();
Command SyncCommand();
Command HistoryCommand();

// `flywheel git-clone --url --branch --revision --dest [--credentials]`: the build pod's clone.
Command GitCloneCommand();

// `flywheel status <release>`: a Release and the RollbackPolicies watching it.
Command StatusCommand();

// `flywheel timeline <release>|run <pipelinerun>`: deliveries and run stages from the API.
Command TimelineCommand();

// Pipeline commands (src/cli/pipeline.cpp).
Command RunCommand();
Command CancelCommand();
Command LogsCommand();

}  // namespace flywheel::cli
