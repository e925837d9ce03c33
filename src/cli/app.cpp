#include "flywheel/cli/app.h"

#include <algorithm>
#include <iomanip>
#include <ostream>

namespace flywheel::cli {

namespace {

std::string_view BaseName(std::string_view argv0) {
  const auto slash = argv0.rfind('/');
  return slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
}

constexpr std::string_view kCompletionHelper = "kubectl_complete-flywheel";

}  // namespace

std::string ProgramName(std::string_view argv0) {
  const std::string_view base = BaseName(argv0);
  return base == "kubectl-flywheel" || base == kCompletionHelper ? "kubectl flywheel" : "flywheel";
}

std::vector<std::string> ArgumentsFor(std::string_view argv0, std::vector<std::string> args) {
  if (BaseName(argv0) == kCompletionHelper) args.insert(args.begin(), kCompleteCommand);
  return args;
}

std::string UsageFor(std::string_view usage, std::string_view program) {
  constexpr std::string_view kExample = "  flywheel ";
  std::string out;
  size_t from = 0;
  for (size_t at; (at = usage.find(kExample, from)) != std::string_view::npos;
       from = at + kExample.size()) {
    out.append(usage.substr(from, at - from)).append("  ").append(program).append(" ");
  }
  return out.append(usage.substr(from));
}

namespace {

// kubectl's connection flags, which kubectl users also write before the subcommand; the bool
// says whether the flag's value is the next argument.
bool IsLeadingClientFlag(const std::string& arg, bool* takes_next) {
  for (const char* name : {"--kubeconfig", "--context", "--namespace", "-n"}) {
    const std::string flag = name;
    if (arg == flag) {
      *takes_next = true;
      return true;
    }
    if (arg.rfind(flag + "=", 0) == 0 ||
        (flag == "-n" && arg.size() > 2 && arg.rfind(flag, 0) == 0)) {
      *takes_next = false;
      return true;
    }
  }
  return false;
}

}  // namespace

App::App(std::vector<Command> commands, std::string program)
    : commands_(std::move(commands)), program_(std::move(program)) {
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
         "  "
      << program_
      << " <command> [flags]\n"
         "\n"
         "Commands:\n";
  for (const auto& c : commands_) {
    out << "  " << std::left << std::setw(12) << c.name << c.summary << "\n";
  }
  out << "\nUse \"" << program_ << " <command> --help\" for more about a command.\n";
}

int App::Run(const std::vector<std::string>& given, std::ostream& out, std::ostream& err) const {
  if (!given.empty() && given.front() == kCompleteCommand) {
    return Complete(commands_, std::vector<std::string>(given.begin() + 1, given.end()), out);
  }
  // Leading connection flags go after the subcommand's name.
  std::vector<std::string> leading;
  size_t first_other = 0;
  for (bool takes_next = false;
       first_other < given.size() && IsLeadingClientFlag(given[first_other], &takes_next);) {
    const size_t n = takes_next && first_other + 1 < given.size() ? 2 : 1;
    leading.insert(leading.end(), given.begin() + first_other, given.begin() + first_other + n);
    first_other += n;
  }
  std::vector<std::string> args(given.begin() + first_other, given.end());
  if (!args.empty()) args.insert(args.begin() + 1, leading.begin(), leading.end());
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
      err << program_ << ": unknown command \"" << args[1] << "\"\n";
      return kExitUsage;
    }
    return c->run(Invocation{{"--help"}, out, err, program_});
  }
  const Command* c = Find(first);
  if (c == nullptr) {
    err << program_ << ": unknown command \"" << first << "\"\n"
        << "Run '" << program_ << " --help' for the list of commands.\n";
    return kExitUsage;
  }
  return c->run(
      Invocation{std::vector<std::string>(args.begin() + 1, args.end()), out, err, program_});
}

std::vector<Command> DefaultCommands() {
  return {CancelCommand(),   ControllerCommand(), CompletionCommand(), GetCommand(),
          GitCloneCommand(), HistoryCommand(),    LogsCommand(),       RollbackCommand(),
          RunCommand(),      StatusCommand(),     SyncCommand(),       TimelineCommand(),
          VersionCommand()};
}

}  // namespace flywheel::cli
