#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flywheel/common/time.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/release/object_ref.h"

// A Release's status as a type: what the controller reads at the start of a reconcile, changes,
// and writes back (crds/flywheel.dev_releases.yaml, docs/release.md). The JSON names live only
// in FromJson and ToJson; everything else uses the fields. Times are whole seconds, as the API
// stores them (metav1.Time), so a status read back equals the one written.
namespace flywheel::release {

// One revision in status.history, newest first.
struct HistoryEntry {
  std::string revision;  // full SHA
  std::string message;   // the commit's subject and body
  std::string author;
  std::optional<Time> committed_at;
  std::optional<Time> applied_at;  // unset when the sync failed
  std::optional<Time> healthy_at;  // when it first became healthy
  std::string result;              // Progressing, Healthy, Degraded, Failed, RolledBack
  std::string reason;              // why Failed, Degraded or RolledBack

  // The entry of a commit, with no outcome yet.
  static HistoryEntry Of(const git::CommitInfo& commit);
  bool operator==(const HistoryEntry&) const = default;
};

// A revision that was rolled back: auto-sync never applies it again.
struct RejectedRevision {
  std::string revision;
  std::optional<Time> rejected_at;
  std::string reason;
  bool operator==(const RejectedRevision&) const = default;
};

// The newest rollback and what became of it.
struct LastRollback {
  std::string id;  // the request's id (flywheel.dev/rollback annotation)
  std::optional<Time> at;
  std::string from_revision;
  std::string to_revision;
  std::string reason;
  std::string by;
  std::string trigger;        // manual, policy
  std::string revert_commit;  // the revert commit on the branch, once pushed
  bool revert_pending = false;
  std::string revert_message;       // why no revert commit (yet)
  std::optional<Time> restored_at;  // when what replaced the bad revision was healthy

  bool operator==(const LastRollback&) const = default;
};

// status of a Release.
struct ReleaseStatus {
  int64_t observed_generation = 0;
  // metav1.Condition list (Ready, Reconciling, Stalled, Healthy), edited with
  // kube::SetCondition and kube::RemoveCondition.
  nlohmann::json conditions = nlohmann::json::array();
  std::string last_handled_reconcile_at;  // the flywheel.dev/reconcile-at value carried out
  std::string last_handled_rollback;      // the id of the rollback request carried out
  std::string last_attempted_revision;
  std::string last_applied_revision;  // ToJson adds lastAppliedShortRevision
  std::string stable_revision;        // ToJson adds stableShortRevision
  std::string health;                 // Healthy, Progressing, Degraded, Suspended, Unknown
  std::vector<ObjectRef> inventory;   // what the last sync applied
  std::vector<HistoryEntry> history;  // newest first, at most spec.historyLimit
  std::vector<RejectedRevision> rejected_revisions;  // newest first
  std::optional<LastRollback> last_rollback;

  // What FromJson reads: everything, or all but the inventory (up to 5000 objects), for readers
  // that never look at it (the RollbackPolicy controller, at every evaluation).
  enum class Parts { kAll, kWithoutInventory };
  // Reads what the API server holds; fields of the wrong type or unknown are ignored, a
  // timestamp that does not parse is unset.
  static ReleaseStatus FromJson(const nlohmann::json& status, Parts parts = Parts::kAll);
  // FromJson of a Release object's `status` (none: an empty status), without copying it out.
  static ReleaseStatus OfRelease(const nlohmann::json& release, Parts parts = Parts::kAll);
  // The status to write. Empty strings, lists and unset times are left out (as Go's omitempty).
  nlohmann::json ToJson() const;

  bool IsRejected(const std::string& revision) const;
  // The history entry of `revision`, or null.
  HistoryEntry* FindHistory(const std::string& revision);
  const HistoryEntry* FindHistory(const std::string& revision) const;
  // Puts `entry` first, replacing the entry of the same revision and dropping the oldest
  // beyond `limit`.
  void RecordHistory(HistoryEntry entry, size_t limit);
  // Puts `rejected` first (replacing the same revision), keeping at most `limit`.
  void Reject(RejectedRevision rejected, size_t limit);

  bool operator==(const ReleaseStatus&) const = default;
};

}  // namespace flywheel::release
