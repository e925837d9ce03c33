#include "flywheel/release/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <set>
#include <thread>

#include "flywheel/common/base64.h"
#include "flywheel/common/time.h"
#include "flywheel/git/url.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/manifest/health.h"
#include "flywheel/release/applier.h"
#include "flywheel/release/drift.h"

namespace flywheel::release {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

constexpr const char* kApiVersion = "flywheel.dev/v1alpha1";
constexpr size_t kMaxRejected = 100;
constexpr size_t kMaxInventory = 5000;  // status.inventory's maxItems

std::string Short(const std::string& sha) { return sha.substr(0, 7); }

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// Configuration errors wait for a change (the next poll or a spec edit); anything else is retried
// with backoff.
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

Result<milliseconds> DurationField(const json& spec, const char* field, milliseconds fallback) {
  auto it = spec.find(field);
  if (it == spec.end() || !it->is_string()) return fallback;
  auto d = ParseDuration(it->get<std::string>());
  if (!d.ok())
    return Status(Code::kInvalidArgument,
                  std::string("spec.") + field + ": " + d.status().message());
  return duration_cast<milliseconds>(*d);
}

// True for an ssh URL (ssh:// or the scp-like user@host:path).
bool IsSshUrl(const std::string& url) {
  if (url.starts_with("ssh://")) return true;
  return url.find("://") == std::string::npos && url.find('@') != std::string::npos;
}

json* HistoryEntry(json& status, const std::string& revision) {
  auto& history = status["history"];
  if (!history.is_array()) return nullptr;
  for (auto& e : history) {
    if (e.value("revision", "") == revision) return &e;
  }
  return nullptr;
}

// Puts `entry` first in the status list `list` (history, rejectedRevisions), replacing an entry
// of the same revision and dropping the oldest beyond `limit`.
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

// The history fields that describe a commit.
json HistoryRecord(const git::CommitInfo& commit) {
  return {{"revision", commit.sha},
          {"message", commit.message},
          {"author", commit.author},
          {"committedAt", FormatRfc3339(commit.committed_at)}};
}

bool IsRejected(const json& status, const std::string& sha) {
  for (const auto& r : status.value("rejectedRevisions", json::array())) {
    if (r.value("revision", "") == sha) return true;
  }
  return false;
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

std::string Annotation(const json& object, const char* name) {
  const json meta = object.value("metadata", json::object());
  const json annotations = meta.value("annotations", json::object());
  auto it = annotations.find(name);
  return it != annotations.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

// ---- RollbackRequest / ReleaseSpec ----

Result<RollbackRequest> RollbackRequest::Parse(const std::string& annotation) {
  json j = json::parse(annotation, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(Code::kInvalidArgument,
                  std::string("annotation ") + kRollbackAnnotation + " is not a JSON object");
  }
  RollbackRequest r;
  r.id = j.value("id", "");
  r.to = j.value("to", "");
  r.git_revert = j.value("gitRevert", true);
  r.reason = j.value("reason", "");
  r.by = j.value("by", "");
  if (r.id.empty()) {
    return Status(Code::kInvalidArgument,
                  std::string("annotation ") + kRollbackAnnotation + " has no \"id\"");
  }
  return r;
}

std::string RollbackRequest::ToAnnotation() const {
  return json{{"id", id}, {"to", to}, {"gitRevert", git_revert}, {"reason", reason}, {"by", by}}
      .dump();
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
  s.poll_interval = std::max(*poll, milliseconds(1000));
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

// ---- per-Release memory ----

// What the controller remembers about a Release between reconciles (lost on restart, when the
// next reconcile does a full sync that writes nothing if nothing changed).
struct ReleaseReconciler::State {
  std::string revision;  // the revision `manifests` are for
  int64_t generation = -1;
  std::vector<manifest::Manifest> manifests;
  std::map<std::string, size_t> source;    // ObjectRef::Id -> index in manifests
  std::map<std::string, json> projection;  // ObjectRef::Id -> Project(manifest, live) when synced
  // What the last look at each applied object found, by ObjectRef::Id, with the resourceVersion
  // it was found at: while that is unchanged the verdict holds, so a reconcile woken by one
  // object's change re-reads only that object. Cleared with `projection`.
  std::map<std::string, std::string> in_sync_at;  // matched its projection at this version
  std::map<std::string, std::pair<std::string, manifest::Health>> health_at;
  std::optional<Clock::TimePoint> last_fetch;
  // The resourceVersion our last status write replaced: a cached object still at it has not
  // caught up with that write yet, and reconciling it would redo the work.
  std::string replaced_version;
  std::string failed_revision;  // the last sync of this revision and generation failed
  int64_t failed_generation = -1;
};

// One reconcile's working set.
struct ReleaseReconciler::Run {
  std::string key, ns, name;
  json release;  // latest known object (updated by status writes)
  json status;   // the status being computed
  json original_status;
  ReleaseSpec spec;
  int64_t generation = 0;
  std::shared_ptr<State> state;
  Time now;
  git::Credentials credentials;
  milliseconds requeue{0};

  std::string Label() const { return ns + "." + name; }
  // Asks to come back after `d` (the earliest of all asks wins). Never less than 50 ms: a
  // reconcile that ends without a requeue would wait for the next event, maybe forever.
  void Requeue(Clock::Duration d) {
    auto ms = std::max(std::chrono::ceil<milliseconds>(d), milliseconds(50));
    if (requeue.count() == 0 || ms < requeue) requeue = ms;
  }
};

ReleaseReconciler::ReleaseReconciler(
    kube::Client client, std::function<kube::ObjectPtr(const std::string&)> cached_release,
    git::RepositoryCache& git, kube::EventRecorder& events, ReleaseMetrics& metrics,
    ReleaseReconcilerOptions options)
    : client_(std::move(client)),
      cached_release_(std::move(cached_release)),
      git_(git),
      events_(events),
      metrics_(metrics),
      options_(options),
      clock_(options.clock != nullptr ? *options.clock : RealClock::Instance()),
      applied_(std::make_unique<AppliedObjects>(client_, [this](const std::string& key) {
        if (enqueue_) enqueue_(key);
      })) {}

ReleaseReconciler::~ReleaseReconciler() { Stop(); }

void ReleaseReconciler::Stop() { applied_->Stop(); }

void ReleaseReconciler::SetEnqueue(std::function<void(const std::string&)> enqueue) {
  enqueue_ = std::move(enqueue);
}

Applier ReleaseReconciler::ApplierFor(const Run& run) const {
  kube::Client client = client_;
  if (!run.spec.service_account.empty()) {
    kube::Impersonation who;
    // No Impersonate-Group: the API server gives a ServiceAccount its groups itself, so the
    // operator needs `impersonate` on serviceaccounts only (manifests/rbac.yaml, docs/security.md).
    who.user = "system:serviceaccount:" + run.ns + ":" + run.spec.service_account;
    client = client_.Impersonating(who);
  }
  ApplyOptions options;
  options.release_label = run.Label();
  options.default_namespace = run.spec.target_namespace;
  options.concurrency = options_.apply_concurrency;
  options.crd_established_timeout = options_.crd_established_timeout;
  options.live = [applied = applied_.get()](const ObjectRef& ref) -> kube::ObjectPtr {
    auto cached = applied->Get(ref);
    return cached ? *cached : nullptr;
  };
  return Applier(std::move(client), std::move(options));
}

Result<kube::ReconcileResult> ReleaseReconciler::Reconcile(const std::string& key) {
  kube::ObjectPtr cached = cached_release_(key);
  if (!cached) {
    std::lock_guard lock(mu_);
    if (states_.erase(key)) {
      auto slash = key.find('/');
      metrics_.Forget(key.substr(0, slash), key.substr(slash + 1));
    }
    return kube::ReconcileResult::Done();
  }
  Run run;
  run.key = key;
  run.release = *cached;
  run.release["apiVersion"] = kApiVersion;
  run.release["kind"] = "Release";
  const json meta = run.release.value("metadata", json::object());
  run.ns = meta.value("namespace", "");
  run.name = meta.value("name", "");
  run.generation = meta.value("generation", int64_t{0});
  run.status = run.release.value("status", json::object());
  run.original_status = run.status;
  run.now = std::chrono::system_clock::now();
  {
    std::lock_guard lock(mu_);
    auto& s = states_[key];
    if (!s) s = std::make_shared<State>();
    run.state = s;
  }
  const std::string version = meta.value("resourceVersion", "");
  if (!version.empty() && version == run.state->replaced_version) {
    return kube::ReconcileResult::After(std::chrono::seconds(1));  // our write's event follows
  }
  auto result = ReconcileRelease(run);
  Status written = WriteStatus(run);
  if (!result.ok()) return result;
  if (!written.ok()) return written;
  return result;
}

Status ReleaseReconciler::WriteStatus(Run& run) {
  run.status["observedGeneration"] = run.generation;
  if (run.status == run.original_status) return Status::Ok();
  // A merge patch of the status subresource: the controller is the only writer of status, so
  // it needs no resourceVersion precondition, and a user's concurrent edit of the spec or an
  // annotation (a sync request) does not turn into a conflict and a retry.
  const json meta = run.release.value("metadata", json::object());
  const std::string replaced = meta.value("resourceVersion", "");
  auto updated = client_.Patch(kApiVersion, "Release", run.ns, run.name, kube::PatchType::kMerge,
                               json{{"status", run.status}}.dump(), {.subresource = "status"});
  if (!updated.ok()) {
    spdlog::warn("release {}: status update failed: {}", run.key, updated.status().ToString());
    return updated.status();
  }
  run.state->replaced_version = replaced;
  run.release = std::move(*updated);
  run.release["apiVersion"] = kApiVersion;
  run.release["kind"] = "Release";
  run.original_status = run.status;
  return Status::Ok();
}

namespace {

// Sets Ready=False (and Stalled for configuration errors) with `reason` and the error.
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

}  // namespace

Result<git::Credentials> ReleaseReconciler::Credentials(Run& run) {
  git::Credentials c;
  if (run.spec.secret_name.empty()) return c;
  std::string what = "Secret " + run.ns + "/" + run.spec.secret_name + " (spec.source.secretRef)";
  auto secret = client_.Get("v1", "Secret", run.ns, run.spec.secret_name);
  if (!secret.ok()) {
    if (secret.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound, what + " not found");
    }
    return Status(secret.status().code(), "cannot read " + what + ": " + secret.status().message());
  }
  const json data = secret->value("data", json::object());
  auto key = [&](const char* name) -> Result<std::string> {
    auto it = data.find(name);
    if (it == data.end() || !it->is_string()) return std::string();
    auto decoded = Base64Decode(it->get<std::string>());
    if (!decoded) {
      return Status(Code::kInvalidArgument, what + ": key " + name + " is not valid base64");
    }
    return *decoded;
  };
  for (auto [name, field] : {std::pair{"username", &c.username},
                             {"password", &c.password},
                             {"token", &c.token},
                             {"identity", &c.ssh_private_key},
                             {"known_hosts", &c.ssh_known_hosts}}) {
    auto v = key(name);
    if (!v.ok()) return v.status();
    *field = std::move(*v);
  }
  if (IsSshUrl(run.spec.url)) {
    if (c.ssh_private_key.empty()) {
      return Status(Code::kInvalidArgument,
                    what + " has no key \"identity\" (the SSH private key for " +
                        git::RedactUrl(run.spec.url) + ")");
    }
    if (c.ssh_known_hosts.empty()) {
      return Status(Code::kInvalidArgument,
                    what + " has no key \"known_hosts\": SSH host keys are always verified");
    }
  } else if (c.token.empty()) {
    if (c.username.empty() && c.password.empty()) {
      return Status(Code::kInvalidArgument,
                    what + " has none of the keys \"username\" and \"password\", or \"token\"");
    }
    if (c.username.empty() || c.password.empty()) {
      return Status(Code::kInvalidArgument,
                    what + " has \"" + (c.username.empty() ? "password" : "username") +
                        "\" but no \"" + (c.username.empty() ? "username" : "password") + "\"");
    }
  }
  return c;
}

Result<kube::ReconcileResult> ReleaseReconciler::ReconcileRelease(Run& run) {
  auto spec = ReleaseSpec::Parse(run.release);
  if (!spec.ok()) {
    SetFailed(run.status, run.generation, run.now, "InvalidSpec", spec.status());
    return kube::ReconcileResult::Done();
  }
  run.spec = std::move(*spec);
  if (run.spec.suspend) {
    run.status["health"] = "Suspended";
    kube::RemoveCondition(run.status["conditions"], "Reconciling");
    metrics_.SetHealth(run.ns, run.name, "Suspended");
    return kube::ReconcileResult::Done();
  }

  auto credentials = Credentials(run);
  if (!credentials.ok()) {
    SetFailed(run.status, run.generation, run.now, "CredentialsError", credentials.status());
    events_.Emit(run.release, "Warning", "CredentialsError", "Fetch",
                 credentials.status().message());
    if (!IsConfigError(credentials.status())) return credentials.status();
    return kube::ReconcileResult::After(run.spec.poll_interval);
  }
  run.credentials = std::move(*credentials);

  // Fetch every pollInterval, at once when asked (annotation, webhook) or after a restart.
  State& state = *run.state;
  const std::string requested = Annotation(run.release, kReconcileAnnotation);
  const bool asked =
      !requested.empty() && requested != run.status.value("lastHandledReconcileAt", "");
  auto since_fetch = state.last_fetch ? clock_.Now() - *state.last_fetch : Clock::Duration::max();
  const bool poll_due = since_fetch >= run.spec.poll_interval;
  if (asked || poll_due || state.revision.empty()) {
    state.last_fetch = clock_.Now();
    Status fetched = git_.Fetch(run.spec.url, run.credentials);
    if (!fetched.ok()) {
      SetFailed(run.status, run.generation, run.now, "FetchFailed", fetched);
      events_.Emit(run.release, "Warning", "FetchFailed", "Fetch", fetched.message());
      if (!IsConfigError(fetched)) return fetched;
      return kube::ReconcileResult::After(run.spec.poll_interval);
    }
    since_fetch = Clock::Duration::zero();
  }
  if (asked) run.status["lastHandledReconcileAt"] = requested;
  run.Requeue(run.spec.poll_interval - since_fetch);

  // A rollback request not handled yet comes first.
  if (std::string annotation = Annotation(run.release, kRollbackAnnotation); !annotation.empty()) {
    auto request = RollbackRequest::Parse(annotation);
    if (!request.ok()) {
      SetFailed(run.status, run.generation, run.now, "RollbackFailed", request.status());
    } else if (request->id != run.status.value("lastHandledRollback", "")) {
      Status s = Rollback(run, *request);
      if (!s.ok() && !IsConfigError(s)) return s;  // retried; the id is not marked handled
      run.status["lastHandledRollback"] = request->id;
      if (s.ok()) AssessHealth(run);
      return kube::ReconcileResult::After(std::max(run.requeue, milliseconds(1000)));
    }
  }

  // Which revision should run: the pin, else the branch head unless it was rolled back.
  const std::string applied = run.status.value("lastAppliedRevision", "");
  Result<git::CommitInfo> target = Status(Code::kNotFound, "");
  if (!run.spec.revision.empty()) {
    target = git_.Resolve(git::CacheKey(run.spec.url, run.credentials), run.spec.revision);
  } else {
    target = git_.Resolve(git::CacheKey(run.spec.url, run.credentials), run.spec.branch);
    if (target.ok() && IsRejected(run.status, target->sha)) {
      if (applied.empty()) {
        SetFailed(run.status, run.generation, run.now, "RevisionRejected",
                  Status(Code::kFailedPrecondition,
                         "the head of " + run.spec.branch + " (" + Short(target->sha) +
                             ") was rolled back; waiting for a new commit"));
        return kube::ReconcileResult::After(run.requeue);
      }
      target = git_.Resolve(git::CacheKey(run.spec.url, run.credentials), applied);
    }
  }
  if (!target.ok()) {
    SetFailed(run.status, run.generation, run.now, "RevisionNotFound", target.status());
    events_.Emit(run.release, "Warning", "RevisionNotFound", "Sync", target.status().message());
    return kube::ReconcileResult::After(run.requeue);
  }

  // A full sync (validate everything, apply what differs) for a new revision or spec and after a
  // restart; a failed one is tried again at the next poll or request, not on every event.
  // Otherwise only drift is corrected: with selfHeal, or once when a sync was asked for.
  const bool new_revision = target->sha != applied;
  const bool need_sync =
      new_revision || state.revision != target->sha || state.generation != run.generation;
  if (need_sync) {
    const bool failed_same =
        state.failed_revision == target->sha && state.failed_generation == run.generation;
    if (failed_same && !poll_due && !asked) return kube::ReconcileResult::After(run.requeue);
    Status s = Sync(run, *target, new_revision);
    state.failed_revision = s.ok() ? "" : target->sha;
    state.failed_generation = s.ok() ? -1 : run.generation;
    if (!s.ok()) {
      if (!IsConfigError(s)) return s;
      return kube::ReconcileResult::After(run.requeue);
    }
  } else {
    if (run.spec.self_heal || asked) {
      auto started = clock_.Now();
      auto healed = HealSelf(run);
      if (!healed.ok()) {
        if (!IsConfigError(healed.status())) return healed.status();
        return kube::ReconcileResult::After(run.requeue);
      }
      if (asked || *healed > 0) {
        metrics_.ObserveSync(run.ns, run.name, *healed > 0 ? "succeeded" : "unchanged",
                             std::chrono::duration<double>(clock_.Now() - started).count());
      }
    }
    // In sync: clear what an earlier failure (a fetch, a heal) left in the conditions.
    if (!kube::IsTrue(run.status.value("conditions", json::array()), "Ready")) {
      (void)kube::SetCondition(run.status["conditions"],
                               {"Ready", kube::ConditionStatus::kTrue, "Synced",
                                "revision " + Short(target->sha) + " is applied"},
                               run.generation, run.now);
      kube::RemoveCondition(run.status["conditions"], "Stalled");
    }
  }
  AssessHealth(run);
  return kube::ReconcileResult::After(run.requeue);
}

Status ReleaseReconciler::Sync(Run& run, const git::CommitInfo& commit, bool new_revision) {
  auto started = clock_.Now();
  State& state = *run.state;
  auto fail = [&](const std::string& reason, const Status& error) {
    SetFailed(run.status, run.generation, run.now, reason, error);
    events_.Emit(run.release, "Warning", reason, "Sync",
                 "revision " + Short(commit.sha) + ": " + error.message());
    metrics_.ObserveSync(run.ns, run.name, "failed",
                         std::chrono::duration<double>(clock_.Now() - started).count());
    if (new_revision && IsConfigError(error) && HistoryEntry(run.status, commit.sha) == nullptr) {
      json entry = HistoryRecord(commit);
      entry["result"] = "Failed";
      entry["reason"] = error.message().substr(0, 4000);
      PrependBounded(run.status["history"], std::move(entry), run.spec.history_limit);
    }
    return error;
  };
  run.status["lastAttemptedRevision"] = commit.sha;

  auto files =
      git_.ReadTree(git::CacheKey(run.spec.url, run.credentials), commit.sha, run.spec.path);
  if (!files.ok()) return fail("SourceError", files.status());
  auto manifests = manifest::Load(*files, run.spec.path);
  if (!manifests.ok()) return fail("ManifestError", manifests.status());
  if (manifests->empty()) {
    // Applying nothing would prune everything: a wrong path or branch must not empty a namespace.
    return fail("ManifestError", Status(Code::kInvalidArgument,
                                        "no manifests (*.yaml, *.yml, *.json) found under \"" +
                                            run.spec.path + "\" at " + Short(commit.sha)));
  }

  if (manifests->size() > kMaxInventory) {
    return fail("ManifestError",
                Status(Code::kInvalidArgument,
                       "\"" + run.spec.path + "\" holds " + std::to_string(manifests->size()) +
                           " objects; a Release applies at most " + std::to_string(kMaxInventory) +
                           " (split it into several Releases)"));
  }

  Applier applier = ApplierFor(run);

  if (new_revision) {
    (void)kube::SetCondition(run.status["conditions"],
                             {"Reconciling", kube::ConditionStatus::kTrue, "Progressing",
                              "applying revision " + Short(commit.sha)},
                             run.generation, run.now);
    events_.Emit(run.release, "Normal", "Syncing", "Sync",
                 "applying revision " + Short(commit.sha) + " (" + commit.message + ", " +
                     std::to_string(manifests->size()) + " objects)");
  }
  auto report = applier.Apply(*manifests);
  if (!report.ok()) {
    return fail(
        report.status().code() == Code::kInvalidArgument ? "ValidationFailed" : "ApplyFailed",
        report.status());
  }

  std::vector<ObjectRef> inventory = report->inventory;
  std::string pruned_note;
  if (run.spec.prune) {
    auto pruned = applier.Prune(Inventory(run.status), report->inventory);
    if (!pruned.ok()) {
      // Keep what could not be pruned in the inventory so the next sync tries again.
      std::set<std::string> ids;
      for (const auto& r : inventory) ids.insert(r.Id());
      for (const auto& r : Inventory(run.status)) {
        if (!ids.count(r.Id())) inventory.push_back(r);
      }
      run.status["inventory"] = InventoryJson(inventory);
      return fail("PruneFailed", pruned.status());
    }
    if (!pruned->empty()) {
      std::vector<std::string> names;
      for (const auto& r : *pruned) names.push_back(r.Display());
      pruned_note = "; pruned " + std::to_string(pruned->size());
      events_.Emit(run.release, "Normal", "Pruned", "Prune",
                   "deleted objects that left the repository: " + Join(names, ", "));
    }
  }
  run.status["inventory"] = InventoryJson(inventory);

  // Remember what "in sync" looks like, for self-heal.
  state.revision = commit.sha;
  state.generation = run.generation;
  state.manifests = std::move(*manifests);
  state.source.clear();
  state.projection.clear();
  state.in_sync_at.clear();
  state.health_at.clear();
  // Applied objects by group/kind/name (a manifest may name no namespace: it got the default).
  std::multimap<std::string, const ObjectRef*> applied_by_name;
  for (const auto& r : report->inventory) {
    applied_by_name.emplace(r.group + "/" + r.kind + "/" + r.name, &r);
  }
  for (size_t i = 0; i < state.manifests.size(); ++i) {
    ObjectRef ref = ObjectRef::Of(state.manifests[i].object);
    auto [first, last] = applied_by_name.equal_range(ref.group + "/" + ref.kind + "/" + ref.name);
    for (auto it = first; it != last; ++it) {
      const ObjectRef& r = *it->second;
      if (!ref.ns.empty() && ref.ns != r.ns) continue;
      state.source[r.Id()] = i;
      if (auto res = report->results.find(r.Id()); res != report->results.end()) {
        state.projection[r.Id()] = Project(state.manifests[i].object, res->second);
      }
      break;
    }
  }
  for (const auto& r : report->inventory) applied_->Track(r);

  run.status["lastAppliedRevision"] = commit.sha;
  run.status["lastAppliedShortRevision"] = Short(commit.sha);
  const int writes = report->created + report->configured;
  std::string summary = std::to_string(report->created) + " created, " +
                        std::to_string(report->configured) + " configured, " +
                        std::to_string(report->unchanged) + " unchanged" + pruned_note;
  if (new_revision) {
    // A revision that failed before and now applied replaces its Failed entry.
    json entry = HistoryRecord(commit);
    entry["appliedAt"] = FormatRfc3339(run.now);
    entry["result"] = "Progressing";
    PrependBounded(run.status["history"], std::move(entry), run.spec.history_limit);
    metrics_.ObserveDeployment(run.ns, run.name);
    events_.Emit(run.release, "Normal", "Synced", "Sync",
                 "applied revision " + Short(commit.sha) + " (" + commit.message + "): " + summary);
  } else if (writes > 0) {
    events_.Emit(run.release, "Normal", "Synced", "Sync",
                 "re-applied revision " + Short(commit.sha) + ": " + summary);
  }
  (void)kube::SetCondition(run.status["conditions"],
                           {"Ready", kube::ConditionStatus::kTrue, "Synced",
                            "applied revision " + Short(commit.sha) + ": " + summary},
                           run.generation, run.now);
  kube::RemoveCondition(run.status["conditions"], "Stalled");
  metrics_.ObserveSync(run.ns, run.name, writes > 0 || new_revision ? "succeeded" : "unchanged",
                       std::chrono::duration<double>(clock_.Now() - started).count());
  spdlog::info(
      "release {}: revision {} applied ({}) in {:.2f} s (dry run {:.2f} s, apply {:.2f} s)",
      run.key, Short(commit.sha), summary,
      std::chrono::duration<double>(clock_.Now() - started).count(), report->dry_run_seconds,
      report->apply_seconds);
  return Status::Ok();
}

Result<int> ReleaseReconciler::HealSelf(Run& run) {
  State& state = *run.state;
  if (state.projection.empty()) return 0;
  std::vector<manifest::Manifest> drifted;
  std::vector<std::string> names;
  std::map<std::string, ObjectRef> inventory;
  for (auto& r : Inventory(run.status)) inventory.emplace(r.Id(), std::move(r));
  for (const auto& [id, index] : state.source) {
    auto found = inventory.find(id);
    if (found == inventory.end()) continue;
    const ObjectRef& ref = found->second;
    auto version = applied_->ResourceVersion(ref);
    if (!version) continue;  // not watched (yet): no opinion
    if (auto seen = state.in_sync_at.find(id);
        seen != state.in_sync_at.end() && !version->empty() && seen->second == *version) {
      continue;  // in sync when last read and unchanged since
    }
    const bool missing = version->empty();
    if (!missing) {
      kube::ObjectPtr live = applied_->Get(ref).value_or(nullptr);
      if (live == nullptr) continue;  // deleted just now: its delete event wakes us again
      auto expected = state.projection.find(id);
      if (expected != state.projection.end() &&
          Project(state.manifests[index].object, *live) == expected->second) {
        state.in_sync_at[id] = kube::MetaString(*live, "resourceVersion");  // the version read
        continue;
      }
    }
    drifted.push_back(state.manifests[index]);
    names.push_back(ref.Display() + (missing ? " (deleted)" : ""));
  }
  if (drifted.empty()) return 0;

  auto report = ApplierFor(run).Apply(drifted);
  if (!report.ok()) {
    SetFailed(run.status, run.generation, run.now, "SelfHealFailed", report.status());
    events_.Emit(run.release, "Warning", "SelfHealFailed", "Sync", report.status().message());
    return report.status();
  }
  for (const auto& [id, object] : report->results) {
    if (auto it = state.source.find(id); it != state.source.end()) {
      state.projection[id] = Project(state.manifests[it->second].object, object);
      state.in_sync_at.erase(id);
    }
  }
  if (report->created + report->configured > 0) {
    events_.Emit(run.release, "Normal", "SelfHealed", "Sync",
                 "corrected changes made outside Git: " + Join(names, ", "));
    spdlog::info("release {}: corrected drift of {}", run.key, Join(names, ", "));
  }
  return report->created + report->configured;
}

void ReleaseReconciler::AssessHealth(Run& run) {
  const std::string applied = run.status.value("lastAppliedRevision", "");
  if (applied.empty()) {
    run.status["health"] = "Unknown";
    metrics_.SetHealth(run.ns, run.name, "Unknown");
    return;
  }
  manifest::HealthState worst = manifest::HealthState::kHealthy;
  std::vector<std::string> messages;
  auto rank = [](manifest::HealthState s) {
    switch (s) {
      case manifest::HealthState::kDegraded:
        return 3;
      case manifest::HealthState::kProgressing:
        return 2;
      case manifest::HealthState::kUnknown:
        return 1;
      default:
        return 0;
    }
  };
  State& state = *run.state;
  for (const auto& ref : Inventory(run.status)) {
    applied_->Track(ref);
    const std::string id = ref.Id();
    std::optional<std::string> version = applied_->ResourceVersion(ref);
    auto known = state.health_at.find(id);
    manifest::Health h;
    if (version && !version->empty() && known != state.health_at.end() &&
        known->second.first == *version) {
      h = known->second.second;  // unchanged since last assessed
    } else {
      kube::ObjectPtr live;
      std::optional<kube::ObjectPtr> cached = applied_->Get(ref);
      if (cached) {
        live = *cached;
      } else {
        auto got = client_.Get(ref.ApiVersion(), ref.kind, ref.ns, ref.name);
        if (got.ok()) live = std::make_shared<const json>(std::move(*got));
      }
      if (live == nullptr) {
        h = {run.spec.self_heal ? manifest::HealthState::kProgressing
                                : manifest::HealthState::kDegraded,
             ref.Display() + " is missing"};
      } else {
        h = manifest::AssessHealth(*live);
        if (cached) state.health_at[id] = {kube::MetaString(*live, "resourceVersion"), h};
      }
    }
    if (h.state == manifest::HealthState::kHealthy) continue;
    if (rank(h.state) > rank(worst)) worst = h.state;
    if (messages.size() < 5) messages.push_back(h.message);
  }

  json* entry = HistoryEntry(run.status, applied);
  std::string message = Join(messages, "; ");
  if (worst == manifest::HealthState::kProgressing && entry != nullptr) {
    auto applied_at = ParseRfc3339(entry->value("appliedAt", ""));
    if (applied_at.ok()) {
      auto age = duration_cast<milliseconds>(run.now - *applied_at);
      if (age >= run.spec.health_timeout && entry->value("result", "") != "Healthy") {
        worst = manifest::HealthState::kDegraded;
        message = "not healthy within healthTimeout " + FormatDuration(run.spec.health_timeout) +
                  ": " + message;
      } else {
        run.Requeue(
            std::clamp(run.spec.health_timeout - age, milliseconds(1000), milliseconds(10000)));
      }
    }
  }
  const std::string health = manifest::HealthName(worst);
  const std::string before = run.status.value("health", "");
  run.status["health"] = health;
  metrics_.SetHealth(run.ns, run.name, health);
  auto& conditions = run.status["conditions"];
  if (worst == manifest::HealthState::kHealthy) {
    (void)kube::SetCondition(
        conditions,
        {"Healthy", kube::ConditionStatus::kTrue, "Healthy", "every applied object is healthy"},
        run.generation, run.now);
    kube::RemoveCondition(conditions, "Reconciling");
  } else {
    (void)kube::SetCondition(
        conditions,
        {"Healthy",
         worst == manifest::HealthState::kUnknown ? kube::ConditionStatus::kUnknown
                                                  : kube::ConditionStatus::kFalse,
         health, message},
        run.generation, run.now);
    if (worst == manifest::HealthState::kProgressing) {
      (void)kube::SetCondition(
          conditions, {"Reconciling", kube::ConditionStatus::kTrue, "Progressing", message},
          run.generation, run.now);
    } else {
      kube::RemoveCondition(conditions, "Reconciling");
    }
  }
  if (entry == nullptr) return;
  const std::string result = entry->value("result", "");
  if (worst == manifest::HealthState::kHealthy && result != "Healthy" && result != "RolledBack") {
    (*entry)["result"] = "Healthy";
    (*entry)["healthyAt"] = FormatRfc3339(run.now);
    entry->erase("reason");
    run.status["stableRevision"] = applied;
    run.status["stableShortRevision"] = Short(applied);
    if (auto committed = ParseRfc3339(entry->value("committedAt", "")); committed.ok()) {
      metrics_.ObserveLeadTime(run.ns, run.name,
                               std::chrono::duration<double>(run.now - *committed).count());
    }
    events_.Emit(run.release, "Normal", "Healthy", "Assess",
                 "revision " + Short(applied) + " is healthy");
  } else if (worst == manifest::HealthState::kDegraded && result == "Progressing") {
    (*entry)["result"] = "Degraded";
    (*entry)["reason"] = message.substr(0, 4000);
    events_.Emit(run.release, "Warning", "Degraded", "Assess",
                 "revision " + Short(applied) + ": " + message);
  } else if (before != health && worst == manifest::HealthState::kDegraded) {
    events_.Emit(run.release, "Warning", "Degraded", "Assess", message);
  }
}

Status ReleaseReconciler::Rollback(Run& run, const RollbackRequest& request) {
  const std::string from = run.status.value("lastAppliedRevision", "");
  // By default: the newest revision before the current one that became healthy and was not
  // rejected (stableRevision is the current one when it is healthy itself).
  std::string to = request.to;
  for (const auto& e : run.status.value("history", json::array())) {
    if (!to.empty()) break;
    const std::string rev = e.value("revision", "");
    if (rev != from && e.contains("healthyAt") && e.value("result", "") != "RolledBack" &&
        !IsRejected(run.status, rev)) {
      to = rev;
    }
  }
  auto fail = [&](const Status& error) {
    SetFailed(run.status, run.generation, run.now, "RollbackFailed", error);
    events_.Emit(run.release, "Warning", "RollbackFailed", "Rollback", error.message());
    return error;
  };
  if (to.empty()) {
    return fail(Status(Code::kFailedPrecondition,
                       "cannot roll back: no earlier revision became healthy (give one with "
                       "--to)"));
  }
  auto target = git_.Resolve(git::CacheKey(run.spec.url, run.credentials), to);
  if (!target.ok()) return fail(target.status());
  if (target->sha == from) {
    return fail(Status(Code::kFailedPrecondition,
                       "cannot roll back: revision " + Short(from) + " is already applied"));
  }
  std::string reason = request.reason.empty() ? "requested" : request.reason;
  if (!request.by.empty()) reason += " (by " + request.by + ")";

  if (Status s = Sync(run, *target, true); !s.ok()) return fail(s);

  if (!from.empty() && !IsRejected(run.status, from)) {
    PrependBounded(run.status["rejectedRevisions"],
                   {{"revision", from},
                    {"rejectedAt", FormatRfc3339(run.now)},
                    {"reason", reason.substr(0, 4000)}},
                   kMaxRejected);
  }
  if (json* bad = HistoryEntry(run.status, from)) {
    (*bad)["result"] = "RolledBack";
    (*bad)["reason"] = ("rolled back to " + Short(target->sha) + ": " + reason).substr(0, 4000);
  }

  std::string note;
  if (request.git_revert) {
    std::string message = "Revert " + run.spec.path + " to " + Short(target->sha) + ": " + reason;
    auto revert = git_.RestorePath(run.spec.url, run.credentials, run.spec.branch, run.spec.path,
                                   target->sha, message);
    if (!revert.ok()) {
      note = "; the revert commit could not be pushed: " + revert.status().message();
      events_.Emit(run.release, "Warning", "RevertFailed", "Rollback", revert.status().message());
    } else if (revert->sha != target->sha && run.spec.revision.empty()) {
      // The branch head now holds exactly what was applied: record it as the running revision,
      // so Git and the cluster agree without another sync.
      if (json* entry = HistoryEntry(run.status, target->sha))
        entry->update(HistoryRecord(*revert));
      run.status["lastAppliedRevision"] = revert->sha;
      run.status["lastAppliedShortRevision"] = Short(revert->sha);
      run.status["lastAttemptedRevision"] = revert->sha;
      run.state->revision = revert->sha;
      note = "; pushed revert commit " + Short(revert->sha) + " to " + run.spec.branch;
    }
  }
  std::string summary = "rolled back from " + (from.empty() ? "nothing" : Short(from)) + " to " +
                        Short(target->sha) + ": " + reason + note;
  (void)kube::SetCondition(run.status["conditions"],
                           {"Ready", kube::ConditionStatus::kTrue, "RolledBack", summary},
                           run.generation, run.now);
  events_.Emit(run.release, "Normal", "RolledBack", "Rollback", summary);
  metrics_.ObserveRollback(run.ns, run.name);
  spdlog::info("release {}: {}", run.key, summary);
  return Status::Ok();
}

// ---- webhook → reconcile requests ----

namespace {

// Turns pushes into reconcile requests on a background thread, so the receiver answers at once.
class PushDispatcher {
 public:
  PushDispatcher(kube::Client client, std::function<std::vector<kube::ObjectPtr>()> list)
      : client_(std::move(client)), list_(std::move(list)) {
    thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
  }

  void Push(const GitPush& push) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= 1000) return;  // a flood: the next poll catches up
      queue_.push_back(push);
    }
    cv_.notify_one();
  }

 private:
  void Loop(std::stop_token stop) {
    for (;;) {
      GitPush push;
      {
        std::unique_lock lock(mu_);
        if (!cv_.wait(lock, stop, [&] { return !queue_.empty(); })) return;
        push = std::move(queue_.front());
        queue_.pop_front();
      }
      Handle(push);
    }
  }

  void Handle(const GitPush& push) {
    std::set<std::string> keys;
    for (const auto& url : push.repo_urls) {
      if (std::string k = git::RepoKey(url); !k.empty()) keys.insert(k);
    }
    std::string value =
        "webhook " + (push.delivery.empty() ? FormatRfc3339Micro(std::chrono::system_clock::now())
                                            : push.delivery);
    for (const auto& release : list_()) {
      const json spec = release->value("spec", json::object());
      const json source = spec.value("source", json::object());
      if (!keys.count(git::RepoKey(source.value("url", "")))) continue;
      const json meta = release->value("metadata", json::object());
      json patch = {{"metadata", {{"annotations", {{kReconcileAnnotation, value}}}}}};
      auto r = client_.Patch(kApiVersion, "Release", meta.value("namespace", ""),
                             meta.value("name", ""), kube::PatchType::kMerge, patch.dump());
      if (!r.ok()) {
        spdlog::warn("webhook: cannot request a sync of release {}/{}: {}",
                     meta.value("namespace", ""), meta.value("name", ""), r.status().ToString());
      } else {
        spdlog::info("webhook: {} push to {} requests a sync of release {}/{}", push.provider,
                     push.ref, meta.value("namespace", ""), meta.value("name", ""));
      }
    }
  }

  kube::Client client_;
  std::function<std::vector<kube::ObjectPtr>()> list_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<GitPush> queue_;
  std::jthread thread_;
};

}  // namespace

std::function<void(const GitPush&)> ReleasePushHandler(
    kube::Client client, std::function<std::vector<kube::ObjectPtr>()> list_releases) {
  auto dispatcher = std::make_shared<PushDispatcher>(std::move(client), std::move(list_releases));
  return [dispatcher](const GitPush& push) { dispatcher->Push(push); };
}

}  // namespace flywheel::release
