#include "flywheel/release/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "flywheel/git/secret_credentials.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/release/decisions.h"
#include "internal.h"

namespace flywheel::release {

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
      own_informers_(options.informers == nullptr ? std::make_unique<kube::InformerSet>(client_)
                                                  : nullptr),
      applied_(std::make_unique<AppliedObjects>(
          options.informers != nullptr ? *options.informers : *own_informers_,
          [this](const std::string& key) {
            if (enqueue_) enqueue_(key);
          })),
      sources_(std::make_unique<git::SourceWorker>(
          git_,
          [this](const std::string& key) {
            if (enqueue_) enqueue_(key);
          },
          git::SourceWorkerOptions{.threads = options.fetch_threads, .clock = &clock_})) {}

ReleaseReconciler::~ReleaseReconciler() { Stop(); }

void ReleaseReconciler::Stop() {
  sources_->Stop();
  if (own_informers_) own_informers_->Stop();
}

void ReleaseReconciler::SetEnqueue(std::function<void(const std::string&)> enqueue) {
  enqueue_ = std::move(enqueue);
}

Result<kube::ReconcileResult> ReleaseReconciler::Reconcile(const std::string& key,
                                                           std::stop_token stop) {
  kube::ObjectPtr cached = cached_release_(key);
  if (!cached) {
    std::lock_guard lock(mu_);
    sources_->Forget(key);
    if (states_.erase(key)) {
      auto slash = key.find('/');
      metrics_.Forget(key.substr(0, slash), key.substr(slash + 1));
    }
    return kube::ReconcileResult::Done();
  }
  Run run;
  run.key = key;
  run.stop = stop;
  run.release = *cached;
  run.release["apiVersion"] = api::kGroupVersion;
  run.release["kind"] = "Release";
  const json meta = run.release.value("metadata", json::object());
  run.ns = meta.value("namespace", "");
  run.name = meta.value("name", "");
  run.generation = meta.value("generation", int64_t{0});
  run.status = ReleaseStatus::OfRelease(run.release);
  run.server_status = run.status;
  run.server_version = meta.value("resourceVersion", "");
  run.now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  {
    std::lock_guard lock(mu_);
    auto& s = states_[key];
    if (!s) {
      // First reconcile since the start (or since the Release was made again): its series
      // start at 0, so the first deployment or rollback counts in increase().
      s = std::make_shared<State>();
      metrics_.AddRelease(run.ns, run.name);
    }
    run.state = s;
  }
  if (State& state = *run.state; state.computed) {
    if (run.status == *state.computed) {
      // The cache caught up with our last write: from now on it is the truth.
      state.computed.reset();
      state.server_status.reset();
    } else {
      // The cache has not caught up with our last write (or that write failed): start from
      // what we computed, not from an older status that would redo its work.
      run.status = *state.computed;
      run.server_status = state.server_status.value_or(*state.computed);
      run.server_version = state.server_version;
    }
  }
  auto result = ReconcileRelease(run);
  Status written = WriteStatus(run);
  if (!result.ok()) return result;
  if (!written.ok()) return written;
  return result;
}

void ReleaseReconciler::RememberUnwritten(Run& run) {
  // Unknown whether the write landed: keep what was computed, so the next reconcile neither
  // loses it nor redoes its side effects, and what the server held before, to recognise it.
  State& state = *run.state;
  if (!state.server_status) state.server_status = run.server_status;
  state.server_version = run.server_version;
  state.computed = run.status;
}

Status ReleaseReconciler::WriteStatus(Run& run) {
  run.status.observed_generation = run.generation;
  State& state = *run.state;
  if (run.status == run.server_status) return Status::Ok();
  // A full update of the status subresource, conditional on the resourceVersion the status was
  // read (or last written) at. A conflict means another write landed meanwhile: an annotation
  // (a sync or rollback request, a webhook) or, if another process took over, a status. The
  // object is read again from the API server; when its status is still the one this reconcile
  // started from, the write is repeated on the new version (the requests are looked at by the
  // next reconcile, which the same event queues). Otherwise the computed status is dropped and
  // the next reconcile starts over from the server's.
  json object = run.release;
  object["status"] = run.status.ToJson();
  object["metadata"]["resourceVersion"] = run.server_version;
  for (int attempt = 0;; ++attempt) {
    auto updated = client_.UpdateStatus(object, {.drop_managed_fields = true});
    if (updated.ok()) {
      run.release = std::move(*updated);
      run.release["apiVersion"] = api::kGroupVersion;
      run.release["kind"] = "Release";
      // What the server stored (it prunes fields its schema does not know).
      state.computed = ReleaseStatus::OfRelease(run.release);
      state.server_status.reset();
      state.server_version = kube::MetaString(run.release, "resourceVersion");
      return Status::Ok();
    }
    if (updated.status().code() != Code::kAborted || attempt == 4) {
      RememberUnwritten(run);
      spdlog::warn("release {}: status update failed: {}", run.key, updated.status().ToString());
      return updated.status();
    }
    auto fresh = client_.Get(api::kGroupVersion, "Release", run.ns, run.name);
    if (!fresh.ok()) {
      RememberUnwritten(run);
      return fresh.status();
    }
    if (ReleaseStatus::OfRelease(*fresh) != run.server_status) {
      state.computed.reset();
      state.server_status.reset();
      return Status(Code::kAborted, "status of release " + run.key +
                                        " was changed by another writer; reconciling again");
    }
    object["metadata"]["resourceVersion"] = kube::MetaString(*fresh, "resourceVersion");
    run.server_version = kube::MetaString(*fresh, "resourceVersion");
  }
}

git::CacheKey ReleaseReconciler::SourceKey(Run& run) {
  if (!run.credentials_loaded && run.state->cache_key &&
      run.state->cache_key->url() == run.spec.url) {
    return *run.state->cache_key;  // what the last fetch used: no Secret read needed
  }
  (void)LoadCredentials(run);  // when the Secret cannot be read, reads find nothing cached
  return git::CacheKey(run.spec.url, run.credentials);
}

Status ReleaseReconciler::LoadCredentials(Run& run) {
  if (run.credentials_loaded) return Status::Ok();
  auto loaded = ReadCredentials(run);
  if (!loaded.ok()) return loaded.status();
  run.credentials = std::move(*loaded);
  run.credentials_loaded = true;
  return Status::Ok();
}

Result<git::Credentials> ReleaseReconciler::ReadCredentials(const Run& run) {
  if (run.spec.secret_name.empty()) return git::Credentials{};
  std::string what = "Secret " + run.ns + "/" + run.spec.secret_name + " (spec.source.secretRef)";
  auto secret = client_.Get("v1", "Secret", run.ns, run.spec.secret_name);
  if (!secret.ok()) {
    if (secret.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound, what + " not found");
    }
    return Status(secret.status().code(), "cannot read " + what + ": " + secret.status().message());
  }
  return git::CredentialsFromSecret(*secret, what, run.spec.url);
}

