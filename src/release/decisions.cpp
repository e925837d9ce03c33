#include "flywheel/release/decisions.h"

#include <algorithm>

#include "internal.h"

namespace flywheel::release {

bool IsRejected(const nlohmann::json& status, const std::string& sha) {
  for (const auto& r : status.value("rejectedRevisions", nlohmann::json::array())) {
    if (r.value("revision", "") == sha) return true;
  }
  return false;
}

RevisionDecision ChooseRevision(const json& status, const ReleaseSpec& spec,
                                const std::string& resolved_sha) {
  if (!IsRejected(status, resolved_sha)) return {RevisionDecision::Kind::kRun, resolved_sha, ""};
  const std::string applied = status.value("lastAppliedRevision", "");
  if (!spec.revision.empty()) {
    return {RevisionDecision::Kind::kPinRejected, "",
            "spec.revision " + spec.revision + " (" + Short(resolved_sha) + ") was rolled back" +
                (applied.empty() ? "" : "; running " + Short(applied)) +
                ": pin another revision or remove spec.revision to follow the branch"};
  }
  if (applied.empty()) {
    return {RevisionDecision::Kind::kWaitForNewCommit, "",
            "the head of " + spec.branch + " (" + Short(resolved_sha) +
                ") was rolled back; waiting for a new commit"};
  }
  return {RevisionDecision::Kind::kRun, applied, ""};
}

std::string DefaultRollbackTarget(const json& status) {
  const std::string from = status.value("lastAppliedRevision", "");
  for (const auto& e : status.value("history", json::array())) {
    const std::string rev = e.value("revision", "");
    if (rev != from && e.contains("healthyAt") && e.value("result", "") != "RolledBack" &&
        !IsRejected(status, rev)) {
      return rev;
    }
  }
  return "";
}

HealthTimeoutVerdict CheckHealthTimeout(Time applied_at, Time now, milliseconds timeout,
                                        bool was_healthy) {
  auto age = std::chrono::duration_cast<milliseconds>(now - applied_at);
  if (age >= timeout && !was_healthy) return {true, milliseconds(0)};
  return {false, std::clamp(timeout - age, milliseconds(1000), milliseconds(10000))};
}

}  // namespace flywheel::release
