#include <nlohmann/json.hpp>
#include <ostream>

#include "flywheel/build_info.h"
#include "flywheel/cli/app.h"

namespace flywheel::cli {
namespace {

constexpr const char* kVersionHelp =
    "Print the Flywheel version.\n"
    "\n"
    "Usage:\n"
    "  flywheel version [-o text|json]\n";

int RunVersion(const Invocation& inv) {
  std::string format = "text";
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const std::string& a = inv.args[i];
    if (a == "--help" || a == "-h") {
      inv.out << kVersionHelp;
      return kExitOk;
    }
    if ((a == "-o" || a == "--output") && i + 1 < inv.args.size()) {
      format = inv.args[++i];
    } else if (a.starts_with("--output=")) {
      format = a.substr(9);
    } else {
      inv.err << "flywheel version: unknown argument \"" << a << "\"\n" << kVersionHelp;
      return kExitUsage;
    }
  }
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
