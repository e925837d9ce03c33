#include "flywheel/rollback/spec.h"

#include <chrono>

namespace flywheel::rollback {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::seconds;

// Reads the duration at `field` of `object` (default `fallback` when absent) and checks it is
// within [min, max]; `path` names it in errors.
Result<Duration> DurationIn(const json& object, const char* field, const std::string& path,
                            Duration fallback, Duration min, Duration max) {
  if (!object.contains(field)) return fallback;
  const json& value = object[field];
  if (!value.is_string())
    return Status(Code::kInvalidArgument, path + " must be a duration string");
  const std::string text = value.get<std::string>();
  auto d = text == "0" ? Result<Duration>(Duration{0}) : ParseDuration(text);
  if (!d.ok()) return Status(Code::kInvalidArgument, path + ": " + d.status().message());
  if (*d < min || *d > max) {
    return Status(Code::kInvalidArgument, path + " " + text + " is out of range: must be between " +
                                              FormatDuration(min) + " and " + FormatDuration(max));
  }
  return *d;
}

Result<Treat> TreatField(const json& spec, const char* field) {
  const std::string text = spec.value(field, "Ignore");
  if (text == "Ignore") return Treat::kIgnore;
  if (text == "Breach") return Treat::kBreach;
  return Status(Code::kInvalidArgument,
                std::string("spec.") + field + " must be Ignore or Breach, not \"" + text + "\"");
}

Result<Operator> ParseOperator(const std::string& text) {
  static const std::map<std::string, Operator> kOperators = {
      {">", Operator::kGreater},    {">=", Operator::kGreaterEqual}, {"<", Operator::kLess},
      {"<=", Operator::kLessEqual}, {"==", Operator::kEqual},        {"!=", Operator::kNotEqual}};
  auto it = kOperators.find(text);
  if (it == kOperators.end()) {
    return Status(Code::kInvalidArgument, "unknown operator \"" + text + "\"");
  }
  return it->second;
}

}  // namespace

const char* OperatorText(Operator op) {
  switch (op) {
    case Operator::kGreater:
      return ">";
    case Operator::kGreaterEqual:
      return ">=";
    case Operator::kLess:
      return "<";
    case Operator::kLessEqual:
      return "<=";
    case Operator::kEqual:
      return "==";
    case Operator::kNotEqual:
      return "!=";
  }
  return "?";
}

Result<PolicySpec> PolicySpec::Parse(const json& policy) {
  PolicySpec s;
  const json spec = policy.value("spec", json::object());
  s.release = spec.value("releaseRef", json::object()).value("name", "");
  if (s.release.empty()) return Status(Code::kInvalidArgument, "spec.releaseRef.name is required");

  const json prometheus = spec.value("prometheus", json::object());
  s.prometheus_url = prometheus.value("url", "");
  s.prometheus_secret = prometheus.value("secretRef", json::object()).value("name", "");
  auto timeout = DurationIn(prometheus, "timeout", "spec.prometheus.timeout", s.prometheus_timeout,
                            std::chrono::milliseconds(1), std::chrono::minutes(5));
  if (!timeout.ok()) return timeout.status();
  s.prometheus_timeout = *timeout;

  for (const json& m : spec.value("metrics", json::array())) {
    MetricSpec metric;
    metric.name = m.value("name", "");
    const std::string path = "spec.metrics[" + metric.name + "]";
    metric.query = m.value("query", "");
    if (metric.name.empty() || metric.query.empty()) {
      return Status(Code::kInvalidArgument, "every spec.metrics entry needs a name and a query");
    }
    const json threshold = m.value("threshold", json::object());
    auto op = ParseOperator(threshold.value("operator", ""));
    if (!op.ok())
      return Status(Code::kInvalidArgument, path + ".threshold: " + op.status().message());
    metric.op = *op;
    metric.op_text = OperatorText(*op);
    if (!threshold.contains("value") || !threshold["value"].is_number()) {
      return Status(Code::kInvalidArgument, path + ".threshold.value must be a number");
    }
    metric.threshold = threshold["value"].get<double>();
    auto for_d = DurationIn(m, "for", path + ".for", Duration{0}, Duration{0}, hours(24));
    if (!for_d.ok()) return for_d.status();
    metric.for_duration = *for_d;
    s.metrics.push_back(std::move(metric));
  }
  if (!s.metrics.empty() && s.prometheus_url.empty()) {
    return Status(Code::kInvalidArgument,
                  "spec.prometheus.url is required when spec.metrics is set");
  }

  auto interval = DurationIn(spec, "interval", "spec.interval", s.interval, seconds(1), hours(24));
  if (!interval.ok()) return interval.status();
  s.interval = *interval;
  auto window = DurationIn(spec, "window", "spec.window", s.window, Duration{0}, hours(24 * 90));
  if (!window.ok()) return window.status();
  s.window = *window;
  auto no_data = TreatField(spec, "noData");
  if (!no_data.ok()) return no_data.status();
  s.no_data = *no_data;
  auto on_error = TreatField(spec, "onError");
  if (!on_error.ok()) return on_error.status();
  s.on_error = *on_error;

  const json rollback = spec.value("rollback", json::object());
  s.git_revert = rollback.value("gitRevert", true);
  auto cooldown = DurationIn(rollback, "cooldown", "spec.rollback.cooldown", s.cooldown,
                             Duration{0}, hours(24 * 30));
  if (!cooldown.ok()) return cooldown.status();
  s.cooldown = *cooldown;

  if (spec.contains("alertmanager") && spec["alertmanager"].is_object()) {
    const json& am = spec["alertmanager"];
    s.alertmanager = true;
    const json ref = am.value("tokenSecretRef", json::object());
    s.alert_token_secret = ref.value("name", "");
    s.alert_token_key = ref.value("key", "token");
    const json labels = am.value("matchLabels", json::object());
    for (const auto& [k, v] : labels.items()) {
      if (v.is_string()) s.match_labels[k] = v.get<std::string>();
    }
    if (s.alert_token_secret.empty() || s.match_labels.empty()) {
      return Status(
          Code::kInvalidArgument,
          "spec.alertmanager needs tokenSecretRef.name and at least one matchLabels entry");
    }
  }
  if (s.metrics.empty() && !s.alertmanager) {
    return Status(Code::kInvalidArgument,
                  "a RollbackPolicy needs at least one trigger, spec.metrics or spec.alertmanager");
  }
  s.notify = spec.value("notify", json::array());
  s.dry_run = spec.value("dryRun", false);
  s.suspend = spec.value("suspend", false);
  return s;
}

}  // namespace flywheel::rollback
