// The sync half of the Release controller: the Applier for a Release, a full sync of a
// revision (validate all, apply in order, prune) and self-heal of drifted objects.
#include <spdlog/spdlog.h>

#include <set>

#include "flywheel/kube/conditions.h"
#include "flywheel/release/applier.h"
#include "flywheel/release/drift.h"
#include "internal.h"

namespace flywheel::release {

Applier ReleaseReconciler::ApplierFor(const Run& run) const {
  kube::Client client = client_;
  // spec.serviceAccountName, else the operator's --default-service-account (as Flux does).
  const std::string& account = run.spec.service_account.empty() ? options_.default_service_account
                                                                : run.spec.service_account;
  if (!account.empty()) {
    kube::Impersonation who;
    // No Impersonate-Group: the API server gives a ServiceAccount its groups itself, so the
    // operator needs `impersonate` on serviceaccounts only (manifests/rbac.yaml, docs/security.md).
    who.user = "system:serviceaccount:" + run.ns + ":" + account;
    client = client_.Impersonating(who);
  }
  ApplyOptions options;
  options.release_label = api::OwnerLabelValue(run.ns, run.name);
  applied_->RegisterRelease(options.release_label, run.key);
  options.default_namespace = run.spec.target_namespace;
  options.concurrency = options_.apply_concurrency;
  options.stop = run.stop;
  // nullptr (the Applier GETs the object) when the cache does not know it or is behind our last
  // apply of it.
  options.live = [applied = applied_.get()](const ObjectRef& ref) {
    return applied->Get(ref).value_or(nullptr);
  };
  return Applier(std::move(client), std::move(options));
}

void ReleaseReconciler::NoteWritten(const std::map<std::string, json>& results) {
  for (const auto& [id, object] : results) {
    applied_->Wrote(ObjectRef::Of(object), kube::MetaString(object, "resourceVersion"));
  }
}

Status ReleaseReconciler::Sync(Run& run, const git::CommitInfo& commit, SyncMode mode) {
  auto started = clock_.Now();
  const bool new_revision = mode == SyncMode::kNewRevision;
  State& state = *run.state;
  auto fail = [&](const std::string& reason, const Status& error) {
    // Stopping (shutdown, lost Lease) is no failure of the revision: nothing to report.
    if (error.code() == Code::kCancelled) return error;
    SetFailed(run.status, run.generation, run.now, reason, error);
    if (mode != SyncMode::kRollback) {
      events_.Emit(run.release, "Warning", reason, "Sync",
                   "revision " + Short(commit.sha) + ": " + error.message());
    }
    metrics_.ObserveSync(run.ns, run.name, "failed",
                         std::chrono::duration<double>(clock_.Now() - started).count());
    if (new_revision && IsConfigError(error) && run.status.FindHistory(commit.sha) == nullptr) {
      HistoryEntry entry = HistoryEntry::Of(commit);
      entry.result = "Failed";
      entry.reason = error.message().substr(0, 4000);
      run.status.RecordHistory(std::move(entry), run.spec.history_limit);
    }
    return error;
  };
  run.status.last_attempted_revision = commit.sha;

  auto files = git_.ReadTree(SourceKey(run), commit.sha, run.spec.path);
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

  // A sync that waits for its CRDs to be Established comes back for the same revision: it was
  // announced already.
  const bool resumed = state.crd_wait && state.crd_wait->first == commit.sha;
  if (!resumed) state.crd_wait.reset();
  if (new_revision && !resumed) {
    (void)kube::SetCondition(run.status.conditions,
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
  NoteWritten(report->results);
  if (!report->waiting_for.empty()) {
    // Come back in a second rather than hold a worker; give up after crd_established_timeout.
    if (!state.crd_wait) state.crd_wait.emplace(commit.sha, clock_.Now());
    const std::string what =
        "CustomResourceDefinitions not Established yet: " + Join(report->waiting_for, ", ");
    if (clock_.Now() - state.crd_wait->second >= options_.crd_established_timeout) {
      state.crd_wait.reset();
      return fail(
          "ApplyFailed",
          Status(Code::kDeadlineExceeded,
                 what + " (waited " + FormatDuration(options_.crd_established_timeout) + ")"));
    }
    if (mode == SyncMode::kRollback) return Status(Code::kUnavailable, what);
    (void)kube::SetCondition(run.status.conditions,
                             {"Reconciling", kube::ConditionStatus::kTrue, "Progressing",
                              "revision " + Short(commit.sha) + ": " + what},
                             run.generation, run.now);
    run.Requeue(std::chrono::seconds(1));
    return Status::Ok();
  }
  state.crd_wait.reset();

  std::vector<ObjectRef> inventory = report->inventory;
  std::string pruned_note;
  if (run.spec.prune) {
    auto pruned = applier.Prune(run.status.inventory, report->inventory);
    if (!pruned.ok()) {
      // Keep what could not be pruned in the inventory so the next sync tries again.
      std::set<std::string> ids;
      for (const auto& r : inventory) ids.insert(r.Id());
      for (const auto& r : run.status.inventory) {
        if (!ids.count(r.Id())) inventory.push_back(r);
      }
      run.status.inventory = std::move(inventory);
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
  run.status.inventory = std::move(inventory);

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

  run.status.last_applied_revision = commit.sha;
  const int writes = report->created + report->configured;
  std::string summary = std::to_string(report->created) + " created, " +
                        std::to_string(report->configured) + " configured, " +
                        std::to_string(report->unchanged) + " unchanged" + pruned_note;
  if (new_revision) {
    // A revision that failed before and now applied replaces its Failed entry.
    HistoryEntry entry = HistoryEntry::Of(commit);
    entry.applied_at = run.now;
    entry.result = "Progressing";
    run.status.RecordHistory(std::move(entry), run.spec.history_limit);
    metrics_.ObserveDeployment(run.ns, run.name);
    events_.Emit(run.release, "Normal", "Synced", "Sync",
                 "applied revision " + Short(commit.sha) + " (" + commit.message + "): " + summary);
  } else if (writes > 0 && mode == SyncMode::kSameRevision) {
    events_.Emit(run.release, "Normal", "Synced", "Sync",
                 "re-applied revision " + Short(commit.sha) + ": " + summary);
  }
  (void)kube::SetCondition(run.status.conditions,
                           {"Ready", kube::ConditionStatus::kTrue, "Synced",
                            "applied revision " + Short(commit.sha) + ": " + summary},
                           run.generation, run.now);
  kube::RemoveCondition(run.status.conditions, "Stalled");
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
  for (const auto& r : run.status.inventory) inventory.emplace(r.Id(), r);
  for (const auto& [id, index] : state.source) {
    auto found = inventory.find(id);
    if (found == inventory.end()) continue;
    const ObjectRef& ref = found->second;
    if (!applied_->Watching(ref)) continue;  // not watched (yet): no opinion
    // nullopt while the cache is behind our last apply: it would show the old object as drift,
    // so ask the server.
    auto version = applied_->ResourceVersion(ref);
    const bool current = version.has_value();
    if (auto seen = state.in_sync_at.find(id); current && seen != state.in_sync_at.end() &&
                                               !version->empty() && seen->second == *version) {
      continue;  // in sync when last read and unchanged since
    }
    kube::ObjectPtr live;
    if (current) {
      if (!version->empty()) {
        live = applied_->Get(ref).value_or(nullptr);
        if (live == nullptr) continue;  // deleted just now: its delete event wakes us again
      }
    } else {
      auto read = ReadLive(ref);
      if (!read.ok()) continue;  // not knowing is no drift
      live = *read;
    }
    const bool missing = live == nullptr;
    if (!missing) {
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
  NoteWritten(report->results);
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

}  // namespace flywheel::release
