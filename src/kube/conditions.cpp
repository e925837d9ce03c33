#include "flywheel/kube/conditions.h"

#include <algorithm>

#include "flywheel/common/utf8.h"

namespace flywheel::kube {
namespace {

using nlohmann::json;

bool IsAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAsciiLetter(c) || IsDigit(c); }
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || IsDigit(c); }

// ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$
bool IsValidReason(std::string_view reason) {
  if (reason.empty() || !IsAsciiLetter(reason.front())) return false;
  for (size_t i = 1; i < reason.size(); ++i) {
    char c = reason[i];
    bool last = i + 1 == reason.size();
    if (!(IsAlnum(c) || c == '_' || (!last && (c == ',' || c == ':')))) return false;
  }
  return true;
}

// A DNS-1123 subdomain: dot-separated labels of [a-z0-9]([-a-z0-9]*[a-z0-9])?.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || !IsLowerAlnum(label.front()) || !IsLowerAlnum(label.back())) return false;
    for (char c : label) {
      if (!IsLowerAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// The metav1.Condition type pattern: an optional "dns.subdomain/" prefix, then a name that starts
// and ends with [A-Za-z0-9] and has only [-A-Za-z0-9_.] in between.
bool IsValidType(std::string_view type) {
  std::string_view name = type;
  size_t slash = type.find('/');
  if (slash != std::string_view::npos) {
    if (!IsDnsSubdomain(type.substr(0, slash))) return false;
    name = type.substr(slash + 1);
  }
  if (name.empty() || !IsAlnum(name.front()) || !IsAlnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// `message` as valid UTF-8, cut to kMaxConditionMessageBytes at a character boundary and then
// marked with "...".
std::string BoundedMessage(const std::string& message) {
  std::string valid = ToValidUtf8(message);
  if (valid.size() <= kMaxConditionMessageBytes) return valid;
  constexpr std::string_view kEllipsis = "...";
  return std::string(TruncateUtf8(valid, kMaxConditionMessageBytes - kEllipsis.size())) +
         std::string(kEllipsis);
}

bool HasType(const json& condition, std::string_view type) {
  auto it = condition.find("type");  // end() for non-objects
  return it != condition.end() && it->is_string() && it->get_ref<const std::string&>() == type;
}

// The condition of `type` in `conditions`; Json is `json` or `const json`.
template <typename Json>
Json* FindIn(Json& conditions, std::string_view type) {
  if (!conditions.is_array()) return nullptr;
  for (auto& c : conditions) {
    if (HasType(c, type)) return &c;
  }
  return nullptr;
}

}  // namespace

const char* ConditionStatusName(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

Result<bool> SetCondition(json& conditions, const Condition& condition, int64_t observed_generation,
                          Time now) {
  if (condition.type.size() > kMaxConditionTypeBytes || !IsValidType(condition.type)) {
    return Status(Code::kInvalidArgument,
                  "invalid condition type \"" + condition.type +
                      "\": want CamelCase or example.com/CamelCase, at most 316 bytes");
  }
  if (condition.reason.size() > kMaxConditionReasonBytes || !IsValidReason(condition.reason)) {
    return Status(Code::kInvalidArgument,
                  "invalid reason \"" + condition.reason + "\" for condition " + condition.type +
                      ": want a CamelCase identifier matching " +
                      std::string(kConditionReasonPattern) + ", at most 1024 bytes");
  }
  if (observed_generation < 0) {
    return Status(Code::kInvalidArgument, "negative observedGeneration " +
                                              std::to_string(observed_generation) +
                                              " for condition " + condition.type);
  }
  if (conditions.is_null()) conditions = json::array();
  if (!conditions.is_array()) {
    return Status(
        Code::kInvalidArgument,
        "status.conditions is a JSON " + std::string(conditions.type_name()) + ", not an array");
  }

  const char* status_name = ConditionStatusName(condition.status);
  json desired = {
      {"type", condition.type},
      {"status", status_name},
      {"reason", condition.reason},
      {"message", BoundedMessage(condition.message)},
      {"observedGeneration", observed_generation},
      {"lastTransitionTime", FormatRfc3339(now)},
  };
  json* existing = FindIn(conditions, condition.type);
  if (existing == nullptr) {
    conditions.push_back(std::move(desired));
    return true;
  }
  auto old_status = existing->find("status");
  auto old_time = existing->find("lastTransitionTime");
  // Keep the transition time unless the status changed or the old time is unusable (missing or
  // not RFC 3339, which the API server would reject).
  if (old_status != existing->end() && *old_status == status_name && old_time != existing->end() &&
      old_time->is_string() && ParseRfc3339(old_time->get_ref<const std::string&>()).ok()) {
    desired["lastTransitionTime"] = *old_time;
  }
  if (*existing == desired) return false;
  *existing = std::move(desired);
  return true;
}

const json* FindCondition(const json& conditions, std::string_view type) {
  return FindIn(conditions, type);
}

bool IsTrue(const json& conditions, std::string_view type) {
  const json* c = FindCondition(conditions, type);
  if (c == nullptr) return false;
  auto status = c->find("status");
  return status != c->end() && *status == "True";
}

bool RemoveCondition(json& conditions, std::string_view type) {
  if (!conditions.is_array()) return false;
  size_t before = conditions.size();
  auto& array = conditions.get_ref<json::array_t&>();
  array.erase(
      std::remove_if(array.begin(), array.end(), [&](const json& c) { return HasType(c, type); }),
      array.end());
  return conditions.size() != before;
}

}  // namespace flywheel::kube
