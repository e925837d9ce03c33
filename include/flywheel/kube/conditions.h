#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "flywheel/common/status.h"
#include "flywheel/common/time.h"

namespace flywheel::kube {

// The `status` field of a metav1.Condition.
enum class ConditionStatus { kTrue, kFalse, kUnknown };

// "True", "False" or "Unknown", as the API stores it.
const char* ConditionStatusName(ConditionStatus status);

// What a controller wants a condition to say. The bookkeeping fields of metav1.Condition
// (lastTransitionTime, observedGeneration) are filled in by SetCondition.
struct Condition {
  std::string type;  // CamelCase or example.com/CamelCase, e.g. "Ready"
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;   // CamelCase, e.g. "ReconcileSucceeded"; must match kConditionReasonPattern
  std::string message;  // for humans; may be empty
};

// The rules metav1.Condition's schema enforces on the server, checked here first so a bad
// condition is reported where it is made rather than as a rejected status patch.
inline constexpr std::string_view kConditionReasonPattern =
    "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";
inline constexpr size_t kMaxConditionReasonBytes = 1024;
inline constexpr size_t kMaxConditionTypeBytes = 316;
inline constexpr size_t kMaxConditionMessageBytes = 32768;

// Sets `condition` in `conditions` (a status.conditions JSON array; null is treated as empty and
// becomes an array) following metav1.Condition rules:
//   - lastTransitionTime becomes `now` when the condition is new or its status changed, and is
//     kept otherwise (also when only the reason or message changed), unless the kept one is
//     missing or not RFC 3339;
//   - observedGeneration is always set to `observed_generation`;
//   - the message is made valid UTF-8 (invalid bytes become U+FFFD: messages often quote outside
//     text), and one longer than kMaxConditionMessageBytes is cut at a character boundary and
//     ends with "...".
// An invalid type or reason is rejected with kInvalidArgument and leaves `conditions` unchanged:
// reasons are programmatic identifiers chosen by our code, so a bad one is a bug to surface,
// not input to rewrite (the API server would reject it anyway, failing the whole status write).
// Returns whether `conditions` changed, so callers can skip a no-op status write.
Result<bool> SetCondition(nlohmann::json& conditions, const Condition& condition,
                          int64_t observed_generation, Time now);

// The condition of `type` in `conditions`, or nullptr (also when `conditions` is not an array).
const nlohmann::json* FindCondition(const nlohmann::json& conditions, std::string_view type);

// Whether the condition of `type` is present with status "True".
bool IsTrue(const nlohmann::json& conditions, std::string_view type);

// Removes the condition of `type`; returns whether one was removed.
bool RemoveCondition(nlohmann::json& conditions, std::string_view type);

}  // namespace flywheel::kube
