// Helpers over a Release's status JSON (declared in internal.h).
#include "flywheel/kube/conditions.h"
#include "internal.h"

namespace flywheel::release {

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

json* HistoryEntry(json& status, const std::string& revision) {
  auto& history = status["history"];
  if (!history.is_array()) return nullptr;
  for (auto& e : history) {
    if (e.value("revision", "") == revision) return &e;
  }
  return nullptr;
}

void PrependBounded(json& list, json entry, size_t limit) {
  if (!list.is_array()) list = json::array();
  const std::string revision = entry.value("revision", "");
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (it->value("revision", "") == revision) {
      list.erase(it);
      break;
    }
  }
  list.insert(list.begin(), std::move(entry));
  while (list.size() > limit) list.erase(list.end() - 1);
}

json HistoryRecord(const git::CommitInfo& commit) {
  return {{"revision", commit.sha},
          {"message", commit.message},
          {"author", commit.author},
          {"committedAt", FormatRfc3339(commit.committed_at)}};
}

std::vector<ObjectRef> Inventory(const json& status) {
  std::vector<ObjectRef> refs;
  for (const auto& e : status.value("inventory", json::array())) {
    refs.push_back(ObjectRef::FromInventory(e));
  }
  return refs;
}

json InventoryJson(const std::vector<ObjectRef>& refs) {
  json out = json::array();
  for (const auto& r : refs) out.push_back(r.ToInventory());
  return out;
}

void SetFailed(json& status, int64_t generation, Time now, const std::string& reason,
               const Status& error) {
  (void)kube::SetCondition(status["conditions"],
                           {"Ready", kube::ConditionStatus::kFalse, reason, error.message()},
                           generation, now);
  if (IsConfigError(error)) {
    (void)kube::SetCondition(status["conditions"],
                             {"Stalled", kube::ConditionStatus::kTrue, reason, error.message()},
                             generation, now);
  } else {
    kube::RemoveCondition(status["conditions"], "Stalled");
  }
}

}  // namespace flywheel::release
