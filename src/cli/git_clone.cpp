// `flywheel git-clone`: the build pod's first container. Clones a repository into the shared
// workspace and checks out the exact revision of the PipelineRun (docs/pipeline.md, "Clone").
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "flywheel/cli/app.h"
#include "flywheel/cli/flags.h"
#include "flywheel/common/time.h"
#include "flywheel/common/utf8.h"
#include "flywheel/git/clone.h"
#include "flywheel/git/secret_credentials.h"
#include "flywheel/git/url.h"

namespace flywheel::cli {
namespace {

constexpr const char* kDefaultTerminationMessagePath = "/dev/termination-log";

// What the controller reads from the clone container's termination message (at most 4096 bytes
// in Kubernetes: author and subject are cut to fit).
std::string TerminationMessage(const git::CommitInfo& commit) {
  nlohmann::json message = {
      {"revision", commit.sha},
      {"author", std::string(TruncateUtf8(ToValidUtf8(commit.author), 512))},
      {"committedAt", FormatRfc3339(commit.committed_at)},
      {"subject", std::string(TruncateUtf8(ToValidUtf8(commit.message), 1024))}};
  return message.dump();
}

// Writes `text` to `path`. The default path is only written when it exists (a pod's
// /dev/termination-log, mounted by the kubelet): outside a pod nothing is created in /dev.
// Returns the reason it could not, or nullopt.
std::optional<std::string> WriteTerminationMessage(const std::string& path, bool create,
                                                   const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd < 0) return std::string(std::strerror(errno));
  ssize_t written = write(fd, text.data(), text.size());
  int write_errno = errno;
  close(fd);
  if (written != static_cast<ssize_t>(text.size())) return std::string(std::strerror(write_errno));
  return std::nullopt;
}

int RunGitClone(const Invocation& inv) {
  constexpr const char* kUsage =
      "Clone a git repository and check out one exact revision (the build pod's first\n"
      "container). Credentials are read from files named like the Secret keys in the\n"
      "--credentials directory: username + password, or token (http/https); identity +\n"
      "known_hosts (ssh, host keys always verified). Prints \"cloned <url> <branch> at <sha>\"\n"
      "and writes the commit as JSON to the termination message path.\n"
      "\n"
      "Usage:\n"
      "  flywheel git-clone --url <url> --branch <branch> --revision <sha> --dest <dir> "
      "[flags]\n"
      "\n"
      "Flags:\n";
  git::CloneRequest request;
  std::string dest, credentials_dir, timeout = "10m";
  std::string termination_path = kDefaultTerminationMessagePath;
  FlagSet flags("flywheel git-clone");
  flags.String("url", &request.url, "the repository URL (required)");
  flags.String("branch", &request.branch, "the branch the revision is on (required)");
  flags.String("revision", &request.revision, "the full commit SHA to check out (required)");
  flags.String("dest", &dest, "the directory to clone into: missing or empty (required)");
  flags.String("credentials", &credentials_dir,
               "a directory holding the source Secret's keys as files (default: none)");
  flags.String("timeout", &timeout, "the bound on all network operations together");
  flags.String("termination-message-path", &termination_path,
               "where the commit's JSON is written (the default only when it exists)");
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kUsage)) return *exit;
  for (auto [name, value] : {std::pair{"--url", &request.url},
                             {"--branch", &request.branch},
                             {"--revision", &request.revision},
                             {"--dest", &dest}}) {
    if (value->empty()) {
      inv.err << "flywheel git-clone: " << name << " is required\n";
      return kExitUsage;
    }
  }
  auto parsed_timeout = ParseDuration(timeout);
  if (!parsed_timeout.ok() || *parsed_timeout < std::chrono::seconds(1)) {
    inv.err << "flywheel git-clone: --timeout must be a duration of at least 1s, not \"" << timeout
            << "\"\n";
    return kExitUsage;
  }
  request.timeout = std::chrono::duration_cast<std::chrono::seconds>(*parsed_timeout);
  request.dest = dest;
  if (!credentials_dir.empty()) {
    auto credentials = git::CredentialsFromFiles(credentials_dir, request.url);
    if (!credentials.ok()) {
      inv.err << "flywheel git-clone: " << credentials.status().message() << "\n";
      return kExitFailure;
    }
    request.credentials = std::move(*credentials);
  }

  auto commit = git::Clone(request);
  if (!commit.ok()) {
    inv.err << "flywheel git-clone: " << commit.status().message() << "\n";
    return kExitFailure;
  }
  bool explicit_path = termination_path != kDefaultTerminationMessagePath;
  if (!termination_path.empty()) {
    auto failed =
        WriteTerminationMessage(termination_path, explicit_path, TerminationMessage(*commit));
    if (failed && explicit_path) {
      inv.err << "flywheel git-clone: cannot write the termination message to " << termination_path
              << ": " << *failed << "\n";
    }
  }
  inv.out << "cloned " << git::RedactUrl(request.url) << " " << request.branch << " at "
          << commit->sha << "\n";
  return kExitOk;
}

}  // namespace

Command GitCloneCommand() {
  return {"git-clone", "Clone a repository at one exact revision (the build pod's first step)",
          RunGitClone};
}

}  // namespace flywheel::cli
