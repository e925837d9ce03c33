#include <nlohmann/json.hpp>
#include <ostream>

#include "flywheel/build_info.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/flags.h"

namespace flywheel::cli {
namespace {

constexpr const char* kVersionHelp =
    "Print the Flywheel version.\n"
    "\n"
    "Usage:\n"
    "  flywheel version [-o text|json]\n"
    "\n"
    "Flags:\n";

int RunVersion(const Invocation& inv) {
  std::string format = "text";
  FlagSet flags("flywheel version");
  flags.String("output", &format, "Output format: text or json", "o");
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kVersionHelp)) return *exit;
  if (format == "json") {
    nlohmann::json v = {{"version", build_info::kVersion},
                        {"gitCommit", build_info::kGitCommit},
                        {"compiler", build_info::kCompiler}};
    inv.out << v.dump(2) << "\n";
    return kExitOk;
  }
  if (format != "text") {
    inv.err << "flywheel version: --output must be text or json, not \"" << format << "\"\n";
    return kExitUsage;
  }
  inv.out << "flywheel " << build_info::kVersion << " (commit " << build_info::kGitCommit << ", "
          << build_info::kCompiler << ")\n";
  return kExitOk;
}

}  // namespace

Command VersionCommand() { return {"version", "Print the Flywheel version", RunVersion}; }

}  // namespace flywheel::cli
