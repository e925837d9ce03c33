#include "flywheel/cli/app.h"

#include <algorithm>
#include <iomanip>
#include <ostream>

namespace flywheel::cli {

App::App(std::vector<Command> commands) : commands_(std::move(commands)) {
  std::sort(commands_.begin(), commands_.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
}

const Command* App::Find(const std::string& name) const {
  auto it = std::find_if(commands_.begin(), commands_.end(),
                         [&](const Command& c) { return c.name == name; });
  return it == commands_.end() ? nullptr : &*it;
}

void App::PrintUsage(std::ostream& out) const {
  out << "Flywheel closes the delivery loop on Kubernetes: build, promote, sync, watch, roll "
         "back.\n"
         "\n"
         "Usage:\n"
         "  flywheel <command> [flags]\n"
         "\n"
         "Commands:\n";
  for (const auto& c : commands_) {
    out << "  " << std::left << std::setw(12) << c.name << c.summary << "\n";
  }
  out << "\nUse \"flywheel <command> --help\" for more about a command.\n";
}

int App::Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) const {
  if (args.empty()) {
    PrintUsage(err);
    return kExitUsage;
  }
  const std::string& first = args.front();
  if (first == "--help" || first == "-h") {
    PrintUsage(out);
    return kExitOk;
  }
  if (first == "help") {
    if (args.size() < 2) {
      PrintUsage(out);
      return kExitOk;
    }
    const Command* c = Find(args[1]);
    if (c == nullptr) {
      err << "flywheel: unknown command \"" << args[1] << "\"\n";
      return kExitUsage;
    }
    return c->run(Invocation{{"--help"}, out, err});
  }
  const Command* c = Find(first);
  if (c == nullptr) {
    err << "flywheel: unknown command \"" << first << "\"\n"
        << "Run 'flywheel --help' for the list of commands.\n";
    return kExitUsage;
  }
  return c->run(Invocation{std::vector<std::string>(args.begin() + 1, args.end()), out, err});
}

std::vector<Command> DefaultCommands() {
  return {CancelCommand(),  ControllerCommand(), GetCommand(),      GitCloneCommand(),
          HistoryCommand(), LogsCommand(),       RollbackCommand(), RunCommand(),
          StatusCommand(),  SyncCommand(),       TimelineCommand(), VersionCommand()};
}

}  // namespace flywheel::cli
