#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "flywheel/common/time.h"
#include "flywheel/rollback/spec.h"

// The RollbackPolicy's verdicts as pure functions of the spec, the status and the time (no
// API server, no Prometheus, no clock of their own), so the evaluation table is unit-tested on
// fixed instants; the reconciler gathers the inputs and carries the verdicts out.
namespace flywheel::rollback {

// The RFC 3339 time at `object[field]`, or none when absent or unparsable (status and
// annotation fields the controller reads back).
std::optional<Time> TimeField(const nlohmann::json& object, const char* field);

// What one query answered: a value, no data (empty or NaN), or an error (Prometheus' message).
struct Observation {
  enum class Kind { kValue, kNoData, kError };
  Kind kind = Kind::kNoData;
  double value = 0;
  std::string text;   // the value as Prometheus wrote it
  std::string error;  // kError: what failed, e.g. "bad_data: parse error at char 5: ..."

  static Observation Value(double v, std::string text) {
    return {Kind::kValue, v, std::move(text), ""};
  }
  static Observation NoData(std::string text = "") {
    return {Kind::kNoData, 0, std::move(text), ""};
  }
  static Observation Error(std::string message) {
    return {Kind::kError, 0, "", std::move(message)};
  }
};

// The state of one metric as status.metrics[] keeps it. The breach timer (breaching_since) lives
// here, in the status, so a controller restart neither resets nor double-fires it.
struct MetricState {
  std::string name;
  std::string value;  // last value as Prometheus wrote it ("" when there was none)
  std::string state;  // Passing, Breaching, NoData or Error ("" before the first evaluation)
  std::optional<Time> evaluated_at;
  std::optional<Time> breaching_since;
  int consecutive_errors = 0;
  std::string last_error;
  // Whether the last evaluation counted as a breach (a breaching value, or no data / an error
  // treated as Breach). Only such an evaluation can fire a rollback.
  bool counted_as_breach = false;

  static MetricState FromJson(const nlohmann::json& entry, const PolicySpec& spec);
  nlohmann::json ToJson() const;
};

// Whether `value <op> threshold` holds.
bool Compares(double value, Operator op, double threshold);

// The state after one evaluation at `now`:
// - a value that breaches starts the timer (or keeps it) and counts as a breach;
// - a value that does not breach stops the timer;
// - no data / an error treated as Breach count as a breach (value and error are still shown);
//   treated as Ignore they neither count nor stop the timer (an outage keeps a breach's start but
//   can never fire a rollback by itself);
// - an error adds to consecutive_errors; anything else resets it.
MetricState Evaluate(const MetricState& previous, const MetricSpec& metric, const Observation& seen,
                     const PolicySpec& spec, Time now);

// Whether a metric demands a rollback: its last evaluation counted as a breach and, at that
// evaluation, the breach had lasted at least `for` (for: 0s = one breaching evaluation).
bool Fires(const MetricState& state, const MetricSpec& metric);

// "error-ratio 0.21 > 0.05 for 5m" (or "... (no data)", "... (query failed: ...)").
std::string DescribeBreach(const MetricState& state, const MetricSpec& metric);

// The values a query template may name: {{namespace}}, {{release}}, {{targetNamespace}},
// {{revision}}, {{revisionShort}}.
using QueryVars = std::map<std::string, std::string>;
// Replaces every {{name}} (spaces inside the braces allowed) with its value; an unknown name is
// kInvalidArgument naming it.
Result<std::string> ExpandQuery(const std::string& query, const QueryVars& vars);

// Where a policy stands with the revision its Release runs.
struct WindowVerdict {
  bool inside = false;      // evaluate now
  std::optional<Time> end;  // when the window closes (none with window 0)
};
// A revision applied at `applied_at` is evaluated for `spec.window` (0 = always).
WindowVerdict CheckWindow(const PolicySpec& spec, Time applied_at, Time now);

// When the next evaluation is due: `interval` after the earliest last evaluation of any metric
// (now when one was never evaluated).
Time NextEvaluation(const std::vector<MetricState>& states, const PolicySpec& spec, Time now);

}  // namespace flywheel::rollback
