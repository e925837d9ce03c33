#include "flywheel/rollback/evaluation.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace flywheel::rollback {
namespace {

// A value as a person reads it in a reason or a commit message: four significant digits
// (0.2704858401998873 -> 0.2705); Prometheus' own text when it is not a finite number. The
// status keeps the exact text.
std::string Readable(const std::string& value) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || *end != '\0' || !std::isfinite(v)) return value;
  char out[32];
  std::snprintf(out, sizeof out, "%.4g", v);
  return out;
}

using nlohmann::json;

// Go's duration text without its zero tails: "5m" for 5m0s, "1h" for 1h0m0s.
std::string Compact(Duration d) {
  std::string text = FormatDuration(d);
  for (const char* tail : {"0s", "0m"}) {
    if (text.size() > 2 && text.ends_with(tail) &&
        !std::isdigit(static_cast<unsigned char>(text[text.size() - 3]))) {
      text.resize(text.size() - 2);
    }
  }
  return text;
}

bool CountsAsBreach(const std::string& state, const PolicySpec& spec) {
  return state == "Breaching" || (state == "NoData" && spec.no_data == Treat::kBreach) ||
         (state == "Error" && spec.on_error == Treat::kBreach);
}

}  // namespace

std::optional<Time> TimeField(const json& entry, const char* field) {
  if (!entry.contains(field) || !entry[field].is_string()) return std::nullopt;
  auto t = ParseRfc3339(entry[field].get<std::string>());
  if (!t.ok()) return std::nullopt;
  return *t;
}

MetricState MetricState::FromJson(const json& entry, const PolicySpec& spec) {
  MetricState s;
  s.name = entry.value("name", "");
  s.value = entry.value("value", "");
  s.state = entry.value("state", "");
  s.evaluated_at = TimeField(entry, "evaluatedAt");
  s.breaching_since = TimeField(entry, "breachingSince");
  s.consecutive_errors = entry.value("consecutiveErrors", 0);
  s.last_error = entry.value("lastError", "");
  s.counted_as_breach = CountsAsBreach(s.state, spec);
  return s;
}

json MetricState::ToJson() const {
  json j{{"name", name}};
  if (!value.empty()) j["value"] = value.substr(0, 64);
  if (!state.empty()) j["state"] = state;
  // Sub-second precision: the breach timer is compared with `for` after a restart.
  if (evaluated_at) j["evaluatedAt"] = FormatRfc3339Micro(*evaluated_at);
  if (breaching_since) j["breachingSince"] = FormatRfc3339Micro(*breaching_since);
  j["consecutiveErrors"] = consecutive_errors;
  if (!last_error.empty()) j["lastError"] = last_error.substr(0, 4000);
  return j;
}

bool Compares(double value, Operator op, double threshold) {
  switch (op) {
    case Operator::kGreater:
      return value > threshold;
    case Operator::kGreaterEqual:
      return value >= threshold;
    case Operator::kLess:
      return value < threshold;
    case Operator::kLessEqual:
      return value <= threshold;
    case Operator::kEqual:
      return value == threshold;
    case Operator::kNotEqual:
      return value != threshold;
  }
  return false;
}

MetricState Evaluate(const MetricState& previous, const MetricSpec& metric, const Observation& seen,
                     const PolicySpec& spec, Time now) {
  MetricState next = previous;
  next.name = metric.name;
  next.evaluated_at = now;
  next.value = seen.text;
  switch (seen.kind) {
    case Observation::Kind::kValue:
      next.state = Compares(seen.value, metric.op, metric.threshold) ? "Breaching" : "Passing";
      next.consecutive_errors = 0;
      next.last_error.clear();
      break;
    case Observation::Kind::kNoData:
      next.state = "NoData";
      next.consecutive_errors = 0;
      next.last_error.clear();
      break;
    case Observation::Kind::kError:
      next.state = "Error";
      next.value = previous.value;  // the last value Prometheus gave stays visible
      next.consecutive_errors = previous.consecutive_errors + 1;
      next.last_error = seen.error;
      break;
  }
  next.counted_as_breach = CountsAsBreach(next.state, spec);
  if (next.counted_as_breach) {
    if (!next.breaching_since) next.breaching_since = now;
  } else if (next.state == "Passing") {
    next.breaching_since.reset();
  }
  // Ignored no data / errors keep the timer as it was: they neither prove nor disprove a breach.
  return next;
}

bool Fires(const MetricState& state, const MetricSpec& metric) {
  // Judged at the last evaluation, not at the reconcile's time: a reconcile between two
  // evaluations must not stretch the evidence to `for` (the metric may have recovered since).
  return state.counted_as_breach && state.breaching_since && state.evaluated_at &&
         *state.evaluated_at - *state.breaching_since >= metric.for_duration;
}

std::string DescribeBreach(const MetricState& state, const MetricSpec& metric) {
  std::string what = metric.name + " ";
  if (state.state == "NoData") {
    what += "returned no data (noData: Breach)";
  } else if (state.state == "Error") {
    what += "query failed (onError: Breach): " + state.last_error;
  } else {
    std::string threshold = json(metric.threshold).dump();
    what += Readable(state.value) + " " + metric.op_text + " " + threshold;
  }
  if (metric.for_duration.count() > 0) what += " for " + Compact(metric.for_duration);
  return what;
}

Result<std::string> ExpandQuery(const std::string& query, const QueryVars& vars) {
  std::string out;
  out.reserve(query.size());
  size_t at = 0;
  while (true) {
    size_t open = query.find("{{", at);
    if (open == std::string::npos) break;
    size_t close = query.find("}}", open + 2);
    if (close == std::string::npos) break;
    std::string name = query.substr(open + 2, close - open - 2);
    auto not_space = [](unsigned char c) { return !std::isspace(c); };
    name.erase(name.begin(), std::find_if(name.begin(), name.end(), not_space));
    name.erase(std::find_if(name.rbegin(), name.rend(), not_space).base(), name.end());
    auto it = vars.find(name);
    if (it == vars.end()) {
      std::string known;
      for (const auto& [k, v] : vars) known += (known.empty() ? "" : ", ") + ("{{" + k + "}}");
      return Status(Code::kInvalidArgument,
                    "unknown template variable {{" + name + "}} (known: " + known + ")");
    }
    out.append(query, at, open - at);
    out += it->second;
    at = close + 2;
  }
  out.append(query, at, std::string::npos);
  return out;
}

WindowVerdict CheckWindow(const PolicySpec& spec, Time applied_at, Time now) {
  if (spec.window.count() == 0) return {true, std::nullopt};
  const Time end = applied_at + std::chrono::duration_cast<Time::duration>(spec.window);
  return {now < end, end};
}

Time NextEvaluation(const std::vector<MetricState>& states, const PolicySpec& spec, Time now) {
  std::optional<Time> earliest;
  for (const MetricSpec& metric : spec.metrics) {
    auto it = std::find_if(states.begin(), states.end(),
                           [&](const MetricState& s) { return s.name == metric.name; });
    if (it == states.end() || !it->evaluated_at) return now;
    if (!earliest || *it->evaluated_at < *earliest) earliest = it->evaluated_at;
  }
  if (!earliest) return now;
  return *earliest + std::chrono::duration_cast<Time::duration>(spec.interval);
}

}  // namespace flywheel::rollback