Result<kube::ReconcileResult> ReleaseReconciler::ReconcileRelease(Run& run) {
  auto spec = ReleaseSpec::Parse(run.release);
  if (!spec.ok()) {
    SetFailed(run.status, run.generation, run.now, "InvalidSpec", spec.status());
    return kube::ReconcileResult::Done();
  }
  run.spec = std::move(*spec);
  if (run.spec.suspend) {
    run.status.health = "Suspended";
    kube::RemoveCondition(run.status.conditions, "Reconciling");
    metrics_.SetHealth(run.ns, run.name, "Suspended");
    return kube::ReconcileResult::Done();
  }

  // A rollback request not handled yet comes first, from what the git cache already holds: a
  // rollback must work while the git host is down (the revert commit is pushed when it is back).
  if (std::string annotation = kube::MetaAnnotation(run.release, api::kRollbackAnnotation);
      !annotation.empty()) {
    auto request = RollbackRequest::Parse(annotation);
    if (!request.ok()) {
      SetFailed(run.status, run.generation, run.now, "RollbackFailed", request.status());
    } else if (request->id != run.status.last_handled_rollback) {
      const std::string applied = run.status.last_applied_revision;
      if (!request->from.empty() && request->from != applied) {
        run.status.last_handled_rollback = request->id;
        events_.Emit(run.release, "Normal", "RollbackSkipped", "Rollback",
                     "rollback of " + Short(request->from) +
                         (request->by.empty() ? "" : " (by " + request->by + ")") +
                         " skipped: that revision no longer runs (" +
                         (applied.empty() ? "nothing" : Short(applied)) + " does)");
        return kube::ReconcileResult::After(milliseconds(1000));
      }
      Status s = Rollback(run, *request);
      if (!s.ok() && !IsConfigError(s)) return s;  // retried; the id is not marked handled
      run.status.last_handled_rollback = request->id;
      if (s.ok()) AssessHealth(run);
      return kube::ReconcileResult::After(milliseconds(1000));
    }
  }

  // Fetches run on the source worker, never in a reconcile (a slow git host holds no worker):
  // one is asked for at once when requested (annotation, webhook), when nothing was fetched yet
  // (or the URL changed), else pollInterval after the last one finished (never when it is 0).
  // The worker wakes the Release when a fetch finished. Credentials are read only to ask.
  State& state = *run.state;
  const std::string requested = kube::MetaAnnotation(run.release, api::kReconcileAnnotation);
  const bool asked = !requested.empty() && requested != run.status.last_handled_reconcile_at;
  const bool polling = run.spec.poll_interval.count() > 0;
  auto ask = [&](Clock::TimePoint due) -> Status {
    if (Status s = LoadCredentials(run); !s.ok()) {
      SetFailed(run.status, run.generation, run.now, "CredentialsError", s);
      events_.Emit(run.release, "Warning", "CredentialsError", "Fetch", s.message());
      return s;
    }
    sources_->Request(run.key, {run.spec.url, run.credentials, run.spec.branch}, due);
    return Status::Ok();
  };
  std::optional<git::SourceOutcome> last = sources_->Last(run.key);
  if (last && last->key.url() != run.spec.url) last.reset();  // spec.source.url changed
  if (!last && !asked && polling && LoadCredentials(run).ok()) {
    // Nothing fetched for this Release yet: what the last fetch of its repository with the same
    // credentials brought serves when it is younger than pollInterval, as a Flux Kustomization
    // uses the artifact its GitRepository holds. It syncs in this reconcile, and Releases of one
    // repository poll in step (one fetch, one sweep of wake-ups per interval).
    last = sources_->Share(run.key, {run.spec.url, run.credentials, run.spec.branch},
                           clock_.Now() - run.spec.poll_interval);
  }
  if ((asked && state.fetch_asked != requested) || (!last && !sources_->Due(run.key))) {
    const Clock::TimePoint asked_at = clock_.Now();  // before the worker can start the fetch
    if (Status s = ask({}); !s.ok()) {
      return IsConfigError(s) ? kube::ReconcileResult::After(run.spec.poll_interval)
                              : Result<kube::ReconcileResult>(s);
    }
    if (asked) {
      state.fetch_asked = requested;
      state.fetch_asked_at = asked_at;
    }
  }
  if (!last) return kube::ReconcileResult::Done();  // the worker wakes us
  const bool new_outcome = state.fetch_seen != last->finished_at;
  if (new_outcome) {
    state.fetch_seen = last->finished_at;
    if (last->status.code() == Code::kCancelled) return last->status;  // stopping
    // A fetch that worked but found no such branch goes on to the revision's resolution below,
    // which says RevisionNotFound: one reason for it, not one per path.
    if (!last->fetched) {
      SetFailed(run.status, run.generation, run.now, "FetchFailed", last->status);
      events_.Emit(run.release, "Warning", "FetchFailed", "Fetch", last->status.message());
    } else {
      state.cache_key = last->key;
      // Git is reachable: a revert commit that could not be pushed earlier goes now.
      PushPendingRevert(run);
    }
  }
  // A request is carried out once a fetch that started after it finished (one that ran when it
  // came predates it; the worker runs the request after that one). Not "no request pending":
  // a reconcile while the requested fetch runs asks for the next poll.
  if (asked && state.fetch_asked == requested && last->started_at >= state.fetch_asked_at) {
    run.status.last_handled_reconcile_at = requested;
  }
  if (polling && !sources_->Due(run.key)) {
    // The next poll; a transient failure is tried again sooner.
    Clock::Duration next = run.spec.poll_interval;
    if (!last->status.ok() && !IsConfigError(last->status)) {
      next = std::min<Clock::Duration>(next, std::chrono::seconds(10));
    }
    if (Status s = ask(last->finished_at + next); !s.ok() && !IsConfigError(s)) return s;
  }
  if (new_outcome && !last->fetched) return kube::ReconcileResult::After(run.requeue);

  // Which revision should run: the pin, else the branch head; a revision that was rolled back
  // is not applied again (the branch must move on, or the pin change), the one running stays.
  const std::string applied = run.status.last_applied_revision;
  const bool pinned = !run.spec.revision.empty();
  Result<git::CommitInfo> target =
      git_.Resolve(SourceKey(run), pinned ? run.spec.revision : run.spec.branch);
  if (target.ok()) {
    RevisionDecision decision = ChooseRevision(run.status, run.spec, target->sha);
    switch (decision.kind) {
      case RevisionDecision::Kind::kPinRejected: {
        // Keep what runs and wait for a spec change (another pin, or none).
        const json* ready = kube::FindCondition(run.status.conditions, "Ready");
        if (ready == nullptr || ready->value("reason", "") != "PinRejected") {
          events_.Emit(run.release, "Warning", "PinRejected", "Sync", decision.message);
        }
        SetFailed(run.status, run.generation, run.now, "PinRejected",
                  Status(Code::kFailedPrecondition, decision.message));
        if (!applied.empty()) AssessHealth(run);
        return kube::ReconcileResult::After(run.requeue);
      }
      case RevisionDecision::Kind::kWaitForNewCommit:
        SetFailed(run.status, run.generation, run.now, "RevisionRejected",
                  Status(Code::kFailedPrecondition, decision.message));
        return kube::ReconcileResult::After(run.requeue);
      case RevisionDecision::Kind::kRun:
        if (decision.revision != target->sha) {
          target = git_.Resolve(SourceKey(run), decision.revision);
        }
        break;
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
    if (failed_same && !new_outcome && !asked) return kube::ReconcileResult::After(run.requeue);
    Status s = Sync(run, *target, new_revision ? SyncMode::kNewRevision : SyncMode::kSameRevision);
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
    if (!kube::IsTrue(run.status.conditions, "Ready")) {
      (void)kube::SetCondition(run.status.conditions,
                               {"Ready", kube::ConditionStatus::kTrue, "Synced",
                                "revision " + Short(target->sha) + " is applied"},
                               run.generation, run.now);
      kube::RemoveCondition(run.status.conditions, "Stalled");
    }
  }
  AssessHealth(run);
  return kube::ReconcileResult::After(run.requeue);
}

webhook::PushTarget ReleasePushTarget(std::function<std::vector<kube::ObjectPtr>()> list) {
  return {api::kGroupVersion, "Release", std::move(list), [](const json& release) {
            const json spec = release.value("spec", json::object());
            const json source = spec.value("source", json::object());
            return webhook::SourceRef{source.value("url", ""), source.value("branch", "main"),
                                      spec.value("revision", "")};
          }};
}

}  // namespace flywheel::release
