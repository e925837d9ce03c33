#include "flywheel/release/spec.h"

#include <algorithm>

#include "flywheel/api/names.h"
#include "flywheel/common/time.h"

namespace flywheel::release {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

Result<milliseconds> DurationField(const json& spec, const char* field, milliseconds fallback) {
  auto it = spec.find(field);
  if (it == spec.end() || !it->is_string()) return fallback;
  auto d = ParseDuration(it->get<std::string>());
  if (!d.ok())
    return Status(Code::kInvalidArgument,
                  std::string("spec.") + field + ": " + d.status().message());
  return duration_cast<milliseconds>(*d);
}

}  // namespace

Result<RollbackRequest> RollbackRequest::Parse(const std::string& annotation) {
  json j = json::parse(annotation, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(Code::kInvalidArgument,
                  std::string("annotation ") + api::kRollbackAnnotation + " is not a JSON object");
  }
  RollbackRequest r;
  r.id = j.value("id", "");
  r.to = j.value("to", "");
  r.git_revert = j.value("gitRevert", true);
  r.reason = j.value("reason", "");
  r.by = j.value("by", "");
  r.from = j.value("from", "");
  r.trigger = j.value("trigger", "manual");
  if (r.trigger.empty()) r.trigger = "manual";
  if (r.id.empty()) {
    return Status(Code::kInvalidArgument,
                  std::string("annotation ") + api::kRollbackAnnotation + " has no \"id\"");
  }
  return r;
}

std::string RollbackRequest::ToAnnotation() const {
  json j{{"id", id}, {"to", to}, {"gitRevert", git_revert}, {"reason", reason}, {"by", by}};
  if (!from.empty()) j["from"] = from;
  if (trigger != "manual") j["trigger"] = trigger;
  return j.dump();
}

Result<ReleaseSpec> ReleaseSpec::Parse(const json& release) {
  ReleaseSpec s;
  const json spec = release.value("spec", json::object());
  const json source = spec.value("source", json::object());
  s.url = source.value("url", "");
  if (s.url.empty()) return Status(Code::kInvalidArgument, "spec.source.url is required");
  s.branch = source.value("branch", "main");
  s.path = source.value("path", ".");
  if (s.path.empty()) s.path = ".";
  s.secret_name = source.value("secretRef", json::object()).value("name", "");
  auto poll = DurationField(source, "pollInterval", s.poll_interval);
  if (!poll.ok())
    return Status(Code::kInvalidArgument, "spec.source." + poll.status().message().substr(5));
  // 0 disables polling (webhooks and requests only); anything else is at least a second.
  s.poll_interval = poll->count() == 0 ? milliseconds(0) : std::max(*poll, milliseconds(1000));
  s.revision = spec.value("revision", "");
  s.target_namespace = spec.value("targetNamespace", "");
  if (s.target_namespace.empty()) {
    s.target_namespace = release.value("metadata", json::object()).value("namespace", "");
  }
  s.prune = spec.value("prune", true);
  s.self_heal = spec.value("selfHeal", true);
  s.suspend = spec.value("suspend", false);
  auto timeout = DurationField(spec, "healthTimeout", s.health_timeout);
  if (!timeout.ok()) return timeout.status();
  s.health_timeout = *timeout;
  s.history_limit = std::clamp(spec.value("historyLimit", 10), 1, 100);
  s.service_account = spec.value("serviceAccountName", "");
  return s;
}

}  // namespace flywheel::release
