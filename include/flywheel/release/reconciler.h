#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/controller.h"
#include "flywheel/kube/events.h"
#include "flywheel/manifest/loader.h"
#include "flywheel/release/applied_objects.h"
#include "flywheel/release/applier.h"
#include "flywheel/release/git_webhook.h"
#include "flywheel/release/metrics.h"
#include "flywheel/release/object_ref.h"

namespace flywheel::release {

// Manual reconcile (SPEC.md "Names"): any new value fetches and syncs now.
inline constexpr const char* kReconcileAnnotation = "flywheel.dev/reconcile-requested-at";
// A rollback request (JSON, see RollbackRequest): written by `flywheel rollback` and by
// RollbackPolicies, carried out by the Release controller, acknowledged in
// status.lastHandledRollback.
inline constexpr const char* kRollbackAnnotation = "flywheel.dev/rollback";

// What a rollback asks for.
struct RollbackRequest {
  std::string id;  // unique per request; echoed in status.lastHandledRollback when done
  // Revision (SHA, short SHA or tag) to go back to; "" = the newest earlier revision that
  // became healthy and was not rejected.
  std::string to;
  bool git_revert = true;  // push "Revert <path> to <sha7>: <reason>" to the source branch
  std::string reason;      // why; recorded in history, rejectedRevisions and Events
  std::string by;          // who asked (e.g. "flywheel rollback", "RollbackPolicy web-errors")

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

// How the Release controller runs.
struct ReleaseReconcilerOptions {
  int apply_concurrency = 8;
  std::chrono::seconds crd_established_timeout{60};
  Clock* clock = nullptr;  // nullptr = the real clock
  // The ServiceAccount (in the Release's namespace) to impersonate for Releases that name none
  // (--default-service-account); empty: such Releases apply with the operator's own identity.
  std::string default_service_account;
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

  Result<kube::ReconcileResult> Reconcile(const std::string& key) override;

  // Stops the watches on applied objects.
  void Stop();

 private:
  struct State;
  struct Run;
  Result<kube::ReconcileResult> ReconcileRelease(Run& run);
  Result<git::Credentials> Credentials(Run& run);
  Status Sync(Run& run, const git::CommitInfo& commit, bool new_revision);
  Status Rollback(Run& run, const RollbackRequest& request);
  // Re-applies the objects that drifted from what the last sync applied; returns how many were
  // written.
  Result<int> HealSelf(Run& run);
  void AssessHealth(Run& run);
  // The Applier for one Release: its label and namespace, impersonating its ServiceAccount,
  // reading live objects from the applied-objects cache.
  Applier ApplierFor(const Run& run) const;
  Status WriteStatus(Run& run);

  kube::Client client_;
  std::function<kube::ObjectPtr(const std::string&)> cached_release_;
  git::RepositoryCache& git_;
  kube::EventRecorder& events_;
  ReleaseMetrics& metrics_;
  ReleaseReconcilerOptions options_;
  Clock& clock_;
  std::function<void(const std::string&)> enqueue_;
  std::unique_ptr<AppliedObjects> applied_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<State>> states_;  // by Release key
};

// The /hooks/git push handler: records a reconcile request (kReconcileAnnotation) on every
// Release whose source is the pushed repository, so the leader fetches at once whichever
// replica received the webhook. `list_releases` reads the cache; patches run on a background
// thread owned by the returned handler.
std::function<void(const GitPush&)> ReleasePushHandler(
    kube::Client client, std::function<std::vector<kube::ObjectPtr>()> list_releases);

}  // namespace flywheel::release
