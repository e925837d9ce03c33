#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "flywheel/common/status.h"

namespace flywheel::release {

// What a rollback asks for (the value of api::kRollbackAnnotation).
struct RollbackRequest {
  std::string id;  // unique per request; echoed in status.lastHandledRollback when done
  // Revision (SHA, short SHA or tag) to go back to; "" = the newest earlier revision that
  // became healthy and was not rejected.
  std::string to;
  bool git_revert = true;  // push "Revert <path> to <sha7>: <reason>" to the source branch
  std::string reason;      // why; recorded in history, rejectedRevisions and Events
  std::string by;          // who asked (e.g. "flywheel rollback", "RollbackPolicy/web-errors")
  // The revision this request rolls back (full SHA); "" = whatever runs. When set and no longer
  // the applied revision (another rollback or a new revision came first), the request is
  // acknowledged and nothing is done: a request computed from an old state never rolls back
  // the revision that replaced it.
  std::string from;
  // What asked, for flywheel_rollbacks_total{trigger}: "manual" (default), "metric" or
  // "alertmanager".
  std::string trigger = "manual";

  static Result<RollbackRequest> Parse(const std::string& annotation);
  std::string ToAnnotation() const;
};

// A Release's spec with the defaults of SPEC.md filled in.
struct ReleaseSpec {
  std::string url, branch = "main", path = ".", secret_name;
  std::chrono::milliseconds poll_interval{std::chrono::minutes(1)};
  std::string revision, target_namespace, service_account;
  bool prune = true, self_heal = true, suspend = false;
  std::chrono::milliseconds health_timeout{std::chrono::minutes(5)};
  int history_limit = 10;

  // Reads `release` (a Release object). Durations that do not parse are InvalidArgument.
  static Result<ReleaseSpec> Parse(const nlohmann::json& release);
};

}  // namespace flywheel::release
