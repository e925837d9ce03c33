#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/common/status.h"
#include "flywheel/git/repository_cache.h"

namespace flywheel::git {

// What a caller wants fetched.
struct SourceRequest {
  std::string url;
  Credentials credentials;
  std::string branch;  // when set, the outcome carries this branch's head after the fetch
};

// How the last fetch for a caller ended.
struct SourceOutcome {
  Clock::TimePoint finished_at;  // on the worker's clock
  Clock::TimePoint started_at;   // it saw the remote as it was at this time or later
  Status status;  // the fetch's (Cancelled when the worker stopped), else the branch's lookup
  CacheKey key;   // the copy the fetch filled: read the revision with this
  std::optional<CommitInfo> head;  // the branch's head, when asked for and the fetch succeeded
  bool fetched = false;  // the fetch itself succeeded (a failed status is then the branch's)
};

// How a SourceWorker runs.
struct SourceWorkerOptions {
  int threads = 2;         // fetches at once
  Clock* clock = nullptr;  // nullptr = the real clock
};

// Fetches off the reconcile path (Flux's source-controller split): callers (a controller, keyed
// by its object key) ask for a fetch now or at a due time, a small pool of threads runs the
// fetches through the RepositoryCache, and `notify(caller)` (the controller's Enqueue) is called
// when a caller's fetch finished, successful or not; the reconcile then reads Last(caller) and the
// cache, and never waits on the network itself.
// - Coalescing: a caller has at most one pending request; asking again replaces its source and
//   moves its due time earlier, never later. A request that arrives while the caller's fetch
//   runs is kept and runs after it (the running fetch may predate the push it announces).
// - One fetch serves every caller due for the same cache key when it starts (they ride along
//   and are all notified), as concurrent RepositoryCache::Fetch calls of one key are coalesced:
//   300 objects following one repository cost one fetch per poll, not 300 in turn.
// - One git host (all its repositories) gets at most threads - 1 fetches at once (at least 1),
//   so a host that accepts connections and never answers leaves a thread to the others.
// - A stuck host holds at most one thread per cache key: a request whose key (URL and
//   credentials) is being fetched for another caller waits instead of taking a second thread,
//   so with two threads the other repositories keep being fetched. The cache's timeout bounds
//   each fetch.
// - A caller that fetched nothing yet may share what the last fetch of its key brought
//   (Share), as a Flux Kustomization uses the artifact its GitRepository holds: 300 objects
//   created at once on one repository then cost one fetch, and they poll in step.
// - Stop() (or the destructor) cancels the fetches in flight through their stop token and joins
//   the threads; nothing is notified after Stop() returns.
// Thread-safe.
class SourceWorker {
 public:
  using Notify = std::function<void(const std::string& caller)>;

  SourceWorker(RepositoryCache& cache, Notify notify, SourceWorkerOptions options = {});
  ~SourceWorker();
  SourceWorker(const SourceWorker&) = delete;
  SourceWorker& operator=(const SourceWorker&) = delete;

  // Asks for a fetch for `caller` at `due` (the default, TimePoint{}, is now).
  void Request(const std::string& caller, SourceRequest request, Clock::TimePoint due = {});
  // Serves `caller` from the last successful fetch of `request`'s copy (its URL and credentials)
  // when that fetch finished at or after `since`: the outcome, with request.branch's head read
  // from the cache, becomes Last(caller) and is returned, and a pending request of the caller
  // is dropped (the shared fetch answers it). No network, no notification. nullopt when no such
  // fetch finished (none yet, too old, failed) or the branch cannot be read: ask with Request.
  // Not for a request that must see a push (a fetch that starts after it does: Request).
  std::optional<SourceOutcome> Share(const std::string& caller, const SourceRequest& request,
                                     Clock::TimePoint since);
  // Drops the caller's pending request and last outcome (its object was deleted); a fetch that
  // runs for it finishes without a notification.
  void Forget(const std::string& caller);
  // The outcome of the caller's last finished fetch; nullopt before the first.
  std::optional<SourceOutcome> Last(const std::string& caller) const;
  // When the caller's pending request is due; nullopt when none is pending.
  std::optional<Clock::TimePoint> Due(const std::string& caller) const;

  // Cancels fetches in flight, drops pending requests and joins the threads. Idempotent.
  void Stop();

 private:
  struct Pending {
    SourceRequest request;
    Clock::TimePoint due;
    std::string key_name;  // of CacheKey(request): computed once (it hashes the credentials)
    std::string host;      // of request.url
  };
  void Loop();
  // The pending caller to run now (nullopt: none); sets *wake to when one becomes due.
  // Requires mu_.
  std::optional<std::string> NextDue(Clock::TimePoint* wake) const;

  // Sets Last(caller); drops the fetched_ entry of the key it read before when no caller reads
  // that key any more. Requires mu_.
  void Record(const std::string& caller, SourceOutcome outcome);
  void DropUnread(const CacheKey& key);  // requires mu_

  RepositoryCache& cache_;
  Notify notify_;
  Clock& clock_;
  std::stop_source stop_;
  mutable std::mutex mu_;
  std::condition_variable changed_;            // a request arrived, a fetch finished, or Stop()
  std::map<std::string, Pending> pending_;     // by caller
  std::set<std::string> running_;              // callers whose fetch runs
  std::set<std::string> running_keys_;         // cache keys being fetched
  std::map<std::string, int> running_hosts_;   // fetches in flight per git host
  int max_per_host_;                           // threads - 1 (at least 1)
  std::set<std::string> forgotten_;            // running callers that Forget() dropped
  std::map<std::string, SourceOutcome> last_;  // by caller
  // When the last successful fetch of each cache key (by key name) finished, for Share; kept
  // while some caller's last outcome reads that key.
  std::map<std::string, std::pair<Clock::TimePoint, Clock::TimePoint>>
      fetched_;  // started, finished
  std::vector<std::thread> threads_;
};

}  // namespace flywheel::git
