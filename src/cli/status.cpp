// `flywheel status <release>`: one Release at a glance - what runs, its health, its last
// rollback - and the RollbackPolicies guarding it with each check's last value.
#include "flywheel/release/status.h"

#include <iomanip>

#include "flywheel/api/names.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/client_flags.h"
#include "flywheel/cli/flags.h"
#include "flywheel/common/time.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/rollback/policies.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;

std::string Short(const std::string& sha) { return sha.empty() ? "-" : sha.substr(0, 7); }

std::string ReadyLine(const json& status) {
  const json conditions = status.value("conditions", json::array());
  const json* ready = kube::FindCondition(conditions, "Ready");
  if (ready == nullptr) return "Ready: (not reported yet)";
  return "Ready: " + ready->value("status", "") + " " + ready->value("reason", "") + ": " +
         ready->value("message", "");
}

int RunStatus(const Invocation& inv) {
  constexpr const char* kUsage =
      "Show a Release: the revision it runs, its health, its last rollback, and the\n"
      "RollbackPolicies watching it with the last value of each check.\n"
      "\n"
      "Usage:\n"
      "  flywheel status <release> [flags]\n"
      "\n"
      "Flags:\n";
  ClientFlags client_flags;
  FlagSet flags("flywheel status");
  client_flags.Register(flags);
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kUsage, &positional)) return *exit;
  if (positional.size() != 1) {
    inv.err << "flywheel status: expected exactly one Release name\n";
    return kExitUsage;
  }
  std::string ns;
  auto client = client_flags.Connect(inv, "flywheel status", &ns);
  if (!client) return kExitFailure;
  auto release = client->Get(api::kGroupVersion, "Release", ns, positional[0]);
  if (!release.ok()) {
    inv.err << "flywheel status: " << release.status().message() << "\n";
    return kExitFailure;
  }
  auto policies = client->List(api::kGroupVersion, "RollbackPolicy", ns);
  if (!policies.ok()) {
    inv.err << "flywheel status: " << policies.status().message() << "\n";
    return kExitFailure;
  }

  const json status_json = release->value("status", json::object());
  const auto status = release::ReleaseStatus::FromJson(status_json);
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  inv.out << "Release " << ns << "/" << positional[0] << "\n"
          << "  revision: " << Short(status.last_applied_revision)
          << "  health: " << or_dash(status.health) << "  stable: " << Short(status.stable_revision)
          << "\n"
          << "  " << ReadyLine(status_json) << "\n";
  if (const auto& r = status.last_rollback) {
    inv.out << "  last rollback: " << (r->at ? FormatRfc3339(*r->at) : "-") << " "
            << Short(r->from_revision) << " -> " << Short(r->to_revision) << " by "
            << or_dash(r->by) << ": " << r->reason << "\n";
  }

  std::vector<kube::ObjectPtr> all;
  for (auto& item : (*policies)["items"]) all.push_back(std::make_shared<const json>(item));
  const auto guarding = rollback::PoliciesGuarding(*release, all);
  if (guarding.empty()) {
    inv.out << "No RollbackPolicy watches this Release.\n";
    return kExitOk;
  }
  for (const auto& p : all) {
    const std::string name = kube::MetaString(*p, "name");
    if (std::find(guarding.begin(), guarding.end(), ns + "/" + name) == guarding.end()) continue;
    const json ps = p->value("status", json::object());
    const bool dry_run = p->value("spec", json::object()).value("dryRun", false);
    inv.out << "RollbackPolicy " << name << (dry_run ? " (dry run)" : "")
            << "  phase: " << ps.value("phase", "-")
            << "  watching: " << Short(ps.value("watchedRevision", "")) << "\n"
            << "  " << ReadyLine(ps) << "\n";
    inv.out << "  " << std::left << std::setw(24) << "METRIC" << std::setw(14) << "VALUE"
            << std::setw(11) << "STATE" << std::setw(22) << "BREACHING SINCE" << std::setw(8)
            << "ERRORS"
            << "EVALUATED\n";
    for (const json& m : ps.value("metrics", json::array())) {
      inv.out << "  " << std::left << std::setw(24) << m.value("name", "") << std::setw(14)
              << m.value("value", "-") << std::setw(11) << m.value("state", "-") << std::setw(22)
              << m.value("breachingSince", "-").substr(0, 19) << std::setw(8)
              << m.value("consecutiveErrors", 0) << m.value("evaluatedAt", "-").substr(0, 19)
              << "\n";
    }
    if (ps.contains("lastRollback")) {
      const json& r = ps["lastRollback"];
      inv.out << "  last " << (r.value("dryRun", false) ? "would-be rollback" : "rollback") << ": "
              << r.value("at", "-") << " " << Short(r.value("fromRevision", "")) << " -> "
              << Short(r.value("toRevision", "")) << ": " << r.value("reason", "")
              << (r.contains("revertCommit")
                      ? " (revert " + Short(r.value("revertCommit", "")) + ")"
                      : "")
              << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

Command StatusCommand() {
  return {"status", "Show a Release and the RollbackPolicies watching it", RunStatus};
}

}  // namespace flywheel::cli
