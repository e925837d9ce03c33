#pragma once

// What the Release controller's source files share: the per-Release memory and one reconcile's
// working set (ReleaseReconciler::State and ::Run), and the helpers over the status. Not a
// public header.

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/common/status.h"
#include "flywheel/common/time.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/manifest/health.h"
#include "flywheel/manifest/loader.h"
#include "flywheel/release/object_ref.h"
#include "flywheel/release/reconciler.h"
#include "flywheel/release/spec.h"
#include "flywheel/release/status.h"

namespace flywheel::release {

using nlohmann::json;
using std::chrono::milliseconds;

inline constexpr size_t kMaxRejected = 100;
inline constexpr size_t kMaxInventory = 5000;  // status.inventory's maxItems

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
  // The reconcile request whose fetch was asked of the source worker, and when; the
  // finished_at of the last fetch outcome acted on.
  std::string fetch_asked;
  Clock::TimePoint fetch_asked_at{};
  Clock::TimePoint fetch_seen{};
  // The git cache copy the last successful fetch used (URL + credential identity, no secret):
  // reads need no Secret until the next fetch, so a rollback works while it cannot be read.
  std::optional<git::CacheKey> cache_key;
  // Status memory. The controller is the only writer of a Release's status, so what it wrote
  // last is the truth until the cache catches up: while `computed` is set, a reconcile whose
  // cached status differs from it starts from it instead (the watch event of our write has not
  // arrived, or the write failed), so no revision is synced, counted or recorded twice. The
  // first reconcile that finds it in the cache drops it (our write's own event brings one): a
  // settled Release keeps no copy of its status. `server_version` is the resourceVersion of
  // our last write (or read) and `server_status` the status the API server held then, when it
  // differs from `computed` (a write failed); writes are conditional on that version, and a
  // conflict re-reads the object and goes on only if its status is still ours.
  std::optional<ReleaseStatus> computed;
  std::optional<ReleaseStatus> server_status;
  std::string server_version;
  // The revision whose sync waits for its CRDs to be Established, and since when.
  std::optional<std::pair<std::string, Clock::TimePoint>> crd_wait;
  std::string failed_revision;  // the last sync of this revision and generation failed
  int64_t failed_generation = -1;
};

// One reconcile's working set.
struct ReleaseReconciler::Run {
  std::string key, ns, name;
  std::stop_token stop;  // requested at shutdown or lost leadership: long calls are cancelled
  json release;          // latest known object (updated by status writes)
  ReleaseStatus status;  // the status being computed
  // What the API server holds (the cached status, or our last write when the cache is behind)
  // and the resourceVersion a status write is conditional on.
  ReleaseStatus server_status;
  std::string server_version;
  ReleaseSpec spec;
  int64_t generation = 0;
  std::shared_ptr<State> state;
  Time now;  // whole seconds, as the status stores times
  git::Credentials credentials;
  bool credentials_loaded = false;  // run.credentials holds the Secret's (LoadCredentials)
  milliseconds requeue{0};

  // Asks to come back after `d` (the earliest of all asks wins). Never less than 50 ms: a
  // reconcile that ends without a requeue would wait for the next event, maybe forever.
  void Requeue(Clock::Duration d) {
    auto ms = std::max(std::chrono::ceil<milliseconds>(d), milliseconds(50));
    if (requeue.count() == 0 || ms < requeue) requeue = ms;
  }
};

// ---- helpers over the status (status.cpp) ----

// The short form of a SHA (7 characters).
std::string Short(const std::string& sha);
std::string Join(const std::vector<std::string>& parts, const std::string& sep);
// Configuration errors wait for a change (the next poll or a spec edit); anything else is
// retried with backoff.
bool IsConfigError(const Status& s);
// Sets Ready=False (and Stalled for configuration errors) with `reason` and the error.
void SetFailed(ReleaseStatus& status, int64_t generation, Time now, const std::string& reason,
               const Status& error);

}  // namespace flywheel::release
