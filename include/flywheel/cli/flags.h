#pragma once

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "flywheel/cli/command.h"
#include "flywheel/common/status.h"

namespace flywheel::cli {

// A command's flags in the style kubectl and controller-runtime users know: `--name=value`,
// `--name value`, `-n value`, `-nvalue` or `-n=value` for a short alias, booleans as `--flag` or
// `--flag=false`, and repeatable flags collected in order. Unknown flags and stray arguments are
// errors.
class FlagSet {
 public:
  explicit FlagSet(std::string command) : command_(std::move(command)) {}

  void String(const std::string& name, std::string* target, const std::string& help,
              const std::string& short_name = "");
  void Bool(const std::string& name, bool* target, const std::string& help,
            const std::string& short_name = "");
  void Int(const std::string& name, int* target, const std::string& help);
  void Double(const std::string& name, double* target, const std::string& help);
  void Strings(const std::string& name, std::vector<std::string>* target, const std::string& help,
               const std::string& short_name = "");

  // Parses `args`; positional arguments go to `positional` when given, else are an error.
  // `--help`/`-h` sets *help_requested.
  Status Parse(const std::vector<std::string>& args, bool* help_requested,
               std::vector<std::string>* positional = nullptr);

  // What every subcommand does with its arguments: parse them; on a mistake print it to stderr
  // and return kExitUsage, on --help print `usage` and the flags and return kExitOk; nullopt
  // means go on.
  std::optional<int> ParseCommandLine(const std::vector<std::string>& args, const Invocation& inv,
                                      const char* usage,
                                      std::vector<std::string>* positional = nullptr);

  // One line per flag as kubectl (pflag) prints it: names, the value's type unless a boolean
  // ("-n, --namespace string"), help, default. `flywheel completion` reads the flags from it.
  void PrintDefaults(std::ostream& out) const;

 private:
  struct Flag {
    std::string name, short_name, help, default_value;
    bool is_bool = false;
    std::function<Status(const std::string&)> set;
    std::string type;  // the value's type as help shows it ("string"); "" for a boolean
  };
  void Add(Flag flag);
  const Flag* Find(const std::string& name) const;

  std::string command_;
  std::vector<Flag> flags_;
};

}  // namespace flywheel::cli
