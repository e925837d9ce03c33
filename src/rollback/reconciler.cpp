#include "flywheel/rollback/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "flywheel/api/names.h"
#include "flywheel/common/sha256.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/kube/secret.h"
#include "flywheel/release/decisions.h"
#include "flywheel/release/spec.h"
#include "flywheel/release/status.h"
#include "flywheel/rollback/evaluation.h"

namespace flywheel::rollback {

using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr const char* kKind = "RollbackPolicy";

std::string Short(const std::string& sha) { return sha.substr(0, 7); }

const json kEmptyObject = json::object();

// object[field] when it is an object, else an empty object; a reference, not a copy (the
// Release is read at every evaluation).
const json& Member(const json& object, const char* field) {
  auto it = object.find(field);
  return it != object.end() && it->is_object() ? *it : kEmptyObject;
}

std::string KeyOf(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// The id of the rollback request a policy sends for a revision: the same after a restart, on
// another replica, and for every attempt, so the Release (and the policy itself) can tell a
// request already made.
std::string RequestId(const std::string& ns, const std::string& policy, const std::string& sha) {
  return "rbp-" + Sha256Hex(ns + "/" + policy + "@" + sha).substr(0, 20);
}

// How often an evaluation that changes only the checks' `evaluatedAt` and `value` is written:
// the rate at which the kubelet reports an unchanged node status (nodeStatusReportFrequency).
constexpr std::chrono::minutes kQuietWriteEvery{5};

// Whether two statuses are the same but for the checks' `evaluatedAt` and `value` (what changes
// at every evaluation of a check that keeps its state). Compared in place: copies of the status
// at every evaluation show in the controller's CPU at scale.
bool SameButEvaluationNoise(const json& a, const json& b) {
  if (!a.is_object() || !b.is_object() || a.size() != b.size()) return a == b;
  for (auto it = a.begin(); it != a.end(); ++it) {
    auto other = b.find(it.key());
    if (other == b.end()) return false;
    if (it.key() != "metrics" || !it->is_array() || !other->is_array() ||
        it->size() != other->size()) {
      if (*it != *other) return false;
      continue;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const json& m = (*it)[i];
      const json& n = (*other)[i];
      if (!m.is_object() || !n.is_object()) {
        if (m != n) return false;
        continue;
      }
      auto noise = [](const std::string& key) { return key == "evaluatedAt" || key == "value"; };
      int kept = 0;  // fields besides the noise: those of m, less those of n
      for (auto f = m.begin(); f != m.end(); ++f) {
        if (noise(f.key())) continue;
        ++kept;
        auto g = n.find(f.key());
        if (g == n.end() || *g != *f) return false;
      }
      for (auto g = n.begin(); g != n.end(); ++g) kept -= noise(g.key()) ? 0 : 1;
      if (kept != 0) return false;
    }
  }
  return true;
}

// The delay until `when`, rounded up to the millisecond (never early: an evaluation woken a
// fraction too soon would find nothing due and wait another interval).
milliseconds Until(Time when, Time now) {
  auto d = std::chrono::ceil<milliseconds>(when - now);
  return std::max(d, milliseconds(100));
}

}  // namespace

// The status this controller last wrote for a policy, with the resourceVersions before and after
// the write: a reconcile that reads the object at the version the write replaced (the cache has
// not caught up) starts from this status instead, so no breach timer is lost.
// Between writes it also holds the newest status that differed from the written one only in
// the checks' `evaluatedAt` and `value` (`unwritten`): those are written at most every
// kQuietWriteEvery, so a policy whose checks keep passing costs one status write every five
// minutes, not // one per evaluation (the API server's and the controller's largest cost at scale).
struct RollbackPolicyReconciler::Written {
  std::string version_before, version_after;
  json status;
  json unwritten;  // null when the server has the newest status
  Time at;         // when `status` was written
};

// Everything one reconcile works with.
struct RollbackPolicyReconciler::Run {
  std::string key, ns, name;
  kube::ObjectPtr policy;  // the cached policy, read without a copy
  json status;
  json server_status;
  std::string server_version;
  int64_t generation = 0;
  Time now;
  PolicySpec spec;
  kube::ObjectPtr release;  // the cached Release (null when missing), read without a copy
  std::string watched;      // the revision being evaluated
  std::vector<MetricState> states;
  bool blocked = false;  // a rollback was due but not sent; Ready says why (Blocked)
};

RollbackPolicyReconciler::RollbackPolicyReconciler(
    kube::Client client, std::function<kube::ObjectPtr(const std::string&)> cached_policy,
    std::function<kube::ObjectPtr(const std::string&)> cached_release, kube::EventRecorder& events,
    RollbackMetrics& metrics, notify::Notifier& notifier, RollbackPolicyReconcilerOptions options)
    : client_(std::move(client)),
      cached_policy_(std::move(cached_policy)),
      cached_release_(std::move(cached_release)),
      events_(events),
      metrics_(metrics),
      notifier_(notifier),
      options_(std::move(options)) {
  if (!options_.now) options_.now = [] { return std::chrono::system_clock::now(); };
  if (!options_.new_prom_client) {
    options_.new_prom_client = [](const prom::ClientOptions& o) { return prom::NewClient(o); };
  }
}

RollbackPolicyReconciler::~RollbackPolicyReconciler() = default;

Result<kube::ReconcileResult> RollbackPolicyReconciler::Reconcile(const std::string& key,
                                                                  std::stop_token) {
  kube::ObjectPtr cached = cached_policy_(key);
  if (!cached) {
    std::lock_guard lock(mu_);
    written_.erase(key);
    added_.erase(key);  // its evaluation counters stay (RollbackMetrics removes none)
    return kube::ReconcileResult::Done();
  }
  Run run;
  run.key = key;
  run.policy = cached;
  run.ns = kube::MetaString(*run.policy, "namespace");
  run.name = kube::MetaString(*run.policy, "name");
  run.generation = (*run.policy)["metadata"].value("generation", int64_t{0});
  run.now = options_.now();
  run.server_version = kube::MetaString(*run.policy, "resourceVersion");
  run.server_status = run.policy->value("status", json::object());
  {
    std::lock_guard lock(mu_);
    // First reconcile since the start: the policy's counters start at 0, so its first
    // evaluation counts in increase().
    if (added_.insert(key).second) metrics_.AddPolicy(run.ns, run.name);
    auto it = written_.find(key);
    if (it != written_.end() && it->second->version_before == run.server_version) {
      run.server_status = it->second->status;          // the cache lags behind our own write
      run.server_version = it->second->version_after;  // WriteStatus writes on this version
    }
    run.status = run.server_status;
    if (it != written_.end() && it->second->version_after == run.server_version &&
        !it->second->unwritten.is_null()) {
      run.status = it->second->unwritten;  // newer evaluations, not written yet
    }
  }
  std::vector<std::string> had_metrics;
  for (const json& m : run.status.value("metrics", json::array())) {
    had_metrics.push_back(m.value("name", ""));
  }

  auto result = ReconcilePolicy(run);
  // Value series of metrics the spec no longer has.
  std::vector<std::string> gone;
  for (const auto& name : had_metrics) {
    if (std::none_of(run.spec.metrics.begin(), run.spec.metrics.end(),
                     [&](const MetricSpec& m) { return m.name == name; })) {
      gone.push_back(name);
    }
  }
  if (!gone.empty()) metrics_.Forget(run.ns, run.name, gone);
  if (Status s = WriteStatus(run); !s.ok()) return s;
  return result;
}

Result<kube::ReconcileResult> RollbackPolicyReconciler::ReconcilePolicy(Run& run) {
  json& conditions = run.status["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  auto ready = [&](kube::ConditionStatus status, const std::string& reason,
                   const std::string& message) {
    auto changed =
        kube::SetCondition(conditions, {"Ready", status, reason, message}, run.generation, run.now);
    return changed.ok() && *changed;
  };

  auto spec = PolicySpec::Parse(*run.policy);
  if (!spec.ok()) {
    run.status["phase"] = "Idle";
    if (ready(kube::ConditionStatus::kFalse, "InvalidSpec", spec.status().message())) {
      events_.Emit(*run.policy, "Warning", "InvalidSpec", "Validate", spec.status().message());
    }
    return kube::ReconcileResult::Done();  // a spec change wakes it
  }
  run.spec = std::move(*spec);
  if (run.spec.suspend) {
    run.status["phase"] = "Suspended";
    ready(kube::ConditionStatus::kTrue, "Suspended", "spec.suspend is true: nothing is evaluated");
    return kube::ReconcileResult::Done();
  }

  kube::ObjectPtr release = cached_release_(KeyOf(run.ns, run.spec.release));
  if (!release) {
    run.status["phase"] = "Idle";
    if (ready(kube::ConditionStatus::kFalse, "ReleaseNotFound",
              "Release " + run.ns + "/" + run.spec.release +
                  " not found; waiting for it to be created")) {
      events_.Emit(*run.policy, "Warning", "ReleaseNotFound", "Watch",
                   "Release " + run.spec.release + " not found; waiting for it");
    }
    return kube::ReconcileResult::Done();  // the Release's creation wakes it
  }
  run.release = release;
  const release::ReleaseStatus rstatus = release::ReleaseStatus::OfRelease(
      *run.release, release::ReleaseStatus::Parts::kWithoutInventory);
  const std::string& applied = rstatus.last_applied_revision;
  static const release::HistoryEntry kNoEntry;
  const release::HistoryEntry& newest =
      rstatus.history.empty() ? kNoEntry : rstatus.history.front();

  // Copy the revert commit of our rollback once the Release pushed it.
  if (run.status.contains("lastRollback") && rstatus.last_rollback) {
    json& ours = run.status["lastRollback"];
    const release::LastRollback& theirs = *rstatus.last_rollback;
    if (!ours.value("id", "").empty() && theirs.id == ours.value("id", "") &&
        !theirs.revert_commit.empty()) {
      ours["revertCommit"] = theirs.revert_commit;
    }
  }

  // The revision to watch: the Release's newest history entry while it is what runs and was not
  // rolled back. After a rollback (by this policy or anyone) nothing new runs until the next
  // revision is applied.
  const std::string watched = run.status.value("watchedRevision", "");
  const bool current = !applied.empty() && newest.revision == applied &&
                       newest.result != "RolledBack" && !rstatus.IsRejected(applied);
  if (!current) {
    const json last = run.status.value("lastRollback", json::object());
    const bool ours = !last.value("dryRun", false) && !watched.empty() &&
                      last.value("fromRevision", "") == watched;
    run.status["phase"] = ours ? "RolledBack" : "Idle";
    ready(kube::ConditionStatus::kTrue, ours ? "RolledBack" : "Idle",
          ours ? "rolled " + run.spec.release + " back from " + Short(watched) + " to " +
                     Short(last.value("toRevision", "")) + ": " + last.value("reason", "")
               : "no newly applied revision of " + run.spec.release + " to watch");
    return kube::ReconcileResult::Done();
  }

  const std::optional<Time> applied_at = newest.applied_at;
  if (applied != watched) {
    // A new revision: a new window, new timers.
    run.status["watchedRevision"] = applied;
    if (applied_at) run.status["watchStartedAt"] = FormatRfc3339(*applied_at);
    run.status["metrics"] = json::array();
  }
  run.watched = applied;
  for (const json& m : run.status.value("metrics", json::array())) {
    run.states.push_back(MetricState::FromJson(m, run.spec));
  }

  const WindowVerdict window = CheckWindow(run.spec, applied_at.value_or(run.now), run.now);
  if (!window.inside) {
    run.status["phase"] = "Idle";
    ready(kube::ConditionStatus::kTrue, "WindowClosed",
          "revision " + Short(applied) + " has run past the window (" +
              FormatDuration(run.spec.window) + "); waiting for the next revision");
    return kube::ReconcileResult::Done();  // the next revision wakes it
  }

  // An alert recorded by /hooks/alertmanager (on any replica) and not handled yet.
  if (std::string alert = kube::MetaAnnotation(*run.policy, api::kAlertAnnotation);
      !alert.empty()) {
    json a = json::parse(alert, nullptr, false);
    const std::string id = a.is_object() ? a.value("id", "") : "";
    if (!id.empty() && id != run.status.value("lastHandledAlert", "")) {
      run.status["lastHandledAlert"] = id;
      const std::string alertname = a.value("alertname", "alert");
      const std::string reason =
          "Alertmanager alert " + alertname + " firing since " + a.value("startsAt", "?");
      auto received = TimeField(a, "receivedAt");
      if (received && applied_at && *received < *applied_at) {
        // It judged the revision before this one (it arrived while nothing new was watched).
        events_.Emit(*run.policy, "Normal", "AlertIgnored", "Rollback",
                     reason + ": received before revision " + Short(applied) + " was applied");
      } else if (Status s = Act(run, "alertmanager/" + alertname, reason, ""); !s.ok()) {
        return s;
      }
    }
  }

  // Evaluate when due.
  if (!run.spec.metrics.empty() && NextEvaluation(run.states, run.spec, run.now) <= run.now) {
    EvaluateMetrics(run);
  }
  json metrics = json::array();
  bool breaching = false;
  for (const MetricState& s : run.states) {
    metrics.push_back(s.ToJson());
    breaching = breaching || s.breaching_since.has_value();
  }
  run.status["metrics"] = metrics;

  const std::string phase = run.status.value("phase", "");
  if (phase != "RolledBack" ||
      run.status.value("lastRollback", json::object()).value("fromRevision", "") != run.watched) {
    run.status["phase"] = breaching ? "Breaching" : "Watching";
  }
  // A metric that fires asks for the rollback (Act does it once per revision).
  for (const MetricSpec& metric : run.spec.metrics) {
    auto it = std::find_if(run.states.begin(), run.states.end(),
                           [&](const MetricState& s) { return s.name == metric.name; });
    if (it == run.states.end() || !Fires(*it, metric)) continue;
    if (Status s = Act(run, metric.name, DescribeBreach(*it, metric), it->value); !s.ok()) {
      return s;
    }
    break;
  }

  // Ready says whether the checks can be evaluated; a blocked rollback set its own reason.
  if (!run.blocked) {
    std::string failing;
    for (const MetricState& s : run.states) {
      if (s.state == "Error") {
        failing += (failing.empty() ? "" : "; ") + s.name + ": " + s.last_error;
      }
    }
    if (!failing.empty()) {
      ready(kube::ConditionStatus::kFalse, "QueryFailed", failing);
    } else if (run.status.value("phase", "") != "RolledBack") {
      ready(kube::ConditionStatus::kTrue, "Watching",
            "watching revision " + Short(run.watched) + " of " + run.spec.release +
                (window.end ? " until " + FormatRfc3339(*window.end) : ""));
    }
  }

  if (run.spec.metrics.empty()) {
    if (window.end) return kube::ReconcileResult::After(Until(*window.end, run.now));
    return kube::ReconcileResult::Done();  // alerts wake it
  }
  Time next = NextEvaluation(run.states, run.spec, run.now);
  if (window.end) next = std::min(next, *window.end);
  return kube::ReconcileResult::After(Until(next, run.now));
}

void RollbackPolicyReconciler::EvaluateMetrics(Run& run) {
  const json& rspec = Member(*run.release, "spec");
  std::string target_ns = rspec.value("targetNamespace", "");
  if (target_ns.empty()) target_ns = run.ns;
  const QueryVars vars = {{"namespace", run.ns},
                          {"release", run.spec.release},
                          {"targetNamespace", target_ns},
                          {"revision", run.watched},
                          {"revisionShort", Short(run.watched)}};
  auto client = PromClient(run);
  std::vector<MetricState> next;
  for (const MetricSpec& metric : run.spec.metrics) {
    MetricState previous;
    for (const MetricState& s : run.states) {
      if (s.name == metric.name) previous = s;
    }
    Observation seen;
    if (!client.ok()) {
      seen = Observation::Error(client.status().ToString());
    } else if (auto query = ExpandQuery(metric.query, vars); !query.ok()) {
      seen = Observation::Error(query.status().ToString());
    } else {
      auto answer = (*client)->Query(*query);
      auto value = answer.ok() ? prom::ReduceToSingleValue(*answer)
                               : Result<prom::SingleValue>(answer.status());
      if (!value.ok()) {
        seen = Observation::Error(value.status().ToString());
      } else if (value->no_data) {
        seen = Observation::NoData(value->text);
      } else {
        seen = Observation::Value(value->value, value->text);
      }
    }
    MetricState state = Evaluate(previous, metric, seen, run.spec, run.now);
    static const std::map<std::string, std::string> kResult = {{"Passing", "passing"},
                                                               {"Breaching", "breaching"},
                                                               {"NoData", "nodata"},
                                                               {"Error", "error"}};
    metrics_.ObserveEvaluation(run.ns, run.name, kResult.at(state.state));
    metrics_.SetValue(run.ns, run.name, metric.name,
                      seen.kind == Observation::Kind::kValue ? seen.value : std::nan(""));
    if (state.state == "Error" && state.consecutive_errors == 1) {
      events_.Emit(*run.policy, "Warning", "QueryFailed", "Evaluate",
                   metric.name + ": " + state.last_error);
    }
    if (state.breaching_since && !previous.breaching_since) {
      events_.Emit(*run.policy, "Normal", "Breaching", "Evaluate",
                   DescribeBreach(state, metric) + " (revision " + Short(run.watched) + ")");
    }
    next.push_back(std::move(state));
  }
  run.states = std::move(next);
}

Status RollbackPolicyReconciler::Act(Run& run, const std::string& trigger,
                                     const std::string& reason, const std::string& value) {
  json last = run.status.value("lastRollback", json::object());
  if (last.value("fromRevision", "") == run.watched) return Status::Ok();  // once per revision
  const std::string target = release::DefaultRollbackTarget(release::ReleaseStatus::OfRelease(
      *run.release, release::ReleaseStatus::Parts::kWithoutInventory));
  const std::string what = run.spec.release + " from " + Short(run.watched) + " to " +
                           (target.empty() ? "?" : Short(target)) + ": " + reason;
  json record = {{"at", FormatRfc3339(run.now)},
                 {"fromRevision", run.watched},
                 {"toRevision", target},
                 {"trigger", trigger.substr(0, 1000)},
                 {"reason", reason.substr(0, 4000)}};
  if (!value.empty()) record["value"] = value.substr(0, 64);

  if (run.spec.dry_run) {
    record["dryRun"] = true;
    run.status["lastRollback"] = record;
    events_.Emit(*run.policy, "Warning", "WouldRollBack", "Rollback",
                 "dry run: would roll back " + what);
    Notify(run, "WouldRollBack", "warning", "dry run: would roll back " + what);
    return Status::Ok();
  }
  if (Member(*run.release, "spec").value("suspend", false)) {
    Blocked(run, "ReleaseSuspended",
            "would roll back " + what + ", but Release " + run.spec.release + " is suspended");
    return Status::Ok();
  }
  if (target.empty()) {
    Blocked(run, "NoRollbackTarget",
            "would roll back " + run.spec.release + " from " + Short(run.watched) + " (" + reason +
                "), but no earlier revision became healthy");
    return Status::Ok();
  }
  if (auto at = TimeField(last, "at"); at && !last.value("dryRun", false)) {
    const Time until = *at + std::chrono::duration_cast<Time::duration>(run.spec.cooldown);
    if (run.now < until) {
      Blocked(run, "CoolingDown",
              "would roll back " + what + ", but the last rollback was at " + FormatRfc3339(*at) +
                  " (cooldown " + FormatDuration(run.spec.cooldown) + " until " +
                  FormatRfc3339(until) + ")");
      return Status::Ok();
    }
  }

  // The authoritative Release: is the bad revision still what runs, and is no other rollback
  // on its way? The request is written on that version only (a conflict retries from here).
  auto fresh = client_.Get(api::kGroupVersion, "Release", run.ns, run.spec.release);
  if (!fresh.ok()) return fresh.status();
  const release::ReleaseStatus fstatus =
      release::ReleaseStatus::OfRelease(*fresh, release::ReleaseStatus::Parts::kWithoutInventory);
  const std::string id = RequestId(run.ns, run.name, run.watched);
  const std::string pending = kube::MetaAnnotation(*fresh, api::kRollbackAnnotation);
  auto request_in_annotation = release::RollbackRequest::Parse(pending);
  const bool ours_pending = request_in_annotation.ok() && request_in_annotation->id == id;
  if (!ours_pending) {
    const bool other_pending =
        request_in_annotation.ok() && request_in_annotation->id != fstatus.last_handled_rollback;
    if (fstatus.last_applied_revision != run.watched || fstatus.IsRejected(run.watched) ||
        other_pending) {
      events_.Emit(*run.policy, "Normal", "AlreadyRolledBack", "Rollback",
                   "revision " + Short(run.watched) + " of " + run.spec.release +
                       " is already being rolled back or no longer runs; nothing to do (" + reason +
                       ")");
      return Status::Ok();
    }
    release::RollbackRequest request;
    request.id = id;
    request.to = target;
    request.from = run.watched;
    request.git_revert = run.spec.git_revert;
    request.reason = reason;
    request.by = std::string(kKind) + "/" + run.name;
    request.trigger = trigger.rfind("alertmanager/", 0) == 0 ? "alertmanager" : "metric";
    json patch = {{"metadata",
                   {{"resourceVersion", kube::MetaString(*fresh, "resourceVersion")},
                    {"annotations", {{api::kRollbackAnnotation, request.ToAnnotation()}}}}}};
    auto patched = client_.Patch(api::kGroupVersion, "Release", run.ns, run.spec.release,
                                 kube::PatchType::kMerge, patch.dump());
    if (!patched.ok()) return patched.status();
  }
  record["id"] = id;
  run.status["lastRollback"] = record;
  run.status["phase"] = "RolledBack";
  spdlog::info("rollbackpolicy {}: rolling back {}", run.key, what);
  events_.Emit(*run.policy, "Warning", "RolledBack", "Rollback", "rolling back " + what);
  Notify(run, "RolledBack", "warning",
         "RollbackPolicy " + run.ns + "/" + run.name + " rolled back " + what);
  return Status::Ok();
}

void RollbackPolicyReconciler::Blocked(Run& run, const std::string& reason,
                                       const std::string& message) {
  run.blocked = true;
  auto changed = kube::SetCondition(run.status["conditions"],
                                    {"Ready", kube::ConditionStatus::kFalse, reason, message},
                                    run.generation, run.now);
  if (changed.ok() && *changed) {
    events_.Emit(*run.policy, "Warning", "RollbackBlocked", "Rollback", message);
  }
}

void RollbackPolicyReconciler::Notify(Run& run, const std::string& event,
                                      const std::string& severity, const std::string& text) {
  if (!run.spec.notify.is_array() || run.spec.notify.empty()) return;
  auto targets = notify::ResolveTargets(client_, run.ns, run.spec.notify);
  if (!targets.ok()) {
    events_.Emit(*run.policy, "Warning", "NotifyFailed", "Notify", targets.status().message());
    return;
  }
  notify::Message message;
  message.event = event;
  message.severity = severity;
  message.kind = kKind;
  message.ns = run.ns;
  message.name = run.name;
  message.text = text;
  message.details = run.status.value("lastRollback", json::object());
  message.details["release"] = run.spec.release;
  notifier_.Send(std::move(*targets), std::move(message));
}

Result<std::shared_ptr<prom::Client>> RollbackPolicyReconciler::PromClient(Run& run) {
  prom::ClientOptions o;
  o.url = run.spec.prometheus_url;
  o.timeout = std::chrono::duration_cast<milliseconds>(run.spec.prometheus_timeout);
  if (!run.spec.prometheus_secret.empty()) {
    const std::string what =
        "Secret " + run.ns + "/" + run.spec.prometheus_secret + " (spec.prometheus.secretRef)";
    auto secret = client_.Get("v1", "Secret", run.ns, run.spec.prometheus_secret);
    if (!secret.ok()) {
      if (secret.status().code() == Code::kNotFound) {
        return Status(Code::kNotFound, what + " not found");
      }
      return Status(secret.status().code(),
                    "cannot read " + what + ": " + secret.status().message());
    }
    for (auto [key, out] : {std::pair{"token", &o.bearer_token}, std::pair{"username", &o.username},
                            std::pair{"password", &o.password}, std::pair{"ca.crt", &o.ca_pem}}) {
      auto v = kube::SecretValue(*secret, key, what);
      if (!v.ok()) return v.status();
      *out = *v;
    }
    if (o.bearer_token.empty() && o.username.empty() && o.ca_pem.empty()) {
      return Status(Code::kInvalidArgument,
                    what + " has none of the keys token, username/password or ca.crt");
    }
  }
  // Credentials are hashed into the key only when there are any (a hash per evaluation shows
  // in the controller's CPU at scale).
  std::string cache_key = o.url + "\n" + std::to_string(o.timeout.count());
  if (!run.spec.prometheus_secret.empty()) {
    cache_key +=
        "\n" + Sha256Hex(o.bearer_token + "\n" + o.username + "\n" + o.password + "\n" + o.ca_pem);
  }
  std::lock_guard lock(mu_);
  if (auto it = prom_clients_.find(cache_key); it != prom_clients_.end()) return it->second;
  auto made = options_.new_prom_client(o);
  if (!made.ok()) return made.status();
  std::shared_ptr<prom::Client> shared = std::move(*made);
  prom_clients_[cache_key] = shared;
  return shared;
}

Status RollbackPolicyReconciler::WriteStatus(Run& run) {
  run.status["observedGeneration"] = run.generation;
  {
    std::lock_guard lock(mu_);
    auto it = written_.find(run.key);
    const bool ours = it != written_.end() && it->second->version_after == run.server_version;
    if (run.status == run.server_status) {
      if (ours) it->second->unwritten = nullptr;
      return Status::Ok();
    }
    if (ours && run.now - it->second->at < kQuietWriteEvery &&
        SameButEvaluationNoise(run.status, run.server_status)) {
      it->second->unwritten = run.status;
      return Status::Ok();
    }
  }
  json object = *run.policy;
  object["status"] = run.status;
  object["metadata"]["resourceVersion"] = run.server_version;
  auto updated = client_.UpdateStatus(object, {.drop_managed_fields = true});
  if (!updated.ok()) {
    // A conflict (an alert annotation landed meanwhile) retries from a fresh read; the rollback
    // request, if one was made, carries a deterministic id, so it is not made twice.
    spdlog::debug("rollbackpolicy {}: status update failed: {}", run.key,
                  updated.status().ToString());
    return updated.status();
  }
  auto written = std::make_shared<Written>();
  written->version_before = run.server_version;
  written->version_after = kube::MetaString(*updated, "resourceVersion");
  written->status = updated->value("status", json::object());
  written->at = run.now;
  std::lock_guard lock(mu_);
  written_[run.key] = std::move(written);
  return Status::Ok();
}

}  // namespace flywheel::rollback
