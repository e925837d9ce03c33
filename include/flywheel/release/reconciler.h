#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/api/names.h"
#include "flywheel/common/clock.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/git/source_worker.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/controller.h"
#include "flywheel/kube/events.h"
#include "flywheel/manifest/loader.h"
#include "flywheel/release/applied_objects.h"
#include "flywheel/release/applier.h"
#include "flywheel/release/metrics.h"
#include "flywheel/release/object_ref.h"
#include "flywheel/release/spec.h"
#include "flywheel/webhook/push_dispatcher.h"

namespace flywheel::release {

// How the Release controller runs.
struct ReleaseReconcilerOptions {
  int apply_concurrency = 8;
  // How long a sync may wait (requeued, not blocking) for the CRDs it applied to be Established.
  std::chrono::milliseconds crd_established_timeout{std::chrono::seconds(60)};
  Clock* clock = nullptr;  // nullptr = the real clock
  // Fetches at once (git::SourceWorker); one git host gets at most fetch_threads - 1 of them.
  int fetch_threads = 4;
  // The ServiceAccount (in the Release's namespace) to impersonate for Releases that name none
  // (--default-service-account); empty: such Releases apply with the operator's own identity.
  std::string default_service_account;
  // Where the informers on applied objects run (the Manager's on-demand informers, stopped with
  // it, before the reconciler is destroyed); nullptr: a set of the reconciler's own, stopped by
  // Stop().
  kube::InformerSet* informers = nullptr;
};

// The Release controller (SPEC.md "Release"): fetches the source, loads the manifests at the
// revision to run, validates them all with a server-side dry run, applies them in order with
// server-side apply, prunes what left the repository, heals drift, assesses health, keeps
// history, and carries out rollbacks (with a revert commit in the source repository).
//
// Each reconcile follows Flux's skeleton: read from the cache → suspend → credentials → fetch
// (every pollInterval, or at once on a webhook/annotation) → choose the revision (the pin, else
// the branch head unless it was rejected) → sync when the revision, the spec or the live objects
// changed → health → one status write if anything changed. Configuration errors stall (retried
// at the next poll), transient ones return an error (backoff).
class ReleaseReconciler : public kube::Reconciler {
 public:
  ReleaseReconciler(kube::Client client,
                    std::function<kube::ObjectPtr(const std::string&)> cached_release,
                    git::RepositoryCache& git, kube::EventRecorder& events, ReleaseMetrics& metrics,
                    ReleaseReconcilerOptions options = {});
  ~ReleaseReconciler() override;

  // Where changes of applied objects are sent (the controller's Enqueue). Call before the
  // controller runs.
  void SetEnqueue(std::function<void(const std::string&)> enqueue);

  Result<kube::ReconcileResult> Reconcile(const std::string& key, std::stop_token stop) override;

  // Stops the fetches, and the watches on applied objects when they run in the reconciler's own
  // set (ReleaseReconcilerOptions::informers).
  void Stop();

 private:
  struct State;
  struct Run;
  Result<kube::ReconcileResult> ReconcileRelease(Run& run);
  // Reads the git credentials from spec.source.secretRef into run.credentials (once per
  // reconcile, only when a fetch or push needs them).
  Status LoadCredentials(Run& run);
  Result<git::Credentials> ReadCredentials(const Run& run);
  // The git cache copy this Release reads: the last fetch's, else the one of its credentials.
  git::CacheKey SourceKey(Run& run);
  // kNewRevision is a deployment (history entry, Events, deployment metric); kSameRevision
  // re-applies what runs; kRollback applies an earlier revision and records nothing of its
  // own (Rollback records the rollback).
  enum class SyncMode { kNewRevision, kSameRevision, kRollback };
  Status Sync(Run& run, const git::CommitInfo& commit, SyncMode mode);
  Status Rollback(Run& run, const RollbackRequest& request);
  // Pushes "Revert <path> to <sha7>" for status.lastRollback when the branch still holds the
  // rolled-back revision; records the commit, or that it is still pending and why.
  void PushRevert(Run& run);
  // PushRevert for a rollback whose revert could not be pushed earlier (git was down).
  void PushPendingRevert(Run& run);
  // Re-applies the objects that drifted from what the last sync applied; returns how many were
  // written.
  Result<int> HealSelf(Run& run);
  void AssessHealth(Run& run);
  // Why the pods of a workload that is not healthy cannot get ready (manifest::PodProblem of the
  // first pod with one), "" when none says or they cannot be read.
  std::string PodsProblem(const ObjectRef& ref) const;
  // After a rollback, the first time what it applied is healthy: status.lastRollback.restoredAt
  // and flywheel_time_to_restore_seconds.
  void NoteRestored(Run& run);
  // The Applier for one Release: its label and namespace, impersonating its ServiceAccount,
  // reading live objects from the applied-objects cache.
  Applier ApplierFor(const Run& run) const;
  Status WriteStatus(Run& run);
  // After a status write that may not have landed.
  void RememberUnwritten(Run& run);
  // An applied object read from the API server: nullptr when it does not exist, an error when
  // the read failed.
  Result<kube::ObjectPtr> ReadLive(const ObjectRef& ref) const;
  // Tells the applied-objects cache what an apply wrote (ApplyReport::results), so that it does
  // not answer for those objects until it has seen the writes (AppliedObjects::Wrote).
  void NoteWritten(const std::map<std::string, nlohmann::json>& results);

  kube::Client client_;
  std::function<kube::ObjectPtr(const std::string&)> cached_release_;
  git::RepositoryCache& git_;
  kube::EventRecorder& events_;
  ReleaseMetrics& metrics_;
  ReleaseReconcilerOptions options_;
  Clock& clock_;
  std::function<void(const std::string&)> enqueue_;
  std::unique_ptr<kube::InformerSet> own_informers_;  // when options.informers is null
  std::unique_ptr<AppliedObjects> applied_;
  std::unique_ptr<git::SourceWorker> sources_;  // fetches, off the reconcile path
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<State>> states_;  // by Release key
};

// What /hooks/git pushes concern among Releases (webhook::PushDispatcher): `list` reads the
// cache; each Release follows spec.source.url/branch, or its pin spec.revision.
webhook::PushTarget ReleasePushTarget(std::function<std::vector<kube::ObjectPtr>()> list);

}  // namespace flywheel::release
