// ReleaseStatus (status.h) and the helpers over it declared in internal.h.
#include "flywheel/release/status.h"

#include <algorithm>

#include "flywheel/kube/conditions.h"
#include "internal.h"

namespace flywheel::release {

namespace {

std::string StatusText(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<Time> StatusTime(const json& object, const char* key) {
  auto parsed = ParseRfc3339(StatusText(object, key));
  if (!parsed.ok()) return std::nullopt;
  return *parsed;
}

// The elements of the list `status[key]` that are objects.
std::vector<const json*> StatusEntries(const json& status, const char* key) {
  std::vector<const json*> out;
  auto it = status.find(key);
  if (it == status.end() || !it->is_array()) return out;
  for (const json& e : *it) {
    if (e.is_object()) out.push_back(&e);
  }
  return out;
}

void PutUnlessEmpty(json& object, const char* key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

void PutUnlessEmpty(json& object, const char* key, const std::optional<Time>& value) {
  if (value) object[key] = FormatRfc3339(*value);
}

std::optional<Time> WholeSeconds(Time t) { return std::chrono::floor<std::chrono::seconds>(t); }

}  // namespace

HistoryEntry HistoryEntry::Of(const git::CommitInfo& commit) {
  HistoryEntry entry;
  entry.revision = commit.sha;
  entry.message = commit.message;
  entry.author = commit.author;
  entry.committed_at = WholeSeconds(commit.committed_at);
  return entry;
}

ReleaseStatus ReleaseStatus::OfRelease(const json& release, Parts parts) {
  auto it = release.find("status");
  return it == release.end() ? ReleaseStatus() : FromJson(*it, parts);
}

ReleaseStatus ReleaseStatus::FromJson(const json& status, Parts parts) {
  ReleaseStatus s;
  if (!status.is_object()) return s;
  if (auto it = status.find("observedGeneration"); it != status.end() && it->is_number_integer()) {
    s.observed_generation = it->get<int64_t>();
  }
  if (auto it = status.find("conditions"); it != status.end() && it->is_array()) {
    s.conditions = *it;
  }
  s.last_handled_reconcile_at = StatusText(status, "lastHandledReconcileAt");
  s.last_handled_rollback = StatusText(status, "lastHandledRollback");
  s.last_attempted_revision = StatusText(status, "lastAttemptedRevision");
  s.last_applied_revision = StatusText(status, "lastAppliedRevision");
  s.stable_revision = StatusText(status, "stableRevision");
  s.health = StatusText(status, "health");
  if (parts == Parts::kAll) {
    for (const json* e : StatusEntries(status, "inventory")) {
      s.inventory.push_back(ObjectRef::FromInventory(*e));
    }
  }
  for (const json* e : StatusEntries(status, "history")) {
    s.history.push_back({StatusText(*e, "revision"), StatusText(*e, "message"),
                         StatusText(*e, "author"), StatusTime(*e, "committedAt"),
                         StatusTime(*e, "appliedAt"), StatusTime(*e, "healthyAt"),
                         StatusText(*e, "result"), StatusText(*e, "reason")});
  }
  for (const json* e : StatusEntries(status, "rejectedRevisions")) {
    s.rejected_revisions.push_back(
        {StatusText(*e, "revision"), StatusTime(*e, "rejectedAt"), StatusText(*e, "reason")});
  }
  if (auto it = status.find("lastRollback"); it != status.end() && it->is_object()) {
    const json& r = *it;
    LastRollback last;
    last.id = StatusText(r, "id");
    last.at = StatusTime(r, "at");
    last.from_revision = StatusText(r, "fromRevision");
    last.to_revision = StatusText(r, "toRevision");
    last.reason = StatusText(r, "reason");
    last.by = StatusText(r, "by");
    last.trigger = StatusText(r, "trigger");
    last.revert_commit = StatusText(r, "revertCommit");
    auto pending = r.find("revertPending");
    last.revert_pending = pending != r.end() && pending->is_boolean() && pending->get<bool>();
    last.revert_message = StatusText(r, "revertMessage");
    last.restored_at = StatusTime(r, "restoredAt");
    s.last_rollback = std::move(last);
  }
  return s;
}

json ReleaseStatus::ToJson() const {
  json out = json::object();
  out["observedGeneration"] = observed_generation;
  if (!conditions.empty()) out["conditions"] = conditions;
  PutUnlessEmpty(out, "lastHandledReconcileAt", last_handled_reconcile_at);
  PutUnlessEmpty(out, "lastHandledRollback", last_handled_rollback);
  PutUnlessEmpty(out, "lastAttemptedRevision", last_attempted_revision);
  PutUnlessEmpty(out, "lastAppliedRevision", last_applied_revision);
  PutUnlessEmpty(out, "lastAppliedShortRevision", Short(last_applied_revision));
  PutUnlessEmpty(out, "stableRevision", stable_revision);
  PutUnlessEmpty(out, "stableShortRevision", Short(stable_revision));
  PutUnlessEmpty(out, "health", health);
  if (!inventory.empty()) {
    json& list = out["inventory"] = json::array();
    for (const auto& r : inventory) list.push_back(r.ToInventory());
  }
  if (!history.empty()) {
    json& list = out["history"] = json::array();
    for (const auto& h : history) {
      json e = {{"revision", h.revision}};
      PutUnlessEmpty(e, "message", h.message);
      PutUnlessEmpty(e, "author", h.author);
      PutUnlessEmpty(e, "committedAt", h.committed_at);
      PutUnlessEmpty(e, "appliedAt", h.applied_at);
      PutUnlessEmpty(e, "healthyAt", h.healthy_at);
      PutUnlessEmpty(e, "result", h.result);
      PutUnlessEmpty(e, "reason", h.reason);
      list.push_back(std::move(e));
    }
  }
  if (!rejected_revisions.empty()) {
    json& list = out["rejectedRevisions"] = json::array();
    for (const auto& r : rejected_revisions) {
      json e = {{"revision", r.revision}};
      PutUnlessEmpty(e, "rejectedAt", r.rejected_at);
      PutUnlessEmpty(e, "reason", r.reason);
      list.push_back(std::move(e));
    }
  }
  if (last_rollback) {
    const LastRollback& r = *last_rollback;
    json e = json::object();
    PutUnlessEmpty(e, "id", r.id);
    PutUnlessEmpty(e, "at", r.at);
    PutUnlessEmpty(e, "fromRevision", r.from_revision);
    PutUnlessEmpty(e, "toRevision", r.to_revision);
    PutUnlessEmpty(e, "reason", r.reason);
    PutUnlessEmpty(e, "by", r.by);
    PutUnlessEmpty(e, "trigger", r.trigger);
    PutUnlessEmpty(e, "revertCommit", r.revert_commit);
    if (r.revert_pending) e["revertPending"] = true;
    PutUnlessEmpty(e, "revertMessage", r.revert_message);
    PutUnlessEmpty(e, "restoredAt", r.restored_at);
    out["lastRollback"] = std::move(e);
  }
  return out;
}

bool ReleaseStatus::IsRejected(const std::string& revision) const {
  return std::any_of(rejected_revisions.begin(), rejected_revisions.end(),
                     [&](const RejectedRevision& r) { return r.revision == revision; });
}

HistoryEntry* ReleaseStatus::FindHistory(const std::string& revision) {
  for (auto& e : history) {
    if (e.revision == revision) return &e;
  }
  return nullptr;
}

const HistoryEntry* ReleaseStatus::FindHistory(const std::string& revision) const {
  return const_cast<ReleaseStatus*>(this)->FindHistory(revision);
}

namespace {

template <typename T>
void PrependBoundedList(std::vector<T>& list, T entry, size_t limit) {
  std::erase_if(list, [&](const T& e) { return e.revision == entry.revision; });
  list.insert(list.begin(), std::move(entry));
  if (list.size() > limit) list.resize(limit);
}

}  // namespace

void ReleaseStatus::RecordHistory(HistoryEntry entry, size_t limit) {
  PrependBoundedList(history, std::move(entry), limit);
}

void ReleaseStatus::Reject(RejectedRevision rejected, size_t limit) {
  PrependBoundedList(rejected_revisions, std::move(rejected), limit);
}

std::string Short(const std::string& sha) { return sha.substr(0, 7); }

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

bool IsConfigError(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument:
    case Code::kNotFound:
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
    case Code::kFailedPrecondition:
      return true;
    default:
      return false;
  }
}

void SetFailed(ReleaseStatus& status, int64_t generation, Time now, const std::string& reason,
               const Status& error) {
  (void)kube::SetCondition(status.conditions,
                           {"Ready", kube::ConditionStatus::kFalse, reason, error.message()},
                           generation, now);
  if (IsConfigError(error)) {
    (void)kube::SetCondition(status.conditions,
                             {"Stalled", kube::ConditionStatus::kTrue, reason, error.message()},
                             generation, now);
  } else {
    kube::RemoveCondition(status.conditions, "Stalled");
  }
}

}  // namespace flywheel::release
