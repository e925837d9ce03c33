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
  // `program` is how usage text names the binary (see ProgramName).
  explicit App(std::vector<Command> commands, std::string program = "flywheel");

  // Runs the subcommand named by args[0] (args excludes the program name). Prints usage for
  // `--help`, `-h`, `help [command]` and no arguments; unknown subcommands are a usage error.
  // kubectl's connection flags written before the subcommand (`-n team-a get`, as kubectl users
  // type `kubectl -n team-a get`) are passed to it after its name.
  int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) const;

  void PrintUsage(std::ostream& out) const;

 private:
  const Command* Find(const std::string& name) const;

  std::vector<Command> commands_;
  std::string program_;
};

// The name usage text gives the binary invoked as `argv0`: "kubectl flywheel" when its base name
// is kubectl-flywheel (kubectl runs the plugin `kubectl flywheel ...` that way), else "flywheel".
std::string ProgramName(std::string_view argv0);

// Every subcommand the shipped binary knows.
std::vector<Command> DefaultCommands();

// `flywheel version [-o text|json]`.
Command VersionCommand();

// `flywheel controller [flags]`: the operator process.
Command ControllerCommand();

// `flywheel get [kind [name...]] [-n ns | -A] [-l selector] [-o wide|json|yaml|name]`: Flywheel
// objects as kubectl prints them (src/cli/get.cpp).
Command GetCommand();

// `flywheel completion bash|zsh`: a shell completion script for the commands of
// DefaultCommands(), their flags and the names of the objects they take.
Command CompletionCommand();

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
