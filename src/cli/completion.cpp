// `flywheel completion bash|zsh`: a completion script generated from the commands themselves:
// their names, their flags (read from each command's --help, so they never drift) and the names
// of the objects they take (asked from the cluster with `flywheel get <kind> -o name`).
#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "flywheel/cli/app.h"
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

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The shell functions both scripts share (valid bash and zsh): __flywheel_complete prints the
// candidates for the last of its arguments, the command line's words.
std::string CoreFunctions(const std::vector<Command>& commands) {
  std::vector<std::string> names;
  std::ostringstream flags, values, arguments, flag_values;
  for (const auto& c : commands) {
    names.push_back(c.name);
    const CommandFlags f = FlagsOf(c);
    flags << "    " << c.name << ") printf '%s\\n' " << Join(f.all) << " ;;\n";
    values << "    " << c.name << ") echo ' " << Join(f.value) << " ' ;;\n";
    if (auto it = ObjectArguments().find(c.name); it != ObjectArguments().end()) {
      arguments << "    " << c.name << ") ((nargs == 0)) && __flywheel_names \"$prog\" "
                << it->second << " \"${conn[@]}\" ;;\n";
    }
  }
  for (const auto& [key, words] : FlagValues()) {
    flag_values << "    " << key.first << ":" << key.second << ") printf '%s\\n' " << words
                << " ;;\n";
  }
  const std::string all_commands = Join(names);
  std::ostringstream s;
  s << "__flywheel_flags() {\n  case $1 in\n"
    << flags.str() << "  esac\n}\n\n"
    << "# Flags whose value is the next word.\n"
       "__flywheel_value_flags() {\n  case $1 in\n"
       "    '') echo ' --kubeconfig --context --namespace -n ' ;;\n"
    << values.str() << "  esac\n}\n\n"
    << "__flywheel_flag_values() {\n  case $1:$2 in\n"
    << flag_values.str() << "  esac\n}\n\n"
    << "# The names of a kind's objects, in the namespace the command line's flags select.\n"
       "__flywheel_names() {\n"
       "  local prog=$1 kind=$2 line\n"
       "  shift 2\n"
       "  \"$prog\" get \"$kind\" -o name \"$@\" 2>/dev/null | while IFS= read -r line; do\n"
       "    printf '%s\\n' \"${line##*/}\"\n"
       "  done\n"
       "}\n\n"
       "# __flywheel_complete PROGRAM WORD... CURRENT: the candidates for CURRENT.\n"
       "__flywheel_complete() {\n"
       "  local prog=$1 cmd='' w flag='' nargs=0 kind=''\n"
       "  local -a conn\n"
       "  conn=()\n"
       "  shift\n"
       "  while (($# > 1)); do\n"
       "    w=$1\n"
       "    shift\n"
       "    if [[ -z $cmd && $w != -* ]]; then\n"
       "      cmd=$w\n"
       "      continue\n"
       "    fi\n"
       "    case $w in\n"
       "      --kubeconfig | --context | --namespace | -n) conn+=(\"$w\" \"$1\") ;;\n"
       "      --kubeconfig=* | --context=* | --namespace=* | -n?*) conn+=(\"$w\") ;;\n"
       "    esac\n"
       "    if [[ $w == -* ]]; then\n"
       "      if [[ $w != *=* && \" $(__flywheel_value_flags \"$cmd\") \" == *\" $w \"* ]]; "
       "then\n"
       "        if (($# == 1)); then\n"
       "          flag=$w\n"
       "          break\n"
       "        fi\n"
       "        shift\n"
       "      fi\n"
       "      continue\n"
       "    fi\n"
       "    if ((nargs == 0)); then kind=$w; fi\n"
       "    nargs=$((nargs + 1))\n"
       "  done\n"
       "  local cur=$1\n"
       "  if [[ -z $flag && $cur == -*=* ]]; then flag=${cur%%=*}; fi\n"
       "  if [[ -n $flag ]]; then\n"
       "    __flywheel_flag_values \"$cmd\" \"$flag\"\n"
       "  elif [[ $cur == -* ]]; then\n"
       "    __flywheel_flags \"$cmd\"\n"
       "  elif [[ -z $cmd ]]; then\n"
       "    printf '%s\\n' "
    << all_commands
    << "\n"
       "  else\n"
       "    case $cmd in\n"
       "    get)\n"
       "      if ((nargs == 0)); then\n"
       "        printf '%s\\n' all pipelines pipelineruns releases rollbackpolicies\n"
       "      else\n"
       "        __flywheel_names \"$prog\" \"$kind\" \"${conn[@]}\"\n"
       "      fi ;;\n"
       "    help) ((nargs == 0)) && printf '%s\\n' "
    << all_commands
    << " ;;\n"
       "    completion) ((nargs == 0)) && printf '%s\\n' bash zsh ;;\n"
    << arguments.str()
    << "    esac\n"
       "  fi\n"
       "  return 0\n"
       "}\n";
  return s.str();
}

std::string BashScript(const std::vector<Command>& commands) {
  return "# bash completion for flywheel: source <(flywheel completion bash)\n\n" +
         CoreFunctions(commands) +
         "\n"
         "_flywheel() {\n"
         "  local line=${COMP_LINE:0:COMP_POINT}\n"
         "  local -a words\n"
         "  read -ra words <<<\"$line\"\n"
         "  if [[ $line == *[[:space:]] ]]; then words+=(''); fi\n"
         "  local cur=${words[${#words[@]}-1]}\n"
         "  # bash completes what follows the '=' of --flag=value.\n"
         "  if [[ $cur == -*=* ]]; then cur=${cur#*=}; fi\n"
         "  local IFS=$'\\n'\n"
         "  COMPREPLY=($(compgen -W \"$(__flywheel_complete \"${words[@]}\")\" -- \"$cur\"))\n"
         "}\n"
         "\n"
         "complete -o default -F _flywheel flywheel\n";
}

std::string ZshScript(const std::vector<Command>& commands) {
  return "#compdef flywheel\n"
         "# zsh completion for flywheel: source <(flywheel completion zsh) after compinit, or\n"
         "# save as _flywheel in a directory of $fpath.\n\n" +
         CoreFunctions(commands) +
         "\n"
         "_flywheel() {\n"
         "  emulate -L zsh\n"
         "  local -a candidates\n"
         "  candidates=(${(f)\"$(__flywheel_complete \"${(@)words[1,CURRENT]}\")\"})\n"
         "  if [[ ${words[CURRENT]} == -*=* ]]; then compset -P '*='; fi\n"
         "  if ((${#candidates})); then\n"
         "    compadd -a candidates\n"
         "  else\n"
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
  std::vector<Command> commands = DefaultCommands();
  std::sort(commands.begin(), commands.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
  inv.out << (positional[0] == "bash" ? BashScript(commands) : ZshScript(commands));
  return kExitOk;
}

}  // namespace

Command CompletionCommand() {
  return {"completion", "Print a bash or zsh completion script", RunCompletion};
}

}  // namespace flywheel::cli
