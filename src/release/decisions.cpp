#include "flywheel/release/decisions.h"

#include <algorithm>

#include "internal.h"

namespace flywheel::release {

RevisionDecision ChooseRevision(const ReleaseStatus& status, const ReleaseSpec& spec,
                                const std::string& resolved_sha) {
  if (!status.IsRejected(resolved_sha)) return {RevisionDecision::Kind::kRun, resolved_sha, ""};
  const std::string& applied = status.last_applied_revision;
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

namespace {

// Healthy once, not rolled back, not rejected: a revision to go back to.
bool Revertible(const ReleaseStatus& status, const HistoryEntry& e) {
  return e.healthy_at.has_value() && e.result != "RolledBack" && !status.IsRejected(e.revision);
}

}  // namespace

std::string DefaultRollbackTarget(const ReleaseStatus& status) {
  for (const auto& e : status.history) {
    if (e.revision != status.last_applied_revision && Revertible(status, e)) return e.revision;
  }
  return "";
}

std::string StableRevision(const ReleaseStatus& status) {
  for (const auto& e : status.history) {
    if (Revertible(status, e)) return e.revision;
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
