// Completion from the commands themselves: their names, their flags (read from each command's
// --help, so they never drift) and the names of the objects they take (asked from the cluster as
// `flywheel get <kind> -o name` asks). `flywheel __complete` (and kubectl_complete-flywheel, for
// `kubectl flywheel`) answers in Cobra's protocol; `flywheel completion bash|zsh` prints scripts
// that ask it.
#include <algorithm>
#include <chrono>
#include <map>
#include <regex>
#include <sstream>

#include "flywheel/api/names.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/client_flags.h"
#include "flywheel/cli/flags.h"

namespace flywheel::cli {
namespace {

constexpr const char* kUsage =
    "Print a shell completion script for flywheel.\n"
    "\n"
    "Usage:\n"
    "  flywheel completion bash|zsh\n"
    "\n"
    "Examples:\n"
    "  source <(flywheel completion bash)    # bash, e.g. in ~/.bashrc\n"
    "  source <(flywheel completion zsh)     # zsh, in ~/.zshrc after compinit\n"
    "\n"
    "Flags:\n";

// The positional argument a command takes, for completion: a kind's objects by name.
const std::map<std::string, std::string>& ObjectArguments() {
  static const std::map<std::string, std::string> kArguments = {
      {"cancel", "pipelineruns"}, {"history", "releases"}, {"logs", "pipelineruns"},
      {"rollback", "releases"},   {"run", "pipelines"},    {"status", "releases"},
      {"sync", "releases"},       {"timeline", "releases"}};
  return kArguments;
}

// Values of flags that take one of a few words.
const std::map<std::pair<std::string, std::string>, std::string>& FlagValues() {
  static const std::map<std::pair<std::string, std::string>, std::string> kValues = {
      {{"get", "--output"}, "wide json yaml name"},
      {{"get", "-o"}, "wide json yaml name"},
      {{"version", "--output"}, "text json"},
      {{"version", "-o"}, "text json"}};
  return kValues;
}

struct CommandFlags {
  std::vector<std::string> all;    // every flag name, long and short
  std::vector<std::string> value;  // those that take a value
};

// A command's flags as its --help lists them ("  -n, --namespace string   ...").
CommandFlags FlagsOf(const Command& command) {
  std::ostringstream out, err;
  command.run(Invocation{{"--help"}, out, err});
  static const std::regex kLine("^  (?:-(\\S), |    )--([A-Za-z0-9-]+)( [A-Za-z]+)?  .*");
  CommandFlags flags;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, kLine)) continue;
    std::vector<std::string> names = {"--" + m[2].str()};
    if (m[1].matched) names.push_back("-" + m[1].str());
    for (const auto& n : names) {
      flags.all.push_back(n);
      if (m[3].matched) flags.value.push_back(n);
    }
  }
  flags.all.push_back("--help");
  return flags;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool Contains(const std::vector<std::string>& words, const std::string& w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

// kubectl's connection flags, which may come before the subcommand; each takes a value.
const std::vector<std::string>& ConnectionFlags() {
  static const std::vector<std::string> kFlags = {"--kubeconfig", "--context", "--namespace", "-n"};
  return kFlags;
}

const Command* FindCommand(const std::vector<Command>& commands, const std::string& name) {
  auto it = std::find_if(commands.begin(), commands.end(),
                         [&](const Command& c) { return c.name == name; });
  return it == commands.end() ? nullptr : &*it;
}

// How long each call that asks the cluster for names may take: a TAB must not hang on a cluster
// that does not answer.
constexpr std::chrono::seconds kNamesTimeout{2};

// The names of the objects of the kind `get` takes `kind_word` for, in the namespace the
// connection flags (kubectl's, as on the command line) select, listed with the client `get`
// uses; nothing when the cluster cannot be asked.
std::vector<std::string> ObjectNames(const std::string& kind_word,
                                     const std::vector<std::string>& connection) {
  const std::string kind = FlywheelKind(kind_word);
  if (kind.empty()) return {};
  std::ostringstream out, err;
  const Invocation inv{connection, out, err};
  ClientFlags client_flags;
  FlagSet flags("flywheel __complete");
  client_flags.Register(flags);
  if (flags.ParseCommandLine(connection, inv, "")) return {};
  std::string ns;
  auto client = client_flags.Connect(inv, "flywheel __complete", &ns);
  if (!client) return {};
  auto list = client->WithCallTimeout(kNamesTimeout).List(api::kGroupVersion, kind, ns);
  if (!list.ok()) return {};
  std::vector<std::string> names;
  for (const auto& item : (*list)["items"]) {
    names.push_back(item["metadata"].value("name", ""));
  }
  return names;
}

// Cobra's directives (the last line of `__complete`'s output, `:<bits>`).
constexpr int kDirectiveDefault = 0;  // the shell may fall back to file names
constexpr int kDirectiveNoFiles = 4;  // no file names

struct Completion {
  std::vector<std::string> candidates;  // "word" or "word\tdescription"
  int directive = kDirectiveNoFiles;
};

// What the command line `words` (after the program name; the last one is the word under the
// cursor, possibly empty) completes to. The connection flags found on the line are passed on
// when asking the cluster for names.
Completion CompleteWords(const std::vector<Command>& commands,
                         const std::vector<std::string>& words) {
  const Command* command = nullptr;
  std::string cmd, flag, kind;
  std::vector<std::string> connection;
  std::vector<std::string> value_flags = ConnectionFlags();
  size_t nargs = 0;
  const size_t last = words.empty() ? 0 : words.size() - 1;
  for (size_t i = 0; i < last; ++i) {
    const std::string& w = words[i];
    if (cmd.empty() && !StartsWith(w, "-")) {
      cmd = w;
      command = FindCommand(commands, cmd);
      if (command != nullptr) value_flags = FlagsOf(*command).value;
      continue;
    }
    if (Contains(ConnectionFlags(), w) && i + 1 < last) {
      connection.insert(connection.end(), {w, words[i + 1]});
    } else if (StartsWith(w, "--kubeconfig=") || StartsWith(w, "--context=") ||
               StartsWith(w, "--namespace=") || (StartsWith(w, "-n") && w.size() > 2)) {
      connection.push_back(w);
    }
    if (StartsWith(w, "-")) {
      if (w.find('=') == std::string::npos && Contains(value_flags, w)) {
        if (i + 1 == last) {
          flag = w;
          break;
        }
        ++i;
      }
      continue;
    }
    if (nargs++ == 0) kind = w;
  }
  std::string cur = words.empty() ? "" : words[last];
  if (flag.empty() && StartsWith(cur, "-") && cur.find('=') != std::string::npos) {
    flag = cur.substr(0, cur.find('='));
    cur = cur.substr(cur.find('=') + 1);
  }

  Completion c;
  auto add_words = [&](const std::string& list) {
    std::istringstream in(list);
    for (std::string w; in >> w;) c.candidates.push_back(w);
  };
  if (!flag.empty()) {
    if (auto it = FlagValues().find({cmd, flag}); it != FlagValues().end()) {
      add_words(it->second);
    } else {
      c.directive = kDirectiveDefault;  // a path (--kubeconfig, --dest) or free text
    }
  } else if (StartsWith(cur, "-")) {
    c.candidates = command != nullptr ? FlagsOf(*command).all : ConnectionFlags();
    if (command == nullptr) c.candidates.push_back("--help");
  } else if (cmd.empty() || (cmd == "help" && nargs == 0)) {
    for (const auto& command_entry : commands) {
      c.candidates.push_back(command_entry.name + "\t" + command_entry.summary);
    }
  } else if (cmd == "get") {
    if (nargs == 0) {
      add_words("all pipelines pipelineruns releases rollbackpolicies");
    } else {
      c.candidates = ObjectNames(kind, connection);
    }
  } else if (cmd == "completion" && nargs == 0) {
    add_words("bash zsh");
  } else if (auto it = ObjectArguments().find(cmd); it != ObjectArguments().end() && nargs == 0) {
    c.candidates = ObjectNames(it->second, connection);
  }
  std::erase_if(c.candidates, [&](const std::string& w) { return !StartsWith(w, cur); });
  return c;
}

// The shell scripts both ask the binary itself, as kubectl does: `PROGRAM __complete WORD...`.
constexpr const char* kProtocolComment =
    "# The candidates come from the binary: `flywheel __complete WORD... CURRENT` prints one a\n"
    "# line (a TAB and a description may follow), then `:DIRECTIVE` (4: no file names; Cobra's\n"
    "# protocol, which kubectl reads from kubectl_complete-flywheel).\n";

std::string BashScript() {
  return std::string("# bash completion for flywheel: source <(flywheel completion bash)\n") +
         kProtocolComment +
         "_flywheel() {\n"
         "  local line=${COMP_LINE:0:COMP_POINT}\n"
         "  local -a words lines\n"
         "  read -ra words <<<\"$line\"\n"
         "  if [[ $line == *[[:space:]] ]]; then words+=(''); fi\n"
         "  local cur=${words[${#words[@]}-1]} directive=0 c\n"
         "  # bash completes what follows the '=' of --flag=value.\n"
         "  if [[ $cur == -*=* ]]; then cur=${cur#*=}; fi\n"
         "  mapfile -t lines < <(\"${words[0]}\" __complete \"${words[@]:1}\" 2>/dev/null)\n"
         "  if ((${#lines[@]})) && [[ ${lines[${#lines[@]}-1]} == :* ]]; then\n"
         "    directive=${lines[${#lines[@]}-1]#:}\n"
         "    unset \"lines[${#lines[@]}-1]\"\n"
         "  fi\n"
         "  COMPREPLY=()\n"
         "  ((directive & 1)) && return 0\n"
         "  if ((directive & 4)); then compopt +o default 2>/dev/null; fi\n"
         "  for c in \"${lines[@]}\"; do\n"
         "    c=${c%%$'\\t'*}\n"
         "    if [[ $c == \"$cur\"* ]]; then COMPREPLY+=(\"$c\"); fi\n"
         "  done\n"
         "  return 0\n"
         "}\n"
         "\n"
         "complete -o default -F _flywheel flywheel\n";
}

std::string ZshScript() {
  return std::string(
             "#compdef flywheel\n"
             "# zsh completion for flywheel: source <(flywheel completion zsh) after compinit, "
             "or\n"
             "# save as _flywheel in a directory of $fpath.\n") +
         kProtocolComment +
         "_flywheel() {\n"
         "  emulate -L zsh\n"
         "  local -a lines candidates\n"
         "  local directive=0\n"
         "  lines=(${(f)\"$(\"${words[1]}\" __complete \"${(@)words[2,CURRENT]}\" "
         "2>/dev/null)\"})\n"
         "  if [[ ${lines[-1]} == :* ]]; then\n"
         "    directive=${lines[-1]#:}\n"
         "    lines[-1]=()\n"
         "  fi\n"
         "  ((directive & 1)) && return 1\n"
         "  candidates=(${lines%%$'\\t'*})\n"
         "  if [[ ${words[CURRENT]} == -*=* ]]; then compset -P '*='; fi\n"
         "  if ((${#candidates})); then\n"
         "    compadd -a candidates\n"
         "  elif ((!(directive & 4))); then\n"
         "    _files\n"
         "  fi\n"
         "}\n"
         "\n"
         "if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then\n"
         "  _flywheel \"$@\"\n"
         "else\n"
         "  compdef _flywheel flywheel\n"
         "fi\n";
}

int RunCompletion(const Invocation& inv) {
  FlagSet flags("flywheel completion");
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kUsage, &positional)) return *exit;
  if (positional.size() != 1 || (positional[0] != "bash" && positional[0] != "zsh")) {
    inv.err << "flywheel completion: expected one shell, bash or zsh\n";
    return kExitUsage;
  }
  inv.out << (positional[0] == "bash" ? BashScript() : ZshScript());
  return kExitOk;
}

}  // namespace

int Complete(const std::vector<Command>& commands, const std::vector<std::string>& words,
             std::ostream& out) {
  const Completion c = CompleteWords(commands, words);
  for (const auto& candidate : c.candidates) out << candidate << "\n";
  out << ":" << c.directive << "\n";
  return kExitOk;
}

Command CompletionCommand() {
  return {"completion", "Print a bash or zsh completion script", RunCompletion};
}

}  // namespace flywheel::cli
