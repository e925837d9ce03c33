// `flywheel rollback`, `flywheel sync` and `flywheel history`: the Release commands. Rollback and
// sync record a request on the Release (an annotation) that the controller carries out, so they
// work from anywhere with RBAC to patch Releases, survive a controller restart, and go through
// the same apply path as every deployment.
#include <chrono>
#include <functional>
#include <iomanip>
#include <random>
#include <sstream>
#include <thread>

#include "flywheel/api/names.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/client_flags.h"
#include "flywheel/cli/flags.h"
#include "flywheel/common/time.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/release/reconciler.h"
#include "flywheel/release/status.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;

std::string RequestId() {
  std::random_device rd;
  std::ostringstream id;
  id << FormatRfc3339Micro(std::chrono::system_clock::now()) << "-" << std::hex << rd();
  return id.str();
}

// Polls the Release until `done(status)` or `timeout`; returns the last status seen.
std::optional<json> WaitFor(const kube::Client& client, const std::string& ns,
                            const std::string& name, Duration timeout,
                            const std::function<bool(const json&)>& done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto release = client.Get(api::kGroupVersion, "Release", ns, name);
    if (release.ok()) {
      json status = release->value("status", json::object());
      if (done(status)) return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string ReadyMessage(const json& status, bool* ok) {
  const json conditions = status.value("conditions", json::array());
  const json* ready = kube::FindCondition(conditions, "Ready");
  if (ready == nullptr) {
    *ok = false;
    return "no Ready condition yet";
  }
  *ok = ready->value("status", "") == "True";
  return ready->value("reason", "") + ": " + ready->value("message", "");
}

// A request the controller carries out: a merge patch of the Release, and the status field that
// says it was handled.
struct ReleaseRequest {
  json patch;
  std::string handled_field;  // e.g. "lastHandledRollback"
  std::string handled_value;  // the value it takes once the request was carried out
  // Whether the handled request succeeded (default: the Ready condition is True), and a line
  // that says what it did (printed before Ready's message).
  std::function<bool(const json& status)> succeeded;
  std::function<std::string(const json& status)> summary;
};

// The part of `flywheel rollback` and `flywheel sync` after their own flags: parses the Release
// name and --wait, connects, patches, waits for the controller and prints Ready's message.
// `make_request` builds the patch once the namespace is known.
int SendReleaseRequest(const Invocation& inv, const std::string& command, const char* usage,
                       FlagSet& flags, ClientFlags& client_flags, const std::string& wait,
                       const std::function<ReleaseRequest()>& make_request) {
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(inv.args, inv, usage, &positional)) return *exit;
  if (positional.size() != 1) {
    inv.err << command << ": expected exactly one Release name\n";
    return kExitUsage;
  }
  auto timeout = ParseDuration(wait);
  if (!timeout.ok()) {
    inv.err << command << ": --wait: " << timeout.status().message() << "\n";
    return kExitUsage;
  }
  std::string ns;
  auto client = client_flags.Connect(inv, command, &ns);
  if (!client) return kExitFailure;
  const std::string& name = positional[0];
  ReleaseRequest request = make_request();
  auto patched = client->Patch(api::kGroupVersion, "Release", ns, name, kube::PatchType::kMerge,
                               request.patch.dump());
  if (!patched.ok()) {
    inv.err << command << ": " << patched.status().message() << "\n";
    return kExitFailure;
  }
  if (timeout->count() == 0) {
    inv.out << "release " << ns << "/" << name << ": requested (" << request.handled_value << ")\n";
    return kExitOk;
  }
  auto status = WaitFor(*client, ns, name, *timeout, [&](const json& s) {
    return s.value(request.handled_field, "") == request.handled_value;
  });
  if (!status) {
    inv.err << command << ": the controller did not handle the request within " << wait
            << " (is `flywheel controller` running?)\n";
    return kExitFailure;
  }
  bool ok = false;
  std::string message = ReadyMessage(*status, &ok);
  if (request.succeeded) ok = request.succeeded(*status);
  if (ok && request.summary) inv.out << request.summary(*status) << "\n";
  (ok ? inv.out : inv.err) << "release " << ns << "/" << name << ": " << message << " (health "
                           << status->value("health", "Unknown") << ")\n";
  return ok ? kExitOk : kExitFailure;
}

int RunRollback(const Invocation& inv) {
  constexpr const char* kUsage =
      "Roll a Release back to the last revision before the current one that became healthy (or\n"
      "--to a revision): the controller applies it, marks the current revision rejected so\n"
      "automatic sync skips it, and pushes a revert commit to the source branch (unless\n"
      "--no-git-revert). --to also pins spec.revision.\n"
      "\n"
      "Usage:\n"
      "  flywheel rollback <release> [--to <revision>] [--reason <text>] [flags]\n"
      "\n"
      "Flags:\n";
  ClientFlags client_flags;
  release::RollbackRequest request;
  bool no_git_revert = false;
  std::string wait = "2m";
  FlagSet flags("flywheel rollback");
  client_flags.Register(flags);
  flags.String("to", &request.to,
               "Revision (SHA, short SHA or tag); default: the last healthy one");
  flags.String("reason", &request.reason, "Why (recorded in history, Events and the commit)");
  flags.Bool("no-git-revert", &no_git_revert, "Do not push a revert commit to the source branch");
  flags.String("wait", &wait, "How long to wait for the controller (0 = do not wait)");
  return SendReleaseRequest(inv, "flywheel rollback", kUsage, flags, client_flags, wait, [&] {
    request.id = RequestId();
    request.git_revert = !no_git_revert;
    request.by = "flywheel rollback";
    json patch = {
        {"metadata", {{"annotations", {{api::kRollbackAnnotation, request.ToAnnotation()}}}}}};
    if (!request.to.empty()) patch["spec"] = {{"revision", request.to}};
    // The rollback happened when status.lastRollback names it; Ready may say more (e.g. a
    // rejected pin), which is printed either way.
    auto succeeded = [id = request.id](const json& s) {
      auto last = release::ReleaseStatus::FromJson(s).last_rollback;
      return last && last->id == id;
    };
    auto summary = [](const json& s) {
      const release::LastRollback last =
          release::ReleaseStatus::FromJson(s).last_rollback.value_or(release::LastRollback{});
      std::string line = "rolled back from " + last.from_revision.substr(0, 7) + " to " +
                         last.to_revision.substr(0, 7);
      if (!last.revert_commit.empty()) {
        line += "; revert commit " + last.revert_commit.substr(0, 7);
      } else if (!last.revert_message.empty()) {
        line += "; " + last.revert_message;
      }
      return line;
    };
    return ReleaseRequest{patch, "lastHandledRollback", request.id, succeeded, summary};
  });
}

int RunSync(const Invocation& inv) {
  constexpr const char* kUsage =
      "Ask the controller to fetch and sync a Release now (sets the annotation\n"
      "flywheel.dev/reconcile-requested-at), then wait for the result.\n"
      "\n"
      "Usage:\n"
      "  flywheel sync <release> [flags]\n"
      "\n"
      "Flags:\n";
  ClientFlags client_flags;
  std::string wait = "2m";
  FlagSet flags("flywheel sync");
  client_flags.Register(flags);
  flags.String("wait", &wait, "How long to wait for the controller (0 = do not wait)");
  return SendReleaseRequest(inv, "flywheel sync", kUsage, flags, client_flags, wait, [] {
    const std::string value = FormatRfc3339Micro(std::chrono::system_clock::now());
    json patch = {{"metadata", {{"annotations", {{api::kReconcileAnnotation, value}}}}}};
    return ReleaseRequest{patch, "lastHandledReconcileAt", value};
  });
}

int RunHistory(const Invocation& inv) {
  constexpr const char* kUsage =
      "Show the revisions a Release applied, newest first, and the rejected ones.\n"
      "\n"
      "Usage:\n"
      "  flywheel history <release> [flags]\n"
      "\n"
      "Flags:\n";
  ClientFlags client_flags;
  FlagSet flags("flywheel history");
  client_flags.Register(flags);
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kUsage, &positional)) return *exit;
  if (positional.size() != 1) {
    inv.err << "flywheel history: expected exactly one Release name\n";
    return kExitUsage;
  }
  std::string ns;
  auto client = client_flags.Connect(inv, "flywheel history", &ns);
  if (!client) return kExitFailure;
  auto release = client->Get(api::kGroupVersion, "Release", ns, positional[0]);
  if (!release.ok()) {
    inv.err << "flywheel history: " << release.status().message() << "\n";
    return kExitFailure;
  }
  const auto status =
      release::ReleaseStatus::OfRelease(*release, release::ReleaseStatus::Parts::kWithoutInventory);
  auto at = [](const std::optional<Time>& t) { return t ? FormatRfc3339(*t) : "-"; };
  inv.out << std::left << std::setw(9) << "REVISION" << std::setw(12) << "RESULT" << std::setw(22)
          << "APPLIED" << std::setw(22) << "HEALTHY"
          << "MESSAGE\n";
  for (const auto& e : status.history) {
    std::string rev = e.revision.substr(0, 7);
    if (e.revision == status.stable_revision) rev += "*";
    inv.out << std::left << std::setw(9) << rev << std::setw(12) << e.result << std::setw(22)
            << at(e.applied_at) << std::setw(22) << at(e.healthy_at) << e.message << "\n";
  }
  for (const auto& r : status.rejected_revisions) {
    inv.out << "rejected " << r.revision.substr(0, 7) << " at "
            << (r.rejected_at ? FormatRfc3339(*r.rejected_at) : "") << ": " << r.reason << "\n";
  }
  return kExitOk;
}

}  // namespace

Command RollbackCommand() {
  return {"rollback", "Roll a Release back to its last healthy revision", RunRollback};
}
Command SyncCommand() { return {"sync", "Fetch and sync a Release now", RunSync}; }
Command HistoryCommand() { return {"history", "Show a Release's revisions", RunHistory}; }

}  // namespace flywheel::cli
