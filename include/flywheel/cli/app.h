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
  // type `kubectl -n team-a get`) are passed to it after its name. `__complete WORD...` runs
  // Complete (it is in no usage text).
  int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) const;

  void PrintUsage(std::ostream& out) const;

 private:
  const Command* Find(const std::string& name) const;

  std::vector<Command> commands_;
  std::string program_;
};

// The name usage text gives the binary invoked as `argv0`: "kubectl flywheel" when its base name
// is kubectl-flywheel (kubectl runs the plugin `kubectl flywheel ...` that way) or
// kubectl_complete-flywheel (see ArgumentsFor), else "flywheel".
std::string ProgramName(std::string_view argv0);

// The hidden command that completes a command line (Cobra's name for it, which kubectl's plugin
// helpers also call): `flywheel __complete WORD... CURRENT`.
inline constexpr const char* kCompleteCommand = "__complete";

// The arguments App::Run takes for argv[1..] (`args`) of the binary invoked as `argv0`: the same,
// behind kCompleteCommand when the base name is kubectl_complete-flywheel, the executable kubectl
// (1.26+) runs with the words after `kubectl flywheel` to complete them.
std::vector<std::string> ArgumentsFor(std::string_view argv0, std::vector<std::string> args);

// Prints the candidates for the command line `words` of `commands` (the words after the program
// name, the last being the one under the cursor, possibly empty) in Cobra's `__complete`
// protocol, which kubectl reads from plugins: one candidate a line (`word` or
// `word<TAB>description`), then `:<directive>` (4: offer no file names, 0: file names may do).
// Object names are asked from the cluster the line's `--kubeconfig`, `--context` and
// `-n/--namespace` select; an unreachable cluster gives no names and no error.
int Complete(const std::vector<Command>& commands, const std::vector<std::string>& words,
             std::ostream& out);

// Every subcommand the shipped binary knows.
std::vector<Command> DefaultCommands();

// `flywheel version [-o text|json]`.
Command VersionCommand();

// `flywheel controller [flags]`: the operator process.
Command ControllerCommand();

// `flywheel get [kind [name...]] [-n ns | -A] [-l selector] [-o wide|json|yaml|name]`: Flywheel
// objects as kubectl prints them (src/cli/get.cpp).
Command GetCommand();

// The Flywheel kind `get` takes `word` for (a plural, singular, short or qualified name:
// "rbp" is "RollbackPolicy"), or "" when it names none.
std::string FlywheelKind(const std::string& word);

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
