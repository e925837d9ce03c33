#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/common/status.h"
#include "flywheel/common/time.h"

namespace flywheel::rollback {

// A threshold's comparison: the value breaches when `value <op> threshold` holds.
enum class Operator { kGreater, kGreaterEqual, kLess, kLessEqual, kEqual, kNotEqual };

// What an empty result / NaN (noData) or a failed query (onError) counts as.
enum class Treat { kIgnore, kBreach };

// One PromQL check of a policy (spec.metrics[]).
struct MetricSpec {
  std::string name;
  std::string query;  // a template: {{namespace}}, {{release}}, {{targetNamespace}}, ...
  Operator op = Operator::kGreater;
  std::string op_text = ">";
  double threshold = 0;
  Duration for_duration{0};  // breach must last this long; 0 = one breaching evaluation
};

// A RollbackPolicy's spec with the defaults of SPEC.md filled in and every duration checked.
struct PolicySpec {
  std::string release;  // spec.releaseRef.name, in the policy's namespace
  std::string prometheus_url;
  std::string prometheus_secret;  // spec.prometheus.secretRef.name; "" = no auth
  Duration prometheus_timeout = std::chrono::seconds(10);
  std::vector<MetricSpec> metrics;
  Duration interval = std::chrono::seconds(30);
  Duration window = std::chrono::minutes(30);  // 0 = always
  Treat no_data = Treat::kIgnore;
  Treat on_error = Treat::kIgnore;
  bool git_revert = true;
  Duration cooldown = std::chrono::minutes(10);
  bool alertmanager = false;  // spec.alertmanager is set
  std::string alert_token_secret, alert_token_key = "token";
  std::map<std::string, std::string> match_labels;
  nlohmann::json notify = nlohmann::json::array();
  bool dry_run = false;
  bool suspend = false;

  // Reads a RollbackPolicy object. What the schema lets through but cannot work (a duration out
  // of range, an unknown operator, no trigger) is kInvalidArgument naming the field.
  static Result<PolicySpec> Parse(const nlohmann::json& policy);
};

// The symbol of an operator as written in the spec (">", ">=", ...).
const char* OperatorText(Operator op);

}  // namespace flywheel::rollback
