#pragma once

#include <chrono>
#include <string>

#include "flywheel/common/time.h"
#include "flywheel/release/spec.h"
#include "flywheel/release/status.h"

// The Release controller's decisions as pure functions of the status, the spec and what git
// resolved (no API server, no git, no clock of their own), so the decision table is unit-tested
// in milliseconds; the reconciler gathers the inputs and carries the decisions out.
namespace flywheel::release {

// Which revision a Release should run.
struct RevisionDecision {
  enum class Kind {
    kRun,               // run `revision` (sync it when it is not what runs)
    kPinRejected,       // the pin names a rolled-back revision: keep what runs, say so
    kWaitForNewCommit,  // the branch head was rolled back and nothing runs yet
  };
  Kind kind = Kind::kRun;
  std::string revision;  // kRun: the full SHA to run
  std::string message;   // kPinRejected, kWaitForNewCommit: why
};

// Decides from the pin (spec.revision) or the branch head, resolved to `resolved_sha`: a
// revision in status.rejectedRevisions is never run again by auto-sync; for a branch head the
// applied revision keeps running until the branch moves, for a pin the Release says
// PinRejected until the pin changes.
RevisionDecision ChooseRevision(const ReleaseStatus& status, const ReleaseSpec& spec,
                                const std::string& resolved_sha);

// The revision a rollback without `to` goes back to: the newest history entry other than the
// applied revision that became healthy, was not rolled back and is not rejected; "" when none.
std::string DefaultRollbackTarget(const ReleaseStatus& status);

// The newest history entry that became healthy, was not rolled back and is not rejected: the
// stable revision; "" when none.
std::string StableRevision(const ReleaseStatus& status);

// Whether a revision still Progressing has run out of spec.healthTimeout: `degraded` once
// `now - applied_at >= timeout` (unless it was healthy before), else when to look again
// (the time left, between 1 s and 10 s).
struct HealthTimeoutVerdict {
  bool degraded = false;
  std::chrono::milliseconds recheck_in{0};
};
HealthTimeoutVerdict CheckHealthTimeout(Time applied_at, Time now,
                                        std::chrono::milliseconds timeout, bool was_healthy);

}  // namespace flywheel::release
